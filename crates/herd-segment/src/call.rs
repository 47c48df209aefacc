//! One Segment call (track, identify, group, page, screen, alias) → Herd commands, with Segment's validation
//! (research `segment.md` §2, §3). See the crate docs for the mapping table and the decisions.

use herd_model::{
    Alias, Command, GroupIdentify, GroupSet, IdCheck, IdRules, Identify, Properties, PropertyOps, Revenue, Track,
    Value, check_id,
};

use crate::context::{amplitude_groups, device_fields, group_scalar, group_user_properties, session_id, utm_ops};
use crate::error::CallProblem;
use crate::request::CallKind;
use crate::settings::SegmentSettings;
use crate::timestamp::{corrected_time, parse_iso_ms};
use crate::traits::{lookup, normalize_group_traits};
use crate::values::{describe, number, scalar_string};

/// The group type used when the group type/value traits are not configured or not in the call (SD-amp
/// "Legacy Group Behavior").
pub const SEGMENT_GROUP_TYPE: &str = "[Segment] Group";

/// Envelope fields that carry nothing for Herd once the call is parsed: removed so they do not land in `extra`.
const ENVELOPE: [&str; 8] = ["type", "action", "writeKey", "sentAt", "receivedAt", "version", "channel", "_metadata"];

/// What every call of one request shares.
pub(crate) struct Env<'a> {
    pub(crate) settings: &'a SegmentSettings,
    pub(crate) received_at_ms: i64,
    /// The batch-level `sentAt`, parsed.
    pub(crate) batch_sent_at: Option<i64>,
    pub(crate) in_batch: bool,
}

/// A call being read: fields are removed as they are read, so what is left is the sender's extra fields.
struct Call<'a> {
    obj: Properties,
    index: usize,
    label: String,
    /// `(code, what)`; the first code names the call's problem, every `what` goes in the message.
    problems: Vec<(&'static str, String)>,
    /// Ids that were sent but could not be used, e.g. `` `userId` "null" ``, for the `no_user_anon_id` message.
    unusable_ids: Vec<String>,
    warnings: &'a mut Vec<String>,
}

impl Call<'_> {
    fn problem(&mut self, code: &'static str, what: String) {
        self.problems.push((code, what));
    }

    fn warn(&mut self, what: String) {
        self.warnings.push(format!("{}: {what}", self.label));
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.obj.shift_remove(key).filter(|v| !v.is_null())
    }

    /// An optional object; anything else is the problem `code`.
    fn object(&mut self, key: &str, code: &'static str) -> Option<Properties> {
        match self.take(key)? {
            Value::Object(map) => Some(map),
            other => {
                self.problem(code, format!("`{key}` must be a JSON object, got {}", describe(&other)));
                None
            }
        }
    }

    /// An optional object whose wrong type is only worth a warning (`context`, `integrations`).
    fn lenient_object(&mut self, key: &str) -> Properties {
        match self.take(key) {
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.warn(format!("`{key}` must be a JSON object, got {}; ignored", describe(&other)));
                Properties::new()
            }
            None => Properties::new(),
        }
    }

    /// An optional string; numbers are taken in their JSON spelling; blank is absent.
    fn string(&mut self, key: &str, code: &'static str) -> Option<String> {
        let value = self.take(key)?;
        match &value {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(_) | Value::Number(_) => scalar_string(&value),
            other => {
                self.problem(code, format!("`{key}` must be a string, got {}", describe(other)));
                None
            }
        }
    }

    /// A string that is only worth a warning when it has the wrong type (`messageId`).
    fn lenient_string(&mut self, key: &str) -> Option<String> {
        let value = self.take(key)?;
        match &value {
            Value::String(_) | Value::Number(_) => scalar_string(&value),
            other => {
                self.warn(format!("`{key}` must be a string, got {}; ignored", describe(other)));
                None
            }
        }
    }

    /// `userId`, `anonymousId`, `previousId`: strings (numbers accepted, as analytics-python sends them as
    /// strings anyway); placeholders such as `"null"` or `"undefined"` count as absent, with a warning.
    fn id(&mut self, key: &str) -> Option<String> {
        let value = self.take(key)?;
        let Some(id) = (match &value {
            Value::String(_) | Value::Number(_) => scalar_string(&value),
            _ => None,
        }) else {
            if !matches!(&value, Value::String(_)) {
                self.warn(format!("`{key}` must be a string, got {}; ignored", describe(&value)));
                self.unusable_ids.push(format!("`{key}` ({})", describe(&value)));
            }
            return None;
        };
        match check_id(Some(&id), IdRules { min_id_length: 1 }) {
            IdCheck::Valid | IdCheck::TooShort => Some(id),
            IdCheck::Missing => None,
            IdCheck::Invalid => {
                self.warn(format!("`{key}` {id:?} is a placeholder that identifies no one; ignored"));
                self.unusable_ids.push(format!("`{key}` {id:?}"));
                None
            }
        }
    }

    /// The call's event time: `originalTimestamp` (or `timestamp`) corrected by `sentAt`.
    fn time(&mut self, env: &Env<'_>) -> Option<i64> {
        let original_key = if self.obj.get("originalTimestamp").is_some_and(|v| !v.is_null()) {
            "originalTimestamp"
        } else {
            "timestamp"
        };
        let original = self.take(original_key);
        // A replayed, already corrected `timestamp` is superseded by `originalTimestamp`.
        self.obj.shift_remove("timestamp");
        self.obj.shift_remove("originalTimestamp");
        let original = original.and_then(|v| self.iso(original_key, &v));
        let sent = match self.obj.get("sentAt").filter(|v| !v.is_null()).cloned() {
            Some(v) => self.iso("sentAt", &v),
            None => env.batch_sent_at,
        };
        corrected_time(env.received_at_ms, sent, original)
    }

    fn iso(&mut self, key: &str, value: &Value) -> Option<i64> {
        let parsed = value.as_str().and_then(parse_iso_ms);
        if parsed.is_none() {
            let got = describe(value);
            self.warn(format!("`{key}` must be an ISO-8601 time such as 2024-01-31T12:00:00.000Z, got {got}; ignored"));
        }
        parsed
    }

    /// User traits: top-level `traits`, else `context.traits` (where RudderStack's SDKs put them).
    fn user_traits(&mut self, context: &Properties) -> Option<Properties> {
        let top = self.object("traits", "traits_not_object");
        top.or_else(|| context.get("traits").and_then(Value::as_object).cloned())
    }

    /// Traits as user-property operations: plain traits are `$set`; `$set`/`$add`/… objects pass through, as
    /// Actions' "Increment Traits" relies on. Unparsable operations are kept as plain properties.
    fn trait_ops(&mut self, traits: Option<Properties>) -> PropertyOps {
        let Some(traits) = traits else { return PropertyOps::default() };
        PropertyOps::parse(&traits).unwrap_or_else(|e| {
            self.warn(format!("traits: {e}; all traits were set as plain properties"));
            PropertyOps { plain: traits, ..PropertyOps::default() }
        })
    }
}

