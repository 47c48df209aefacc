//! The funnel and retention questions of `herd bench query`: each as a Herd report and as DuckDB SQL over the
//! flat export computing the same answer, and both answers normalised to rows of integers so that the bench can
//! check that they agree.
//!
//! The DuckDB SQL follows Herd's rules (`herd-query`'s `aggregates/funnel_steps.rs` and `aggregates/retention.rs`)
//! with sorted per-unit lookups (`ASOF JOIN`: "the unit's first event of a kind at or after a time") instead of
//! self-joins:
//!
//! * Ordered funnel: every step-1 event in the range is an entry; from it each next step takes the unit's earliest
//!   event of that step's type that is no more than 1 s before the latest step taken so far (Amplitude's 1-second
//!   rule, exactly as Herd applies it) and within the window of the entry. Taking the earliest keeps every later
//!   choice open, so this greedy chain is the entry's best. A unit reaches step `k` when any entry does. Exact as
//!   long as the steps have distinct event types (checked), because then one event can never be two steps.
//! * N-day retention: a unit's anchor in a cohort (week bucket, weeks start on Sunday, UTC) is its first start
//!   event there, in `(time, seq)` order; period `n` is `[hour(anchor) + n·P, hour(anchor) + (n+1)·P)`; the unit is
//!   retained in `n` when a return event other than the anchor (so: after it in `(time, seq)` order, which is the
//!   export's `ord`) falls in it. The combined row takes each unit once, in its first cohort, and counts a period
//!   only for units whose period has begun by `now`.

use herd_model::funnel::{Entrants, Funnel, FunnelMode, FunnelResult};
use herd_model::report::{CountBy, EventSelector, EventSpec, Interval, PropertyMode};
use herd_model::retention::{Retention, RetentionMode, RetentionResult};

use super::dataset::{DAY_MS, GROUP_TYPE, Params};

const HOUR_MS: i64 = 3_600_000;
const SIMULTANEOUS_MS: i64 = herd_model::funnel::SIMULTANEOUS_MS;

/// The 3-step funnel (one day to convert) and the 5-step one (three days): windows short enough that many users
/// do not convert in the generated data (every user is active about twice a day), long enough that many do.
pub(crate) const FUNNEL_3: ([&str; 3], i64) = (["Search", "Task Created", "Invite Sent"], DAY_MS);
pub(crate) const FUNNEL_5: ([&str; 5], i64) =
    (["Page Viewed", "Search", "Task Created", "File Uploaded", "Export Run"], 3 * DAY_MS);
