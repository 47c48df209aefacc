//! Group traits: one spelling per reserved trait, and the lookup of the configured type/value traits.
//!
//! Segment: "Traits are case-insensitive, so in Javascript you can match the rest of your camel-case code by
//! sending `createdAt`, and in Ruby … `created_at`" (seed 002). Herd keeps one property per reserved group
//! trait, spelled as Segment's spec spells it: `address`, `avatar`, `createdAt`, `description`, `email`,
//! `employees`, `id`, `industry`, `name`, `phone`, `plan`, `website` (and inside `address`: `city`, `country`,
//! `postalCode`, `state`, `street`). A key matches a reserved trait when it is equal ignoring case, `_`, `-` and
//! spaces (`created_at`, `CreatedAt`, `Created At`). When several spellings of one trait arrive, the spec's
//! spelling wins, else the first in the call; the kept property sits where its first spelling was.
//! Other traits are kept exactly as sent (`total billed` stays `total billed`).

use herd_model::{Properties, Value};

/// Reserved group traits in Segment's spelling (SD-group, seed 002).
const RESERVED: [&str; 12] = [
    "address",
    "avatar",
    "createdAt",
    "description",
    "email",
    "employees",
    "id",
    "industry",
    "name",
    "phone",
    "plan",
    "website",
];

/// Reserved keys of the `address` trait (SD-identify).
const ADDRESS: [&str; 5] = ["city", "country", "postalCode", "state", "street"];

fn squash(key: &str) -> String {
    key.chars().filter(|c| !matches!(c, '_' | '-' | ' ')).flat_map(char::to_lowercase).collect()
}

/// The spec spelling of `key` among `reserved`, if it is one of them.
fn canonical(key: &str, reserved: &[&'static str]) -> Option<&'static str> {
    let squashed = squash(key);
    reserved.iter().copied().find(|r| squash(r) == squashed)
}

fn normalize_with(traits: &Properties, reserved: &[&'static str]) -> Properties {
    let mut out = Properties::new();
    // Which original key supplied each canonical entry, to let the exact spelling win.
    let mut exact: Vec<&'static str> = Vec::new();
    for (key, value) in traits {
        let Some(canon) = canonical(key, reserved) else {
            out.insert(key.clone(), value.clone());
            continue;
        };
        let is_exact = key == canon;
        if out.contains_key(canon) && (exact.contains(&canon) || !is_exact) {
            continue;
        }
        if is_exact {
            exact.push(canon);
        }
        out.insert(canon.to_owned(), value.clone());
    }
    out
}

/// Group traits with reserved traits in one spelling (see the module docs).
pub(crate) fn normalize_group_traits(traits: &Properties) -> Properties {
    let mut out = normalize_with(traits, &RESERVED);
    if let Some(Value::Object(address)) = out.get_mut("address") {
        *address = normalize_with(address, &ADDRESS);
    }
    out
}

/// The value of a configured group type/value trait. A reserved trait is looked up under its one spelling, so
/// that the group's type or value always equals the group property stored for it (`created_at` finds
/// `createdAt`). Other traits are looked up by exact key, as Segment's and RudderStack's Amplitude destinations
/// do (research §2.3: `group.traits()[groupTypeTrait]`), then as a dotted path into nested traits, as
/// RudderStack's `get(groupTraits, groupTypeTrait)` does.
pub(crate) fn lookup<'a>(traits: &'a Properties, normalized: &'a Properties, name: &str) -> Option<&'a Value> {
    if let Some(canon) = canonical(name, &RESERVED) {
        return normalized.get(canon).filter(|v| !v.is_null());
    }
    if let Some(v) = traits.get(name).filter(|v| !v.is_null()) {
        return Some(v);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut value = traits.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value).filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Properties {
        v.as_object().cloned().unwrap_or_default()
    }

    fn norm(v: Value) -> Value {
        Value::Object(normalize_group_traits(&obj(v)))
    }

    #[test]
    fn one_spelling_per_reserved_trait() {
        assert_eq!(
            norm(json!({"created_at": "2020", "Name": "Initech", "total billed": 830, "Employee Count": 5})),
            json!({"createdAt": "2020", "name": "Initech", "total billed": 830, "Employee Count": 5})
        );
        // The spec spelling wins whatever the order; otherwise the first spelling wins.
        assert_eq!(norm(json!({"created_at": "a", "createdAt": "b"})), json!({"createdAt": "b"}));
        assert_eq!(norm(json!({"createdAt": "b", "created_at": "a"})), json!({"createdAt": "b"}));
        assert_eq!(norm(json!({"created_at": "a", "CREATED_AT": "c"})), json!({"createdAt": "a"}));
        assert_eq!(
            norm(json!({"Address": {"postal_code": "94107", "City": "SF", "unit": 4}})),
            json!({"address": {"postalCode": "94107", "city": "SF", "unit": 4}})
        );
    }

    #[test]
    fn lookups() {
        let traits = obj(json!({"plan": "pro", "created_at": "2020", "org": {"kind": "company"}, "nil": null,
                                "createdAt": "2021"}));
        let normalized = normalize_group_traits(&traits);
        assert_eq!(lookup(&traits, &normalized, "plan"), Some(&json!("pro")));
        // The spec spelling's value, whichever spelling the setting names.
        assert_eq!(lookup(&traits, &normalized, "createdAt"), Some(&json!("2021")));
        assert_eq!(lookup(&traits, &normalized, "created_at"), Some(&json!("2021")));
        assert_eq!(lookup(&traits, &normalized, "org.kind"), Some(&json!("company")));
        assert_eq!(lookup(&traits, &normalized, "Plan"), Some(&json!("pro")));
        assert_eq!(lookup(&traits, &normalized, "nil"), None);
        assert_eq!(lookup(&traits, &normalized, "missing"), None);
        assert_eq!(lookup(&traits, &normalized, "org.missing.deeper"), None);
    }
}