/// How a call is named in messages: `batch[3] (track)` or `the track call`.
fn label(kind: CallKind, index: usize, in_batch: bool) -> String {
    if in_batch { format!("batch[{index}] ({})", kind.as_str()) } else { format!("the {} call", kind.as_str()) }
}

/// Converts one call. Problems are collected for the whole call and reported together.
pub(crate) fn convert_call(
    kind: CallKind,
    index: usize,
    obj: Properties,
    env: &Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Command>, CallProblem> {
    let label = label(kind, index, env.in_batch);
    let mut call = Call { obj, index, label, problems: Vec::new(), unusable_ids: Vec::new(), warnings };
    let time = call.time(env);
    for key in ENVELOPE {
        call.obj.shift_remove(key);
    }
    let context = call.lenient_object("context");
    let integrations = call.lenient_object("integrations");
    let insert_id = call.lenient_string("messageId");
    let user_id = call.id("userId");
    let device_id = call.id("anonymousId");
    let common = Common { user_id, device_id, time, insert_id, device: device_fields(&context) };
    let commands = match kind {
        CallKind::Track | CallKind::Page | CallKind::Screen => {
            event(&mut call, kind, env.settings, common, &context, &integrations)
        }
        CallKind::Identify => identify(&mut call, common, &context, &integrations),
        CallKind::Group => group(&mut call, env.settings, common, &context),
        CallKind::Alias => alias(&mut call, common),
        CallKind::Batch => {
            call.problem("unknown_type", "a call inside a batch cannot itself be a batch".into());
            Vec::new()
        }
    };
    match call.problems.first() {
        None => Ok(commands),
        Some((code, _)) => {
            let whats: Vec<&str> = call.problems.iter().map(|(_, w)| w.as_str()).collect();
            Err(CallProblem { index: call.index, code, message: format!("{}: {}", call.label, whats.join("; ")) })
        }
    }
}

/// Fields every call maps the same way.
struct Common {
    user_id: Option<String>,
    device_id: Option<String>,
    time: Option<i64>,
    insert_id: Option<String>,
    device: herd_model::DeviceFields,
}

impl Common {
    /// Segment: "each payload has a userId and/or anonymousId" (SD-http), else `no_user_anon_id`.
    fn require_id(&self, call: &mut Call<'_>) {
        if self.user_id.is_some() || self.device_id.is_some() {
            return;
        }
        let what = if call.unusable_ids.is_empty() {
            "needs a `userId` or an `anonymousId`; neither was sent".to_owned()
        } else {
            format!(
                "needs a `userId` or an `anonymousId`; ignored {} (placeholders such as \"null\" or \
                 \"undefined\", and non-strings, identify no one)",
                call.unusable_ids.join(" and ")
            )
        };
        call.problem("no_user_anon_id", what);
    }
}

/// track, page and screen → one [`Track`].
fn event(
    call: &mut Call<'_>,
    kind: CallKind,
    settings: &SegmentSettings,
    c: Common,
    context: &Properties,
    integrations: &Properties,
) -> Vec<Command> {
    c.require_id(call);
    let mut properties = call.object("properties", "properties_not_object").unwrap_or_default();
    let (event_type, revenue) = if kind == CallKind::Track {
        let event = match call.take("event") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::String(_)) | None => {
                call.problem(
                    "event_not_defined",
                    "`event` is required: the name of the action, e.g. \"Order Completed\"".into(),
                );
                String::new()
            }
            Some(other) => {
                call.problem("event_not_string", format!("`event` must be a string, got {}", describe(&other)));
                String::new()
            }
        };
        let revenue = revenue_of(&event, &properties);
        (event, revenue)
    } else {
        // facade `Page.properties()`: `name` and `category` are added to the properties, the call's own winning.
        let name = call.string("name", "name_not_string").or_else(|| properties.get("name").and_then(scalar_string));
        let category = call
            .string("category", "category_not_string")
            .or_else(|| properties.get("category").and_then(scalar_string));
        let naming = if kind == CallKind::Page { &settings.page_event_name } else { &settings.screen_event_name };
        let event_type = naming.event_name(name.as_deref(), category.as_deref());
        if let Some(category) = category {
            properties.insert("category".to_owned(), Value::from(category));
        }
        if let Some(name) = name {
            properties.insert("name".to_owned(), Value::from(name));
        }
        (event_type, Revenue::default())
    };
    let traits = call.user_traits(context);
    let mut user_ops = call.trait_ops(traits);
    user_ops.extend(utm_ops(context));
    let session_id = session_id(integrations).unwrap_or_else(|w| {
        call.warn(w);
        None
    });
    let track = Track {
        user_id: c.user_id,
        device_id: c.device_id,
        event_type,
        time: c.time,
        // The time is already corrected for clock skew; the store must not correct it again.
        client_upload_time: None,
        insert_id: c.insert_id,
        session_id,
        event_id: None,
        event_properties: properties,
        user_ops,
        skip_user_properties_sync: false,
        groups: amplitude_groups(integrations),
        device: c.device,
        revenue,
        extra: std::mem::take(&mut call.obj),
    };
    vec![Command::Track(Box::new(track))]
}

