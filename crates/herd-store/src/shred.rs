//! Segment format v2's typed ("shredded") columns: the event's group values per group type, and the stamped
//! event, user and group properties that reports filter and group on, one column per key present in a segment,
//! so that queries read a few dictionary-encoded string columns instead of parsing JSON bags per row.
//!
//! Every column holds exactly what Herd's JSON functions would find, as text (`herd_get`'s rendering: strings
//! unquoted, numbers and booleans as JSON text; JSON `null` and absence both NULL):
//!
//! - `e.<key>` / `u.<key>` (Utf8): an event / stamped user property.
//! - `g.<type>` (List<Utf8>): the event's values of a group type, without repeats, in stored order (empty when
//!   the event has none).
//! - `gp.<type>.<key>` (List<Utf8>, aligned with `g.<type>`): element `i` is the stamped property of the group
//!   `g.<type>[i]`, NULL where that group has no such property.
//!
//! A key is left out of a segment ("unshredded", listed in the file's `herd.unshredded` metadata) when some value
//! of it there has no such text (an array), when a group type's stamped properties do not line up with its values,
//! or beyond [`MAX_COLUMNS_PER_SOURCE`]; readers then use the JSON bag for that key. A key that is neither a
//! column nor unshredded in a segment does not occur in it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field};
use herd_model::{Properties, StoredEvent};
use serde_json::Value;

/// Most typed columns one property source (event, user, one group type) gets in one segment.
pub const MAX_COLUMNS_PER_SOURCE: usize = 256;

/// Escapes the characters that delimit column names (`.`, and `%` itself) and `"` (SQL identifiers).
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('.', "%2E").replace('"', "%22")
}

/// The column of an event property.
pub fn event_property_column(key: &str) -> String {
    format!("e.{}", escape(key))
}

/// The column of a stamped user property.
pub fn user_property_column(key: &str) -> String {
    format!("u.{}", escape(key))
}

/// The column of a group type's values.
pub fn group_column(group_type: &str) -> String {
    format!("g.{}", escape(group_type))
}

/// The column of a group type's stamped property, aligned with [`group_column`].
pub fn group_property_column(group_type: &str, key: &str) -> String {
    format!("gp.{}.{}", escape(group_type), escape(key))
}

/// Whether a column name is one of this module's.
pub fn is_typed_column(name: &str) -> bool {
    ["e.", "u.", "g.", "gp."].iter().any(|p| name.starts_with(p))
}

/// The Arrow type of a typed column.
pub fn column_type(name: &str) -> DataType {
    if name.starts_with("g.") || name.starts_with("gp.") {
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
    } else {
        DataType::Utf8
    }
}

/// The typed columns of a set of events, sorted by name, and the keys left out.
#[derive(Debug, Default)]
pub struct Shredded {
    pub fields: Vec<Field>,
    pub columns: Vec<ArrayRef>,
    pub unshredded: Vec<String>,
}

/// `herd_get`'s text of a scalar value; `Err` for an array (its elements are separate values to `herd_match`).
fn text(v: &Value) -> Result<Option<String>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(_) => Err(()),
        other => Ok(Some(other.to_string())),
    }
}

/// Which keys of a bag occur in the events, and which of them have a value with no text.
fn scan_keys<'a>(bags: impl Iterator<Item = &'a Properties>) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut keys, mut bad) = (BTreeSet::new(), BTreeSet::new());
    for bag in bags {
        for (k, v) in bag {
            if !keys.contains(k) {
                keys.insert(k.clone());
            }
            if text(v).is_err() {
                bad.insert(k.clone());
            }
        }
    }
    (keys, bad)
}

