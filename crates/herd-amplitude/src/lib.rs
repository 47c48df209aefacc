//! Amplitude's wire formats: parsing ingestion payloads into Herd commands and rendering Amplitude's bodies.
//!
//! This crate is the vendor edge. It knows nothing about HTTP frameworks or storage: the server hands it the
//! (already gunzipped) request bytes, gets back [`herd_model::Command`]s or an error, maps the error's
//! [`RejectionKind`] to an HTTP status in one place and renders the body with the same status code.
//!
//! | API | entry point | success body |
//! |---|---|---|
//! | `POST /2/httpapi`, `POST /batch` | [`parse_upload`] | [`UploadSuccess`] (JSON) |
//! | `POST/GET /identify` | [`parse_identify`] | [`TEXT_SUCCESS`] (plain text) |
//! | `POST/GET /groupidentify` | [`parse_group_identify`] | [`TEXT_SUCCESS`] (plain text) |
//! | `POST /` (legacy amplitude-js / Android 2.x) | [`parse_legacy`] | [`LEGACY_SUCCESS`] (plain text) |
//! | `GET /api/2/export` | [`export_row`], [`parse_export_hour`], [`parse_export_range`] | JSON lines |
//! | `GET /api/2/events/segmentation` | [`parse_segmentation`], [`parse_segmentation_with`] | [`segmentation_response`] |

mod cohorts;
mod dashboard;
mod error;
mod event;
mod export;
mod fields;
mod form;
mod funnels;
mod group_identify;
mod identify;
mod legacy;
mod response;
mod rest;
mod retention;
mod timefmt;
mod upload;

pub use cohorts::{
    CohortUpload, cohort_csv, cohort_request_response, cohort_summary, cohort_upload_response, cohorts_response,
    parse_cohort_upload,
};
pub use dashboard::{
    BUILTIN_PROPERTIES, DEFAULT_LIMIT, DashboardError, GROUP_VALUE, MAX_EVENTS, MAX_GROUP_BYS, MAX_LIMIT, MAX_SEGMENTS,
    format_x_value, parse_segmentation, parse_segmentation_with, segmentation_response, x_labels,
};
pub use error::{EventErrors, RejectionKind};
pub use event::DroppedId;
pub use export::{ExportTimeError, export_row, parse_export_hour, parse_export_range};
pub use funnels::{format_funnel_day, funnel_response, parse_funnel_with};
pub use group_identify::{GroupIdentifyRequest, MAX_GROUP_IDENTIFICATIONS, MAX_GROUP_PROPERTIES, parse_group_identify};
pub use identify::{IdentifyError, IdentifyRequest, MAX_IDENTIFICATIONS, parse_identify};
pub use legacy::{
    LEGACY_BAD_CHECKSUM, LEGACY_INVALID_API_KEY, LEGACY_SUCCESS, LegacyError, legacy_checksum, parse_legacy,
};
pub use response::{
    TEXT_SUCCESS, Throttle, UploadSuccess, error_body, invalid_api_key_body, payload_too_large_body, throttled_body,
};
pub use rest::{
    EventTypeSummary, TaxonomyEvent, events_list_response, parse_users, realtime_response, taxonomy_response,
    user_activity_response, user_search_response, users_response,
};
pub use retention::{parse_retention_with, retention_response};
pub use timefmt::format_export_time;
pub use upload::{Upload, UploadError, UploadLimits, parse_upload};