/// Events whose revenue type defaults to `Purchase` (AJS-amp `mapRevenueAttributes`).
fn is_purchase(event: &str) -> bool {
    ["order completed", "completed order", "product purchased"].iter().any(|e| event.eq_ignore_ascii_case(e))
}

/// Revenue as Segment's Amplitude destinations lift it (research §3.4): `revenue` (or, for Order Completed,
/// `total`, facade `track.revenue()`); `price` and `quantity` only when both are numbers (classic); `productId`
/// or `product_id`; `revenueType` or `revenue_type`, defaulting to `Purchase` for purchase events; `currency`.
/// Nothing is lifted without a revenue or a price × quantity. The properties themselves are kept, as Actions'
/// Log Purchase keeps them in `event_properties`.
fn revenue_of(event: &str, props: &Properties) -> Revenue {
    let num = |key: &str| props.get(key).and_then(number);
    let text = |keys: [&str; 2]| keys.iter().find_map(|k| props.get(*k).and_then(scalar_string));
    let quantity = num("quantity").filter(|q| q.abs() < 9.0e15).map(|q| q.round() as i64);
    let (price, quantity) = match (num("price"), quantity) {
        (Some(p), Some(q)) => (Some(p), Some(q)),
        _ => (None, None),
    };
    let is_order = ["order completed", "completed order"].iter().any(|e| event.eq_ignore_ascii_case(e));
    let revenue = num("revenue").or_else(|| if is_order { num("total") } else { None });
    if revenue.is_none() && price.is_none() {
        return Revenue::default();
    }
    Revenue {
        price,
        quantity,
        revenue,
        product_id: text(["productId", "product_id"]),
        revenue_type: text(["revenueType", "revenue_type"])
            .or_else(|| is_purchase(event).then(|| "Purchase".to_owned())),
        currency: props.get("currency").and_then(scalar_string),
    }
}