/// Retention: start with a page view, return with any active event, weekly, 12 periods after period 0.
pub(crate) const RETENTION_START: &str = "Page Viewed";
pub(crate) const RETENTION_PERIODS: usize = 12;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Who is counted, as Herd's `CountBy` and as the export's column.
fn unit(count_by: &CountBy) -> &'static str {
    match count_by {
        CountBy::User => "amplitude_id",
        CountBy::Group(_) => GROUP_TYPE,
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An ordered funnel over the dataset's whole range.
pub(crate) fn funnel(p: &Params, steps: &[&str], window_ms: i64, count_by: CountBy) -> Funnel {
    Funnel {
        steps: steps
            .iter()
            .map(|s| EventSpec { event: EventSelector::Named((*s).into()), filters: Vec::new(), group_by: Vec::new() })
            .collect(),
        mode: FunnelMode::Ordered,
        window_ms,
        entrants: Entrants::Active,
        start_ms: p.start_ms(),
        end_ms: p.end_ms,
        interval: Interval::Day,
        count_by,
        segments: Vec::new(),
        group_by: None,
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    }
}

/// The DuckDB answer to [`funnel`]: one row, units reaching each step. Rows considered and entries are Herd's:
/// entries in `[start, end)`, later steps until `end + window`.
pub(crate) fn funnel_sql(f: &Funnel) -> String {
    let names: Vec<&str> = f
        .steps
        .iter()
        .map(|s| match &s.event {
            EventSelector::Named(n) => n.as_str(),
            other => panic!("bench funnels name their steps, not {other:?}"),
        })
        .collect();
    let mut distinct = names.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len(), "the DuckDB funnel is exact only for distinct step types");
    let u = unit(&f.count_by);
    let (window, start, end) = (f.window_ms, f.start_ms, f.end_ms);
    let mut sql = format!(
        "WITH ev AS (SELECT {u} AS unit, event_time AS ts, event_type FROM events \
         WHERE event_time >= {start} AND event_time < {} AND {u} IS NOT NULL),\n\
         a0 AS (SELECT unit, ts AS t0, ts AS l0 FROM ev WHERE event_type = {} AND ts >= {start} AND ts < {end})",
        end + window,
        quote(names[0])
    );
    // Hop k: the earliest step-k event no more than a second before the latest step so far (`l{k-1}`), kept when
    // it is within the window of the entry; `l{k}` is then the latest step time, NULL once a step is missed.
    for (k, name) in names.iter().enumerate().skip(1) {
        let j = k - 1;
        sql.push_str(&format!(
            ",\ne{k} AS (SELECT unit, ts FROM ev WHERE event_type = {name}),\n\
             a{k} AS (SELECT a.*, CASE WHEN e.ts - a.t0 <= {window} THEN greatest(a.l{j}, e.ts) END AS l{k} \
             FROM a{j} a ASOF LEFT JOIN e{k} e ON a.unit = e.unit AND e.ts >= a.l{j} - {SIMULTANEOUS_MS})",
            name = quote(name)
        ));
    }
    let last = names.len() - 1;
    let reached: Vec<String> =
        std::iter::once("1".to_owned()).chain((1..names.len()).map(|k| format!("(l{k} IS NOT NULL)::INT"))).collect();
    let counts: Vec<String> =
        (1..=names.len()).map(|k| format!("count(*) FILTER (WHERE reached >= {k}) AS step{k}")).collect();
    sql.push_str(&format!(
        ",\nunits AS (SELECT unit, max({}) AS reached FROM a{last} GROUP BY unit)\nSELECT {} FROM units",
        reached.join(" + "),
        counts.join(", ")
    ));
    sql
}

/// Herd's answer to a funnel, as [`funnel_sql`] returns it.
pub(crate) fn funnel_rows(r: &FunnelResult) -> Vec<Vec<i64>> {
    r.series.iter().filter(|s| s.segment_index == 0).map(|s| s.counts.iter().map(|c| *c as i64).collect()).collect()
}

/// Weekly n-day retention over the dataset's whole range.
pub(crate) fn retention(p: &Params, count_by: CountBy) -> Retention {
    Retention {
        start: EventSpec {
            event: EventSelector::Named(RETENTION_START.into()),
            filters: Vec::new(),
            group_by: Vec::new(),
        },
        returning: EventSpec { event: EventSelector::Active, filters: Vec::new(), group_by: Vec::new() },
        mode: RetentionMode::NDay,
        start_ms: p.start_ms(),
        end_ms: p.end_ms,
        interval: Interval::Week,
        periods: Some(RETENTION_PERIODS),
        count_by,
        segments: Vec::new(),
        group_by: None,
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    }
}

