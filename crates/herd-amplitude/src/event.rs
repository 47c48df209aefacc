//! One wire event or identification → commands, with Amplitude's validation rules (research §1.2–§1.3).
//!
//! Shared by HTTP V2 / Batch (`upload`), the legacy upload (`legacy`) and the Identify API (`identify`):
//! the three differ only in the [`Dialect`] (which field holds the time, whether `event_type` is required).

use herd_model::{
    Command, DeviceFields, GROUP_IDENTIFY_EVENT, GroupIdentify, GroupSet, IDENTIFY_EVENT, IdCheck, IdRules, Identify,
    Properties, PropertyOps, Revenue, Track, check_id,
};
use serde_json::Value;

use crate::error::{EventErrors, Problem};
use crate::fields::{Reader, describe};

/// Which wire format an object comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// HTTP V2 / Batch events: time in `time`.
    Event,
    /// Legacy amplitude-js / Android events: time in `timestamp` (or `time`).
    Legacy,
    /// Identify API identifications: no `event_type`; always an [`Identify`].
    Identification,
}

impl Dialect {
    fn label(self) -> &'static str {
        match self {
            Dialect::Event | Dialect::Legacy => "event",
            Dialect::Identification => "identification",
        }
    }
}

/// A user or device id that was removed from an accepted event because it was shorter than
/// `min_id_length` (the event kept its other id). The server may log or report these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedId {
    /// Index of the wire event.
    pub index: usize,
    /// `user_id` or `device_id`.
    pub field: &'static str,
    pub value: String,
}

/// What a request's conversion needs besides the objects themselves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub(crate) rules: IdRules,
    /// The request-level upload time, copied onto every event.
    pub(crate) client_upload_time: Option<i64>,
    pub(crate) dialect: Dialect,
}

/// The commands of one request, or every problem found in it.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub(crate) commands: Vec<Command>,
    /// For each command, the index of the wire object it came from.
    pub(crate) origin: Vec<usize>,
    pub(crate) dropped_ids: Vec<DroppedId>,
    pub(crate) warnings: Vec<String>,
    pub(crate) errors: EventErrors,
}

/// Times below this (ms; early 1973) are almost certainly seconds sent as milliseconds.
const SECONDS_SUSPECT_BELOW_MS: i64 = 100_000_000_000;

const TIME_EXPECTED: &str = "milliseconds since the epoch as an integer";

/// Converts every object; problems are collected for all of them, not just the first.
pub(crate) fn convert_all(items: Vec<Value>, ctx: &Context) -> Converted {
    let mut out = Converted::default();
    for (index, item) in items.into_iter().enumerate() {
        let label = ctx.dialect.label();
        let Value::Object(obj) = item else {
            let what = format!("{label} {index} must be a JSON object, got {}", describe(&item));
            out.errors.record(Problem::Invalid, index, &[label], what);
            continue;
        };
        let reader = Reader::new(obj, index, label, &mut out.errors);
        let Some(wire) = read_wire(reader, ctx, &mut out.dropped_ids, &mut out.warnings) else {
            continue;
        };
        match wire.group_ops {
            Some(ops) => out
                .commands
                .extend(group_identifies(wire.track, ops).into_iter().map(|g| Command::GroupIdentify(Box::new(g)))),
            None if ctx.dialect == Dialect::Identification || wire.track.event_type == IDENTIFY_EVENT => {
                out.commands.push(Command::Identify(Box::new(identify_from(wire.track))));
            }
            None => out.commands.push(Command::Track(Box::new(wire.track))),
        }
        out.origin.resize(out.commands.len(), index);
    }
    out
}

/// An object read into a [`Track`]; `group_ops` is set for `$groupidentify` events.
struct Wire {
    track: Track,
    group_ops: Option<PropertyOps>,
}

/// Reads the time field: whole ms, not negative; warns when it looks like seconds.
pub(crate) fn read_time(r: &mut Reader<'_>, key: &str, warnings: &mut Vec<String>) -> Option<i64> {
    let time = r.integer(key, TIME_EXPECTED)?;
    if time < 0 {
        r.invalid(key, &format!("`{key}` must be {TIME_EXPECTED}, got the negative number {time}"));
        return None;
    }
    if time < SECONDS_SUSPECT_BELOW_MS {
        warnings.push(format!("{}: `{key}` {time} is before 1973; if it is in seconds, multiply by 1000", r.name()));
    }
    Some(time)
}

