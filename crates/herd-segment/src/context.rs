//! `context` and `integrations` → Herd's device fields, UTM user properties, sessions and event-level groups,
//! following Amplitude (Actions)' default mappings (research `segment.md` §3.3, §3.10; AD `event-schema.ts`).
//!
//! | Segment | Herd |
//! |---|---|
//! | `context.ip`, `context.userAgent` | `ip`, `user_agent` |
//! | `context.library.{name,version}` | `library` = `name/version` (as herd-amplitude reads legacy SDKs) |
//! | `context.app.version` | `app_version` |
//! | `context.device.{manufacturer,model,brand}` | `device_manufacturer`, `device_model`, `device_brand` |
//! | `context.device.type` | `platform` (`ios` → `iOS`, `android` → `Android`); `Web` for `analytics.js` without one |
//! | `context.os.{name,version}` | `os_name`, `os_version` |
//! | `context.location.{country,region,city,latitude,longitude}` | `country`, `region`, `city`, `location_lat`, `location_lng` |
//! | `context.locale` | `language`, raw (e.g. `en-US`), as Actions sends it |
//! | `context.network.carrier` | `carrier` |
//! | `context.campaign.{source,medium,name,term,content}` | user `$set` `utm_source`…`utm_campaign`…, `$setOnce` `initial_utm_*` |
//! | `context.page.referrer` | user `$set` `referrer`, `$setOnce` `initial_referrer` |
//! | `integrations.Amplitude.session_id` / `["Actions Amplitude"].session_id` | `session_id` |
//! | `integrations.Amplitude.groups` | event-level groups (track/page/screen), user-level (identify) |
//!
//! Not mapped (no Amplitude destination reads them by default): `context.device.id` and advertising ids (Herd's
//! `device_id` is `anonymousId`, see the crate docs), `context.page` other than the referrer, `context.groupId`,
//! `context.timezone`, `context.screen`. The UTM and referrer properties apply to track, page, screen and
//! identify calls, the calls Actions' Log Event and Identify User map; empty values are left out (`compact`).

use herd_model::{DeviceFields, GroupSet, Properties, PropertyOps};
use herd_model::{OpKind, Value};

use crate::timestamp::parse_iso_ms;
use crate::values::{at, number, object_ci, scalar_string, string_at};

/// `library` as `name/version`, or whichever part was sent.
fn library(ctx: &Properties) -> Option<String> {
    match (string_at(ctx, &["library", "name"]), string_at(ctx, &["library", "version"])) {
        (Some(name), Some(version)) => Some(format!("{name}/{version}")),
        (name, version) => name.or(version),
    }
}

/// Actions' platform rule: `context.device.type` with `ios`/`android` spelled as Amplitude does; `Web` when the
/// library is analytics.js and no type was sent.
fn platform(ctx: &Properties) -> Option<String> {
    match string_at(ctx, &["device", "type"]) {
        Some(t) if t.eq_ignore_ascii_case("ios") => Some("iOS".to_owned()),
        Some(t) if t.eq_ignore_ascii_case("android") => Some("Android".to_owned()),
        Some(t) => Some(t),
        None => (string_at(ctx, &["library", "name"]).as_deref() == Some("analytics.js")).then(|| "Web".to_owned()),
    }
}

/// The device, location and client fields of a (merged) `context`.
pub(crate) fn device_fields(ctx: &Properties) -> DeviceFields {
    let s = |path: &[&str]| string_at(ctx, path);
    let n = |path: &[&str]| at(ctx, path).and_then(number);
    DeviceFields {
        app_version: s(&["app", "version"]),
        platform: platform(ctx),
        os_name: s(&["os", "name"]),
        os_version: s(&["os", "version"]),
        device_brand: s(&["device", "brand"]),
        device_manufacturer: s(&["device", "manufacturer"]),
        device_model: s(&["device", "model"]),
        carrier: s(&["network", "carrier"]),
        country: s(&["location", "country"]),
        region: s(&["location", "region"]),
        city: s(&["location", "city"]),
        dma: None,
        language: s(&["locale"]),
        ip: s(&["ip"]),
        location_lat: n(&["location", "latitude"]),
        location_lng: n(&["location", "longitude"]),
        user_agent: s(&["userAgent"]),
        library: library(ctx),
        version_name: None,
    }
}

/// Actions' `utm_properties` and `referrer` user-property operations: `$set` the current values and `$setOnce`
/// the `initial_*` ones (AD `utm.ts`, `referrer.ts`; `campaign.name` is `utm_campaign`).
pub(crate) fn utm_ops(ctx: &Properties) -> PropertyOps {
    let mut set = Properties::new();
    let mut once = Properties::new();
    for (field, key) in
        [("source", "source"), ("medium", "medium"), ("name", "campaign"), ("term", "term"), ("content", "content")]
    {
        if let Some(v) = string_at(ctx, &["campaign", field]) {
            set.insert(format!("utm_{key}"), Value::from(v.clone()));
            once.insert(format!("initial_utm_{key}"), Value::from(v));
        }
    }
    if let Some(referrer) = string_at(ctx, &["page", "referrer"]) {
        set.insert("referrer".to_owned(), Value::from(referrer.clone()));
        once.insert("initial_referrer".to_owned(), Value::from(referrer));
    }
    let mut ops = PropertyOps::default();
    if !set.is_empty() {
        ops.ops.push((OpKind::Set, set));
        ops.ops.push((OpKind::SetOnce, once));
    }
    ops
}