/// The keys that get a column: those without bad values, at most [`MAX_COLUMNS_PER_SOURCE`]; the rest are
/// added to `unshredded` under their column name.
fn choose(
    keys: BTreeSet<String>,
    bad: &BTreeSet<String>,
    name: impl Fn(&str) -> String,
    unshredded: &mut Vec<String>,
) -> Vec<String> {
    let mut chosen = Vec::new();
    for k in keys {
        if bad.contains(&k) || chosen.len() >= MAX_COLUMNS_PER_SOURCE {
            unshredded.push(name(&k));
        } else {
            chosen.push(k);
        }
    }
    chosen
}

fn scalar_columns<'a>(
    events: &'a [StoredEvent],
    bag: impl Fn(&'a StoredEvent) -> &'a Properties,
    name: impl Fn(&str) -> String,
    out: &mut BTreeMap<String, ArrayRef>,
    unshredded: &mut Vec<String>,
) {
    let (keys, bad) = scan_keys(events.iter().map(&bag));
    for k in choose(keys, &bad, &name, unshredded) {
        let mut b = StringBuilder::with_capacity(events.len(), events.len() * 8);
        for e in events {
            b.append_option(bag(e).get(&k).and_then(|v| text(v).ok().flatten()));
        }
        out.insert(name(&k), Arc::new(b.finish()));
    }
}

/// An event's values of a group type, without repeats.
fn group_values<'a>(e: &'a StoredEvent, group_type: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for v in e.groups.0.get(group_type).into_iter().flatten() {
        if !out.contains(&v.as_str()) {
            out.push(v);
        }
    }
    out
}

/// Whether an event's stamped properties of `group_type` (value → properties) name only its values of that type,
/// in the same order, so that the first non-NULL element of an aligned list is the first property in the map.
fn aligned(values: &[&str], stamped: Option<&Value>) -> bool {
    match stamped {
        None => true,
        Some(Value::Object(by_value)) => {
            let mut remaining = values.iter();
            by_value.keys().all(|k| remaining.any(|v| v == k))
        }
        Some(_) => false,
    }
}

fn group_columns(events: &[StoredEvent], out: &mut BTreeMap<String, ArrayRef>, unshredded: &mut Vec<String>) {
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for e in events {
        types.extend(e.groups.0.keys().map(String::as_str));
        types.extend(e.group_properties.keys().map(String::as_str));
    }
    for t in types {
        let values: Vec<Vec<&str>> = events.iter().map(|e| group_values(e, t)).collect();
        let mut list = ListBuilder::new(StringBuilder::new());
        for vs in &values {
            for v in vs {
                list.values().append_value(v);
            }
            list.append(true);
        }
        out.insert(group_column(t), Arc::new(list.finish()));

        let props = |e: &StoredEvent, v: &str| -> Option<Properties> {
            match e.group_properties.get(t)?.get(v)? {
                Value::Object(p) => Some(p.clone()),
                _ => None,
            }
        };
        let mut keys = BTreeSet::new();
        let mut bad = BTreeSet::new();
        let mut misaligned = false;
        for (e, vs) in events.iter().zip(&values) {
            misaligned |= !aligned(vs, e.group_properties.get(t));
            if let Some(Value::Object(by_value)) = e.group_properties.get(t) {
                for p in by_value.values() {
                    if let Value::Object(p) = p {
                        let (k, b) = scan_keys(std::iter::once(p));
                        keys.extend(k);
                        bad.extend(b);
                    }
                }
            }
        }
        let name = |k: &str| group_property_column(t, k);
        if misaligned {
            unshredded.extend(keys.iter().map(|k| name(k)));
            continue;
        }
        for k in choose(keys, &bad, name, unshredded) {
            let mut list = ListBuilder::new(StringBuilder::new());
            for (e, vs) in events.iter().zip(&values) {
                for v in vs {
                    let found = props(e, v).and_then(|p| p.get(&k).and_then(|x| text(x).ok().flatten()));
                    list.values().append_option(found);
                }
                list.append(true);
            }
            out.insert(group_property_column(t, &k), Arc::new(list.finish()));
        }
    }
}

