//! Segment's and RudderStack's tracking API: request bodies → Herd commands, mapped the way Segment's Amplitude
//! destinations map calls, plus the response bodies and the analytics.js settings document.
//!
//! This crate is a vendor edge like `herd-amplitude`: it knows nothing of HTTP frameworks or storage. The server
//! finds the write key (Basic auth user name, or [`write_key_from_body`]), loads the project's
//! [`SegmentSettings`], calls [`parse`] with the route's [`CallKind`], maps [`SegmentError::kind`] to a status
//! in one place and sends [`SegmentError::body`] or [`success_body_with`]. Facts and sources:
//! `research/segment.md` (sections cited as §n) and seeds 000 and 002.
//!
//! # Mapping
//!
//! | Segment | Herd |
//! |---|---|
//! | `userId`, `anonymousId` | `user_id`, `device_id` (DESIGN §3) |
//! | `messageId` | `insert_id` (deduplication) |
//! | `receivedAt − (sentAt − originalTimestamp)` | `time` (decision 5) |
//! | `context` | device fields and UTM user properties (module `context`) |
//! | track `event`, `properties` | `event_type`, `event_properties`; revenue fields lifted into `Revenue` |
//! | page / screen | `Track` named by the settings template, `properties` + `name` + `category` |
//! | `integrations.Amplitude.groups` | event-level groups on track/page/screen; user-level groups on identify |
//! | identify `traits` (or `context.traits`) | user properties (`$set`; `$add`-style objects pass through) |
//! | group | `Identify` (user-level group + user property `type = value`) and `GroupIdentify` (traits `$set`) |
//! | alias | `Alias { user_id: userId, previous_id: previousId }` |
//!
//! # Decisions where Segment's documents are silent or where Herd differs
//!
//! 1. **Bad calls in a batch.** Segment answers 200 and drops only the bad calls: its "Failed on Ingest"
//!    table lists `multi_user_error`, "Some messages in the batch were published, while others were not"
//!    (segment-docs `src/connections/delivery-overview.md`), next to `no_user_anon_id`, `event_not_defined`, …
//!    Herd does the same: good calls are stored and the bad ones come back in [`SegmentRequest::rejected`]
//!    (rendered as `rejected` in the 200 body). When **no** call can be stored (a single bad call, or a batch of
//!    only bad calls) Herd answers 400 with the reasons instead of Segment's silent 200: nothing is lost that
//!    Segment would have kept, and the sender sees what to fix. RudderStack's gateway refuses the whole request
//!    when any call lacks ids; Herd follows Segment. Bad JSON and a call over 32 KB refuse the whole request
//!    (SD-http: 400).
//! 2. **More than [`MAX_BATCH_CALLS`] calls**: "Segment returns a 200 response but rejects the event" (SD-http);
//!    Herd stores the first 2,500 and reports the rest as one `batch_limit_exceeded` rejection.
//! 3. **Short and placeholder ids.** Amplitude drops ids shorter than 5 characters, but Segment has no minimum
//!    and RudderStack's Amplitude destination always sends `min_id_length: 1` (§3.2), so Segment calls keep ids
//!    of any length (database ids like `"42"` are common). Placeholders (`"null"`, `"undefined"`, `"-1"`, …,
//!    `herd_model::INVALID_IDS`) count as absent, with a warning; a call left with no id is `no_user_anon_id`.
//!    Numbers are accepted as ids and kept in their JSON spelling.
//! 4. **`device_id` is `anonymousId`** (DESIGN §3, RudderStack). Segment's destinations prefer
//!    `context.device.id` and fall back to `anonymousId` unless "Prefer Anonymous ID for Device ID" is on (§3.2);
//!    Herd behaves as if that setting were on, so one anonymous visitor is one device on every platform.
//! 5. **Time.** The client time is `originalTimestamp`, else `timestamp` (a manual `timestamp` "updates the
//!    `originalTimestamp` field", SD-common); `sentAt` is the call's own, else the batch's. Without `sentAt` the
//!    client time is used as sent; without a client time the store uses the receive time; unparsable times are
//!    ignored with a warning. The commands carry no `client_upload_time`, so the store does not correct again.
//! 6. **Batch-level `context`/`integrations`** are deep-merged under each call, the call's values winning (the
//!    docs say "merged" without saying how deep, §6).
//! 7. **Traits location.** User traits are the top-level `traits`, else `context.traits` (RudderStack's SDKs put
//!    them there; RT-map `traits ?? context.traits`). The same holds for group traits. On track/page/screen these
//!    traits also `$set` user properties, as classic and RudderStack do (Actions maps `$.traits`).
//! 8. **Group without the trait settings, or with a configured trait missing from the call**: the user joins
//!    `"[Segment] Group" = groupId` (SD-amp "Legacy Group Behavior"), with a warning when the settings were
//!    configured. Herd also `$set`s the call's traits on that group, where Segment's legacy behaviour says "No
//!    properties are associated with that group": keeping them costs nothing and loses no data. With both traits
//!    present, all traits become group properties, including the type and value traits (SD-amp example).
//!    `groupId` is kept in `extra.groupId` of both records. The group identification's insert id is
//!    `<messageId>:<type>:<value>` so deduplication does not mistake it for the identify of the same call.
//! 9. **Reserved group traits** get one spelling, the spec's (`createdAt`, …), and a type/value trait setting
//!    that names a reserved trait reads that one value; other settings are exact keys or dotted paths (module
//!    `traits`). Identify traits are stored as sent, as Segment forwards them.
//! 10. **Revenue** (track only): lifted into `Revenue` as described at `revenue_of` in module `call`; the
//!     properties stay in `event_properties` (Actions' Log Purchase keeps them). No extra `Product Purchased`
//!     events are generated.
//! 11. **Page and screen names**: see [`PageNaming`] — default `Viewed {category} {name} Page`,
//!     `Loaded a Page` without name or category (classic cloud, facade `Page.event(fullName())`).
//! 12. **Write keys in the body**: batch-level `writeKey`, else the calls'; a body naming two different keys is
//!     refused (one request writes to one project). Keys are never stored in `extra`.
//! 13. **Size**: [`parse`] measures each batch call as compact JSON (analytics-node's `JSON.stringify` measure);
//!     the server checks whole bodies against [`MAX_CALL_BYTES`] (single-call routes) and [`MAX_BATCH_BYTES`].
//! 14. **Dropped envelope fields**: `type`, `writeKey`, `sentAt`, `receivedAt`, `version`, `channel`,
//!     `_metadata`; other unknown top-level fields of a call are kept in `extra`, as herd-amplitude does.

mod call;
mod cdn;
mod context;
mod error;
mod request;
mod settings;
mod timestamp;
mod traits;
mod values;

pub use call::SEGMENT_GROUP_TYPE;
pub use cdn::settings_document;
pub use error::{CallProblem, SegmentError, SegmentErrorKind, success_body, success_body_with};
pub use request::{CallKind, SegmentRequest, parse, write_key_from_body};
pub use settings::{
    PAGE_FALLBACK, PAGE_TEMPLATE, PageNaming, SCREEN_FALLBACK, SCREEN_TEMPLATE, SETTING_KEYS, SegmentSettings,
    SettingsError,
};

/// Largest single call, in bytes: "The HTTP API can handle API requests that are 32KB or smaller" (SD-http).
pub const MAX_CALL_BYTES: usize = 32 * 1024;
/// Largest batch body, in bytes: "The batch API endpoint accepts a maximum of 500KB per request" (SD-http).
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Most calls per batch: "Each batch request can only have up to 2500 events" (SD-http).
pub const MAX_BATCH_CALLS: usize = 2500;