/// The DuckDB answer to [`retention`] at `now_ms`: rows `(cohort start, period, count, outof)` for every cohort
/// and period, then the combined row with cohort `-1`, sorted.
pub(crate) fn retention_sql(r: &Retention, now_ms: i64) -> String {
    assert_eq!(r.mode, RetentionMode::NDay);
    assert_eq!(r.interval, Interval::Week);
    assert_eq!(r.returning.event, EventSelector::Active, "the DuckDB retention returns with any active event");
    let EventSelector::Named(start_event) = &r.start.event else { panic!("the bench retention names its start") };
    let u = unit(&r.count_by);
    let periods = r.period_count() as i64;
    let (start, end) = (r.start_ms, r.end_ms);
    let rows_to = end + (periods + 2) * WEEK_MS;
    // Sunday-based weeks: 1970-01-01 was a Thursday, 4 days after a Sunday.
    let week = format!("(ts // {DAY_MS} - (ts // {DAY_MS} + 4) % 7) * {DAY_MS}");
    format!(
        "WITH ev AS (SELECT {u} AS unit, event_time AS ts, ord, event_type FROM events \
         WHERE event_time >= {start} AND event_time < {rows_to} AND {u} IS NOT NULL),\n\
         anchors AS (SELECT unit, {week} AS cohort, min(ord) AS a_ord, arg_min(ts, ord) // {HOUR_MS} * {HOUR_MS} AS a_hour \
         FROM ev WHERE event_type = {start_event} AND ts >= {start} AND ts < {end} GROUP BY unit, cohort),\n\
         firsts AS (SELECT unit, min(cohort) AS cohort FROM anchors GROUP BY unit),\n\
         p0 AS (SELECT a.unit, a.cohort, a.a_hour, 0 AS n, coalesce(e.ts < a.a_hour + {WEEK_MS}, false) AS returned \
         FROM anchors a ASOF LEFT JOIN ev e ON a.unit = e.unit AND e.ord > a.a_ord),\n\
         probes AS (SELECT a.*, n, a.a_hour + n * {WEEK_MS} AS from_ts FROM anchors a, range(1, {}) r(n)),\n\
         pn AS (SELECT p.unit, p.cohort, p.a_hour, p.n, coalesce(e.ts < p.from_ts + {WEEK_MS}, false) AS returned \
         FROM probes p ASOF LEFT JOIN ev e ON p.unit = e.unit AND e.ts >= p.from_ts),\n\
         hits AS (SELECT * FROM p0 UNION ALL SELECT * FROM pn)\n\
         SELECT cohort, n, count(*) FILTER (WHERE n = 0 OR returned) AS count, count(*) AS outof FROM hits \
         GROUP BY cohort, n\n\
         UNION ALL\n\
         SELECT -1 AS cohort, n, count(*) FILTER (WHERE n = 0 OR returned), count(*) FROM hits JOIN firsts USING (unit, cohort) \
         WHERE a_hour + n * {WEEK_MS} <= {now_ms} GROUP BY n\n\
         ORDER BY cohort, n",
        periods + 1,
        start_event = quote(start_event),
    )
}

/// Herd's answer to a retention chart, as [`retention_sql`] returns it (combined cells with no unit counted are
/// left out, as a `GROUP BY` has no such rows).
pub(crate) fn retention_rows(r: &RetentionResult) -> Vec<Vec<i64>> {
    let mut rows = Vec::new();
    for s in r.series.iter().filter(|s| s.segment_index == 0) {
        for c in &s.cohorts {
            for (n, cell) in c.cells.iter().enumerate() {
                rows.push(vec![c.start_ms, n as i64, cell.count as i64, cell.outof as i64]);
            }
        }
        for (n, cell) in s.combined.iter().enumerate().filter(|(_, c)| c.outof > 0) {
            rows.push(vec![-1, n as i64, cell.count as i64, cell.outof as i64]);
        }
    }
    rows.sort();
    rows
}

#[cfg(test)]
mod tests {
    use herd_model::funnel::FunnelSeries;
    use herd_model::retention::{RetentionCell, RetentionCohort, RetentionSeries};

    use super::*;

    fn params() -> Params {
        Params { events: 100, users: 10, accounts: 2, days: 90, end_ms: 90 * DAY_MS }
    }

    #[test]
    fn funnel_sql_chains_one_asof_lookup_per_step() {
        let f = funnel(&params(), &FUNNEL_3.0, FUNNEL_3.1, CountBy::Group(GROUP_TYPE.into()));
        assert_eq!(
            funnel_sql(&f),
            "WITH ev AS (SELECT org AS unit, event_time AS ts, event_type FROM events WHERE event_time >= 0 AND \
             event_time < 7862400000 AND org IS NOT NULL),\n\
             a0 AS (SELECT unit, ts AS t0, ts AS l0 FROM ev WHERE event_type = 'Search' AND ts >= 0 AND ts < 7776000000),\n\
             e1 AS (SELECT unit, ts FROM ev WHERE event_type = 'Task Created'),\n\
             a1 AS (SELECT a.*, CASE WHEN e.ts - a.t0 <= 86400000 THEN greatest(a.l0, e.ts) END AS l1 FROM a0 a \
             ASOF LEFT JOIN e1 e ON a.unit = e.unit AND e.ts >= a.l0 - 1000),\n\
             e2 AS (SELECT unit, ts FROM ev WHERE event_type = 'Invite Sent'),\n\
             a2 AS (SELECT a.*, CASE WHEN e.ts - a.t0 <= 86400000 THEN greatest(a.l1, e.ts) END AS l2 FROM a1 a \
             ASOF LEFT JOIN e2 e ON a.unit = e.unit AND e.ts >= a.l1 - 1000),\n\
             units AS (SELECT unit, max(1 + (l1 IS NOT NULL)::INT + (l2 IS NOT NULL)::INT) AS reached FROM a2 GROUP BY unit)\n\
             SELECT count(*) FILTER (WHERE reached >= 1) AS step1, count(*) FILTER (WHERE reached >= 2) AS step2, \
             count(*) FILTER (WHERE reached >= 3) AS step3 FROM units"
        );
        let five = funnel_sql(&funnel(&params(), &FUNNEL_5.0, FUNNEL_5.1, CountBy::User));
        assert!(five.starts_with("WITH ev AS (SELECT amplitude_id AS unit"));
        assert!(five.contains("a4 AS (SELECT a.*, CASE WHEN e.ts - a.t0 <= 259200000 THEN greatest(a.l3, e.ts)"));
        assert!(five.contains("count(*) FILTER (WHERE reached >= 5) AS step5 FROM units"));
    }

