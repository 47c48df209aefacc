//! Scalar functions over segment format v2's typed columns (`herd_store::shred`), with the same meaning as the
//! JSON functions of [`crate::udf`] on the same data:
//!
//! - `herd_match_values(values, op, values_json)`: `herd_match` on a text column (one value or NULL) or a list
//!   column (its non-NULL elements).
//! - `herd_first(list)`: the first non-NULL element (`herd_get` with a `*` step over a group type's values).
//! - `herd_at(values, value, props)`: the element of `props` at the position of `value` in `values` (a group's
//!   own stamped property, lists aligned as `g.<type>` and `gp.<type>.<key>` are).
//! - `herd_labels_of(list)` / `herd_label_of(list)`: `herd_labels` / `herd_label` of a group values column.
//!
//! Answers are remembered per distinct input within a batch: a column has few distinct values.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, ListArray, ListBuilder, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use serde_json::Value;

use crate::udf::{matches, text_of};

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// A text or list argument as a list column of `rows` rows (a text value is a one-element list, NULL an empty
/// one), so that every function reads one shape.
fn as_list(arg: &ColumnarValue, rows: usize) -> Result<ListArray> {
    let array = arg.to_array(rows)?;
    let list = match array.data_type() {
        DataType::List(_) | DataType::LargeList(_) | DataType::ListView(_) => cast(&array, &list_type())?,
        DataType::Null => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for _ in 0..rows {
                b.append(true);
            }
            Arc::new(b.finish())
        }
        _ => {
            let text = cast(&array, &DataType::Utf8)?;
            let text = text.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
            let mut b = ListBuilder::with_capacity(StringBuilder::new(), rows);
            for v in text.iter() {
                if let Some(v) = v {
                    b.values().append_value(v);
                }
                b.append(true);
            }
            Arc::new(b.finish())
        }
    };
    Ok(list.as_any().downcast_ref::<ListArray>().expect("cast to List").clone())
}

/// A list column's rows without slicing per row: offsets into one values array.
struct Rows<'a> {
    list: &'a ListArray,
    values: &'a StringArray,
}

