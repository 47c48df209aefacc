//! The Export API (`GET /api/2/export`, research §7.6): one stored event as Amplitude's per-event JSON, and
//! the `start`/`end` hour parameters.
//!
//! Where Herd has no source for one of Amplitude's keys it writes `null` (`app` — the server may fill it in —
//! `amplitude_attribution_ids`, `sample_rate`, and `paying`/`start_version` unless the sender gave them).
//! `server_received_time` and `processed_time` are the server upload time (Herd stamps events on receipt).
//! `device_type` is the device model and `device_family` the brand (or manufacturer); the three raw fields
//! are also written, as Amplitude's S3 export does. Revenue fields are always present (`null` when unset).
//! The sender's extra keys follow under their own names unless they collide with a key already written.

use herd_model::{Properties, StoredEvent};
use serde_json::Value;

use crate::error::RejectionKind;
use crate::event::revenue_to_wire;
use crate::timefmt::{format_export_time, parse_hour};

const HOUR_MS: i64 = 3_600_000;
/// Amplitude's maximum export range.
const MAX_EXPORT_DAYS: i64 = 365;

/// Why an export time range was rejected (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportTimeError {
    #[error("hours must look like YYYYMMDDTHH (UTC), e.g. 20240131T05; got {0:?}")]
    BadHour(String),
    #[error("`end` {end:?} is before `start` {start:?}")]
    EndBeforeStart { start: String, end: String },
    #[error("the range {start:?}..{end:?} is longer than {MAX_EXPORT_DAYS} days; split it")]
    TooLong { start: String, end: String },
}

impl ExportTimeError {
    pub fn kind(&self) -> RejectionKind {
        RejectionKind::BadRequest
    }
}

/// `YYYYMMDDTHH` (UTC) → the start of that hour, ms since the epoch.
pub fn parse_export_hour(s: &str) -> Result<i64, ExportTimeError> {
    parse_hour(s).ok_or_else(|| ExportTimeError::BadHour(s.to_owned()))
}

/// `start` and `end` hours (both inclusive, as Amplitude's) → `[from, to)` in ms of server upload time.
pub fn parse_export_range(start: &str, end: &str) -> Result<(i64, i64), ExportTimeError> {
    let from = parse_export_hour(start)?;
    let to = parse_export_hour(end)? + HOUR_MS;
    let names = || (start.to_owned(), end.to_owned());
    if to <= from {
        let (start, end) = names();
        return Err(ExportTimeError::EndBeforeStart { start, end });
    }
    if to - from > MAX_EXPORT_DAYS * 24 * HOUR_MS {
        let (start, end) = names();
        return Err(ExportTimeError::TooLong { start, end });
    }
    Ok((from, to))
}

fn time(ms: i64) -> Value {
    format_export_time(ms).map_or(Value::Null, Value::String)
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, time)
}

fn opt<T: Into<Value> + Clone>(v: &Option<T>) -> Value {
    v.clone().map_or(Value::Null, Into::into)
}

