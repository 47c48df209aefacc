//! Cohorts of users or of groups: a static list (uploaded, one id per line or as Amplitude's cohort upload API
//! sends it) or a behavioural definition (units that did an event at least N times in the last D days, with the
//! event's filters), usable as a segment of every report. Definitions are persisted as project settings
//! `cohort.<id>` (JSON, versioned); behavioural membership is computed when a query uses it, so it is never stale.

use std::collections::BTreeMap;

use crate::report::{CountBy, EventSpec};

/// The project-setting prefix under which cohorts are stored.
pub const COHORT_SETTING_PREFIX: &str = "cohort.";

/// The persisted format's version.
pub const COHORT_FORMAT_VERSION: u32 = 1;

/// The pseudo-property that names a cohort in segments (`{"prop":"userdata_cohort","op":"is","values":[id]}`).
pub const COHORT_PROPERTY: &str = "userdata_cohort";

/// How the ids of a static user cohort name users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdType {
    /// Herd's `amplitude_id` (Amplitude's `BY_AMP_ID`, `BY_ID`).
    ByAmpId,
    /// The `user_id` (Amplitude's `BY_USER_ID`, `BY_NAME`); for group cohorts both mean the group value.
    #[default]
    ByUserId,
}

/// Who is in a cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum CohortDefinition {
    /// Exactly these units.
    Static {
        #[serde(default)]
        id_type: IdType,
        ids: Vec<String>,
    },
    /// Units that did `event` at least `min_count` times in the `days` days before the query runs.
    Behavioral { event: EventSpec, min_count: u64, days: u32 },
}

/// A cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cohort {
    #[serde(default = "version")]
    pub version: u32,
    pub id: String,
    pub name: String,
    /// Users, or the values of one group type.
    pub count_by: CountBy,
    pub definition: CohortDefinition,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub published: bool,
    /// Last change, ms since the epoch.
    #[serde(default)]
    pub updated_ms: i64,
}

fn version() -> u32 {
    COHORT_FORMAT_VERSION
}

impl Cohort {
    pub fn setting_key(&self) -> String {
        format!("{COHORT_SETTING_PREFIX}{}", self.id)
    }

    /// Parses and checks a stored or sent definition.
    pub fn parse(json: &str) -> Result<Cohort, String> {
        let c: Cohort = serde_json::from_str(json).map_err(|e| format!("not a cohort definition: {e}"))?;
        c.check()?;
        Ok(c)
    }

    /// What a cohort must satisfy; the messages say what to fix.
    pub fn check(&self) -> Result<(), String> {
        if self.version != COHORT_FORMAT_VERSION {
            return Err(format!("cohort format version {} is not {COHORT_FORMAT_VERSION}", self.version));
        }
        check_id(&self.id)?;
        if self.name.trim().is_empty() {
            return Err("a cohort needs a name".into());
        }
        match &self.definition {
            CohortDefinition::Static { ids, .. } if ids.len() > 2_000_000 => {
                Err(format!("a static cohort has at most 2,000,000 ids, got {}", ids.len()))
            }
            CohortDefinition::Behavioral { min_count: 0, .. } => Err("min_count must be at least 1".into()),
            CohortDefinition::Behavioral { days, .. } if *days == 0 || *days > 3660 => {
                Err(format!("days must be 1 to 3660, got {days}"))
            }
            CohortDefinition::Behavioral { event, .. }
                if event.filters.iter().any(|f| f.property.key == COHORT_PROPERTY) =>
            {
                Err("a behavioural cohort's filters cannot name another cohort".into())
            }
            _ => Ok(()),
        }
    }

    /// Every cohort in a project's settings.
    pub fn all_in(settings: &BTreeMap<String, String>) -> Vec<Cohort> {
        settings
            .iter()
            .filter(|(k, _)| k.starts_with(COHORT_SETTING_PREFIX))
            .filter_map(|(_, v)| Cohort::parse(v).ok())
            .collect()
    }
}

/// A cohort's members as a query finds them now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "members")]
pub enum CohortMembers {
    /// `(amplitude_id, user_id)` of each user, by amplitude id.
    Users(Vec<(u64, Option<String>)>),
    /// Group values, sorted.
    Groups(Vec<String>),
}

impl CohortMembers {
    pub fn len(&self) -> usize {
        match self {
            CohortMembers::Users(u) => u.len(),
            CohortMembers::Groups(g) => g.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks a cohort id: 1–64 letters, digits, `_` or `-`.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok { Ok(()) } else { Err(format!("cohort id {id:?}: use 1-64 letters, digits, _ or -")) }
}

/// The ids of an uploaded file: one per line, blank lines and surrounding spaces ignored, duplicates dropped.
pub fn ids_from_lines(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.lines().map(str::trim).filter(|l| !l.is_empty() && seen.insert(l.to_owned())).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks() {
        let c = Cohort {
            version: 1,
            id: "big-orgs".into(),
            name: "Big orgs".into(),
            count_by: CountBy::Group("org".into()),
            definition: CohortDefinition::Static { id_type: IdType::ByUserId, ids: vec!["A".into()] },
            owner: String::new(),
            published: true,
            updated_ms: 0,
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(Cohort::parse(&json).unwrap(), c);
        assert!(Cohort::parse(&json.replace("big-orgs", "big orgs")).unwrap_err().contains("letters"));
        assert_eq!(ids_from_lines(" a\n\nb\r\na\n"), ["a", "b"]);
    }
}