fn read_wire(
    mut reader: Reader<'_>,
    ctx: &Context,
    dropped: &mut Vec<DroppedId>,
    warnings: &mut Vec<String>,
) -> Option<Wire> {
    let r = &mut reader;
    let event_type = match ctx.dialect {
        Dialect::Identification => String::new(),
        Dialect::Event | Dialect::Legacy => read_event_type(r),
    };
    // A group identification needs no user: SDKs send `group_identify` without ids when no user is involved.
    let ids_optional = event_type == GROUP_IDENTIFY_EVENT;
    let (user_id, device_id) = read_ids(r, ctx.rules, ids_optional, dropped);
    let time_key = match ctx.dialect {
        Dialect::Legacy if r.has("timestamp") => "timestamp",
        _ => "time",
    };
    let time = read_time(r, time_key, warnings);
    let event_properties = r.object("event_properties").unwrap_or_default();
    let user_properties = r.object("user_properties");
    let groups = r.object("groups").map(|g| GroupSet::from_wire(&g)).unwrap_or_default();
    let group_properties = r.object("group_properties");
    let skip_user_properties_sync = r.boolean("$skip_user_properties_sync").unwrap_or(false);
    let device = read_device(r);
    let revenue = read_revenue(r);
    let insert_id = r.string("insert_id");
    let session_id = r.integer("session_id", "an integer (the session's start time in ms)");
    let event_id = r.integer("event_id", "an integer");
    let user_ops = parse_ops(r, "user_properties", user_properties.as_ref());
    let group_ops = if event_type == GROUP_IDENTIFY_EVENT {
        if groups.is_empty() {
            r.invalid("groups", "a `$groupidentify` event needs `groups` naming at least one group type and value");
        }
        Some(parse_ops(r, "group_properties", group_properties.as_ref()))
    } else {
        if group_properties.is_some_and(|g| !g.is_empty()) {
            warnings.push(format!("{}: `group_properties` is only used on `$groupidentify` events; ignored", r.name()));
        }
        None
    };
    if r.failed() {
        return None;
    }
    let track = Track {
        user_id,
        device_id,
        event_type,
        time,
        client_upload_time: ctx.client_upload_time,
        insert_id,
        session_id: session_id.filter(|s| *s != -1),
        event_id,
        event_properties,
        user_ops,
        skip_user_properties_sync,
        groups,
        device,
        revenue,
        extra: reader.rest(),
    };
    Some(Wire { track, group_ops })
}

fn parse_ops(r: &mut Reader<'_>, field: &str, props: Option<&Properties>) -> PropertyOps {
    let Some(props) = props else {
        return PropertyOps::default();
    };
    PropertyOps::parse(props).unwrap_or_else(|e| {
        r.invalid(field, &format!("`{field}`: {e}"));
        PropertyOps::default()
    })
}

fn read_event_type(r: &mut Reader<'_>) -> String {
    if !r.has("event_type") {
        r.missing("event_type", "`event_type` is required");
        return String::new();
    }
    // `None`: not a string, already reported.
    let event_type = r.strict_string("event_type");
    if event_type.as_ref().is_some_and(|t| t.trim().is_empty()) {
        r.missing("event_type", "`event_type` must not be blank");
    }
    event_type.unwrap_or_default()
}

