//! Time conversions at the edge: ISO-8601 upload times in, Amplitude's export timestamps out.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::fields::as_whole;

const NANOS_PER_MS: i128 = 1_000_000;

/// Milliseconds since the epoch as Amplitude's export timestamp, UTC `YYYY-MM-DD HH:MM:SS.ffffff`;
/// `None` when out of the representable range.
pub fn format_export_time(ms: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * NANOS_PER_MS).ok()?;
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
    t.format(&fmt).ok()
}

/// An RFC 3339 / ISO-8601 timestamp with offset, e.g. `2024-01-01T00:00:00.000Z`, as ms since the epoch.
pub(crate) fn parse_iso_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / NANOS_PER_MS).ok()
}

/// A request-level `client_upload_time`: ISO-8601 string, ms integer, or a string of ms digits.
pub(crate) fn parse_upload_time(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| parse_iso_ms(s)),
        other => as_whole(other),
    }
}

/// `YYYYMMDDTHH` (UTC) → ms since the epoch of the start of that hour.
pub(crate) fn parse_hour(s: &str) -> Option<i64> {
    let fmt = format_description!("[year][month][day]T[hour]");
    let t = PrimitiveDateTime::parse(s.trim(), &fmt).ok()?.assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / NANOS_PER_MS).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn export_format() {
        assert_eq!(format_export_time(0).as_deref(), Some("1970-01-01 00:00:00.000000"));
        assert_eq!(format_export_time(1_396_381_378_123).as_deref(), Some("2014-04-01 19:42:58.123000"));
        assert_eq!(format_export_time(-1).as_deref(), Some("1969-12-31 23:59:59.999000"));
        assert_eq!(format_export_time(i64::MAX), None);
    }

    #[test]
    fn upload_times() {
        assert_eq!(parse_upload_time(&json!("2014-04-01T19:42:58.123Z")), Some(1_396_381_378_123));
        assert_eq!(parse_upload_time(&json!("2014-04-01T21:42:58+02:00")), Some(1_396_381_378_000));
        assert_eq!(parse_upload_time(&json!(1_396_381_378_123_i64)), Some(1_396_381_378_123));
        assert_eq!(parse_upload_time(&json!("1396381378123")), Some(1_396_381_378_123));
        assert_eq!(parse_upload_time(&json!("yesterday")), None);
        assert_eq!(parse_upload_time(&json!({})), None);
    }

    #[test]
    fn hours() {
        assert_eq!(parse_hour("20140401T19"), Some(1_396_378_800_000));
        assert_eq!(parse_hour("20140401T24"), None);
        assert_eq!(parse_hour("2014-04-01T19"), None);
        assert_eq!(parse_hour("20140401"), None);
    }
}
