//! The stored event: an event as it was stamped at ingestion, with the user's properties, groups and group
//! properties that held at that moment. This is a persisted format (log records and Parquet rows).

use crate::command::{DeviceFields, Revenue};
use crate::{GroupSet, Properties};

/// Version of [`StoredEvent`]'s serialised form; bump on any incompatible change.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// Event types that record state changes rather than user activity; reports do not count them.
pub const IDENTIFY_EVENT: &str = "$identify";
pub const GROUP_IDENTIFY_EVENT: &str = "$groupidentify";

/// One stored, stamped event.
/// Empty and absent fields are left out of the serialised form (and default when read back), which keeps log
/// records small.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StoredEvent {
    /// Position in the project's ingestion order (1, 2, …); unique per project.
    pub seq: u64,
    pub uuid: String,
    /// Herd's internal user key (Amplitude's `amplitude_id`); `None` for group identifications with no user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amplitude_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    pub event_type: String,
    /// When the event happened, ms since the epoch (client time, or receive time when the client gave none).
    pub event_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_event_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_upload_time: Option<i64>,
    /// When Herd received the request, ms since the epoch (Amplitude's `server_upload_time`).
    pub server_upload_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insert_id: Option<String>,
    pub session_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<i64>,
    #[serde(skip_serializing_if = "is_empty_map")]
    pub event_properties: Properties,
    /// The user's properties after this event's operations.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub user_properties: Properties,
    /// User-level ∪ event-level groups.
    #[serde(skip_serializing_if = "GroupSet::is_empty")]
    pub groups: GroupSet,
    /// Group type → group value → that group's properties at ingestion.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub group_properties: Properties,
    #[serde(skip_serializing_if = "DeviceFields::is_empty")]
    pub device: DeviceFields,
    #[serde(skip_serializing_if = "Revenue::is_empty")]
    pub revenue: Revenue,
    /// Amplitude's `data` object (e.g. `first_event`).
    #[serde(skip_serializing_if = "is_empty_map")]
    pub data: Properties,
    #[serde(skip_serializing_if = "is_empty_map")]
    pub extra: Properties,
}

impl StoredEvent {
    /// True for `$identify` / `$groupidentify` records, which reports exclude from event counts.
    pub fn is_state_change(&self) -> bool {
        self.event_type == IDENTIFY_EVENT || self.event_type == GROUP_IDENTIFY_EVENT
    }
}

fn is_empty_map(p: &Properties) -> bool {
    p.is_empty()
}
