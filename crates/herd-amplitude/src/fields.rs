//! Field-by-field reading of one wire object, recording every type problem with the object's index.
//!
//! Each getter removes its key from the object, so what is left at the end is the sender's extra keys.
//! `null` is treated as absent everywhere (several SDKs send `null` for unset fields).

use serde_json::Value;

use crate::error::{EventErrors, Problem};
use herd_model::Properties;

/// Reads typed fields out of one event or identification object.
pub(crate) struct Reader<'a> {
    obj: Properties,
    index: usize,
    /// "event" or "identification": how problems name the object.
    label: &'static str,
    errors: &'a mut EventErrors,
    failed: bool,
}

/// A short description of a wire value for error messages, e.g. `the string "2024-01-01"`.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let more = if shown.len() < s.len() { "…" } else { "" };
            format!("the string {shown:?}{more}")
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A JSON number as a whole `i64`: integers, and floats with no fractional part.
pub(crate) fn as_whole(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else { return None };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // The bounds are exactly representable powers of two; `as` is exact inside them.
    (f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)).then_some(f as i64)
}

/// A scalar as a string: strings as sent, numbers and booleans in their JSON spelling.
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(obj: Properties, index: usize, label: &'static str, errors: &'a mut EventErrors) -> Self {
        Reader { obj, index, label, errors, failed: false }
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// True once any problem was recorded for this object.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// `event 3` / `identification 0`.
    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.label, self.index)
    }

    /// Records a problem with this object under `fields`.
    pub(crate) fn problem(&mut self, kind: Problem, fields: &[&str], what: &str) {
        self.failed = true;
        let problem = format!("{}: {what}", self.name());
        self.errors.record(kind, self.index, fields, problem);
    }

    pub(crate) fn invalid(&mut self, field: &str, what: &str) {
        self.problem(Problem::Invalid, &[field], what);
    }

    pub(crate) fn missing(&mut self, field: &str, what: &str) {
        self.problem(Problem::Missing, &[field], what);
    }

    /// True if the object has a non-null value under `key`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.obj.get(key).is_some_and(|v| !v.is_null())
    }

    fn wrong_type(&mut self, key: &str, expected: &str, got: &Value) {
        let what = format!("`{key}` must be {expected}, got {}", describe(got));
        self.invalid(key, &what);
    }

    /// Removes a key; `null` counts as absent.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.obj.shift_remove(key).filter(|v| !v.is_null())
    }

    /// A string field; numbers and booleans are accepted and kept in their JSON spelling.
    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        let value = self.take(key)?;
        let s = scalar_string(&value);
        if s.is_none() {
            self.wrong_type(key, "a string", &value);
        }
        s
    }

    /// A field that must be a JSON string (user and device ids).
    pub(crate) fn strict_string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(key, "a string", &other);
                None
            }
        }
    }

    /// An integer field; floats with no fractional part are accepted.
    pub(crate) fn integer(&mut self, key: &str, expected: &str) -> Option<i64> {
        let value = self.take(key)?;
        let n = as_whole(&value);
        if n.is_none() {
            self.wrong_type(key, expected, &value);
        }
        n
    }

    /// A finite number field.
    pub(crate) fn number(&mut self, key: &str) -> Option<f64> {
        let value = self.take(key)?;
        let n = value.as_f64().filter(|f| f.is_finite());
        if n.is_none() {
            self.wrong_type(key, "a number", &value);
        }
        n
    }

    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        let value = self.take(key)?;
        let b = value.as_bool();
        if b.is_none() {
            self.wrong_type(key, "true or false", &value);
        }
        b
    }

    /// An object field (properties, groups).
    pub(crate) fn object(&mut self, key: &str) -> Option<Properties> {
        match self.take(key)? {
            Value::Object(map) => Some(map),
            other => {
                self.wrong_type(key, "a JSON object", &other);
                None
            }
        }
    }

    /// `library`: a string, or legacy SDKs' `{"name": …, "version": …}` → `name/version`.
    pub(crate) fn library(&mut self) -> Option<String> {
        let value = self.take("library")?;
        if let Value::Object(map) = &value {
            let part = |k: &str| map.get(k).and_then(scalar_string).filter(|s| !s.is_empty());
            return match (part("name"), part("version")) {
                (Some(name), Some(version)) => Some(format!("{name}/{version}")),
                (name, version) => name.or(version),
            };
        }
        let s = scalar_string(&value);
        if s.is_none() {
            self.wrong_type("library", "a string or {\"name\", \"version\"}", &value);
        }
        s
    }

    /// Whatever keys were not read: the sender's extra fields, as sent.
    pub(crate) fn rest(self) -> Properties {
        self.obj
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reader_on<'a>(v: Value, errors: &'a mut EventErrors) -> Reader<'a> {
        let Value::Object(map) = v else { panic!("fixture must be an object") };
        Reader::new(map, 7, "event", errors)
    }

    #[test]
    fn typed_getters() {
        let mut errors = EventErrors::default();
        let mut r = reader_on(
            json!({"a": 5, "b": 1.0e12, "c": 1.5, "d": null, "e": [1], "lib": 1, "x": "keep",
                   "library": {"name": "amplitude-js", "version": "8.1.0"}}),
            &mut errors,
        );
        assert_eq!(r.string("a").as_deref(), Some("5"));
        assert_eq!(r.integer("b", "an integer"), Some(1_000_000_000_000));
        assert_eq!(r.integer("c", "an integer"), None);
        assert_eq!(r.string("d"), None);
        assert_eq!(r.object("e"), None);
        assert_eq!(r.library().as_deref(), Some("amplitude-js/8.1.0"));
        assert_eq!(r.strict_string("lib"), None);
        assert!(r.failed());
        let rest = r.rest();
        assert_eq!(Value::Object(rest), json!({"x": "keep"}));
        assert_eq!(errors.invalid_fields.keys().collect::<Vec<_>>(), ["c", "e", "lib"]);
        assert_eq!(errors.problems[0], "event 7: `c` must be an integer, got the number 1.5");
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(as_whole(&json!(-3)), Some(-3));
        assert_eq!(as_whole(&json!(2.0)), Some(2));
        assert_eq!(as_whole(&json!(u64::MAX)), None);
        assert_eq!(as_whole(&json!(1e300)), None);
        assert_eq!(as_whole(&json!("5")), None);
    }
}
