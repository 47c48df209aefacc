//! Rules for user and device ids: the minimum length and the list of values that reject an event.

/// The id rules of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRules {
    /// Ids shorter than this are removed from the event (Amplitude's default: 5).
    pub min_id_length: usize,
}

impl Default for IdRules {
    fn default() -> Self {
        IdRules { min_id_length: 5 }
    }
}

/// What to do with one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCheck {
    /// Keep it.
    Valid,
    /// Absent or empty.
    Missing,
    /// Shorter than the minimum: removed from the event.
    TooShort,
    /// One of the placeholder values that Amplitude answers with 400.
    Invalid,
}

/// Ids that Amplitude rejects with 400 (`research/amplitude.md` §1.3), compared case-insensitively.
pub const INVALID_IDS: [&str; 14] = [
    "anonymous",
    "nil",
    "none",
    "null",
    "n/a",
    "na",
    "undefined",
    "unknown",
    "\"\"",
    "00000000-0000-0000-0000-000000000000",
    "{}",
    "lmy47d",
    "0",
    "-1",
];

/// Checks one id against the rules.
pub fn check_id(id: Option<&str>, rules: IdRules) -> IdCheck {
    let Some(id) = id else { return IdCheck::Missing };
    if id.is_empty() {
        return IdCheck::Missing;
    }
    let lower = id.trim().to_ascii_lowercase();
    if INVALID_IDS.contains(&lower.as_str()) || is_all_zero_uuid(&lower) {
        return IdCheck::Invalid;
    }
    if id.chars().count() < rules.min_id_length {
        return IdCheck::TooShort;
    }
    IdCheck::Valid
}

/// iOS "limit ad tracking" IDFAs: all zeros with or without dashes.
fn is_all_zero_uuid(id: &str) -> bool {
    id.len() >= 8 && id.chars().all(|c| c == '0' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_table() {
        let rules = IdRules::default();
        for (id, expected) in [
            (None, IdCheck::Missing),
            (Some(""), IdCheck::Missing),
            (Some("abcd"), IdCheck::TooShort),
            (Some("abcde"), IdCheck::Valid),
            (Some("NULL"), IdCheck::Invalid),
            (Some("-1"), IdCheck::Invalid),
            (Some("00000000-0000-0000-0000-000000000000"), IdCheck::Invalid),
            (Some("0000000000"), IdCheck::Invalid),
            (Some("undefined"), IdCheck::Invalid),
        ] {
            assert_eq!(check_id(id, rules), expected, "{id:?}");
        }
        assert_eq!(check_id(Some("ab"), IdRules { min_id_length: 1 }), IdCheck::Valid);
    }
}
