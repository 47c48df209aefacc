//! Renders commands as JSON for snapshots: every field, empty ones left out.

use herd_model::{Command, PropertyOps, Revenue};
use herd_segment::{CallKind, SegmentRequest, SegmentSettings, parse};
use serde_json::{Map, Value, json};

/// 2015-12-12T19:11:01.266Z, the `receivedAt` of Segment's track example.
pub(crate) const RECEIVED: i64 = 1_449_947_461_266;

fn ops_json(ops: &PropertyOps) -> Value {
    let mut out = Map::new();
    if ops.clear_all {
        out.insert("$clearAll".into(), true.into());
    }
    for (op, args) in &ops.ops {
        out.insert(op.name().into(), Value::Object(args.clone()));
    }
    if !ops.plain.is_empty() {
        out.insert("plain".into(), Value::Object(ops.plain.clone()));
    }
    Value::Object(out)
}

fn put(out: &mut Map<String, Value>, key: &str, value: Value) {
    let empty = match &value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if !empty {
        out.insert(key.into(), value);
    }
}

fn revenue_json(revenue: &Revenue) -> Value {
    serde_json::to_value(revenue).unwrap_or(Value::Null)
}

/// One command as JSON: `{"command": "track", …fields}`.
pub(crate) fn command_to_json(command: &Command) -> Value {
    let mut out = Map::new();
    match command {
        Command::Track(t) => {
            out.insert("command".into(), "track".into());
            put(&mut out, "event_type", t.event_type.clone().into());
            put(&mut out, "user_id", json!(t.user_id));
            put(&mut out, "device_id", json!(t.device_id));
            put(&mut out, "time", json!(t.time));
            put(&mut out, "client_upload_time", json!(t.client_upload_time));
            put(&mut out, "insert_id", json!(t.insert_id));
            put(&mut out, "session_id", json!(t.session_id));
            put(&mut out, "event_properties", Value::Object(t.event_properties.clone()));
            put(&mut out, "user_ops", ops_json(&t.user_ops));
            put(&mut out, "groups", t.groups.to_json());
            put(&mut out, "device", json!(t.device));
            put(&mut out, "revenue", revenue_json(&t.revenue));
            put(&mut out, "extra", Value::Object(t.extra.clone()));
        }
        Command::Identify(i) => {
            out.insert("command".into(), "identify".into());
            put(&mut out, "user_id", json!(i.user_id));
            put(&mut out, "device_id", json!(i.device_id));
            put(&mut out, "time", json!(i.time));
            put(&mut out, "insert_id", json!(i.insert_id));
            put(&mut out, "user_ops", ops_json(&i.user_ops));
            put(&mut out, "groups", i.groups.to_json());
            put(&mut out, "device", json!(i.device));
            put(&mut out, "extra", Value::Object(i.extra.clone()));
        }
        Command::GroupIdentify(g) => {
            out.insert("command".into(), "group_identify".into());
            put(&mut out, "group_type", g.group_type.clone().into());
            put(&mut out, "group_value", g.group_value.clone().into());
            put(&mut out, "ops", ops_json(&g.ops));
            put(&mut out, "user_id", json!(g.user_id));
            put(&mut out, "device_id", json!(g.device_id));
            put(&mut out, "time", json!(g.time));
            put(&mut out, "insert_id", json!(g.insert_id));
            put(&mut out, "extra", Value::Object(g.extra.clone()));
        }
        Command::Alias(a) => {
            out.insert("command".into(), "alias".into());
            put(&mut out, "user_id", a.user_id.clone().into());
            put(&mut out, "previous_id", a.previous_id.clone().into());
            put(&mut out, "time", json!(a.time));
        }
    }
    Value::Object(out)
}

pub(crate) fn commands_to_json(commands: &[Command]) -> Value {
    commands.iter().map(command_to_json).collect()
}

/// A whole accepted request as JSON: commands, origins, rejections, warnings, write key.
pub(crate) fn request_to_json(r: &SegmentRequest) -> Value {
    let mut out = Map::new();
    put(&mut out, "write_key_in_body", json!(r.write_key_in_body));
    out.insert("call_count".into(), r.call_count.into());
    out.insert("commands".into(), commands_to_json(&r.commands));
    out.insert("command_origin".into(), json!(r.command_origin));
    put(&mut out, "rejected", r.rejected.iter().map(|p| p.to_json()).collect());
    put(&mut out, "warnings", json!(r.warnings));
    Value::Object(out)
}

/// Parses `body` for `path` with `settings`, received at [`RECEIVED`].
pub(crate) fn parse_with(path: &str, body: &Value, settings: &SegmentSettings) -> Result<SegmentRequest, Value> {
    let kind = CallKind::from_path(path).ok_or_else(|| json!({"unknown path": path}))?;
    parse(kind, body.to_string().as_bytes(), settings, RECEIVED).map_err(|e| e.body())
}

/// Parses with default settings and renders the result or the error body.
pub(crate) fn render(path: &str, body: &Value) -> Value {
    render_with(path, body, &SegmentSettings::default())
}

pub(crate) fn render_with(path: &str, body: &Value, settings: &SegmentSettings) -> Value {
    match parse_with(path, body, settings) {
        Ok(r) => request_to_json(&r),
        Err(body) => json!({"refused": body}),
    }
}
