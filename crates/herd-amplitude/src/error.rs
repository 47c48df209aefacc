//! What kind of rejection an error is (for the server's status mapping) and the per-event problem report.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// How the server should answer a rejected request. The server maps kinds to HTTP statuses in one place and
/// passes the status code back to the body builder, so the status line and the body's `code` always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// 400: the request or some of its events are malformed; nothing was ingested.
    BadRequest,
    /// 413: too many events in one request; SDKs halve the batch and retry.
    PayloadTooLarge,
}

impl RejectionKind {
    /// The HTTP status Amplitude uses for this kind.
    pub fn status(self) -> u16 {
        match self {
            RejectionKind::BadRequest => 400,
            RejectionKind::PayloadTooLarge => 413,
        }
    }
}

/// Amplitude's `error` text when at least one event has an invalid value.
pub(crate) const INVALID_FIELDS: &str = "Invalid field values on some events";
/// Amplitude's `error` text when something required is missing.
pub(crate) const MISSING_FIELD: &str = "Request missing required field";

/// Which of the three index maps a problem goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Invalid,
    Missing,
    ShortId,
}

/// How many human-readable problems a body lists before summarising the rest.
const MAX_LISTED_PROBLEMS: usize = 20;

/// Every problem found in the events (or identifications) of one request, in Amplitude's shape:
/// field name → indices of the offending events, sorted, each index at most once per field.
///
/// SDKs drop the listed events and resend the rest, so every offending index must be listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventErrors {
    /// `events_with_invalid_fields`.
    pub invalid_fields: BTreeMap<String, Vec<usize>>,
    /// `events_with_missing_fields`.
    pub missing_fields: BTreeMap<String, Vec<usize>>,
    /// `events_with_invalid_id_lengths` (not in Amplitude's docs, but parsed by its SDKs).
    pub invalid_id_lengths: BTreeMap<String, Vec<usize>>,
    /// The first problems in words, e.g. "event 3: `time` must be …".
    pub problems: Vec<String>,
    /// How many problems there were in all (`problems` keeps only the first few).
    pub problem_count: usize,
}

fn push_index(map: &mut BTreeMap<String, Vec<usize>>, field: &str, index: usize) {
    let list = map.entry(field.to_owned()).or_default();
    if list.last() != Some(&index) {
        list.push(index);
        list.sort_unstable();
        list.dedup();
    }
}

impl EventErrors {
    pub fn is_empty(&self) -> bool {
        self.problem_count == 0
    }

    fn note(&mut self, problem: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// Records one problem of one object, listing its index under each of `fields`.
    pub(crate) fn record(&mut self, kind: Problem, index: usize, fields: &[&str], problem: String) {
        let map = match kind {
            Problem::Invalid => &mut self.invalid_fields,
            Problem::Missing => &mut self.missing_fields,
            Problem::ShortId => &mut self.invalid_id_lengths,
        };
        for field in fields {
            push_index(map, field, index);
        }
        self.note(problem);
    }

    /// Amplitude's `error` text: invalid values win over missing fields.
    pub fn error_text(&self) -> &'static str {
        if self.invalid_fields.is_empty() && self.invalid_id_lengths.is_empty() {
            MISSING_FIELD
        } else {
            INVALID_FIELDS
        }
    }

    /// All offending indices, sorted and deduplicated (what an SDK drops before resending).
    pub fn offending_indices(&self) -> Vec<usize> {
        let mut all: Vec<usize> = [&self.invalid_fields, &self.missing_fields, &self.invalid_id_lengths]
            .into_iter()
            .flat_map(|m| m.values().flatten().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The problems in words, joined, with a count of those not listed.
    pub fn message(&self) -> String {
        let mut text = self.problems.join("; ");
        let unlisted = self.problem_count.saturating_sub(self.problems.len());
        if unlisted > 0 {
            text.push_str(&format!("; and {unlisted} more problems"));
        }
        text
    }

    /// Adds the three index maps (only the non-empty ones) to a response body.
    pub(crate) fn write_maps(&self, body: &mut Map<String, Value>) {
        for (key, map) in [
            ("events_with_invalid_fields", &self.invalid_fields),
            ("events_with_missing_fields", &self.missing_fields),
            ("events_with_invalid_id_lengths", &self.invalid_id_lengths),
        ] {
            if !map.is_empty() {
                let json = map.iter().map(|(f, ix)| (f.clone(), Value::from(ix.clone()))).collect();
                body.insert(key.to_owned(), Value::Object(json));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_sorted_unique_and_problems_capped() {
        let mut e = EventErrors::default();
        for i in (0..30).rev() {
            e.record(Problem::Invalid, i, &["time"], format!("event {i}: bad"));
            e.record(Problem::Invalid, i, &["time"], format!("event {i}: bad again"));
        }
        e.record(Problem::Missing, 3, &["event_type"], "event 3: missing".into());
        assert_eq!(e.invalid_fields["time"], (0..30).collect::<Vec<_>>());
        assert_eq!(e.error_text(), INVALID_FIELDS);
        assert_eq!(e.problems.len(), MAX_LISTED_PROBLEMS);
        assert!(e.message().ends_with("; and 41 more problems"));
        assert_eq!(e.offending_indices().len(), 30);
    }

    #[test]
    fn only_missing_fields_is_missing_field_error() {
        let mut e = EventErrors::default();
        e.record(Problem::Missing, 0, &["event_type"], "x".into());
        assert_eq!(e.error_text(), MISSING_FIELD);
    }
}
