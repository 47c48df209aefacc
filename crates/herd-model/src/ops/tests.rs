//! Tests for property operations: hand-written cases in Amplitude's order, and properties that hold for any input.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn props(v: Value) -> Properties {
    match v {
        Value::Object(m) => m,
        _ => panic!("test fixture must be an object"),
    }
}

/// Applies `ops` to `state` and returns the new state as JSON.
fn run(state: Value, ops: Value) -> Value {
    let mut state = props(state);
    let before = state.clone();
    let changed = PropertyOps::parse(&props(ops)).unwrap().apply(&mut state);
    assert_eq!(changed, state != before, "apply reports a change exactly when the state changed");
    Value::Object(state)
}

#[test]
fn cases() {
    let cases = [
        // (initial state, operations, expected state)
        (json!({}), json!({"$set": {"a": 1}}), json!({"a": 1})),
        (json!({"a": 1}), json!({"$setOnce": {"a": 2, "b": 3}}), json!({"a": 1, "b": 3})),
        (json!({}), json!({"$add": {"n": 2}}), json!({"n": 2})),
        (json!({"n": 1.5}), json!({"$add": {"n": 2}}), json!({"n": 3.5})),
        (json!({"n": "4"}), json!({"$add": {"n": -1}}), json!({"n": 3})),
        (json!({"n": "x"}), json!({"$add": {"n": 1}}), json!({"n": 1})),
        (json!({}), json!({"$add": {"n": "not a number"}}), json!({})),
        (json!({"l": "a"}), json!({"$append": {"l": "b"}}), json!({"l": ["a", "b"]})),
        (json!({"l": ["a"]}), json!({"$append": {"l": ["a", "c"]}}), json!({"l": ["a", "a", "c"]})),
        (json!({"l": ["b"]}), json!({"$prepend": {"l": "a"}}), json!({"l": ["a", "b"]})),
        (json!({"l": ["b"]}), json!({"$preInsert": {"l": ["a", "b", "c"]}}), json!({"l": ["a", "c", "b"]})),
        (json!({"l": ["b"]}), json!({"$postInsert": {"l": ["a", "b"]}}), json!({"l": ["b", "a"]})),
        (json!({"l": ["a", "b", "a"]}), json!({"$remove": {"l": "a"}}), json!({"l": ["b"]})),
        (json!({}), json!({"$remove": {"l": "a"}}), json!({})),
        (json!({"a": 1, "b": 2}), json!({"$unset": {"a": "-"}}), json!({"b": 2})),
        (json!({"a": 1, "b": 2}), json!({"$clearAll": "-", "$set": {"c": 3}}), json!({"c": 3})),
        // Order: $unset runs before $set whatever the wire order.
        (json!({"a": 1}), json!({"$set": {"a": 2}, "$unset": {"a": "-"}}), json!({"a": 2})),
        // $set before $setOnce: setOnce does nothing when set in the same payload.
        (json!({}), json!({"$setOnce": {"a": 1}, "$set": {"a": 2}}), json!({"a": 2})),
        // $add after $set.
        (json!({}), json!({"$add": {"n": 1}, "$set": {"n": 10}}), json!({"n": 11})),
        // Plain keys are $set, applied after the operations.
        (json!({"a": 1}), json!({"a": 5, "$unset": {"a": "-"}}), json!({"a": 5})),
        (json!({}), json!({"x": [1, 2], "y": {"z": true}}), json!({"x": [1, 2], "y": {"z": true}})),
        // Unknown $-keys are plain properties.
        (json!({}), json!({"$foo": 1}), json!({"$foo": 1})),
    ];
    for (i, (state, ops, expected)) in cases.into_iter().enumerate() {
        assert_eq!(run(state, ops), expected, "case {i}");
    }
}

#[test]
fn operation_with_non_object_argument_is_an_error() {
    let err = PropertyOps::parse(&props(json!({"$set": 3}))).unwrap_err();
    assert_eq!(err, OpsError::NotAnObject { op: "$set" });
    assert!(err.to_string().contains("$set"));
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    "[pqr]".prop_map(String::from)
}

fn op_kind() -> impl Strategy<Value = OpKind> {
    proptest::sample::select(OpKind::ALL[1..].to_vec())
}

fn ops_strategy() -> impl Strategy<Value = Vec<(OpKind, String, Value)>> {
    proptest::collection::vec(
        (op_kind(), key(), prop_oneof![scalar(), proptest::collection::vec(scalar(), 0..3).prop_map(Value::Array)]),
        0..8,
    )
}

fn build(ops: &[(OpKind, String, Value)]) -> PropertyOps {
    let mut by_op: Vec<(OpKind, Properties)> = Vec::new();
    for (op, k, v) in ops {
        match by_op.iter_mut().find(|(o, _)| o == op) {
            Some((_, m)) => {
                m.insert(k.clone(), v.clone());
            }
            None => {
                let mut m = Properties::new();
                m.insert(k.clone(), v.clone());
                by_op.push((*op, m));
            }
        }
    }
    let mut wire = Properties::new();
    for (op, m) in by_op {
        wire.insert(op.name().to_owned(), Value::Object(m));
    }
    PropertyOps::parse(&wire).unwrap()
}

proptest! {
    /// Replaying the same operations on the same state gives the same result (invariant 3: deterministic replay).
    #[test]
    fn apply_is_deterministic(initial in proptest::collection::btree_map(key(), scalar(), 0..3), ops in ops_strategy()) {
        let initial: Properties = initial.into_iter().collect();
        let parsed = build(&ops);
        let mut a = initial.clone();
        let mut b = initial;
        parsed.apply(&mut a);
        parsed.apply(&mut b);
        prop_assert_eq!(a, b);
    }

    /// Only keys named by an operation can change.
    #[test]
    fn untouched_keys_survive(initial in proptest::collection::btree_map("[xyz]", scalar(), 0..3), ops in ops_strategy()) {
        let initial: Properties = initial.into_iter().collect();
        let mut state = initial.clone();
        build(&ops).apply(&mut state);
        for (k, v) in &initial {
            prop_assert_eq!(state.get(k), Some(v));
        }
    }

    /// `$setOnce` never overwrites an existing value, and `$set` always leaves exactly its value
    /// unless a later operation in Amplitude's order touches the key.
    #[test]
    fn set_once_never_overwrites(initial in proptest::collection::btree_map(key(), scalar(), 1..3), v in scalar()) {
        let initial: Properties = initial.into_iter().collect();
        let (k, old) = initial.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
        let mut state = initial;
        build(&[(OpKind::SetOnce, k.clone(), v)]).apply(&mut state);
        prop_assert_eq!(state.get(&k), Some(&old));
    }

    /// `$preInsert` / `$postInsert` never create duplicates of values already in the list.
    #[test]
    fn inserts_do_not_duplicate(list in proptest::collection::vec(scalar(), 0..4), add in proptest::collection::vec(scalar(), 0..4), post in any::<bool>()) {
        let mut state = Properties::new();
        let unique: Vec<Value> = dedup_keep_order(list);
        state.insert("l".into(), Value::Array(unique.clone()));
        let op = if post { OpKind::PostInsert } else { OpKind::PreInsert };
        build(&[(op, "l".into(), Value::Array(add))]).apply(&mut state);
        let Value::Array(after) = state.get("l").unwrap() else { panic!("list expected") };
        let mut seen = Vec::new();
        for v in after {
            prop_assert!(!seen.contains(v), "duplicate {v}");
            seen.push(v.clone());
        }
    }
}
