//! Funnels as Herd understands them: ordered steps that a unit (a user, or a group value whose members' events
//! form one stream) completes within a conversion window, counted per step, with transition times and one
//! funnel per entry bucket. Vendor edges (Amplitude's `/api/2/funnels`, the native API) convert into these types.

use crate::report::{CountBy, EventSpec, Filter, Interval, PropertyMode, PropertyRef};

/// Amplitude's conversion window default: 30 days.
pub const DEFAULT_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

/// Events within this many milliseconds of each other count as simultaneous: either may be taken as the
/// earlier step (Amplitude's 1-second rule).
pub const SIMULTANEOUS_MS: i64 = 1000;

/// How steps must follow each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelMode {
    /// In the given order, other events allowed in between.
    #[default]
    Ordered,
    /// In any order, all within the window (rounded down to whole days, as Amplitude does).
    Unordered,
    /// In the given order with no other event of the unit in between.
    Sequential,
}

/// Which units may enter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entrants {
    /// Every unit that does the first step in the range.
    #[default]
    Active,
    /// Only units whose first event ever falls in the range.
    New,
}

/// A funnel chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Funnel {
    /// Two or more steps, each an event with its own filters (group-bys of steps are ignored).
    pub steps: Vec<EventSpec>,
    #[serde(default)]
    pub mode: FunnelMode,
    /// Conversion window, ms from the entry (the first step).
    #[serde(default = "default_window")]
    pub window_ms: i64,
    #[serde(default)]
    pub entrants: Entrants,
    /// Inclusive start of the range units enter in, ms since the epoch.
    pub start_ms: i64,
    /// Exclusive end of that range.
    pub end_ms: i64,
    /// Buckets of the per-entry-bucket funnels (`dayFunnels`).
    #[serde(default = "default_interval")]
    pub interval: Interval,
    pub count_by: CountBy,
    /// One funnel per segment (filters that all hold on every event considered).
    #[serde(default)]
    pub segments: Vec<Vec<Filter>>,
    /// At most one; the value on the unit's entry event decides where the unit is counted.
    #[serde(default)]
    pub group_by: Option<PropertyRef>,
    #[serde(default)]
    pub property_mode: PropertyMode,
    /// Most group-by values returned (by entrants, descending).
    #[serde(default = "default_limit")]
    pub limit: usize,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_window() -> i64 {
    DEFAULT_WINDOW_MS
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

impl Funnel {
    /// The most steps a funnel may have (a step is one bit of a 64-bit mask, with room to spare).
    pub const MAX_STEPS: usize = 32;

    /// The window the evaluation uses: unordered funnels round it down to whole days (at least one).
    pub fn effective_window_ms(&self) -> i64 {
        const DAY: i64 = 24 * 3600 * 1000;
        match self.mode {
            FunnelMode::Unordered => (self.window_ms / DAY).max(1) * DAY,
            _ => self.window_ms,
        }
    }
}

/// The funnel of one segment and group-by value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FunnelSeries {
    pub segment_index: usize,
    /// The group-by value (`None` without a group-by; `(none)` where the entry event lacks it).
    pub label: Option<String>,
    /// Units that reached each step.
    pub counts: Vec<u64>,
    /// Median time from the previous step, ms, per step; the first is the whole funnel's (entry to last step, over
    /// the units that completed it), as in Amplitude's responses.
    pub median_ms: Vec<i64>,
    /// Average time from the previous step, ms, per step; the first as for `median_ms`.
    pub average_ms: Vec<i64>,
    /// Units that reached each step, by the bucket of their entry, one row per `FunnelResult::x_values`.
    pub by_bucket: Vec<Vec<u64>>,
    /// `median_ms` of the units entering in each bucket (`None` where none of them reached the step).
    pub bucket_median_ms: Vec<Vec<Option<i64>>>,
    /// `average_ms` of the units entering in each bucket.
    pub bucket_average_ms: Vec<Vec<Option<i64>>>,
}

/// The answer to a [`Funnel`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FunnelResult {
    /// Entry-bucket starts, ms since the epoch.
    pub x_values: Vec<i64>,
    pub series: Vec<FunnelSeries>,
}

impl FunnelSeries {
    /// Each step's count as a fraction of the previous step's (1 for the first; 0 after an empty step).
    pub fn step_by_step(&self) -> Vec<f64> {
        (0..self.counts.len()).map(|i| if i == 0 { 1.0 } else { ratio(self.counts[i], self.counts[i - 1]) }).collect()
    }

    /// Each step's count as a fraction of the entrants.
    pub fn cumulative(&self) -> Vec<f64> {
        let first = self.counts.first().copied().unwrap_or(0);
        self.counts.iter().enumerate().map(|(i, c)| if i == 0 { 1.0 } else { ratio(*c, first) }).collect()
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}
