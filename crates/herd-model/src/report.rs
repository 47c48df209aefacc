//! Reports as Herd understands them, independent of any vendor's query API: what to count, by which unit (users
//! or a group type), over which time buckets, filtered and grouped by which properties. Vendor edges (Amplitude's
//! Dashboard REST API, Herd's native JSON API) convert their requests into these types; query backends compile
//! them.

/// Who is counted: users, or the values of one group type (accounts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountBy {
    User,
    /// Count distinct group values of this type; events without a value of the type are not counted.
    Group(String),
}

/// Which properties filters and group-bys see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyMode {
    /// As stamped on each event at ingestion (Amplitude's rule).
    #[default]
    Stamped,
    /// As the user or group has them now.
    Current,
}

/// Time buckets of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Five minutes (Amplitude's "real-time").
    FiveMinutes,
    Hour,
    Day,
    Week,
    Month,
}

/// Which events a series is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSelector {
    /// Every event (Amplitude's `_all`), state changes (`$identify`, `$groupidentify`) excluded.
    Any,
    /// Every event that counts as activity (Amplitude's `_active`); Herd counts all events as active.
    Active,
    /// Events of one type.
    Named(String),
    /// Each counted unit's first active event ever (Amplitude's `_new`): counts new users, or new groups.
    New,
}

/// Where a property lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "source", content = "group_type")]
pub enum PropertySource {
    /// `event_properties`.
    Event,
    /// `user_properties`.
    User,
    /// A group property of the event's groups of this type.
    Group(String),
    /// The group value itself, for a group type (`key` is ignored).
    GroupValue(String),
    /// A built-in event column (`country`, `platform`, `event_type`, …).
    Builtin,
    /// A dynamic property (`key` is its name) of the event's groups of this type, computed at query time.
    Dynamic(String),
    /// Membership of the event's user (or, for a cohort of groups, of one of its groups) in cohorts: a filter's
    /// values are cohort ids, with `is` / `is not` (`key` is ignored).
    Cohort,
}

/// One property.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PropertyRef {
    #[serde(flatten)]
    pub source: PropertySource,
    pub key: String,
}

/// Amplitude's filter operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Is,
    IsNot,
    Contains,
    DoesNotContain,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    SetIs,
    SetIsNot,
}

/// `property op values`; several values are alternatives (any of them).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub property: PropertyRef,
    pub op: FilterOp,
    pub values: Vec<String>,
}

/// One event of a chart with its own filters and group-bys.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventSpec {
    pub event: EventSelector,
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// At most two.
    #[serde(default)]
    pub group_by: Vec<PropertyRef>,
}

/// What is computed per bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "property")]
pub enum Metric {
    /// Distinct counted units.
    Uniques,
    /// Events.
    Totals,
    /// Events per counted unit.
    Average,
    /// Counted units as a percentage of the units active in the bucket.
    PctActive,
    /// Sum of a numeric property.
    Sum(PropertyRef),
    /// Average of a numeric property over events.
    ValueAverage(PropertyRef),
    /// Distribution of a numeric property: counted units per value bucket (one series per bucket, about ten
    /// round-width buckets covering the values in the range), events without a numeric value left out.
    Histogram(PropertyRef),
}

/// An event segmentation chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segmentation {
    /// One or two events (A, B); formulas refer to them by letter.
    pub events: Vec<EventSpec>,
    pub metric: Metric,
    /// E.g. `UNIQUES(A)/UNIQUES(B)`; when set, replaces `metric`.
    #[serde(default)]
    pub formula: Option<String>,
    pub interval: Interval,
    /// Inclusive start, ms since the epoch.
    pub start_ms: i64,
    /// Exclusive end, ms since the epoch.
    pub end_ms: i64,
    pub count_by: CountBy,
    /// User segments: each is a list of filters that all hold; one series per segment.
    #[serde(default)]
    pub segments: Vec<Vec<Filter>>,
    #[serde(default)]
    pub property_mode: PropertyMode,
    /// Most group-by values returned (by metric, descending).
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// IANA time zone or fixed offset for buckets, e.g. `UTC`, `Europe/Berlin`, `+02:00`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_limit() -> usize {
    100
}

fn default_time_zone() -> String {
    "UTC".into()
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Series {
    /// Index into `Segmentation::events` (0 for formulas).
    pub event_index: usize,
    pub segment_index: usize,
    /// The group-by values, `(none)` where the property is absent.
    pub labels: Vec<String>,
    /// One value per bucket of `SegmentationResult::x_values`.
    pub values: Vec<f64>,
    /// The value over the whole range (distinct units over the whole range for uniques).
    pub total: f64,
}

/// The answer to a [`Segmentation`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationResult {
    /// Bucket starts, ms since the epoch.
    pub x_values: Vec<i64>,
    pub series: Vec<Series>,
}

/// The label of a missing group-by value.
pub const NONE_LABEL: &str = "(none)";
