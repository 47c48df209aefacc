//! Segment's timestamps: ISO-8601 strings in, milliseconds out, and the clock-skew correction
//! `timestamp = receivedAt − (sentAt − originalTimestamp)` (research `segment.md` §1.11, SD-common).

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

const NANOS_PER_MS: i128 = 1_000_000;

fn to_ms(t: OffsetDateTime) -> Option<i64> {
    i64::try_from(t.unix_timestamp_nanos() / NANOS_PER_MS).ok()
}

/// An ISO-8601 timestamp as ms since the epoch.
///
/// Segment documents "ISO-8601 date strings … in the UTC timezone" (SD-common). Accepted, in order: RFC 3339
/// (`2015-12-12T19:11:01.249Z`, `…+02:00`), other ISO-8601 forms with an offset, a date-time without an
/// offset (taken as UTC, as Segment says all timestamps are; Python's `isoformat()` of a naive datetime sends
/// this), and a bare date (midnight UTC). Anything else is `None`.
pub(crate) fn parse_iso_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return to_ms(t);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return to_ms(t);
    }
    if let Ok(t) = PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return to_ms(t.assume_utc());
    }
    if let Ok(d) = Date::parse(s, &Iso8601::DEFAULT) {
        return to_ms(d.midnight().assume_utc());
    }
    None
}

/// The event time Segment computes: `receivedAt − (sentAt − originalTimestamp)`.
///
/// Without `sentAt` no skew can be measured and the client time is used as sent (research §6: "no correction
/// is possible, so `timestamp` is used as sent"); without a client time the result is `None` ("Segment servers
/// will timestamp the requests for you", SD-http), which the store turns into the receive time.
/// Out-of-range arithmetic gives `None` rather than a wrapped time.
pub(crate) fn corrected_time(received_at_ms: i64, sent_at: Option<i64>, original: Option<i64>) -> Option<i64> {
    let original = original?;
    match sent_at {
        Some(sent) => received_at_ms.checked_sub(sent.checked_sub(original)?),
        None => Some(original),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        for (s, ms) in [
            ("2015-12-12T19:11:01.249Z", Some(1_449_947_461_249)),
            ("2015-12-12T21:11:01.249+02:00", Some(1_449_947_461_249)),
            ("2015-12-12T19:11:01.249123+00:00", Some(1_449_947_461_249)),
            ("2015-12-12T19:11:01.249", Some(1_449_947_461_249)),
            ("2015-12-12T19:11:01", Some(1_449_947_461_000)),
            ("2015-12-12", Some(1_449_878_400_000)),
            (" 2015-12-12T19:11:01Z ", Some(1_449_947_461_000)),
            ("yesterday", None),
            ("", None),
            ("1449947461249", None),
        ] {
            assert_eq!(parse_iso_ms(s), ms, "{s:?}");
        }
    }

    /// The worked example of SD-track: 01.266 − (01.169 − 01.152) = 01.249.
    #[test]
    fn correction_arithmetic() {
        let received = parse_iso_ms("2015-12-12T19:11:01.266Z");
        let sent = parse_iso_ms("2015-12-12T19:11:01.169Z");
        let original = parse_iso_ms("2015-12-12T19:11:01.152Z");
        let expected = parse_iso_ms("2015-12-12T19:11:01.249Z");
        assert_eq!(corrected_time(received.unwrap_or_default(), sent, original), expected);
        // A device clock one hour fast: the event moves back by the hour.
        assert_eq!(corrected_time(10_000_000, Some(13_600_000), Some(13_590_000)), Some(9_990_000));
        assert_eq!(corrected_time(5, None, Some(3)), Some(3));
        assert_eq!(corrected_time(5, Some(3), None), None);
        assert_eq!(corrected_time(i64::MIN, Some(i64::MAX), Some(0)), None);
        assert_eq!(corrected_time(0, Some(i64::MIN), Some(i64::MAX)), None);
    }
}