impl<'a> Rows<'a> {
    fn new(list: &'a ListArray) -> Rows<'a> {
        Rows { list, values: list.values().as_any().downcast_ref::<StringArray>().expect("lists of Utf8") }
    }

    /// The elements of a row, NULL elements included (none for a NULL row).
    fn row(&self, row: usize) -> impl Iterator<Item = Option<&'a str>> + 'a {
        let offsets = self.list.value_offsets();
        let range = if self.list.is_null(row) { 0..0 } else { offsets[row] as usize..offsets[row + 1] as usize };
        let values = self.values;
        range.map(move |i| values.is_valid(i).then(|| values.value(i)))
    }
}

fn literal(arg: &ColumnarValue, what: &str) -> Result<String> {
    match arg {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => Ok(s.clone()),
        _ => Err(DataFusionError::Plan(format!("{what} must be a text literal"))),
    }
}

macro_rules! typed_udf {
    ($name:ident) => {
        #[derive(Debug, PartialEq, Eq, Hash)]
        struct $name {
            signature: Signature,
        }
    };
}

typed_udf!(MatchValues);
typed_udf!(First);
typed_udf!(At);
typed_udf!(LabelsOf);
typed_udf!(LabelOf);

impl ScalarUDFImpl for MatchValues {
    fn name(&self) -> &str {
        "herd_match_values"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 3 {
            return Err(DataFusionError::Plan("herd_match_values(values, op, values_json)".into()));
        }
        let op = literal(&args.args[1], "herd_match_values: op")?;
        let wanted: Vec<String> = match serde_json::from_str(&literal(&args.args[2], "herd_match_values: values")?) {
            Ok(Value::Array(items)) => items.iter().map(text_of).collect(),
            Ok(other) => vec![text_of(&other)],
            Err(_) => vec![],
        };
        let rows = args.number_rows;
        let mut out = Vec::with_capacity(rows);
        if let ColumnarValue::Array(a) = &args.args[0]
            && let Some(text) = a.as_any().downcast_ref::<StringArray>()
        {
            // The common case, a text column: one lookup per row.
            let mut memo: HashMap<Option<&str>, bool> = HashMap::new();
            for v in text.iter() {
                let answer = *memo.entry(v).or_insert_with(|| {
                    let found: Vec<String> = v.into_iter().map(str::to_owned).collect();
                    matches(&op, &found, &wanted)
                });
                out.push(Some(answer));
            }
        } else {
            let list = as_list(&args.args[0], rows)?;
            let lists = Rows::new(&list);
            let mut memo: HashMap<Vec<&str>, bool> = HashMap::new();
            for row in 0..rows {
                let found: Vec<&str> = lists.row(row).flatten().collect();
                let answer = *memo.entry(found).or_insert_with_key(|found| {
                    let found: Vec<String> = found.iter().map(|v| (*v).to_owned()).collect();
                    matches(&op, &found, &wanted)
                });
                out.push(Some(answer));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }
}

impl ScalarUDFImpl for First {
    fn name(&self) -> &str {
        "herd_first"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let list = as_list(&args.args[0], args.number_rows)?;
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 8);
        let lists = Rows::new(&list);
        for row in 0..args.number_rows {
            out.append_option(lists.row(row).flatten().next());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl ScalarUDFImpl for At {
    fn name(&self) -> &str {
        "herd_at"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 3 {
            return Err(DataFusionError::Plan("herd_at(values, value, props)".into()));
        }
        let rows = args.number_rows;
        let values = as_list(&args.args[0], rows)?;
        let wanted = cast(&args.args[1].to_array(rows)?, &DataType::Utf8)?;
        let wanted = wanted.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let props = as_list(&args.args[2], rows)?;
        let (values, props) = (Rows::new(&values), Rows::new(&props));
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        for row in 0..rows {
            let found = wanted.is_valid(row).then(|| wanted.value(row)).and_then(|wanted| {
                let i = values.row(row).position(|v| v == Some(wanted))?;
                props.row(row).nth(i).flatten()
            });
            out.append_option(found);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl ScalarUDFImpl for LabelsOf {
    fn name(&self) -> &str {
        "herd_labels_of"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(list_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let list = as_list(&args.args[0], args.number_rows)?;
        let lists = Rows::new(&list);
        let mut out = ListBuilder::with_capacity(StringBuilder::new(), args.number_rows);
        for row in 0..args.number_rows {
            let found: Vec<&str> = lists.row(row).flatten().collect();
            if found.is_empty() {
                out.values().append_value(herd_model::report::NONE_LABEL);
            }
            for v in found {
                out.values().append_value(v);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

impl ScalarUDFImpl for LabelOf {
    fn name(&self) -> &str {
        "herd_label_of"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let list = as_list(&args.args[0], args.number_rows)?;
        let lists = Rows::new(&list);
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 8);
        for row in 0..args.number_rows {
            let found: Vec<&str> = lists.row(row).flatten().collect();
            if found.is_empty() {
                out.append_value(herd_model::report::NONE_LABEL);
            } else {
                out.append_value(found.join(", "));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The functions every session gets.
pub(crate) fn all() -> Vec<ScalarUDF> {
    let s = || Signature::variadic_any(Volatility::Immutable);
    vec![
        ScalarUDF::new_from_impl(MatchValues { signature: s() }),
        ScalarUDF::new_from_impl(First { signature: s() }),
        ScalarUDF::new_from_impl(At { signature: s() }),
        ScalarUDF::new_from_impl(LabelsOf { signature: s() }),
        ScalarUDF::new_from_impl(LabelOf { signature: s() }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    fn list(rows: &[&[Option<&str>]]) -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        for r in rows {
            for v in *r {
                b.values().append_option(*v);
            }
            b.append(true);
        }
        Arc::new(b.finish())
    }

    /// One row: `vs` = ['o1', 'o2'], `ps` = [NULL, 'pro'], `none` = [].
    async fn one(sql: &str) -> String {
        let ctx = SessionContext::new();
        for f in all() {
            ctx.register_udf(f);
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("vs", list_type(), true),
            Field::new("ps", list_type(), true),
            Field::new("none", list_type(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![list(&[&[Some("o1"), Some("o2")]]), list(&[&[None, Some("pro")]]), list(&[&[]])],
        )
        .unwrap();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
        let batches = ctx.sql(&format!("{sql} FROM t")).await.unwrap().collect().await.unwrap();
        let a = cast(batches[0].column(0), &DataType::Utf8).unwrap();
        let a = a.as_any().downcast_ref::<StringArray>().unwrap();
        if a.is_null(0) { "NULL".into() } else { a.value(0).to_owned() }
    }

    #[tokio::test]
    async fn typed_functions_answer_like_the_json_ones() {
        assert_eq!(one(r#"SELECT herd_match_values('a', 'is', '["a","b"]')"#).await, "true");
        assert_eq!(one(r#"SELECT herd_match_values(CAST(NULL AS VARCHAR), 'is not', '["a"]')"#).await, "true");
        assert_eq!(one(r#"SELECT herd_match_values(vs, 'set is', '["o2","o1"]')"#).await, "true");
        assert_eq!(one(r#"SELECT herd_match_values(ps, 'is', '["pro"]')"#).await, "true");
        assert_eq!(one(r#"SELECT herd_match_values(none, 'is not', '["pro"]')"#).await, "true");
        assert_eq!(one(r#"SELECT herd_match_values('3', 'less', '["4"]')"#).await, "true");
        assert_eq!(one("SELECT herd_first(ps)").await, "pro");
        assert_eq!(one("SELECT herd_first(none)").await, "NULL");
        assert_eq!(one("SELECT herd_at(vs, 'o2', ps)").await, "pro");
        assert_eq!(one("SELECT herd_at(vs, 'o1', ps)").await, "NULL");
        assert_eq!(one("SELECT herd_at(vs, 'o3', ps)").await, "NULL");
        assert_eq!(one("SELECT herd_label_of(vs)").await, "o1, o2");
        assert_eq!(one("SELECT herd_label_of(CAST(NULL AS VARCHAR))").await, "(none)");
        assert_eq!(one("SELECT herd_label_of(herd_labels_of(none))").await, "(none)");
        assert_eq!(one("SELECT herd_label_of(herd_labels_of(vs))").await, "o1, o2");
    }
}
