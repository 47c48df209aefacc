//! Reports compiled to SQL text: the one place where Herd's report semantics become queries. The SQL uses a few
//! Herd functions (`herd_bucket`, `herd_get`, `herd_values`, `herd_match`, `herd_current`); another backend
//! (ClickHouse) provides the same functions or its own spelling of them.
//!
//! Properties are read from segment format v2's typed columns where the session has them ([`Columns`]), through
//! `herd_match_values`, `herd_first` and `herd_at`, and from the JSON bags otherwise; both give the same answers.
//!
//! A segmentation query is built in layers so that each `unnest` (a group type's values as the counted unit, or as
//! a group-by) sits in its own SELECT and multiplies rows as a cross product:
//! base (time range, event selector, bucket) → unit → filters → one layer per group-by → aggregate.

use herd_model::report::{
    CountBy, EventSelector, EventSpec, Filter, FilterOp, PropertyMode, PropertyRef, PropertySource,
};

use herd_model::accounts::DEFAULT_BUCKETS;

use crate::buckets::interval_name;
use crate::columns::{Columns, Typed};
use crate::error::{QueryError, Result};
use herd_store::shred;

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Event columns that a built-in property may name directly.
const DIRECT_COLUMNS: [&str; 4] = ["event_type", "user_id", "device_id", "amplitude_id"];

/// Amplitude's built-in property names → keys of the `device` column.
fn device_key(name: &str) -> &str {
    match name {
        "version" => "app_version",
        "os" => "os_name",
        "device" => "device_model",
        "device_type" => "device_model",
        "DMA" => "dma",
        other => other,
    }
}

/// The wire name of an operator, as `herd_match` takes it.
pub(crate) fn op_name(op: FilterOp) -> &'static str {
    match op {
        FilterOp::Is => "is",
        FilterOp::IsNot => "is not",
        FilterOp::Contains => "contains",
        FilterOp::DoesNotContain => "does not contain",
        FilterOp::Less => "less",
        FilterOp::LessOrEqual => "less or equal",
        FilterOp::Greater => "greater",
        FilterOp::GreaterOrEqual => "greater or equal",
        FilterOp::SetIs => "set is",
        FilterOp::SetIsNot => "set is not",
    }
}

/// What a query needs to know to compile property references.
pub(crate) struct Scope<'a> {
    pub count_by: &'a CountBy,
    pub mode: PropertyMode,
    /// Bucket boundaries of the dynamic properties a group-by may name, by name.
    pub dynamic_buckets: &'a std::collections::HashMap<String, Vec<f64>>,
    /// The typed columns of the session's `events`.
    pub columns: &'a Columns,
}

/// Where a property's value comes from.
enum Access {
    /// A JSON column and a path, for `herd_get` / `herd_match`.
    Json(String, Vec<String>),
    /// A direct column (`event_type`, …) or nothing to read (a cohort).
    Direct,
    /// A text expression: the value, NULL where absent.
    Text(String),
    /// A list expression: every value (a group type's values, or their stamped property).
    List(String),
}

const NULL_TEXT: &str = "CAST(NULL AS VARCHAR)";

/// A `CASE` expression that puts a number into Herd's dynamic-property buckets: `< b0`, `[b0, b1)`, …, `≥ bn`;
/// `(none)` when the event has no group of that type.
pub(crate) fn bucket_case(number: &str, bounds: &[f64]) -> String {
    let mut arms = Vec::new();
    if let Some(first) = bounds.first() {
        arms.push(format!("WHEN {number} < {first} THEN {}", lit(&format!("< {first}"))));
    }
    for w in bounds.windows(2) {
        arms.push(format!("WHEN {number} < {} THEN {}", w[1], lit(&format!("[{}, {})", w[0], w[1]))));
    }
    if let Some(last) = bounds.last() {
        arms.push(format!("WHEN {number} >= {last} THEN {}", lit(&format!("≥ {last}"))));
    }
    format!("CASE {} ELSE {} END", arms.join(" "), lit(herd_model::report::NONE_LABEL))
}