/// `user_id` and `device_id` with Amplitude's rules: placeholder values reject the object, ids shorter than
/// the minimum are removed, and an object left with neither id is rejected.
///
/// Decision (Amplitude does not document the body): an object that never had an id is listed under both
/// `user_id` and `device_id` in `events_with_missing_fields`, since either one would do; one whose ids were
/// all too short is listed under the short ones in `events_with_invalid_id_lengths`.
fn read_ids(
    r: &mut Reader<'_>,
    rules: IdRules,
    ids_optional: bool,
    dropped: &mut Vec<DroppedId>,
) -> (Option<String>, Option<String>) {
    let mut ids: [Option<String>; 2] = [None, None];
    let mut short: Vec<(&'static str, String)> = Vec::new();
    let mut unusable = false;
    for (slot, field) in ["user_id", "device_id"].into_iter().enumerate() {
        let was_sent = r.has(field);
        let Some(id) = r.strict_string(field) else {
            unusable |= was_sent;
            continue;
        };
        match check_id(Some(&id), rules) {
            IdCheck::Valid => ids[slot] = Some(id),
            IdCheck::Missing => {}
            IdCheck::TooShort => short.push((field, id)),
            IdCheck::Invalid => {
                unusable = true;
                let what = format!(
                    "`{field}` {id:?} is a placeholder that identifies no one (\"null\", \"none\", \
                     \"undefined\", \"0\", \"-1\", all zeros, …); send a real id or leave it out"
                );
                r.invalid(field, &what);
            }
        }
    }
    let [user_id, device_id] = ids;
    if user_id.is_none() && device_id.is_none() && !unusable && !ids_optional {
        if short.is_empty() {
            r.problem(
                Problem::Missing,
                &["user_id", "device_id"],
                "needs a `user_id` or a `device_id`; neither was sent",
            );
        } else {
            let names: Vec<&str> = short.iter().map(|(f, _)| *f).collect();
            let listed: Vec<String> = short.iter().map(|(f, v)| format!("`{f}` {v:?}")).collect();
            let what = format!(
                "{} shorter than min_id_length {} and no other id is left; send longer ids or set \
                 `options.min_id_length`",
                listed.join(" and "),
                rules.min_id_length
            );
            r.problem(Problem::ShortId, &names, &what);
        }
    } else {
        let index = r.index();
        dropped.extend(short.into_iter().map(|(field, value)| DroppedId { index, field, value }));
    }
    (user_id, device_id)
}

fn read_device(r: &mut Reader<'_>) -> DeviceFields {
    DeviceFields {
        app_version: r.string("app_version"),
        platform: r.string("platform"),
        os_name: r.string("os_name"),
        os_version: r.string("os_version"),
        device_brand: r.string("device_brand"),
        device_manufacturer: r.string("device_manufacturer"),
        device_model: r.string("device_model"),
        carrier: r.string("carrier"),
        country: r.string("country"),
        region: r.string("region"),
        city: r.string("city"),
        dma: r.string("dma"),
        language: r.string("language"),
        ip: r.string("ip"),
        location_lat: r.number("location_lat"),
        location_lng: r.number("location_lng"),
        user_agent: r.string("user_agent"),
        library: r.library(),
        version_name: r.string("version_name"),
    }
}

fn read_revenue(r: &mut Reader<'_>) -> Revenue {
    Revenue {
        price: r.number("price"),
        quantity: r.integer("quantity", "an integer"),
        revenue: r.number("revenue"),
        product_id: r.string("productId"),
        revenue_type: r.string("revenueType"),
        currency: r.string("currency"),
    }
}

/// Writes revenue fields under their wire names (`productId`, `revenueType`); absent fields are written as
/// `null` when `with_nulls`, else left out.
pub(crate) fn revenue_to_wire(revenue: &Revenue, out: &mut Properties, with_nulls: bool) {
    let fields = [
        ("price", revenue.price.map(Value::from)),
        ("quantity", revenue.quantity.map(Value::from)),
        ("revenue", revenue.revenue.map(Value::from)),
        ("productId", revenue.product_id.clone().map(Value::from)),
        ("revenueType", revenue.revenue_type.clone().map(Value::from)),
        ("currency", revenue.currency.clone().map(Value::from)),
    ];
    for (key, value) in fields {
        match value {
            Some(v) => {
                out.insert(key.to_owned(), v);
            }
            None if with_nulls => {
                out.insert(key.to_owned(), Value::Null);
            }
            None => {}
        }
    }
}

/// A `$identify` event or an identification as an [`Identify`]. Event-only fields that an identification
/// has no place for (event properties, session and event ids, revenue) are kept in `extra`.
fn identify_from(t: Track) -> Identify {
    let mut extra = t.extra;
    if !t.event_properties.is_empty() {
        extra.insert("event_properties".to_owned(), Value::Object(t.event_properties));
    }
    if let Some(session_id) = t.session_id {
        extra.insert("session_id".to_owned(), session_id.into());
    }
    if let Some(event_id) = t.event_id {
        extra.insert("event_id".to_owned(), event_id.into());
    }
    if t.skip_user_properties_sync {
        extra.insert("$skip_user_properties_sync".to_owned(), true.into());
    }
    revenue_to_wire(&t.revenue, &mut extra, false);
    Identify {
        user_id: t.user_id,
        device_id: t.device_id,
        time: t.time,
        insert_id: t.insert_id,
        user_ops: t.user_ops,
        groups: t.groups,
        device: t.device,
        extra,
    }
}

/// A `$groupidentify` event → one [`GroupIdentify`] per (type, value) pair of its `groups`.
///
/// The sender's `insert_id` is kept as is for a single pair; with several pairs each gets
/// `insert_id:type:value`, so deduplication does not drop all but the first. The event's user and device ids
/// are the creator context; its user and event properties are ignored.
fn group_identifies(t: Track, ops: PropertyOps) -> Vec<GroupIdentify> {
    let many = t.groups.value_count() > 1;
    t.groups
        .pairs()
        .map(|(group_type, group_value)| GroupIdentify {
            group_type: group_type.to_owned(),
            group_value: group_value.to_owned(),
            ops: ops.clone(),
            time: t.time,
            insert_id: t
                .insert_id
                .as_ref()
                .map(|id| if many { format!("{id}:{group_type}:{group_value}") } else { id.clone() }),
            user_id: t.user_id.clone(),
            device_id: t.device_id.clone(),
            extra: t.extra.clone(),
        })
        .collect()
}
