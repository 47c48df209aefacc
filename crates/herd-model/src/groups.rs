//! Group memberships: a group type (e.g. `org id`) mapped to one or more group values, and the rules that limit them.
//!
//! Values on the wire may be a string or an array of strings; numbers and booleans are coerced to strings and
//! nested arrays or objects are dropped, as Amplitude's SDKs do (`validateGroups`).

use std::collections::BTreeMap;

use crate::Value;

/// Group type → group values, with values deduplicated in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct GroupSet(pub BTreeMap<String, Vec<String>>);

/// Limits on groups: per project and per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Distinct group types a project may use (Amplitude and PostHog: 5).
    pub max_types_per_project: usize,
    /// Group values on one event, over all types (Amplitude: 10).
    pub max_values_per_event: usize,
}

impl Default for GroupLimits {
    fn default() -> Self {
        GroupLimits { max_types_per_project: 5, max_values_per_event: 10 }
    }
}

/// The groups an event ends up with, and what had to be left off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUnion {
    pub groups: GroupSet,
    /// `(type, value)` pairs left off because the event already had the maximum number of group values.
    pub dropped_values: Vec<(String, String)>,
}

impl GroupSet {
    pub fn new() -> GroupSet {
        GroupSet::default()
    }

    /// Parses a wire `groups` object. Invalid values are dropped, never an error.
    pub fn from_wire(groups: &crate::Properties) -> GroupSet {
        let mut set = GroupSet::new();
        for (group_type, value) in groups {
            let group_type = group_type.trim();
            if group_type.is_empty() {
                continue;
            }
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().filter_map(scalar_to_string).collect(),
                other => scalar_to_string(other).into_iter().collect(),
            };
            for v in values {
                set.insert(group_type, &v);
            }
        }
        set
    }

    /// Adds one value; returns false if it was already there.
    pub fn insert(&mut self, group_type: &str, value: &str) -> bool {
        let values = self.0.entry(group_type.to_owned()).or_default();
        if values.iter().any(|v| v == value) {
            return false;
        }
        values.push(value.to_owned());
        true
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }

    /// Number of values over all types.
    pub fn value_count(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// All `(type, value)` pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().flat_map(|(t, vs)| vs.iter().map(move |v| (t.as_str(), v.as_str())))
    }

    /// Removes a type and returns its values.
    pub fn remove_type(&mut self, group_type: &str) -> Option<Vec<String>> {
        self.0.remove(group_type)
    }

    /// The groups of an event: its own event-level groups first, then the user's user-level groups,
    /// capped at `limits.max_values_per_event` values. Event-level groups win the cap because the sender named
    /// them on this very event and can be told what was left off.
    pub fn union_for_event(event_level: &GroupSet, user_level: &GroupSet, limits: GroupLimits) -> GroupUnion {
        let mut out = GroupUnion::default();
        let mut count = 0;
        for (t, v) in event_level.pairs().chain(user_level.pairs()) {
            if out.groups.0.get(t).is_some_and(|vs| vs.iter().any(|x| x == v)) {
                continue;
            }
            if count >= limits.max_values_per_event {
                out.dropped_values.push((t.to_owned(), v.to_owned()));
                continue;
            }
            out.groups.insert(t, v);
            count += 1;
        }
        out
    }

    /// The set as a JSON object of type → array of values (the export shape).
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(t, vs)| (t.clone(), Value::from(vs.clone()))).collect())
    }
}

fn scalar_to_string(value: &Value) -> Option<String> {
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn wire(v: Value) -> GroupSet {
        GroupSet::from_wire(v.as_object().unwrap())
    }

    #[test]
    fn wire_values_are_strings_or_arrays() {
        let set = wire(
            json!({"org": "1234", "team": ["a", "b", "a"], "n": 5, "bad": {"x": 1}, "mixed": ["x", ["y"], null, true]}),
        );
        assert_eq!(set.to_json(), json!({"mixed": ["x", "true"], "n": ["5"], "org": ["1234"], "team": ["a", "b"]}));
    }

    #[test]
    fn union_prefers_event_level_and_caps_values() {
        let event = wire(json!({"org": ["e1", "e2"]}));
        let user = wire(json!({"org": "e1", "team": ["t1", "t2"]}));
        let limits = GroupLimits { max_types_per_project: 5, max_values_per_event: 3 };
        let u = GroupSet::union_for_event(&event, &user, limits);
        assert_eq!(u.groups.to_json(), json!({"org": ["e1", "e2"], "team": ["t1"]}));
        assert_eq!(u.dropped_values, vec![("team".to_owned(), "t2".to_owned())]);
    }

    fn small_set() -> impl Strategy<Value = GroupSet> {
        proptest::collection::btree_map("[abcdefg]", proptest::collection::vec("[0-9]{1,2}", 1..4), 0..4).prop_map(
            |m| {
                let mut s = GroupSet::new();
                for (t, vs) in m {
                    for v in vs {
                        s.insert(&t, &v);
                    }
                }
                s
            },
        )
    }

    proptest! {
        /// The union never exceeds the cap, contains only pairs from its inputs, and loses a pair only by reporting it.
        #[test]
        fn union_respects_limits(event in small_set(), user in small_set(), cap in 0usize..12) {
            let limits = GroupLimits { max_types_per_project: 5, max_values_per_event: cap };
            let u = GroupSet::union_for_event(&event, &user, limits);
            prop_assert!(u.groups.value_count() <= cap);
            for (t, v) in u.groups.pairs() {
                prop_assert!(event.pairs().chain(user.pairs()).any(|p| p == (t, v)));
            }
            for (t, v) in event.pairs().chain(user.pairs()) {
                let kept = u.groups.pairs().any(|p| p == (t, v));
                let dropped = u.dropped_values.iter().any(|(dt, dv)| dt == t && dv == v);
                prop_assert!(kept ^ dropped, "{t}={v} must be kept or reported dropped, not both or neither");
            }
        }

        /// Event-level pairs are kept before any user-level pair is.
        #[test]
        fn event_level_first(event in small_set(), user in small_set(), cap in 0usize..12) {
            let limits = GroupLimits { max_types_per_project: 5, max_values_per_event: cap };
            let u = GroupSet::union_for_event(&event, &user, limits);
            let event_kept = event.pairs().filter(|p| u.groups.pairs().any(|q| q == *p)).count();
            prop_assert_eq!(event_kept, event.value_count().min(cap));
        }
    }
}