/// identify → one [`Identify`]: traits as user properties; `integrations.Amplitude.groups` as user-level groups
/// (classic: "Segment will continue to support this behavior", SD-amp §3.7).
fn identify(call: &mut Call<'_>, c: Common, context: &Properties, integrations: &Properties) -> Vec<Command> {
    c.require_id(call);
    let traits = call.user_traits(context);
    let mut user_ops = call.trait_ops(traits);
    user_ops.extend(utm_ops(context));
    let groups = amplitude_groups(integrations);
    if !groups.is_empty() {
        user_ops.extend(PropertyOps::set(group_user_properties(&groups)));
    }
    let identify = Identify {
        user_id: c.user_id,
        device_id: c.device_id,
        time: c.time,
        insert_id: c.insert_id,
        user_ops,
        groups,
        device: c.device,
        extra: std::mem::take(&mut call.obj),
    };
    vec![Command::Identify(Box::new(identify))]
}

/// group → an [`Identify`] that puts the user in the group (user-level group plus the user property
/// `type = value`, SD-amp "Segment always adds groups as user_properties") and a [`GroupIdentify`] that
/// `$set`s the group traits as group properties.
fn group(call: &mut Call<'_>, settings: &SegmentSettings, c: Common, context: &Properties) -> Vec<Command> {
    c.require_id(call);
    let reported = call.problems.len();
    let group_id = call.string("groupId", "group_id_missing");
    if group_id.is_none() && call.problems.len() == reported {
        call.problem("group_id_missing", "`groupId` is required: the group's id in your database".into());
    }
    let top = call.object("traits", "traits_not_object");
    let traits = top.or_else(|| context.get("traits").and_then(Value::as_object).cloned()).unwrap_or_default();
    let normalized = normalize_group_traits(&traits);
    let configured = settings.group_traits().map(|(type_trait, value_trait)| {
        let t = lookup(&traits, &normalized, type_trait).and_then(group_scalar).filter(|s| !s.is_empty());
        let v = lookup(&traits, &normalized, value_trait).and_then(group_scalar).filter(|s| !s.is_empty());
        (type_trait, value_trait, t, v)
    });
    let Some(group_id) = group_id else { return Vec::new() };
    let (group_type, group_value) = match configured {
        Some((_, _, Some(t), Some(v))) => (t, v),
        other => {
            if let Some((type_trait, value_trait, t, v)) = other {
                let missing: Vec<String> = [(type_trait, t.is_none()), (value_trait, v.is_none())]
                    .into_iter()
                    .filter(|(_, missing)| *missing)
                    .map(|(name, _)| format!("`{name}`"))
                    .collect();
                call.warn(format!(
                    "the group trait {} (project settings segment.group_type_trait / segment.group_value_trait) \
                     is missing or not a string or number; the user joined \"{SEGMENT_GROUP_TYPE}\" = {group_id:?} \
                     instead",
                    missing.join(" and ")
                ));
            }
            (SEGMENT_GROUP_TYPE.to_owned(), group_id.clone())
        }
    };
    if !call.problems.is_empty() {
        return Vec::new();
    }
    let mut extra = std::mem::take(&mut call.obj);
    extra.insert("groupId".to_owned(), Value::from(group_id));
    let mut groups = GroupSet::new();
    groups.insert(&group_type, &group_value);
    let identify = Identify {
        user_id: c.user_id.clone(),
        device_id: c.device_id.clone(),
        time: c.time,
        insert_id: c.insert_id.clone(),
        user_ops: PropertyOps::set(group_user_properties(&groups)),
        groups,
        device: c.device,
        extra: extra.clone(),
    };
    let mut commands = vec![Command::Identify(Box::new(identify))];
    if !normalized.is_empty() {
        // Its own insert id: the store deduplicates on (device, insert id), and this record must not be taken for
        // a duplicate of the identify above.
        let insert_id = c.insert_id.map(|id| format!("{id}:{group_type}:{group_value}"));
        commands.push(Command::GroupIdentify(Box::new(GroupIdentify {
            group_type,
            group_value,
            ops: PropertyOps::set(normalized),
            time: c.time,
            insert_id,
            user_id: c.user_id,
            device_id: c.device_id,
            extra,
        })));
    }
    commands
}

/// alias → [`Alias`]: `previousId` (an earlier user id or anonymous id) is `userId`'s user from now on.
fn alias(call: &mut Call<'_>, c: Common) -> Vec<Command> {
    let previous_id = call.id("previousId");
    if c.user_id.is_none() {
        call.problem("user_id_missing", "`userId` is required: the user's new id".into());
    }
    if previous_id.is_none() {
        call.problem(
            "previous_id_missing",
            "`previousId` is required: the user's earlier user id or anonymous id".into(),
        );
    }
    let (Some(user_id), Some(previous_id)) = (c.user_id, previous_id) else { return Vec::new() };
    if !call.obj.is_empty() {
        let keys: Vec<String> = call.obj.keys().map(|k| format!("`{k}`")).collect();
        call.warn(format!("alias calls store no properties; ignored {}", keys.join(", ")));
    }
    vec![Command::Alias(Box::new(Alias { user_id, previous_id, time: c.time }))]
}
