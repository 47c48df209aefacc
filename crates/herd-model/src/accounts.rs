//! Accounts: the groups of one type listed with their properties, activity and dynamic properties, one group's
//! profile, and dynamic group properties (a KPI per group defined once from a single-metric segmentation over a
//! rolling or calendar window, computed at query time).

use std::collections::BTreeMap;

use crate::report::{EventSpec, FilterOp, PropertyRef};

/// The format version of a stored [`DynamicProperty`] definition.
pub const DYNAMIC_PROPERTY_FORMAT_VERSION: u32 = 1;

/// The project-setting prefix under which dynamic property definitions are stored (`dynamic_property.<name>`).
pub const DYNAMIC_PROPERTY_SETTING_PREFIX: &str = "dynamic_property.";

/// What a dynamic property computes per group over its window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "property")]
pub enum DynamicMetric {
    /// Distinct members (users) who did the event.
    Uniques,
    /// Events.
    Totals,
    /// Sum of a numeric property.
    Sum(PropertyRef),
    /// Average of a numeric property over the events.
    Average(PropertyRef),
}

/// The time window of a dynamic property, ending at the moment of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last `days` × 24 hours.
    Rolling { days: u32 },
    /// The current calendar period so far (day, week from Sunday, month), in the project's time zone.
    Calendar { unit: CalendarUnit },
}

/// A calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarUnit {
    Day,
    Week,
    Month,
}

/// A dynamic group property, e.g. "active users in the last 7 days" of each `org`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicProperty {
    /// Format version of the stored definition ([`DYNAMIC_PROPERTY_FORMAT_VERSION`]).
    #[serde(default = "format_version")]
    pub version: u32,
    /// The name users refer to it by (filters, group-bys, sorting): letters, digits, `_`, `-`, at most 64.
    pub name: String,
    /// The group type it is computed for.
    pub group_type: String,
    /// The events counted, with optional filters (group-bys are not allowed).
    pub event: EventSpec,
    pub metric: DynamicMetric,
    pub window: Window,
    /// Ascending bucket boundaries used when the property is a group-by; default [`DEFAULT_BUCKETS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<f64>>,
}

fn format_version() -> u32 {
    DYNAMIC_PROPERTY_FORMAT_VERSION
}

/// Bucket boundaries of a dynamic property used as a group-by, when its definition names none.
pub const DEFAULT_BUCKETS: [f64; 9] = [1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

impl DynamicProperty {
    /// Parses and checks a definition; the message says what to fix.
    pub fn parse(json: &str) -> Result<DynamicProperty, String> {
        let def: DynamicProperty =
            serde_json::from_str(json).map_err(|e| format!("not a valid dynamic property definition: {e}"))?;
        def.check()?;
        Ok(def)
    }

    /// Checks a definition.
    pub fn check(&self) -> Result<(), String> {
        if self.version != DYNAMIC_PROPERTY_FORMAT_VERSION {
            return Err(format!(
                "dynamic property format version {} is not supported; this herd reads version {}",
                self.version, DYNAMIC_PROPERTY_FORMAT_VERSION
            ));
        }
        check_name(&self.name)?;
        if self.group_type.trim().is_empty() {
            return Err("group_type must name a group type, e.g. \"org\"".into());
        }
        if self.event.event == crate::report::EventSelector::New {
            return Err("event \"new\" is not available for dynamic properties; use \"active\" or a named event".into());
        }
        if !self.event.group_by.is_empty() {
            return Err("a dynamic property counts one number per group: remove event.group_by".into());
        }
        match self.window {
            Window::Rolling { days } if days == 0 || days > 3650 => {
                return Err(format!("window.rolling.days must be 1–3650, got {days}"));
            }
            _ => {}
        }
        if let Some(b) = &self.buckets {
            if b.is_empty() || b.len() > 50 {
                return Err("buckets must list 1–50 ascending boundaries".into());
            }
            if b.windows(2).any(|w| w[0] >= w[1]) || b.iter().any(|x| !x.is_finite()) {
                return Err("buckets must be finite and strictly ascending".into());
            }
        }
        Ok(())
    }

    /// The bucket boundaries in use.
    pub fn bucket_bounds(&self) -> Vec<f64> {
        self.buckets.clone().unwrap_or_else(|| DEFAULT_BUCKETS.to_vec())
    }

    /// The project setting key this definition is stored under.
    pub fn setting_key(&self) -> String {
        format!("{DYNAMIC_PROPERTY_SETTING_PREFIX}{}", self.name)
    }

    /// Every definition in a project's settings (the setting values are definitions already checked when set).
    pub fn all_in(settings: &BTreeMap<String, String>) -> Vec<DynamicProperty> {
        settings
            .iter()
            .filter(|(k, _)| k.starts_with(DYNAMIC_PROPERTY_SETTING_PREFIX))
            .filter_map(|(_, v)| DynamicProperty::parse(v).ok())
            .collect()
    }
}

/// Checks a dynamic property name.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok { Ok(()) } else { Err(format!("dynamic property name {name:?} must be 1–64 letters, digits, '_' or '-'")) }
}