/// The call's session id: classic `integrations.Amplitude.session_id` (Unix ms) or Actions'
/// `integrations["Actions Amplitude"].session_id` (numeric string → number, else an ISO date → ms;
/// AD `formatSessionId`). `Err` names what could not be read.
pub(crate) fn session_id(integrations: &Properties) -> Result<Option<i64>, String> {
    let sources = [("Amplitude", "session_id"), ("Amplitude", "sessionId"), ("Actions Amplitude", "session_id")];
    for (destination, key) in sources {
        let Some(value) = object_ci(integrations, destination).and_then(|o| o.get(key)) else { continue };
        if value.is_null() {
            continue;
        }
        let parsed = match value {
            Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| parse_iso_ms(s)),
            other => number(other).filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64),
        };
        return match parsed {
            Some(-1) => Ok(None),
            Some(id) => Ok(Some(id)),
            None => Err(format!(
                "`integrations.{destination}.{key}` must be the session's start time in milliseconds, got {}; ignored",
                crate::values::describe(value)
            )),
        };
    }
    Ok(None)
}

/// `integrations.Amplitude.groups` (classic: "an integration-specific `groups` property with key-value pairs
/// corresponding to the groupType-groupValue pairs", SD-amp §3.7). Values may be strings or arrays.
pub(crate) fn amplitude_groups(integrations: &Properties) -> GroupSet {
    object_ci(integrations, "Amplitude")
        .and_then(|a| a.get("groups"))
        .and_then(Value::as_object)
        .map(GroupSet::from_wire)
        .unwrap_or_default()
}

/// The user-property `$set` that Amplitude's `setGroup` makes alongside user-level groups: `type = value`
/// (a single value as a string, several as an array).
pub(crate) fn group_user_properties(groups: &GroupSet) -> Properties {
    groups
        .0
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(t, values)| {
            let value = match values.as_slice() {
                [one] => Value::from(one.clone()),
                many => Value::from(many.to_vec()),
            };
            (t.clone(), value)
        })
        .collect()
}

/// A scalar user-visible value of a trait as a group type or value, if usable.
pub(crate) fn group_scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(_) | Value::Number(_) => scalar_string(value).map(|s| s.trim().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Properties {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn device_from_context() {
        let ctx = obj(json!({
            "ip": "8.8.8.8", "userAgent": "UA", "locale": "en-US",
            "library": {"name": "analytics-ios", "version": "4.1.0"}, "app": {"version": 12},
            "device": {"manufacturer": "Apple", "model": "iPhone7,2", "brand": "Apple", "type": "ios"},
            "os": {"name": "iOS", "version": "17.1"}, "network": {"carrier": "T-Mobile"},
            "location": {"country": "US", "region": "CA", "city": "San Francisco", "latitude": 37.7, "longitude": "-122.4"}
        }));
        let d = device_fields(&ctx);
        assert_eq!(d.library.as_deref(), Some("analytics-ios/4.1.0"));
        assert_eq!(d.app_version.as_deref(), Some("12"));
        assert_eq!(d.platform.as_deref(), Some("iOS"));
        assert_eq!(d.location_lng, Some(-122.4));
        let web = device_fields(&obj(json!({"library": {"name": "analytics.js"}})));
        assert_eq!(web.platform.as_deref(), Some("Web"));
        assert_eq!(web.library.as_deref(), Some("analytics.js"));
    }

    #[test]
    fn utm() {
        let ops = utm_ops(&obj(json!({"campaign": {"source": "Newsletter", "name": "TPS", "medium": ""},
                                      "page": {"referrer": "https://r.example"}})));
        let json: Vec<(&str, Value)> = ops.ops.iter().map(|(k, m)| (k.name(), Value::Object(m.clone()))).collect();
        assert_eq!(
            json,
            vec![
                ("$set", json!({"utm_source": "Newsletter", "utm_campaign": "TPS", "referrer": "https://r.example"})),
                (
                    "$setOnce",
                    json!({"initial_utm_source": "Newsletter", "initial_utm_campaign": "TPS",
                           "initial_referrer": "https://r.example"})
                ),
            ]
        );
        assert!(utm_ops(&Properties::new()).is_empty());
    }

    #[test]
    fn sessions() {
        let s = |v: Value| session_id(&obj(v));
        assert_eq!(s(json!({"Amplitude": {"session_id": 1_700_000_000_000_i64}})), Ok(Some(1_700_000_000_000)));
        assert_eq!(s(json!({"Actions Amplitude": {"session_id": "1700000000000"}})), Ok(Some(1_700_000_000_000)));
        assert_eq!(
            s(json!({"Actions Amplitude": {"session_id": "2023-11-14T22:13:20Z"}})),
            Ok(Some(1_700_000_000_000))
        );
        assert_eq!(s(json!({"amplitude": {"session_id": -1}})), Ok(None));
        assert_eq!(s(json!({"All": true})), Ok(None));
        assert!(s(json!({"Amplitude": {"session_id": {"x": 1}}})).is_err());
    }
}
