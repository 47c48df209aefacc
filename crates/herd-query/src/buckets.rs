//! Time buckets of charts in a time zone: the start of the bucket an instant falls in, and every bucket of a range.
//! The same code computes the x axis and (through the `herd_bucket` SQL function) each event's bucket, so the two
//! always agree. Weeks start on Sunday, as in Amplitude's charts.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use herd_model::report::Interval;

/// A chart's time zone: an IANA name (`Europe/Berlin`), `UTC`, or a fixed offset (`+02:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case("utc") || name == "Z" {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset")));
        }
        if let Ok(tz) = name.parse::<Tz>() {
            return Ok(Zone::Named(tz));
        }
        let (sign, rest) = match name.as_bytes().first() {
            Some(b'+') => (1, &name[1..]),
            Some(b'-') => (-1, &name[1..]),
            _ => {
                return Err(format!("unknown time zone {name:?}; use an IANA name like Europe/Berlin, UTC, or +02:00"));
            }
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let secs = h.parse::<i32>().ok().zip(m.parse::<i32>().ok()).map(|(h, m)| sign * (h * 3600 + m * 60));
        secs.and_then(FixedOffset::east_opt).map(Zone::Fixed).ok_or_else(|| format!("invalid UTC offset {name:?}"))
    }

    /// Local wall-clock time of an instant.
    fn local(&self, ms: i64) -> NaiveDateTime {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        match self {
            Zone::Named(tz) => utc.with_timezone(tz).naive_local(),
            Zone::Fixed(off) => utc.with_timezone(off).naive_local(),
        }
    }

    /// The instant of a local wall-clock time (the earlier one when ambiguous; skipped times move forward).
    fn instant(&self, local: NaiveDateTime) -> i64 {
        let pick = |r: chrono::LocalResult<i64>| match r {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => Some(t),
            chrono::LocalResult::None => None,
        };
        let mut t = local;
        for _ in 0..4 {
            let found = match self {
                Zone::Named(tz) => pick(tz.from_local_datetime(&t).map(|d| d.timestamp_millis())),
                Zone::Fixed(off) => pick(off.from_local_datetime(&t).map(|d| d.timestamp_millis())),
            };
            if let Some(ms) = found {
                return ms;
            }
            t += Duration::hours(1);
        }
        local.and_utc().timestamp_millis()
    }
}

impl Zone {
    /// The instant of local midnight on a calendar day.
    pub fn midnight(&self, year: i32, month: u8, day: u8) -> i64 {
        let date = NaiveDate::from_ymd_opt(year, u32::from(month), u32::from(day)).unwrap_or_default();
        self.instant(date.and_time(NaiveTime::MIN))
    }

    /// The zone's offset from UTC at an instant, ms (local = utc + offset).
    pub fn offset_ms(&self, ms: i64) -> i64 {
        self.local(ms).and_utc().timestamp_millis() - ms
    }
}

/// The start (ms) of the bucket containing `ms`.
pub fn bucket_start(ms: i64, interval: Interval, zone: Zone) -> i64 {
    if interval == Interval::FiveMinutes {
        return ms.div_euclid(300_000) * 300_000;
    }
    let local = zone.local(ms);
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    let start = match interval {
        Interval::FiveMinutes => unreachable!("handled above"),
        Interval::Hour => local.date().and_hms_opt(local.hour(), 0, 0).expect("valid hour"),
        Interval::Day => midnight(local.date()),
        Interval::Week => midnight(local.date() - Duration::days(i64::from(local.weekday().num_days_from_sunday()))),
        Interval::Month => midnight(local.date().with_day(1).expect("day 1 exists")),
    };
    zone.instant(start)
}

/// The start of the bucket after the one starting at `start`.
fn next_bucket(start: i64, interval: Interval, zone: Zone) -> i64 {
    let local = zone.local(start);
    let next = match interval {
        Interval::FiveMinutes => return start + 300_000,
        Interval::Hour => return start + 3_600_000,
        Interval::Day => local + Duration::days(1),
        Interval::Week => local + Duration::days(7),
        Interval::Month => {
            let (y, m) = if local.month() == 12 { (local.year() + 1, 1) } else { (local.year(), local.month() + 1) };
            NaiveDate::from_ymd_opt(y, m, 1).expect("valid month").and_time(NaiveTime::MIN)
        }
    };
    // Re-truncate: a day after a DST change is still a local midnight.
    bucket_start(zone.instant(next), interval, zone)
}

/// Every bucket start from the bucket of `start_ms` up to (excluding) `end_ms`.
pub fn buckets(start_ms: i64, end_ms: i64, interval: Interval, zone: Zone) -> Vec<i64> {
    let mut out = Vec::new();
    let mut b = bucket_start(start_ms, interval, zone);
    while b < end_ms && out.len() < 100_000 {
        out.push(b);
        let n = next_bucket(b, interval, zone);
        if n <= b {
            break;
        }
        b = n;
    }
    out
}

/// The SQL name of an interval, as `herd_bucket` takes it.
pub fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::FiveMinutes => "5min",
        Interval::Hour => "hour",
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
    }
}

pub fn interval_from_name(name: &str) -> Option<Interval> {
    Some(match name {
        "5min" => Interval::FiveMinutes,
        "hour" => Interval::Hour,
        "day" => Interval::Day,
        "week" => Interval::Week,
        "month" => Interval::Month,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn utc_days_weeks_months() {
        let utc = Zone::parse("UTC").unwrap();
        // 2026-11-23 (a Monday) 15:00 UTC.
        let t = 1_795_446_000_000; // 2026-11-23 15:00 UTC, a Monday
        let day = bucket_start(t, Interval::Day, utc);
        assert_eq!(day % DAY, 0);
        assert_eq!(bucket_start(t, Interval::Week, utc), day - DAY, "weeks start on Sunday");
        let b = buckets(day, day + 3 * DAY, Interval::Day, utc);
        assert_eq!(b, vec![day, day + DAY, day + 2 * DAY]);
        assert_eq!(buckets(day, day + DAY, Interval::Hour, utc).len(), 24);
        // 2026-11-23 + 40 days = 2027-01-02: November, December, January.
        let m = buckets(day, day + 40 * DAY, Interval::Month, utc);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn named_zone_with_dst() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        // 2026-03-29 is the spring-forward day in Berlin: 23 hours long.
        let start = bucket_start(1_774_742_400_000, Interval::Day, berlin); // 2026-03-29 00:00 UTC
        let days = buckets(start, start + 3 * DAY, Interval::Day, berlin);
        assert_eq!(days[1] - days[0], 23 * 3_600_000);
        assert_eq!(days[2] - days[1], DAY);
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(bucket_start(3_600_000 * 5 + 1, Interval::Day, Zone::parse("+02:00").unwrap()), -2 * 3_600_000);
    }
}
