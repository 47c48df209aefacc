//! Stickiness and lifecycle as Herd understands them, by users or by groups: how many days of each week (or
//! month) units do an event, and per interval how many units are new, current, resurrected or dormant. There is
//! no Amplitude REST endpoint for either; Herd answers them through its native query API.

use crate::report::{CountBy, EventSpec, Filter, Interval, PropertyMode};

/// A stickiness chart: for each week (or month) of the range, each unit that did the event is counted once, by
/// the number of distinct days it did it on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stickiness {
    pub event: EventSpec,
    /// Inclusive start, ms since the epoch.
    pub start_ms: i64,
    /// Exclusive end.
    pub end_ms: i64,
    /// `week` (days 1–7) or `month` (days 1–31).
    #[serde(default = "week")]
    pub interval: Interval,
    pub count_by: CountBy,
    #[serde(default)]
    pub segments: Vec<Vec<Filter>>,
    #[serde(default)]
    pub property_mode: PropertyMode,
    #[serde(default = "utc")]
    pub time_zone: String,
}

fn week() -> Interval {
    Interval::Week
}

fn day() -> Interval {
    Interval::Day
}

fn utc() -> String {
    "UTC".into()
}

/// One segment's stickiness.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StickinessSeries {
    pub segment_index: usize,
    /// (unit, period) pairs with at least one event.
    pub total: u64,
    /// `exactly[d - 1]`: pairs with the event on exactly `d` days.
    pub exactly: Vec<u64>,
    /// `at_least[d - 1]`: pairs with the event on `d` days or more (Amplitude's cumulative view).
    pub at_least: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StickinessResult {
    pub series: Vec<StickinessSeries>,
}

/// A lifecycle chart: per interval of the range, units by status. With `E(t)` = did the event in interval `t`:
/// **new** if `E(t)` and the unit's first event ever (any event) is in `t`; else **current** if `E(t)` and
/// `E(t - 1)`; else **resurrected** if `E(t)`; **dormant** if `E(t - 1)` and not `E(t)`. A unit has one status per
/// interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lifecycle {
    pub event: EventSpec,
    pub start_ms: i64,
    pub end_ms: i64,
    /// `day`, `week` or `month`.
    #[serde(default = "day")]
    pub interval: Interval,
    pub count_by: CountBy,
    #[serde(default)]
    pub segments: Vec<Vec<Filter>>,
    #[serde(default)]
    pub property_mode: PropertyMode,
    #[serde(default = "utc")]
    pub time_zone: String,
}

/// One segment's lifecycle, one value per `LifecycleResult::x_values`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LifecycleSeries {
    pub segment_index: usize,
    pub new: Vec<u64>,
    pub current: Vec<u64>,
    pub resurrected: Vec<u64>,
    /// Shown as negative numbers in Amplitude's growth view; counted here as positive.
    pub dormant: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LifecycleResult {
    /// Interval starts, ms since the epoch.
    pub x_values: Vec<i64>,
    pub series: Vec<LifecycleSeries>,
}