/// A field of an account that a filter or sort can use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "field", content = "name")]
pub enum AccountField {
    /// A current group property (or, with `history`, any value it ever had).
    Property(String),
    /// A dynamic property of the group type.
    Dynamic(String),
    /// The group value itself.
    Value,
    /// Distinct members.
    Members,
    FirstSeen,
    LastSeen,
}

/// `field op values`; several values are alternatives.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountFilter {
    #[serde(flatten)]
    pub field: AccountField,
    pub op: FilterOp,
    pub values: Vec<String>,
}

/// The order of an accounts list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountSort {
    #[serde(flatten)]
    pub field: AccountField,
    #[serde(default)]
    pub descending: bool,
}

/// A list of the groups of one type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountsQuery {
    pub group_type: String,
    /// All must hold.
    #[serde(default)]
    pub filters: Vec<AccountFilter>,
    /// Property filters also match values the group had in the past (from its group identifications).
    #[serde(default)]
    pub history: bool,
    /// Default: members, descending, then the group value.
    #[serde(default)]
    pub sort: Option<AccountSort>,
    #[serde(default = "default_limit")]
    pub limit: usize,
    #[serde(default)]
    pub offset: usize,
}

fn default_limit() -> usize {
    100
}

/// One group in an accounts list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub group_type: String,
    pub group_value: String,
    pub properties: crate::Properties,
    pub first_seen_ms: i64,
    /// The last event (state changes excluded) that carried the group.
    pub last_seen_ms: Option<i64>,
    /// Distinct users in the group: user-level members and users whose events carried it.
    pub members: u64,
    pub events: u64,
    pub creator_amplitude_id: Option<u64>,
    /// Every dynamic property of the group type, by name.
    pub dynamic: BTreeMap<String, f64>,
}

/// An accounts list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountsResult {
    /// Groups that match the filters (before `offset` and `limit`).
    pub total: usize,
    pub accounts: Vec<Account>,
}

/// One change of a group's properties, from one group identification.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PropertyChange {
    pub time_ms: i64,
    /// Who sent it, when a user was named.
    pub amplitude_id: Option<u64>,
    /// Property → `[before, after]`; `null` where absent.
    pub changes: BTreeMap<String, [crate::Value; 2]>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub amplitude_id: u64,
    pub user_id: Option<String>,
    /// In the group at user level (identify / setGroup / Segment `group`), not only through events.
    pub user_level: bool,
    pub events: u64,
    pub last_seen_ms: Option<i64>,
}

/// One group's profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupProfile {
    pub account: Account,
    /// Oldest first.
    pub history: Vec<PropertyChange>,
    /// Most events first.
    pub members: Vec<Member>,
    /// Latest first (at most the requested number).
    pub recent_events: Vec<serde_json::Map<String, crate::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_checked() {
        let ok = r#"{"name":"wau","group_type":"org","event":{"event":"active"},"metric":{"type":"uniques"},
                    "window":{"rolling":{"days":7}}}"#;
        let def = DynamicProperty::parse(ok).unwrap();
        assert_eq!(def.version, 1);
        assert_eq!(def.setting_key(), "dynamic_property.wau");
        assert_eq!(def.bucket_bounds().len(), DEFAULT_BUCKETS.len());
        let bad_name = ok.replace("\"wau\"", "\"w a u\"");
        assert!(DynamicProperty::parse(&bad_name).unwrap_err().contains("letters"));
        let zero = ok.replace("\"days\":7", "\"days\":0");
        assert!(DynamicProperty::parse(&zero).unwrap_err().contains("1–3650"));
        let future = ok.replace("{\"name\"", "{\"version\":2,\"name\"");
        assert!(DynamicProperty::parse(&future).unwrap_err().contains("version 2"));
        let buckets = ok.replace("\"window\"", "\"buckets\":[5,1],\"window\"");
        assert!(DynamicProperty::parse(&buckets).unwrap_err().contains("ascending"));
        let calendar = ok.replace("{\"rolling\":{\"days\":7}}", "{\"calendar\":{\"unit\":\"month\"}}");
        assert_eq!(DynamicProperty::parse(&calendar).unwrap().window, Window::Calendar { unit: CalendarUnit::Month });
    }
}