/// About ten equal-width buckets with a round width (1, 2 or 5 × 10ⁿ) that cover `[lo, hi]`: the boundaries from
/// the first bucket's start to the last one's end, so every value lands in a `[a, b)` bucket.
pub(crate) fn histogram_bounds(lo: f64, hi: f64) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return vec![0.0, 1.0];
    }
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 10.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let step = if hi == lo { 1.0 } else { step };
    // Round away binary noise (0.1 + 0.2) so labels read as written: steps have at most a few decimals.
    let scale = 10f64.powi((-step.log10().floor()).max(0.0) as i32 + 1);
    let clean = |x: f64| (x * scale).round() / scale;
    let first = (lo / step).floor();
    let mut bounds = vec![clean(first * step)];
    while *bounds.last().expect("not empty") <= hi && bounds.len() < 60 {
        bounds.push(clean((first + bounds.len() as f64) * step));
    }
    bounds
}

/// The condition that selects a chart event's rows.
pub(crate) fn selector(event: &EventSelector) -> String {
    match event {
        EventSelector::Any | EventSelector::Active | EventSelector::New => {
            format!(
                "event_type NOT IN ({}, {})",
                lit(herd_model::IDENTIFY_EVENT),
                lit(herd_model::GROUP_IDENTIFY_EVENT)
            )
        }
        EventSelector::Named(name) => format!("event_type = {}", lit(name)),
    }
}

/// One number per group value of `group_type` over `[start_ms, end_ms)`: distinct members, events, and the sum and
/// count of `value` (a dynamic property's window), as `unit, uniques, totals, vsum, vcount`.
pub(crate) fn per_group_sql(
    scope: &Scope<'_>,
    event: &EventSpec,
    value: Option<&PropertyRef>,
    start_ms: i64,
    end_ms: i64,
) -> Result<String> {
    let CountBy::Group(_) = scope.count_by else {
        return Err(QueryError::Invalid("per-group numbers need a group type".into()));
    };
    let conditions = event.filters.iter().map(|f| scope.filter(f)).collect::<Result<Vec<_>>>()?;
    let value = value.map(|p| scope.number(p)).unwrap_or_else(|| "CAST(NULL AS DOUBLE)".into());
    Ok(format!(
        "SELECT unit, COUNT(DISTINCT amplitude_id) AS uniques, COUNT(*) AS totals, SUM(v) AS vsum, COUNT(v) AS vcount \
         FROM (SELECT unit, amplitude_id, {value} AS v FROM (SELECT {unit} AS unit, \
         amplitude_id, groups, event_properties, user_properties, group_properties, device, event_type, user_id, \
         device_id{carried} FROM events WHERE CAST(event_time AS BIGINT) >= {start_ms} AND CAST(event_time AS BIGINT) < \
         {end_ms} AND {sel}) wu WHERE {cond}) f GROUP BY unit",
        unit = scope.unit(),
        carried = scope.columns.carried(),
        sel = selector(&event.event),
        cond = if conditions.is_empty() { "TRUE".to_owned() } else { conditions.join(" AND ") },
    ))
}

