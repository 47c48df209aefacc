//! Herd's core data model: what an event, a user, a group and a property operation are, independent of any wire format.
//!
//! Nothing in this crate knows about HTTP, Amplitude's or Segment's JSON, or storage.
//! Vendor edges (`herd-amplitude`, later `herd-segment`) convert their payloads into [`Command`]s;
//! the store applies commands in order and produces [`StoredEvent`]s stamped with the state that held at ingestion.

pub mod accounts;
pub mod cohort;
pub mod command;
pub mod engagement;
pub mod event;
pub mod funnel;
pub mod groups;
pub mod identity;
pub mod ops;
pub mod report;
pub mod retention;

pub use command::{Alias, Command, DeviceFields, GroupIdentify, Identify, Revenue, Track};
pub use event::{EVENT_FORMAT_VERSION, GROUP_IDENTIFY_EVENT, IDENTIFY_EVENT, StoredEvent};
pub use groups::{GroupLimits, GroupSet, GroupUnion};
pub use identity::{IdCheck, IdRules, check_id};
pub use ops::{OpKind, OpsError, PropertyOps};

/// A property bag: JSON-like values keyed by property name, in insertion order.
///
/// Property values are JSON values because that is what every analytics source sends (strings, numbers,
/// booleans, arrays, nested objects); this is a data representation, not a vendor wire format.
pub type Properties = serde_json::Map<String, serde_json::Value>;

/// A property value.
pub type Value = serde_json::Value;
