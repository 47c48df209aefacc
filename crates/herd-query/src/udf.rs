//! Scalar functions over Herd's JSON property columns, registered in every query session:
//!
//! - `herd_get(json, k1 [, k2, k3])`: the value at a path, as text (strings unquoted, other JSON as JSON text),
//!   or NULL when absent. A `*` step matches every key of an object (the first match wins).
//! - `herd_values(json, k1 [, k2, k3])`: the value(s) at a path as a list of strings: a scalar gives one element,
//!   an array its elements, absence an empty list; `*` steps collect from every key.
//! - `herd_labels(json, k1 [, k2, k3])`: `herd_values`, but `['(none)']` where that would be empty.
//! - `herd_match(json, op, values_json, k1 [, k2, k3])`: Amplitude's filter operators (`is`, `is not`,
//!   `contains`, `does not contain`, `less`, …, `set is`, `set is not`) applied to the value(s) at a path.
//! - `herd_current(kind, key)`: the current properties (JSON text) of a user (`kind` = 'user', key = amplitude_id)
//!   or a group's current properties map for a groups column (`kind` = 'groups', key = the `groups` JSON), from
//!   a snapshot taken when the query started; used when a query asks for current instead of stamped properties.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, Int64Builder, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use herd_model::report::Interval;
use serde_json::Value;

use crate::buckets::{Zone, bucket_start, interval_from_name};

/// Arguments as string arrays of the batch's length.
fn string_args(args: &ScalarFunctionArgs) -> Result<Vec<StringArray>> {
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    arrays
        .iter()
        .map(|a| {
            let a = cast(a, &DataType::Utf8)?;
            Ok(a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8 gives a StringArray").clone())
        })
        .collect()
}

/// Values found at `path` in `json`; `*` matches every key.
fn lookup<'a>(json: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(json);
        return;
    };
    let Value::Object(map) = json else { return };
    if *first == "*" {
        for v in map.values() {
            lookup(v, rest, out);
        }
    } else if let Some(v) = map.get(*first) {
        lookup(v, rest, out);
    }
}

pub(crate) fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every scalar at the path, arrays flattened one level.
pub(crate) fn flat_values(found: &[&Value]) -> Vec<String> {
    let mut out = Vec::new();
    for v in found {
        match v {
            Value::Null => {}
            Value::Array(items) => out.extend(items.iter().filter(|i| !i.is_null()).map(text_of)),
            other => out.push(text_of(other)),
        }
    }
    out
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn path_of(args: &[StringArray], from: usize, row: usize) -> Vec<String> {
    args[from..].iter().filter(|a| a.is_valid(row)).map(|a| a.value(row).to_owned()).collect()
}

macro_rules! simple_udf {
    ($name:ident) => {
        #[derive(Debug, PartialEq, Eq, Hash)]
        struct $name {
            signature: Signature,
        }
        impl $name {
            fn new() -> Self {
                Self { signature: Signature::variadic_any(Volatility::Immutable) }
            }
        }
    };
}

simple_udf!(HerdGet);
simple_udf!(HerdMatch);

/// `herd_values`, or with `none_label` `herd_labels`: the same, but `['(none)']` instead of an empty list, so that
/// a group-by keeps events without a value.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HerdValues {
    signature: Signature,
    none_label: bool,
}

