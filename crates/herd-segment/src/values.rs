//! Small helpers over JSON values: lenient scalar reading, paths, descriptions for messages, and the deep merge
//! of batch-level `context`/`integrations` into each call.

use herd_model::Properties;
use serde_json::Value;

/// A short description of a value for messages, e.g. `the string "abc"` or `an array`.
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

/// A scalar as a string (numbers and booleans in their JSON spelling); blank strings are `None`.
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.trim().is_empty()).then_some(s)
}

/// A finite number, from a JSON number or a numeric string (facade reads revenue leniently).
pub(crate) fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// The value at a path of object keys.
pub(crate) fn at<'a>(obj: &'a Properties, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = obj.get(*first)?;
    for key in rest {
        value = value.as_object()?.get(*key)?;
    }
    Some(value)
}

/// [`scalar_string`] at a path.
pub(crate) fn string_at(obj: &Properties, path: &[&str]) -> Option<String> {
    at(obj, path).and_then(scalar_string)
}

/// The object under `key`, looked up case-insensitively (facade reads integration options that way).
pub(crate) fn object_ci<'a>(obj: &'a Properties, key: &str) -> Option<&'a Properties> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))?.as_object()
}

/// Merges `base` under `item`: objects merge key by key at every depth, and wherever both have a value that is
/// not an object on both sides, the item's wins.
///
/// Segment says batch-level `context` and `integrations` "will be merged with any context inside each of the
/// items" without saying how deep (research §6); a deep merge keeps, e.g., a batch-level `context.library`
/// next to an item's own `context.page`, and an item's `context.device.model` next to the batch's
/// `context.device.manufacturer`. Depth is bounded by serde_json's recursion limit on the parsed input.
pub(crate) fn merge_under(item: &mut Properties, base: &Properties) {
    for (key, base_value) in base {
        match item.get_mut(key) {
            None | Some(Value::Null) => {
                item.insert(key.clone(), base_value.clone());
            }
            Some(Value::Object(item_obj)) => {
                if let Value::Object(base_obj) = base_value {
                    merge_under(item_obj, base_obj);
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Properties {
        match v {
            Value::Object(m) => m,
            _ => Properties::new(),
        }
    }

    #[test]
    fn deep_merge_item_wins() {
        let mut item = obj(json!({"device": {"model": "X"}, "ip": "1.1.1.1", "page": null, "os": "weird"}));
        let base = obj(json!({"device": {"model": "Y", "manufacturer": "Apple"}, "ip": "2.2.2.2",
                              "library": {"name": "analytics-node"}, "page": {"url": "u"}, "os": {"name": "iOS"}}));
        merge_under(&mut item, &base);
        assert_eq!(
            Value::Object(item),
            json!({"device": {"model": "X", "manufacturer": "Apple"}, "ip": "1.1.1.1", "page": {"url": "u"},
                   "os": "weird", "library": {"name": "analytics-node"}})
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(scalar_string(&json!(5)).as_deref(), Some("5"));
        assert_eq!(scalar_string(&json!(" ")), None);
        assert_eq!(number(&json!("19.99")), Some(19.99));
        assert_eq!(number(&json!("NaN")), None);
        assert_eq!(number(&json!([1])), None);
        let o = obj(json!({"Amplitude": {"groups": {}}, "a": {"b": {"c": 1}}}));
        assert!(object_ci(&o, "amplitude").is_some());
        assert_eq!(string_at(&o, &["a", "b", "c"]).as_deref(), Some("1"));
        assert_eq!(at(&o, &["a", "x", "c"]), None);
    }
}
