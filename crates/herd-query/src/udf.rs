//! Scalar functions over Herd's JSON property columns, registered in every query session:
//!
//! - `herd_get(json, k1 [, k2, k3])`: the value at a path, as text (strings unquoted, other JSON as JSON text),
//!   or NULL when absent. A `*` step matches every key of an object (the first match wins).
//! - `herd_values(json, k1 [, k2, k3])`: the value(s) at a path as a list of strings: a scalar gives one element,
//!   an array its elements, absence an empty list; `*` steps collect from every key.
//! - `herd_labels(json, k1 [, k2, k3])`: `herd_values`, but `['(none)']` where that would be empty.
//! - `herd_label(json, k1 [, k2, k3])`: `herd_labels` as one text, values joined with `, `.
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

/// A call's arguments as text, with literals kept as one value instead of one per row, so that a function can
/// remember its answer for each distinct combination of the per-row values (JSON texts repeat a lot: the same
/// groups, the same user properties) and parse each only once per batch.
pub(crate) struct Args {
    arrays: Vec<StringArray>,
    literal: Vec<bool>,
}

impl Args {
    pub(crate) fn new(args: &ScalarFunctionArgs) -> Result<Args> {
        Args::of(&args.args)
    }

    pub(crate) fn of(values: &[ColumnarValue]) -> Result<Args> {
        let mut arrays = Vec::with_capacity(values.len());
        let mut literal = Vec::with_capacity(values.len());
        for a in values {
            let (array, is_literal) = match a {
                ColumnarValue::Scalar(v) => (v.to_array_of_size(1)?, true),
                ColumnarValue::Array(a) => (a.clone(), false),
            };
            let array = cast(&array, &DataType::Utf8)?;
            arrays
                .push(array.as_any().downcast_ref::<StringArray>().expect("cast to Utf8 gives a StringArray").clone());
            literal.push(is_literal);
        }
        Ok(Args { arrays, literal })
    }

    pub(crate) fn len(&self) -> usize {
        self.arrays.len()
    }

    pub(crate) fn at(&self, i: usize, row: usize) -> usize {
        if self.literal[i] { 0 } else { row }
    }

    pub(crate) fn valid(&self, i: usize, row: usize) -> bool {
        self.arrays[i].is_valid(self.at(i, row))
    }

    pub(crate) fn value(&self, i: usize, row: usize) -> &str {
        self.arrays[i].value(self.at(i, row))
    }

    /// The non-null values of arguments `from..` (a path).
    pub(crate) fn path(&self, from: usize, row: usize) -> Vec<&str> {
        (from..self.len()).filter(|i| self.valid(*i, row)).map(|i| self.value(i, row)).collect()
    }