impl ScalarUDFImpl for HerdGet {
    fn name(&self) -> &str {
        "herd_get"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = string_args(&args)?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            if !a[0].is_valid(row) {
                out.append_null();
                continue;
            }
            let json = parse(a[0].value(row));
            let path = path_of(&a, 1, row);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let mut found = Vec::new();
            lookup(&json, &path, &mut found);
            match found.into_iter().find(|v| !v.is_null()) {
                Some(v) => out.append_value(text_of(v)),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl ScalarUDFImpl for HerdValues {
    fn name(&self) -> &str {
        if self.none_label { "herd_labels" } else { "herd_values" }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = string_args(&args)?;
        let mut out = ListBuilder::new(StringBuilder::new());
        for row in 0..args.number_rows {
            if a[0].is_valid(row) {
                let json = parse(a[0].value(row));
                let path = path_of(&a, 1, row);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                let mut found = Vec::new();
                lookup(&json, &path, &mut found);
                let mut seen: Vec<String> = Vec::new();
                for v in flat_values(&found) {
                    if !seen.contains(&v) {
                        out.values().append_value(&v);
                        seen.push(v);
                    }
                }
                if seen.is_empty() && self.none_label {
                    out.values().append_value(herd_model::report::NONE_LABEL);
                }
            } else if self.none_label {
                out.values().append_value(herd_model::report::NONE_LABEL);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Amplitude's operators on the values found at a path. A property that is absent matches only the negative
/// operators (`is not`, `does not contain`, `set is not`).
pub(crate) fn matches(op: &str, found: &[String], wanted: &[String]) -> bool {
    let number = |s: &str| s.trim().parse::<f64>().ok();
    let compare = |f: fn(f64, f64) -> bool| {
        found.iter().filter_map(|v| number(v)).any(|x| wanted.iter().filter_map(|w| number(w)).any(|w| f(x, w)))
    };
    let contains = || {
        found.iter().any(|v| {
            let v = v.to_lowercase();
            wanted.iter().any(|w| v.contains(&w.to_lowercase()))
        })
    };
    let is = || found.iter().any(|v| wanted.iter().any(|w| w == v));
    let set_is = || {
        let mut a: Vec<&String> = found.iter().collect();
        let mut b: Vec<&String> = wanted.iter().collect();
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a == b
    };
    match op {
        "is" => is(),
        "is not" => !is(),
        "contains" => contains(),
        "does not contain" => !contains(),
        "less" => compare(|x, w| x < w),
        "less or equal" => compare(|x, w| x <= w),
        "greater" => compare(|x, w| x > w),
        "greater or equal" => compare(|x, w| x >= w),
        "set is" => set_is(),
        "set is not" => !set_is(),
        _ => false,
    }
}

impl ScalarUDFImpl for HerdMatch {
    fn name(&self) -> &str {
        "herd_match"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = string_args(&args)?;
        if a.len() < 4 {
            return Err(DataFusionError::Plan("herd_match(json, op, values_json, key, ...) needs a path".into()));
        }
        let mut out = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let json = if a[0].is_valid(row) { parse(a[0].value(row)) } else { Value::Null };
            let path = path_of(&a, 3, row);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let mut found = Vec::new();
            lookup(&json, &path, &mut found);
            let found = flat_values(&found);
            let wanted: Vec<String> = match parse(a[2].value(row)) {
                Value::Array(items) => items.iter().map(text_of).collect(),
                other => vec![text_of(&other)],
            };
            out.push(Some(matches(a[1].value(row), &found, &wanted)));
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }
}

/// Current user and group properties, captured when the query started.
#[derive(Debug, Default)]
pub(crate) struct CurrentState {
    /// amplitude_id → properties as JSON text.
    pub(crate) users: HashMap<u64, String>,
    /// group type → group value → properties.
    pub(crate) groups: HashMap<String, HashMap<String, Value>>,
}

#[derive(Debug)]
struct HerdCurrent {
    signature: Signature,
    state: Arc<CurrentState>,
}

impl PartialEq for HerdCurrent {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}
impl Eq for HerdCurrent {}
impl std::hash::Hash for HerdCurrent {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (Arc::as_ptr(&self.state) as usize).hash(h);
    }
}

impl ScalarUDFImpl for HerdCurrent {
    fn name(&self) -> &str {
        "herd_current"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = string_args(&args)?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            if !a[1].is_valid(row) {
                out.append_null();
                continue;
            }
            match a[0].value(row) {
                "user" => match a[1].value(row).parse::<u64>().ok().and_then(|id| self.state.users.get(&id)) {
                    Some(props) => out.append_value(props),
                    None => out.append_value("{}"),
                },
                _ => {
                    // A `groups` column ({type: [values]}) → {type: {value: current properties}}.
                    let mut stamped = serde_json::Map::new();
                    if let Value::Object(groups) = parse(a[1].value(row)) {
                        for (t, values) in groups {
                            let mut by_value = serde_json::Map::new();
                            for v in flat_values(&[&values]) {
                                let props = self.state.groups.get(&t).and_then(|g| g.get(&v)).cloned();
                                by_value.insert(v, props.unwrap_or_else(|| Value::Object(Default::default())));
                            }
                            stamped.insert(t, Value::Object(by_value));
                        }
                    }
                    out.append_value(Value::Object(stamped).to_string());
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `herd_bucket(time, interval, zone)`: the start (ms) of the chart bucket `time` falls in (see [`crate::buckets`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct HerdBucket {
    signature: Signature,
}

impl ScalarUDFImpl for HerdBucket {
    fn name(&self) -> &str {
        "herd_bucket"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let times = cast(&cast(&arrays[0], &DataType::Int64)?, &DataType::Int64)?;
        let times = times.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
        let names = string_args(&args)?;
        let mut out = Int64Builder::with_capacity(args.number_rows);
        let mut cached: Option<(String, String, Interval, Zone)> = None;
        for row in 0..args.number_rows {
            if !times.is_valid(row) {
                out.append_null();
                continue;
            }
            let (i, z) = (names[1].value(row), names[2].value(row));
            let fresh = match &cached {
                Some((ci, cz, _, _)) => ci != i || cz != z,
                None => true,
            };
            if fresh {
                let interval = interval_from_name(i)
                    .ok_or_else(|| DataFusionError::Plan(format!("herd_bucket: unknown interval {i:?}")))?;
                let zone = Zone::parse(z).map_err(DataFusionError::Plan)?;
                cached = Some((i.to_owned(), z.to_owned(), interval, zone));
            }
            let (_, _, interval, zone) = cached.as_ref().expect("set above");
            out.append_value(bucket_start(times.value(row), *interval, *zone));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The functions every session gets.
pub(crate) fn all(current: Arc<CurrentState>) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(HerdGet::new()),
        ScalarUDF::new_from_impl(HerdValues {
            signature: Signature::variadic_any(Volatility::Immutable),
            none_label: false,
        }),
        ScalarUDF::new_from_impl(HerdValues {
            signature: Signature::variadic_any(Volatility::Immutable),
            none_label: true,
        }),
        ScalarUDF::new_from_impl(HerdMatch::new()),
        ScalarUDF::new_from_impl(HerdBucket { signature: Signature::variadic_any(Volatility::Immutable) }),
        ScalarUDF::new_from_impl(HerdCurrent {
            signature: Signature::variadic_any(Volatility::Immutable),
            state: current,
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn operator_table() {
        for (op, found, wanted, expected) in [
            ("is", s(&["a"]), s(&["a", "b"]), true),
            ("is", s(&[]), s(&["a"]), false),
            ("is not", s(&[]), s(&["a"]), true),
            ("is not", s(&["a", "c"]), s(&["a"]), false),
            ("contains", s(&["Hello"]), s(&["ell"]), true),
            ("does not contain", s(&["Hello"]), s(&["xyz"]), true),
            ("less", s(&["3"]), s(&["4"]), true),
            ("less", s(&["x"]), s(&["4"]), false),
            ("greater or equal", s(&["4"]), s(&["4"]), true),
            ("set is", s(&["b", "a"]), s(&["a", "b"]), true),
            ("set is", s(&["a"]), s(&["a", "b"]), false),
            ("set is not", s(&["a"]), s(&["a", "b"]), true),
        ] {
            assert_eq!(matches(op, &found, &wanted), expected, "{op} {found:?} {wanted:?}");
        }
    }
}