/// One stored event as a line of Amplitude's export.
pub fn export_row(e: &StoredEvent) -> Value {
    let d = &e.device;
    let mut extra = e.extra.clone();
    let mut take = |key: &str| extra.shift_remove(key).unwrap_or(Value::Null);
    let paying = take("paying");
    let start_version = take("start_version");
    let version_name = d.version_name.clone().or_else(|| d.app_version.clone());
    let family = d.device_brand.clone().or_else(|| d.device_manufacturer.clone());
    let fields: [(&str, Value); 40] = [
        ("server_received_time", time(e.server_upload_time)),
        ("app", Value::Null),
        ("device_carrier", opt(&d.carrier)),
        ("city", opt(&d.city)),
        ("user_id", opt(&e.user_id)),
        ("uuid", e.uuid.clone().into()),
        ("event_time", time(e.event_time)),
        ("platform", opt(&d.platform)),
        ("os_version", opt(&d.os_version)),
        ("amplitude_id", opt(&e.amplitude_id)),
        ("processed_time", time(e.server_upload_time)),
        ("version_name", opt(&version_name)),
        ("ip_address", opt(&d.ip)),
        ("paying", paying),
        ("dma", opt(&d.dma)),
        ("group_properties", Value::Object(e.group_properties.clone())),
        ("user_properties", Value::Object(e.user_properties.clone())),
        ("client_upload_time", opt_time(e.client_upload_time)),
        ("$insert_id", opt(&e.insert_id)),
        ("event_type", e.event_type.clone().into()),
        ("library", opt(&d.library)),
        ("amplitude_attribution_ids", Value::Null),
        ("device_type", opt(&d.device_model)),
        ("start_version", start_version),
        ("location_lng", opt(&d.location_lng)),
        ("server_upload_time", time(e.server_upload_time)),
        ("event_id", opt(&e.event_id)),
        ("location_lat", opt(&d.location_lat)),
        ("os_name", opt(&d.os_name)),
        ("groups", e.groups.to_json()),
        ("event_properties", Value::Object(e.event_properties.clone())),
        ("data", Value::Object(e.data.clone())),
        ("device_id", opt(&e.device_id)),
        ("language", opt(&d.language)),
        ("country", opt(&d.country)),
        ("region", opt(&d.region)),
        ("session_id", e.session_id.into()),
        ("device_family", opt(&family)),
        ("sample_rate", Value::Null),
        ("client_event_time", opt_time(e.client_event_time)),
    ];
    let mut row: Properties = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for (key, value) in [
        ("device_brand", opt(&d.device_brand)),
        ("device_manufacturer", opt(&d.device_manufacturer)),
        ("device_model", opt(&d.device_model)),
        ("user_agent", opt(&d.user_agent)),
    ] {
        row.insert(key.to_owned(), value);
    }
    if d.app_version.is_some() && d.app_version != version_name {
        row.insert("app_version".to_owned(), opt(&d.app_version));
    }
    revenue_to_wire(&e.revenue, &mut row, true);
    for (key, value) in extra {
        row.entry(key).or_insert(value);
    }
    Value::Object(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_model::{DeviceFields, GroupSet, Revenue};
    use serde_json::json;

    fn obj(v: Value) -> Properties {
        match v {
            Value::Object(m) => m,
            _ => panic!("fixture must be an object"),
        }
    }

    #[test]
    fn row_snapshot() {
        let mut groups = GroupSet::new();
        groups.insert("org id", "1234");
        groups.insert("org id", "5678");
        let event = StoredEvent {
            seq: 7,
            uuid: "6f1c1d1e-0000-4000-8000-000000000007".into(),
            amplitude_id: Some(42),
            user_id: Some("datamonster@amplitude.com".into()),
            device_id: Some("C8F9E604-F01A-4BD9-95C6-8E5357DF265D".into()),
            event_type: "watch_tutorial".into(),
            event_time: 1_396_381_378_123,
            client_event_time: Some(1_396_381_378_123),
            client_upload_time: Some(1_396_381_380_000),
            server_upload_time: 1_396_381_381_500,
            insert_id: Some("5f0adeff-6668-4427-8d02-57d803a2b841".into()),
            session_id: 1_396_381_300_000,
            event_id: Some(3),
            event_properties: obj(json!({"load_time": 0.8})),
            user_properties: obj(json!({"Cohort": "Test A"})),
            groups,
            group_properties: obj(json!({"org id": {"1234": {"org plan": "Enterprise"}}})),
            device: DeviceFields {
                platform: Some("iOS".into()),
                os_name: Some("ios".into()),
                device_brand: Some("Apple".into()),
                device_model: Some("iPhone 12".into()),
                app_version: Some("2.1.0".into()),
                library: Some("amplitude-ios/3.2.1".into()),
                country: Some("United States".into()),
                ip: Some("127.0.0.1".into()),
                ..DeviceFields::default()
            },
            revenue: Revenue { price: Some(4.99), quantity: Some(2), ..Revenue::default() },
            data: obj(json!({"first_event": true})),
            extra: obj(json!({"idfa": "abc", "uuid": "client-uuid", "start_version": "1.0.0"})),
        };
        insta::assert_json_snapshot!(export_row(&event));
    }

    #[test]
    fn hours_and_ranges() {
        assert_eq!(parse_export_hour("20140401T19"), Ok(1_396_378_800_000));
        assert!(matches!(parse_export_hour("2014-04-01"), Err(ExportTimeError::BadHour(_))));
        let (from, to) = parse_export_range("20240101T00", "20240101T23").expect("valid range");
        assert_eq!(to - from, 24 * HOUR_MS);
        assert!(matches!(
            parse_export_range("20240102T00", "20240101T23"),
            Err(ExportTimeError::EndBeforeStart { .. })
        ));
        assert!(parse_export_range("20230101T00", "20231231T23").is_ok());
        assert!(matches!(parse_export_range("20230101T00", "20240101T00"), Err(ExportTimeError::TooLong { .. })));
    }
}