impl Scope<'_> {
    fn unit_group(&self) -> Option<&str> {
        match self.count_by {
            CountBy::Group(t) => Some(t),
            CountBy::User => None,
        }
    }

    /// The counted unit of a row: `amplitude_id`, or one row per value of the counted group type (`unnest`).
    pub(crate) fn unit(&self) -> String {
        match self.count_by {
            CountBy::User => "amplitude_id".to_owned(),
            CountBy::Group(t) => format!("unnest({})", self.group_values(t)),
        }
    }

    /// A list of a group type's values on the row: the typed column, or `herd_values` over the JSON.
    fn group_values(&self, t: &str) -> String {
        match self.columns.get(&shred::group_column(t)) {
            Typed::Column(c) => c,
            Typed::Absent | Typed::Json => format!("herd_values(groups, {})", lit(t)),
        }
    }

    /// `, "col", …`: the typed columns, for layers that carry columns.
    pub(crate) fn carried(&self) -> String {
        self.columns.carried()
    }

    /// How to read a property: typed columns for stamped properties a segment shredded, JSON otherwise.
    fn access(&self, p: &PropertyRef) -> Access {
        let stamped = self.mode == PropertyMode::Stamped;
        let typed = match &p.source {
            PropertySource::Event => Some(self.columns.get(&shred::event_property_column(&p.key))),
            PropertySource::User if stamped => Some(self.columns.get(&shred::user_property_column(&p.key))),
            _ => None,
        };
        match typed {
            Some(Typed::Column(c)) => return Access::Text(c),
            Some(Typed::Absent) => return Access::Text(NULL_TEXT.into()),
            _ => {}
        }
        match &p.source {
            PropertySource::Group(t) if stamped => {
                match (
                    self.columns.get(&shred::group_column(t)),
                    self.columns.get(&shred::group_property_column(t, &p.key)),
                ) {
                    (_, Typed::Absent) => return Access::Text(NULL_TEXT.into()),
                    (Typed::Column(values), Typed::Column(props)) => {
                        return if self.unit_group() == Some(t.as_str()) {
                            Access::Text(format!("herd_at({values}, unit, {props})"))
                        } else {
                            Access::List(props)
                        };
                    }
                    _ => {}
                }
            }
            PropertySource::GroupValue(t) => match self.columns.get(&shred::group_column(t)) {
                Typed::Column(c) => return Access::List(c),
                Typed::Absent => return Access::Text(NULL_TEXT.into()),
                Typed::Json => {}
            },
            _ => {}
        }
        match self.location(p) {
            Some((json, path)) => Access::Json(json, path),
            None => Access::Direct,
        }
    }

    fn user_props(&self) -> &'static str {
        match self.mode {
            PropertyMode::Stamped => "user_properties",
            PropertyMode::Current => "herd_current('user', CAST(amplitude_id AS VARCHAR))",
        }
    }

    fn group_props(&self) -> &'static str {
        match self.mode {
            PropertyMode::Stamped => "group_properties",
            PropertyMode::Current => "herd_current('groups', groups)",
        }
    }

    /// The JSON column and path that hold a property, or `None` for a direct column.
    fn location(&self, p: &PropertyRef) -> Option<(String, Vec<String>)> {
        let key = lit(&p.key);
        Some(match &p.source {
            PropertySource::Event => ("event_properties".into(), vec![key]),
            PropertySource::User => (self.user_props().into(), vec![key]),
            PropertySource::Group(t) => {
                let value = if self.unit_group() == Some(t.as_str()) { "unit".to_owned() } else { lit("*") };
                (self.group_props().into(), vec![lit(t), value, key])
            }
            PropertySource::GroupValue(t) => ("groups".into(), vec![lit(t)]),
            PropertySource::Dynamic(t) => {
                let value = if self.unit_group() == Some(t.as_str()) { "unit".to_owned() } else { lit("*") };
                ("herd_dynamic(groups)".into(), vec![lit(t), value, key])
            }
            PropertySource::Builtin if DIRECT_COLUMNS.contains(&p.key.as_str()) => return None,
            // Handled by `filter` (a cohort is only ever a filter); nothing to read.
            PropertySource::Cohort => return None,
            PropertySource::Builtin => ("device".into(), vec![lit(device_key(&p.key))]),
        })
    }

    /// A boolean SQL expression for one filter.
    pub(crate) fn filter(&self, f: &Filter) -> Result<String> {
        let values = serde_json::to_string(&f.values).expect("strings serialise");
        if f.property.source == PropertySource::Cohort {
            let member = format!("herd_cohort({}, CAST(amplitude_id AS VARCHAR), user_id, groups)", lit(&values));
            return match f.op {
                FilterOp::Is | FilterOp::SetIs => Ok(member),
                FilterOp::IsNot | FilterOp::SetIsNot => Ok(format!("NOT {member}")),
                op => Err(QueryError::Invalid(format!("a cohort condition takes is or is not, not {}", op_name(op)))),
            };
        }
        match self.access(&f.property) {
            Access::Text(e) | Access::List(e) => {
                Ok(format!("herd_match_values({e}, {}, {})", lit(op_name(f.op)), lit(&values)))
            }
            Access::Json(json, path) => {
                Ok(format!("herd_match({json}, {}, {}, {})", lit(op_name(f.op)), lit(&values), path.join(", ")))
            }
            Access::Direct => {
                // A direct column (event_type, user_id, …): plain SQL with the same semantics as `herd_match`.
                let col = &f.property.key;
                let list = f.values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ");
                let text = format!("CAST({col} AS VARCHAR)");
                Ok(match f.op {
                    FilterOp::Is | FilterOp::SetIs => format!("({text} IN ({list}))"),
                    FilterOp::IsNot | FilterOp::SetIsNot => format!("({text} IS NULL OR {text} NOT IN ({list}))"),
                    FilterOp::Contains | FilterOp::DoesNotContain => {
                        let any = f
                            .values
                            .iter()
                            .map(|v| format!("{text} ILIKE {}", lit(&format!("%{v}%"))))
                            .collect::<Vec<_>>()
                            .join(" OR ");
                        let any = if any.is_empty() { "FALSE".to_owned() } else { any };
                        if f.op == FilterOp::Contains {
                            format!("COALESCE({any}, FALSE)")
                        } else {
                            format!("NOT COALESCE({any}, FALSE)")
                        }
                    }
                    op => {
                        let sym = match op {
                            FilterOp::Less => "<",
                            FilterOp::LessOrEqual => "<=",
                            FilterOp::Greater => ">",
                            _ => ">=",
                        };
                        let any = f
                            .values
                            .iter()
                            .filter_map(|v| v.trim().parse::<f64>().ok())
                            .map(|v| format!("TRY_CAST({text} AS DOUBLE) {sym} {v}"))
                            .collect::<Vec<_>>()
                            .join(" OR ");
                        if any.is_empty() {
                            return Err(QueryError::Invalid(format!(
                                "filter on {col}: {} needs a number, got {:?}",
                                op_name(op),
                                f.values
                            )));
                        }
                        format!("COALESCE({any}, FALSE)")
                    }
                })
            }
        }
    }

    /// A group-by label expression, and whether it unnests (one row per value).
    pub(crate) fn label(&self, p: &PropertyRef) -> (String, bool) {
        let none = lit(herd_model::report::NONE_LABEL);
        if p.source == PropertySource::Cohort {
            return (none, false);
        }
        if let PropertySource::Dynamic(_) = &p.source {
            let bounds = self.dynamic_buckets.get(&p.key).cloned().unwrap_or_else(|| DEFAULT_BUCKETS.to_vec());
            return (bucket_case(&self.number(p), &bounds), false);
        }
        if let PropertySource::GroupValue(t) = &p.source {
            if self.unit_group() == Some(t.as_str()) {
                return ("unit".into(), false);
            }
            return match self.columns.get(&shred::group_column(t)) {
                Typed::Column(c) => (format!("unnest(herd_labels_of({c}))"), true),
                Typed::Absent | Typed::Json => (format!("unnest(herd_labels(groups, {}))", lit(t)), true),
            };
        }
        match self.access(p) {
            Access::Text(e) => (format!("COALESCE({e}, {none})"), false),
            Access::List(e) => (format!("COALESCE(herd_first({e}), {none})"), false),
            Access::Json(json, path) => (format!("COALESCE(herd_get({json}, {}), {none})", path.join(", ")), false),
            Access::Direct => (format!("COALESCE(CAST({} AS VARCHAR), {none})", p.key), false),
        }
    }

    /// The label of a group type's values as one text (`a, b`), `(none)` where it has none.
    pub(crate) fn joined_group_label(&self, t: &str) -> String {
        match self.columns.get(&shred::group_column(t)) {
            Typed::Column(c) => format!("herd_label_of({c})"),
            Typed::Absent | Typed::Json => format!("herd_label(groups, {})", lit(t)),
        }
    }

    /// A numeric expression for a property (sums and averages); NULL where absent or not a number.
    pub(crate) fn number(&self, p: &PropertyRef) -> String {
        if p.source == PropertySource::Cohort {
            return "CAST(NULL AS DOUBLE)".into();
        }
        // A group value's "number" is `herd_get` of the whole values array (never a number): keep that path.
        let access = match &p.source {
            PropertySource::GroupValue(_) => self.location(p).map_or(Access::Direct, |(j, path)| Access::Json(j, path)),
            _ => self.access(p),
        };
        match access {
            Access::Text(e) => format!("TRY_CAST({e} AS DOUBLE)"),
            Access::List(e) => format!("TRY_CAST(herd_first({e}) AS DOUBLE)"),
            Access::Json(json, path) => format!("TRY_CAST(herd_get({json}, {}) AS DOUBLE)", path.join(", ")),
            Access::Direct => format!("TRY_CAST({} AS DOUBLE)", p.key),
        }
    }
}