/// The typed columns of `events`.
pub fn shred(events: &[StoredEvent]) -> Shredded {
    let mut columns = BTreeMap::new();
    let mut unshredded = Vec::new();
    scalar_columns(events, |e| &e.event_properties, event_property_column, &mut columns, &mut unshredded);
    scalar_columns(events, |e| &e.user_properties, user_property_column, &mut columns, &mut unshredded);
    group_columns(events, &mut columns, &mut unshredded);
    let mut out = Shredded { unshredded, ..Default::default() };
    for (name, column) in columns {
        out.fields.push(Field::new(&name, column_type(&name), true));
        out.columns.push(column);
    }
    out.unshredded.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, ListArray, StringArray};
    use herd_model::GroupSet;
    use serde_json::json;

    fn event(props: Value, groups: &[(&str, &str)], stamped: Value) -> StoredEvent {
        let mut g = GroupSet::new();
        for (t, v) in groups {
            g.insert(t, v);
        }
        StoredEvent {
            event_properties: props.as_object().cloned().unwrap_or_default(),
            groups: g,
            group_properties: stamped.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    fn column<'a>(s: &'a Shredded, name: &str) -> &'a ArrayRef {
        let i = s.fields.iter().position(|f| f.name() == name).unwrap_or_else(|| panic!("no column {name}"));
        &s.columns[i]
    }

    #[test]
    fn columns_hold_herd_get_text() {
        let events = [
            event(json!({"a": "x", "n": 3, "b": true, "arr": [1]}), &[("org", "o1")], json!({})),
            event(json!({"a": null, "n": 2.5, "o": {"k": 1}}), &[], json!({})),
        ];
        let s = shred(&events);
        let a = column(&s, "e.a").as_any().downcast_ref::<StringArray>().unwrap().clone();
        assert_eq!((a.value(0), a.is_null(1)), ("x", true));
        let n = column(&s, "e.n").as_any().downcast_ref::<StringArray>().unwrap().clone();
        assert_eq!((n.value(0), n.value(1)), ("3", "2.5"));
        let o = column(&s, "e.o").as_any().downcast_ref::<StringArray>().unwrap().clone();
        assert_eq!((o.is_null(0), o.value(1)), (true, r#"{"k":1}"#));
        assert_eq!(s.unshredded, vec!["e.arr".to_owned()]);
        let g = column(&s, "g.org").as_any().downcast_ref::<ListArray>().unwrap().clone();
        assert_eq!((g.value_length(0), g.value_length(1)), (1, 0));
    }

    #[test]
    fn group_properties_line_up_with_values() {
        let mut e = event(json!({}), &[("org", "o1"), ("org", "o2")], json!({}));
        e.group_properties =
            json!({"org": {"o1": {"plan": "free"}, "o2": {"plan": "pro", "seats": 4}}}).as_object().cloned().unwrap();
        let s = shred(&[e.clone()]);
        let plan = column(&s, "gp.org.plan").as_any().downcast_ref::<ListArray>().unwrap().value(0);
        let plan = plan.as_any().downcast_ref::<StringArray>().unwrap().clone();
        assert_eq!((plan.value(0), plan.value(1)), ("free", "pro"));
        let seats = column(&s, "gp.org.seats").as_any().downcast_ref::<ListArray>().unwrap().value(0);
        assert!(seats.is_null(0));

        // Stamped in another order than the values: the first match would differ, so the keys stay JSON.
        e.group_properties =
            json!({"org": {"o2": {"plan": "pro"}, "o1": {"plan": "free"}}}).as_object().cloned().unwrap();
        let s = shred(&[e]);
        assert_eq!(s.unshredded, vec!["gp.org.plan".to_owned()]);
    }

    #[test]
    fn names_are_unambiguous() {
        assert_eq!(group_property_column("a.b", "c"), "gp.a%2Eb.c");
        assert_ne!(group_property_column("a.b", "c"), group_property_column("a", "b.c"));
        assert_eq!(event_property_column("100%\""), "e.100%25%22");
    }
}