    #[test]
    #[should_panic(expected = "distinct step types")]
    fn funnel_sql_refuses_repeated_steps() {
        funnel_sql(&funnel(&params(), &["Search", "Search"], DAY_MS, CountBy::User));
    }

    #[test]
    fn retention_sql_probes_each_period_once_per_anchor() {
        let sql = retention_sql(&retention(&params(), CountBy::User), 100 * DAY_MS);
        assert!(sql.contains("event_time >= 0 AND event_time < 16243200000 AND amplitude_id IS NOT NULL"));
        assert!(sql.contains(
            "SELECT unit, (ts // 86400000 - (ts // 86400000 + 4) % 7) * 86400000 AS cohort, min(ord) AS a_ord, \
             arg_min(ts, ord) // 3600000 * 3600000 AS a_hour FROM ev WHERE event_type = 'Page Viewed' AND ts >= 0 \
             AND ts < 7776000000 GROUP BY unit, cohort"
        ));
        assert!(sql.contains("ASOF LEFT JOIN ev e ON a.unit = e.unit AND e.ord > a.a_ord"));
        assert!(sql.contains("range(1, 13) r(n)"));
        assert!(sql.contains("WHERE a_hour + n * 604800000 <= 8640000000 GROUP BY n"));
        assert!(retention_sql(&retention(&params(), CountBy::Group("org".into())), 0).contains("SELECT org AS unit"));
    }

    #[test]
    fn week_buckets_start_on_sunday() {
        // 1970-01-04 was a Sunday: days 3..10 are one week, day 10 starts the next.
        let week = |day: i64| {
            let ts = day * DAY_MS + 5;
            (ts / DAY_MS - (ts / DAY_MS + 4) % 7) * DAY_MS
        };
        assert_eq!((week(3), week(9), week(10)), (3 * DAY_MS, 3 * DAY_MS, 10 * DAY_MS));
    }

    #[test]
    fn herd_answers_normalise_to_the_sql_rows() {
        let f = FunnelResult {
            x_values: vec![],
            series: vec![FunnelSeries {
                segment_index: 0,
                label: None,
                counts: vec![5, 3, 1],
                median_ms: vec![],
                average_ms: vec![],
                by_bucket: vec![],
                bucket_median_ms: vec![],
                bucket_average_ms: vec![],
            }],
        };
        assert_eq!(funnel_rows(&f), vec![vec![5, 3, 1]]);
        let cell = |count, outof| RetentionCell { count, outof, incomplete: false };
        let r = RetentionResult {
            series: vec![RetentionSeries {
                segment_index: 0,
                label: None,
                cohorts: vec![
                    RetentionCohort { start_ms: 7, cells: vec![cell(2, 2), cell(0, 2)] },
                    RetentionCohort { start_ms: 0, cells: vec![cell(3, 3), cell(1, 3)] },
                ],
                combined: vec![cell(4, 4), cell(0, 0)],
            }],
        };
        assert_eq!(
            retention_rows(&r),
            vec![vec![-1, 0, 4, 4], vec![0, 0, 3, 3], vec![0, 1, 1, 3], vec![7, 0, 2, 2], vec![7, 1, 0, 2]]
        );
    }
}
