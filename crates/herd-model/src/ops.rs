//! User and group property operations (`$set`, `$setOnce`, `$add`, …) and the order in which they apply.
//!
//! The order is Amplitude's (`$clearAll, $unset, $set, $setOnce, $add, $append, $prepend, $preInsert,
//! $postInsert, $remove`); plain keys that are not operations are applied after all operations as `$set`
//! (Amplitude's SDKs cite Nova: "custom properties should not be affected by operations").

use crate::{Properties, Value};

/// One kind of property operation, in the order operations are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    ClearAll,
    Unset,
    Set,
    SetOnce,
    Add,
    Append,
    Prepend,
    PreInsert,
    PostInsert,
    Remove,
}

impl OpKind {
    /// All operations in application order.
    pub const ALL: [OpKind; 10] = [
        OpKind::ClearAll,
        OpKind::Unset,
        OpKind::Set,
        OpKind::SetOnce,
        OpKind::Add,
        OpKind::Append,
        OpKind::Prepend,
        OpKind::PreInsert,
        OpKind::PostInsert,
        OpKind::Remove,
    ];

    /// The operation's wire name, e.g. `$setOnce`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::ClearAll => "$clearAll",
            OpKind::Unset => "$unset",
            OpKind::Set => "$set",
            OpKind::SetOnce => "$setOnce",
            OpKind::Add => "$add",
            OpKind::Append => "$append",
            OpKind::Prepend => "$prepend",
            OpKind::PreInsert => "$preInsert",
            OpKind::PostInsert => "$postInsert",
            OpKind::Remove => "$remove",
        }
    }

    /// Parses an operation name; `None` for anything else (including unknown `$`-keys).
    pub fn parse(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// A parsed set of property operations, ready to apply in Amplitude's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyOps {
    /// `$clearAll` was present.
    pub clear_all: bool,
    /// Operations other than `$clearAll`, each with its key/value pairs, in wire order within each op.
    pub ops: Vec<(OpKind, Properties)>,
    /// Plain keys (not operations): applied last, as `$set`.
    pub plain: Properties,
}

/// Why an operation could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpsError {
    /// An operation's argument was not an object, e.g. `{"$set": 3}`.
    #[error("property operation {op} must hold an object of property names to values")]
    NotAnObject { op: &'static str },
}

impl PropertyOps {
    /// Parses a `user_properties` / `group_properties` object.
    ///
    /// Unknown `$`-prefixed keys are kept as plain properties (Amplitude does the same: they show up as properties).
    pub fn parse(props: &Properties) -> Result<PropertyOps, OpsError> {
        let mut parsed = PropertyOps::default();
        for (key, value) in props {
            match OpKind::parse(key) {
                Some(OpKind::ClearAll) => parsed.clear_all = true,
                Some(op) => match value {
                    Value::Object(map) => parsed.ops.push((op, map.clone())),
                    _ => return Err(OpsError::NotAnObject { op: op.name() }),
                },
                None => {
                    parsed.plain.insert(key.clone(), value.clone());
                }
            }
        }
        parsed.ops.sort_by_key(|(op, _)| *op);
        Ok(parsed)
    }

    /// Operations that only `$set` the given properties.
    pub fn set(props: Properties) -> PropertyOps {
        PropertyOps { clear_all: false, ops: vec![(OpKind::Set, props)], plain: Properties::new() }
    }

    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        !self.clear_all && self.plain.is_empty() && self.ops.iter().all(|(_, m)| m.is_empty())
    }

    /// Merges `other` after `self` (used when an identification carries both ops and implied `$set`s).
    pub fn extend(&mut self, other: PropertyOps) {
        self.clear_all |= other.clear_all;
        self.ops.extend(other.ops);
        self.ops.sort_by_key(|(op, _)| *op);
        self.plain.extend(other.plain);
    }

    /// Applies the operations to `state` in Amplitude's order. Returns whether anything changed, so that callers
    /// write state back only when it did.
    pub fn apply(&self, state: &mut Properties) -> bool {
        let mut changed = false;
        if self.clear_all && !state.is_empty() {
            state.clear();
            changed = true;
        }
        for (op, args) in &self.ops {
            for (key, arg) in args {
                changed |= apply_one(*op, state, key, arg);
            }
        }
        for (key, value) in &self.plain {
            changed |= set_if_different(state, key, normalize(value));
        }
        changed
    }
}

/// Dates and other non-JSON values arrive as strings already; nested values are kept as sent.
fn normalize(value: &Value) -> Value {
    value.clone()
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Inserts `value` unless the property already holds it; returns whether the state changed.
fn set_if_different(state: &mut Properties, key: &str, value: Value) -> bool {
    if state.get(key) == Some(&value) {
        return false;
    }
    state.insert(key.to_owned(), value);
    true
}

/// Applies one operation to one key; returns whether the state changed.
fn apply_one(op: OpKind, state: &mut Properties, key: &str, arg: &Value) -> bool {
    match op {
        OpKind::ClearAll => {
            let changed = !state.is_empty();
            state.clear();
            changed
        }
        OpKind::Unset => state.remove(key).is_some(),
        OpKind::Set => set_if_different(state, key, normalize(arg)),
        OpKind::SetOnce => {
            if state.contains_key(key) {
                return false;
            }
            state.insert(key.to_owned(), normalize(arg));
            true
        }
        OpKind::Add => add(state, key, arg),
        OpKind::Append | OpKind::Prepend => {
            let mut list = existing_list(state, key);
            let new = as_list(arg);
            if op == OpKind::Append {
                list.extend(new);
            } else {
                list.splice(0..0, new);
            }
            set_if_different(state, key, Value::Array(list))
        }
        OpKind::PreInsert | OpKind::PostInsert => {
            let mut list = existing_list(state, key);
            let new: Vec<Value> = dedup_keep_order(as_list(arg)).into_iter().filter(|v| !list.contains(v)).collect();
            if op == OpKind::PostInsert {
                list.extend(new);
            } else {
                list.splice(0..0, new);
            }
            set_if_different(state, key, Value::Array(list))
        }
        OpKind::Remove => {
            let Some(current) = state.get(key) else { return false };
            let remove = as_list(arg);
            let kept: Vec<Value> = as_list(current).into_iter().filter(|v| !remove.contains(v)).collect();
            set_if_different(state, key, Value::Array(kept))
        }
    }
}

fn dedup_keep_order(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The current value as a list: missing → empty; a scalar → a one-element list (Amplitude converts it).
fn existing_list(state: &Properties, key: &str) -> Vec<Value> {
    state.get(key).map(as_list).unwrap_or_default()
}

/// `$add`: numbers add; a missing property starts at 0; numeric strings count as numbers.
/// A non-numeric current value is replaced by the increment (Amplitude leaves this undocumented; we treat the
/// unusable value as 0 so that counters recover instead of getting stuck).
fn add(state: &mut Properties, key: &str, arg: &Value) -> bool {
    let Some(increment) = number_of(arg) else { return false };
    let current = state.get(key).and_then(number_of).unwrap_or(0.0);
    let sum = current + increment;
    let value = if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
        Value::from(sum as i64)
    } else {
        serde_json::Number::from_f64(sum).map(Value::Number).unwrap_or(Value::Null)
    };
    set_if_different(state, key, value)
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