    /// What a row's answer depends on: every per-row argument (NULL distinguished from text).
    pub(crate) fn key(&self, row: usize) -> Vec<Option<&str>> {
        (0..self.len()).filter(|i| !self.literal[*i]).map(|i| self.valid(i, row).then(|| self.value(i, row))).collect()
    }
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
simple_udf!(HerdLabel);

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
        let a = Args::new(&args)?;
        let mut out = StringBuilder::new();
        let mut memo: HashMap<Vec<Option<&str>>, Option<String>> = HashMap::new();
        for row in 0..args.number_rows {
            if !a.valid(0, row) {
                out.append_null();
                continue;
            }
            let answer = memo.entry(a.key(row)).or_insert_with(|| {
                let json = parse(a.value(0, row));
                let mut found = Vec::new();
                lookup(&json, &a.path(1, row), &mut found);
                found.into_iter().find(|v| !v.is_null()).map(text_of)
            });
            out.append_option(answer.as_deref());
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
        let a = Args::new(&args)?;
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut memo: HashMap<Vec<Option<&str>>, Vec<String>> = HashMap::new();
        for row in 0..args.number_rows {
            let values = memo.entry(a.key(row)).or_insert_with(|| {
                let mut seen: Vec<String> = Vec::new();
                if a.valid(0, row) {
                    let json = parse(a.value(0, row));
                    let mut found = Vec::new();
                    lookup(&json, &a.path(1, row), &mut found);
                    for v in flat_values(&found) {
                        if !seen.contains(&v) {
                            seen.push(v);
                        }
                    }
                }
                if seen.is_empty() && self.none_label {
                    seen.push(herd_model::report::NONE_LABEL.to_owned());
                }
                seen
            });
            for v in values.iter() {
                out.values().append_value(v);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl ScalarUDFImpl for HerdLabel {
    fn name(&self) -> &str {
        "herd_label"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = Args::new(&args)?;
        let mut out = StringBuilder::new();
        let mut memo: HashMap<Vec<Option<&str>>, String> = HashMap::new();
        for row in 0..args.number_rows {
            let label = memo.entry(a.key(row)).or_insert_with(|| {
                let json = if a.valid(0, row) { parse(a.value(0, row)) } else { Value::Null };
                let mut found = Vec::new();
                lookup(&json, &a.path(1, row), &mut found);
                let mut seen: Vec<String> = Vec::new();
                for v in flat_values(&found) {
                    if !seen.contains(&v) {
                        seen.push(v);
                    }
                }
                if seen.is_empty() { herd_model::report::NONE_LABEL.to_owned() } else { seen.join(", ") }
            });
            out.append_value(label);
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
        let a = Args::new(&args)?;
        if a.len() < 4 {
            return Err(DataFusionError::Plan("herd_match(json, op, values_json, key, ...) needs a path".into()));
        }
        let mut out = Vec::with_capacity(args.number_rows);
        let mut memo: HashMap<Vec<Option<&str>>, bool> = HashMap::new();
        for row in 0..args.number_rows {
            let answer = *memo.entry(a.key(row)).or_insert_with(|| {
                let json = if a.valid(0, row) { parse(a.value(0, row)) } else { Value::Null };
                let mut found = Vec::new();
                lookup(&json, &a.path(3, row), &mut found);
                let found = flat_values(&found);
                let wanted: Vec<String> = match parse(a.value(2, row)) {
                    Value::Array(items) => items.iter().map(text_of).collect(),
                    other => vec![text_of(&other)],
                };
                matches(a.value(1, row), &found, &wanted)
            });
            out.push(Some(answer));
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
        let a = Args::new(&args)?;
        let mut out = StringBuilder::new();
        let mut memo: HashMap<Vec<Option<&str>>, String> = HashMap::new();
        for row in 0..args.number_rows {
            if !a.valid(1, row) {
                out.append_null();
                continue;
            }
            let answer = memo.entry(a.key(row)).or_insert_with(|| match a.value(0, row) {
                "user" => a
                    .value(1, row)
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| self.state.users.get(&id))
                    .cloned()
                    .unwrap_or_else(|| "{}".to_owned()),
                _ => {
                    // A `groups` column ({type: [values]}) → {type: {value: current properties}}.
                    let mut stamped = serde_json::Map::new();
                    if let Value::Object(groups) = parse(a.value(1, row)) {
                        for (t, values) in groups {
                            let mut by_value = serde_json::Map::new();
                            for v in flat_values(&[&values]) {
                                let props = self.state.groups.get(&t).and_then(|g| g.get(&v)).cloned();
                                by_value.insert(v, props.unwrap_or_else(|| Value::Object(Default::default())));
                            }
                            stamped.insert(t, Value::Object(by_value));
                        }
                    }
                    Value::Object(stamped).to_string()
                }
            });
            out.append_value(answer.as_str());
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
        let arrays = ColumnarValue::values_to_arrays(&args.args[..1])?;
        let times = cast(&arrays[0], &DataType::Int64)?;
        let times = times.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
        let names = Args::of(&args.args[1..])?;
        let mut out = Int64Builder::with_capacity(args.number_rows);
        let mut cached: Option<(String, String, Interval, Zone)> = None;
        // Bucket boundaries fall on whole minutes (zone offsets are whole minutes), so every instant of a minute
        // has the same bucket; rows come roughly in time order, so the last minute is usually the next one's.
        let mut last_minute: Option<(i64, i64)> = None;
        for row in 0..args.number_rows {
            if !times.is_valid(row) {
                out.append_null();
                continue;
            }
            let (i, z) = (names.value(0, row), names.value(1, row));
            let fresh = match &cached {
                Some((ci, cz, _, _)) => ci != i || cz != z,
                None => true,
            };
            if fresh {
                let interval = interval_from_name(i)
                    .ok_or_else(|| DataFusionError::Plan(format!("herd_bucket: unknown interval {i:?}")))?;
                let zone = Zone::parse(z).map_err(DataFusionError::Plan)?;
                cached = Some((i.to_owned(), z.to_owned(), interval, zone));
                last_minute = None;
            }
            let (_, _, interval, zone) = cached.as_ref().expect("set above");
            let t = times.value(row);
            let minute = t.div_euclid(60_000);
            let start = match last_minute {
                Some((m, start)) if m == minute => start,
                _ => {
                    let start = bucket_start(t, *interval, *zone);
                    last_minute = Some((minute, start));
                    start
                }
            };
            out.append_value(start);
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
        ScalarUDF::new_from_impl(HerdLabel::new()),
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
