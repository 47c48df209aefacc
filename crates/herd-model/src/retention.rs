//! Retention as Herd understands it: units (users, or group values whose members' events form one stream) enter
//! a cohort when they do the start event in the range, and are retained in period `N` when they do the return
//! event `N` periods later; counted per cohort and combined.
//!
//! Periods are Amplitude's defaults: 24-hour windows anchored at the unit's first start event of the cohort, times
//! rounded down to the hour; a week is 7 days and a month 30. A unit that starts in several cohort buckets is in
//! each of those cohorts, and once (in its first) in the combined row.

use crate::report::{CountBy, EventSpec, Filter, Interval, PropertyMode, PropertyRef};

/// How returns are counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "brackets")]
pub enum RetentionMode {
    /// Returned in exactly period `N` (Amplitude's "Return On", `rm=n-day`).
    #[default]
    NDay,
    /// Returned in period `N` or later (Amplitude's "Return On or After", `rm=rolling`).
    Rolling,
    /// Returned in any period of each `[from, to)` bracket (Amplitude's `rb`, e.g. `[[0,5]]` for day 0–4).
    Bracket(Vec<(u32, u32)>),
}

/// A retention chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// The start event; `EventSelector::New` is each unit's first event ever.
    pub start: EventSpec,
    /// The return event.
    pub returning: EventSpec,
    #[serde(default)]
    pub mode: RetentionMode,
    /// Inclusive start of the range units start in, ms since the epoch.
    pub start_ms: i64,
    /// Exclusive end of that range.
    pub end_ms: i64,
    /// Cohort buckets and period length: day (24 h), week (7 days) or month (30 days).
    #[serde(default = "default_interval")]
    pub interval: Interval,
    /// Periods after period 0 (default 30 days, 12 weeks or 12 months; at most [`Retention::MAX_PERIODS`]).
    #[serde(default)]
    pub periods: Option<usize>,
    pub count_by: CountBy,
    #[serde(default)]
    pub segments: Vec<Vec<Filter>>,
    /// At most one; the value on the unit's start event decides where it is counted.
    #[serde(default)]
    pub group_by: Option<PropertyRef>,
    #[serde(default)]
    pub property_mode: PropertyMode,
    #[serde(default = "default_limit")]
    pub limit: usize,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_interval() -> Interval {
    Interval::Day
}

fn default_limit() -> usize {
    100
}

fn default_time_zone() -> String {
    "UTC".into()
}

impl Retention {
    /// Periods are bits of a 64-bit mask, period 0 included.
    pub const MAX_PERIODS: usize = 62;

    /// The length of one period, ms.
    pub fn period_ms(&self) -> i64 {
        const DAY: i64 = 24 * 3600 * 1000;
        match self.interval {
            Interval::Week => 7 * DAY,
            Interval::Month => 30 * DAY,
            Interval::Day | Interval::Hour | Interval::FiveMinutes => DAY,
        }
    }

    /// Periods after period 0 that are counted.
    pub fn period_count(&self) -> usize {
        let default = match self.interval {
            Interval::Week | Interval::Month => 12,
            _ => 30,
        };
        let brackets = match &self.mode {
            RetentionMode::Bracket(b) => b.iter().map(|(_, to)| *to as usize).max().unwrap_or(1).saturating_sub(1),
            _ => 0,
        };
        self.periods.unwrap_or(default).max(brackets).min(Self::MAX_PERIODS)
    }
}

/// One number of a retention row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetentionCell {
    /// Units retained.
    pub count: u64,
    /// Units that could have been (the cohort's size).
    pub outof: u64,
    /// Some unit's period has not ended yet.
    pub incomplete: bool,
}

/// One cohort: the units that started in one bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RetentionCohort {
    /// The bucket start, ms since the epoch.
    pub start_ms: i64,
    /// N-day and rolling: period 0 (the cohort's size) then periods 1..; brackets: one cell per bracket.
    pub cells: Vec<RetentionCell>,
}

/// The retention of one segment and group-by value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RetentionSeries {
    pub segment_index: usize,
    pub label: Option<String>,
    /// Latest cohort first, as Amplitude lists them; only buckets where some unit started.
    pub cohorts: Vec<RetentionCohort>,
    /// Every unit once (its first cohort), over the cohorts whose period has begun.
    pub combined: Vec<RetentionCell>,
}

/// The answer to a [`Retention`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RetentionResult {
    pub series: Vec<RetentionSeries>,
}
