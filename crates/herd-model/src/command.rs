//! Normalised commands: what every ingestion API turns its payloads into before the store applies them.

use crate::{GroupSet, Properties, PropertyOps};

/// One unit of work for a project's writer, in the order it was received.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// An event happened (`/2/httpapi`, `/batch`, Segment `track`/`page`/`screen`).
    Track(Box<Track>),
    /// User properties and user-level groups changed (`/identify`, `$identify` events, Segment `identify`/`group`).
    Identify(Box<Identify>),
    /// Group properties changed (`/groupidentify`, `$groupidentify` events, Segment `group` traits).
    GroupIdentify(Box<GroupIdentify>),
    /// Two ids are the same user from now on (Segment `alias`).
    Alias(Box<Alias>),
}

impl Command {
    /// The insert id used for deduplication, if the sender gave one.
    pub fn insert_id(&self) -> Option<&str> {
        match self {
            Command::Track(t) => t.insert_id.as_deref(),
            Command::Identify(i) => i.insert_id.as_deref(),
            Command::GroupIdentify(g) => g.insert_id.as_deref(),
            Command::Alias(_) => None,
        }
    }
}

/// Descriptive device, location and client fields that travel with events and identifications.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeviceFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dma: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_lng: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
}

impl DeviceFields {
    pub fn is_empty(&self) -> bool {
        *self == DeviceFields::default()
    }
}

/// Revenue fields of an event.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Revenue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl Revenue {
    pub fn is_empty(&self) -> bool {
        *self == Revenue::default()
    }

    /// The revenue an event counts for: `price × quantity` when a price is given (Amplitude's rule), else `revenue`.
    pub fn amount(&self) -> Option<f64> {
        match self.price {
            Some(price) => Some(price * self.quantity.unwrap_or(1) as f64),
            None => self.revenue,
        }
    }
}

/// An event as sent, after wire validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub event_type: String,
    /// Client event time, ms since the epoch; `None` means "when received".
    pub time: Option<i64>,
    pub client_upload_time: Option<i64>,
    pub insert_id: Option<String>,
    pub session_id: Option<i64>,
    pub event_id: Option<i64>,
    pub event_properties: Properties,
    /// Operations on the user's properties carried by the event.
    pub user_ops: PropertyOps,
    /// `$skip_user_properties_sync`: do not change the user's stored properties.
    pub skip_user_properties_sync: bool,
    /// Event-level groups: this event only.
    pub groups: GroupSet,
    pub device: DeviceFields,
    pub revenue: Revenue,
    /// Every other field the sender gave, kept as sent (e.g. `plan`, `partner_id`, `idfa`).
    pub extra: Properties,
}

/// A change to one user: property operations and user-level group memberships.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identify {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub time: Option<i64>,
    pub insert_id: Option<String>,
    pub user_ops: PropertyOps,
    /// User-level groups: the user stays in them for all later events.
    pub groups: GroupSet,
    pub device: DeviceFields,
    pub extra: Properties,
}

/// A change to one group's properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupIdentify {
    pub group_type: String,
    pub group_value: String,
    pub ops: PropertyOps,
    pub time: Option<i64>,
    pub insert_id: Option<String>,
    /// The user who sent it, when it came from an SDK (`$groupidentify` event); recorded as the group's creator.
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub extra: Properties,
}

/// `previous_id` and `user_id` are the same user from now on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alias {
    pub user_id: String,
    pub previous_id: String,
    pub time: Option<i64>,
}
