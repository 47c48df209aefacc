//! Per-unit stream queries compiled to SQL: the rows `(unit, ts, seq, mask, label)` that Herd's stream aggregates
//! (`herd_funnel`, `herd_retention`) read, one group per unit. Each mask bit is one condition (a funnel step, a
//! retention start or return event); [`IN_RANGE`](crate::aggregates::IN_RANGE) marks rows that may enter.
//! A group value's stream is every event that carries it, whoever the member, so members complete steps together.

use herd_model::report::{EventSpec, Filter, PropertyRef, PropertySource};

use crate::compile::{Scope, lit, selector};
use crate::error::Result;

/// One stream query.
pub(crate) struct StreamQuery<'a> {
    pub scope: Scope<'a>,
    /// The aggregate to call, e.g. `herd_funnel`.
    pub function: &'a str,
    /// Mask bit `k` is set on rows matching `conditions[k]`.
    pub conditions: &'a [EventSpec],
    /// Filters that rows must pass to set mask bit 0 (a segment: as in Amplitude, it decides who enters, at the
    /// time of entry, and does not hide later events).
    pub segment: &'a [Filter],
    /// The group-by whose value each row carries (`(none)` where absent).
    pub label: Option<&'a PropertyRef>,
    /// Rows considered: `[from, to)`.
    pub rows_ms: (i64, i64),
    /// Rows that may enter: `[from, to)`.
    pub entry_ms: (i64, i64),
    /// Keep rows that match no condition (sequential funnels need every event of the unit).
    pub keep_unmatched: bool,
    /// Only units whose first event ever is in `[from, to)`.
    pub new_in: Option<(i64, i64)>,
}

/// The columns filters and labels may read.
const COLUMNS: &str =
    "amplitude_id, groups, event_properties, user_properties, group_properties, device, event_type, user_id, device_id";

impl StreamQuery<'_> {
    fn unit(&self) -> String {
        self.scope.unit()
    }

    fn condition(&self, spec: &EventSpec) -> Result<String> {
        let mut parts = vec![selector(&spec.event)];
        for f in &spec.filters {
            parts.push(self.scope.filter(f)?);
        }
        Ok(parts.join(" AND "))
    }

    /// A label that never multiplies rows: a group type's several values on one event are one label, joined with
    /// `, `.
    fn label_expr(&self) -> String {
        let none = lit(herd_model::report::NONE_LABEL);
        match self.label {
            None => none,
            Some(p) => match self.scope.label(p) {
                (_, true) => {
                    let PropertySource::GroupValue(t) = &p.source else { unreachable!("only group values unnest") };
                    self.scope.joined_group_label(t)
                }
                (expr, false) => expr,
            },
        }
    }

    /// `SELECT r FROM … GROUP BY unit`, one row (the aggregate's struct) per unit.
    pub(crate) fn sql(&self) -> Result<String> {
        let (from, to) = self.rows_ms;
        let not_state = selector(&herd_model::report::EventSelector::Any);
        // When every condition names an event type, rows of other types can never set a bit: leave them out
        // before any property is read (most of a funnel's input is other events).
        let named: Option<Vec<String>> = self
            .conditions
            .iter()
            .map(|c| match &c.event {
                herd_model::report::EventSelector::Named(n) => Some(lit(n)),
                _ => None,
            })
            .collect();
        let row_filter = match named {
            Some(types) if !self.keep_unmatched && !types.is_empty() => {
                format!("{not_state} AND event_type IN ({})", types.join(", "))
            }
            _ => not_state.clone(),
        };
        let base = format!(
            "SELECT {unit} AS unit, CAST(event_time AS BIGINT) AS ev_ts, CAST(seq AS BIGINT) AS ev_seq, {COLUMNS}{typed} \
             FROM events WHERE CAST(event_time AS BIGINT) >= {from} AND CAST(event_time AS BIGINT) < {to} \
             AND {row_filter}",
            unit = self.unit(),
            typed = self.scope.carried(),
        );
        let mut steps = Vec::new();
        for (k, spec) in self.conditions.iter().enumerate() {
            let mut condition = self.condition(spec)?;
            if k == 0 {
                for f in self.segment {
                    condition = format!("{condition} AND {}", self.scope.filter(f)?);
                }
            }
            steps.push(format!("CASE WHEN {condition} THEN {} ELSE 0 END", 1u64 << k));
        }
        let steps = if steps.is_empty() { "0".to_owned() } else { steps.join(" + ") };
        let (entry_from, entry_to) = self.entry_ms;
        let in_range = crate::aggregates::IN_RANGE;
        let mut filters = Vec::new();
        if let Some((new_from, new_to)) = self.new_in {
            filters.push(format!(
                "unit IN (SELECT {unit} AS unit FROM events WHERE {not_state} GROUP BY 1 \
                 HAVING MIN(CAST(event_time AS BIGINT)) >= {new_from} AND MIN(CAST(event_time AS BIGINT)) < {new_to})",
                unit = self.unit()
            ));
        }
        let filters = if filters.is_empty() { "TRUE".to_owned() } else { filters.join(" AND ") };
        let masked = format!(
            "SELECT unit, ev_ts, ev_seq, CAST({steps} AS BIGINT) AS steps, {label} AS label FROM ({base}) b \
             WHERE unit IS NOT NULL AND {filters}",
            label = self.label_expr(),
        );
        let keep = if self.keep_unmatched { "TRUE" } else { "steps <> 0" };
        Ok(format!(
            "SELECT {f}(ev_ts, ev_seq, steps + CASE WHEN ev_ts >= {entry_from} AND ev_ts < {entry_to} THEN {in_range} ELSE 0 END, \
             label) AS r FROM ({masked}) m WHERE {keep} GROUP BY unit",
            f = self.function
        ))
    }
}