/// The columns every layer carries.
const CARRIED: &str = "x, unit, amplitude_id, groups, event_properties, user_properties, group_properties, device, event_type, user_id, device_id, v";

/// One aggregate query: per bucket (`by_bucket`) or over the whole range.
pub(crate) struct Aggregate<'a> {
    pub scope: Scope<'a>,
    pub event: &'a EventSpec,
    /// Extra filters that must all hold (the user segment).
    pub segment: &'a [Filter],
    /// Numeric expression summed for property metrics (`NULL` when none).
    pub value: Option<&'a PropertyRef>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub interval: herd_model::report::Interval,
    pub time_zone: &'a str,
    pub by_bucket: bool,
    /// Ignore the event's own filters and group-bys (the denominator of "% active").
    pub bare: bool,
    /// Histogram bucket boundaries of `value`: a last label with the bucket, events without the value left out.
    pub histogram: Option<&'a [f64]>,
}

impl Aggregate<'_> {
    /// `SELECT lo, hi`: the smallest and largest `value` (histogram bounds).
    pub(crate) fn value_range_sql(&self) -> Result<String> {
        Ok(format!("SELECT MIN(v) AS lo, MAX(v) AS hi FROM ({}) r", self.filtered()?))
    }

    /// `SELECT x, l0.., uniques, totals, vsum, vcount`: one scan for the chart and its whole-range totals, rows per
    /// bucket (by `x`) plus rows with
    /// `x` NULL that hold each label combination's numbers over the whole range (`GROUPING SETS`; buckets are
    /// never NULL). Without `uniques`, that column is 0 (metrics that do not read it skip the distinct count).
    pub(crate) fn sql_with_totals(&self, uniques: bool) -> Result<String> {
        self.grouped(true, uniques)
    }

    fn grouped(&self, with_totals: bool, uniques: bool) -> Result<String> {
        let mut sql = self.filtered()?;
        let group_by: &[PropertyRef] = if self.bare { &[] } else { &self.event.group_by };
        let mut labels: Vec<String> = Vec::new();
        let typed = self.scope.carried();
        for (i, p) in group_by.iter().enumerate() {
            let (expr, _) = self.scope.label(p);
            let previous: String = labels.iter().map(|l| format!(", {l}")).collect();
            sql = format!("SELECT {CARRIED}{typed}{previous}, {expr} AS l{i} FROM ({sql}) t{i}");
            labels.push(format!("l{i}"));
        }
        if let Some(bounds) = self.histogram {
            let previous: String = labels.iter().map(|l| format!(", {l}")).collect();
            sql = format!(
                "SELECT {CARRIED}{typed}{previous}, {} AS lh FROM ({sql}) th WHERE v IS NOT NULL",
                bucket_case("v", bounds)
            );
            labels.push("lh".into());
        }
        let label_list: String = labels.iter().map(|l| format!("{l}, ")).collect();
        let group_list: String = labels.iter().map(|l| format!(", {l}")).collect();
        let group_by = if with_totals {
            format!("GROUPING SETS ((x{group_list}), ({}))", labels.join(", "))
        } else {
            format!("x{group_list}")
        };
        let uniques = if uniques { "COUNT(DISTINCT unit)" } else { "CAST(0 AS BIGINT)" };
        Ok(format!(
            "SELECT x, {label_list}{uniques} AS uniques, COUNT(*) AS totals, SUM(v) AS vsum, \
             COUNT(v) AS vcount FROM ({sql}) agg GROUP BY {group_by}"
        ))
    }

    /// The rows of the chart's event after its filters and the segment, with the unit and the value `v`.
    pub(crate) fn filtered(&self) -> Result<String> {
        let selector = selector(&self.event.event);
        let x = if self.by_bucket {
            format!(
                "herd_bucket(CAST(event_time AS BIGINT), {}, {})",
                lit(interval_name(self.interval)),
                lit(self.time_zone)
            )
        } else {
            "CAST(0 AS BIGINT)".into()
        };
        let range = format!(
            "CAST(event_time AS BIGINT) >= {start} AND CAST(event_time AS BIGINT) < {end}",
            start = self.start_ms,
            end = self.end_ms
        );
        let new = self.event.event == EventSelector::New;
        let typed = self.scope.carried();
        // `_new`: every unit's first event ever is found over all time, then kept if it falls in the range.
        let base = format!(
            "SELECT {x} AS x, event_time, seq, amplitude_id, groups, event_properties, user_properties, \
             group_properties, device, event_type, user_id, device_id{typed} FROM events WHERE {}{selector}",
            if new { String::new() } else { format!("{range} AND ") }
        );
        let unit = self.scope.unit();
        let columns = format!(
            "amplitude_id, groups, event_properties, user_properties, group_properties, device, event_type, \
             user_id, device_id{typed}"
        );
        let with_unit = format!("SELECT x, event_time, seq, {unit} AS unit, {columns} FROM ({base}) base");
        let with_unit = if new {
            format!(
                "SELECT x, unit, {columns} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY unit ORDER BY event_time, \
                 seq) AS first_rank FROM ({with_unit}) ranked) firsts WHERE first_rank = 1 AND {range}"
            )
        } else {
            format!("SELECT x, unit, {columns} FROM ({with_unit}) u")
        };
        let mut conditions: Vec<String> = Vec::new();
        let own_filters: &[Filter] = if self.bare { &[] } else { &self.event.filters };
        for f in own_filters.iter().chain(self.segment) {
            conditions.push(self.scope.filter(f)?);
        }
        let value = self.value.map(|p| self.scope.number(p)).unwrap_or_else(|| "CAST(NULL AS DOUBLE)".into());
        Ok(format!(
            "SELECT x, unit, amplitude_id, groups, event_properties, user_properties, group_properties, device, \
             event_type, user_id, device_id{typed}, {value} AS v FROM ({with_unit}) wu WHERE {}",
            if conditions.is_empty() { "TRUE".to_owned() } else { conditions.join(" AND ") }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bounds_are_round_and_cover_the_values() {
        assert_eq!(histogram_bounds(0.0, 100.0), (0..=11).map(|i| f64::from(i) * 10.0).collect::<Vec<_>>());
        assert_eq!(histogram_bounds(3.0, 17.0), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]);
        assert_eq!(histogram_bounds(0.1, 0.35), vec![0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]);
        assert_eq!(histogram_bounds(5.0, 5.0), vec![5.0, 6.0]);
        assert_eq!(histogram_bounds(-12.0, 7.0), vec![-12.0, -10.0, -8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]);
    }
}
