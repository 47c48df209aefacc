//! A tracking-API request body → the commands of its calls (research `segment.md` §1).
//!
//! Single-call routes take the call object itself; batch routes take `{"batch": [...], "context"?,
//! "integrations"?, "writeKey"?, "sentAt"?}`, whose `context` and `integrations` are deep-merged under each call
//! (the call's own values win) and whose `sentAt` applies to calls that have none.

use herd_model::{Command, Properties};
use serde_json::Value;

use crate::call::{Env, convert_call};
use crate::error::{CallProblem, SegmentError};
use crate::settings::SegmentSettings;
use crate::timestamp::parse_iso_ms;
use crate::values::{describe, merge_under};
use crate::{MAX_BATCH_CALLS, MAX_CALL_BYTES};

/// The kind of call a route or a batch item carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    Track,
    Identify,
    Group,
    Page,
    Screen,
    Alias,
    /// `/v1/batch`, `/v1/import` and `/v1/b` ("Internally they're aliases", research §1.1).
    Batch,
}

impl CallKind {
    /// The kind of a route from its last path segment: `track`, `identify`, `group`, `page`, `screen`, `alias`,
    /// analytics.js 2.0's first letters `t`, `i`, `g`, `p`, `s`, `a`, and `batch`, `import`, `b`.
    /// A full path such as `/v1/track` works too.
    pub fn from_path(path: &str) -> Option<CallKind> {
        let segment = path.trim_end_matches('/').rsplit('/').next()?;
        Some(match segment {
            "track" | "t" => CallKind::Track,
            "identify" | "i" => CallKind::Identify,
            "group" | "g" => CallKind::Group,
            "page" | "p" => CallKind::Page,
            "screen" | "s" => CallKind::Screen,
            "alias" | "a" => CallKind::Alias,
            "batch" | "import" | "b" => CallKind::Batch,
            _ => return None,
        })
    }

    /// The kind of a batch item from its `type` (compared ignoring ASCII case); `None` for `batch` and unknown
    /// types.
    pub fn from_type(call_type: &str) -> Option<CallKind> {
        let kind = match call_type.to_ascii_lowercase().as_str() {
            "track" => CallKind::Track,
            "identify" => CallKind::Identify,
            "group" => CallKind::Group,
            "page" => CallKind::Page,
            "screen" => CallKind::Screen,
            "alias" => CallKind::Alias,
            _ => return None,
        };
        Some(kind)
    }

    /// The call type as Segment spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Track => "track",
            CallKind::Identify => "identify",
            CallKind::Group => "group",
            CallKind::Page => "page",
            CallKind::Screen => "screen",
            CallKind::Alias => "alias",
            CallKind::Batch => "batch",
        }
    }
}

/// An accepted request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentRequest {
    /// The body's `writeKey` (batch level, else the calls'); the server authenticates with it or with Basic auth.
    pub write_key_in_body: Option<String>,
    /// In wire order; a group call gives two commands.
    pub commands: Vec<Command>,
    /// For each command, the index of the call it came from.
    pub command_origin: Vec<usize>,
    /// Number of calls in the request (1 for single-call routes).
    pub call_count: usize,
    /// Calls of a batch that were dropped while the others were accepted (Segment answers 200 and drops them).
    pub rejected: Vec<CallProblem>,
    /// Things the sender may want to fix although nothing was refused.
    pub warnings: Vec<String>,
}

/// Counts the bytes of compact JSON without building it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A call's size as compact JSON, the way analytics-node measures its 32 KB limit (`JSON.stringify`).
fn compact_len(value: &Value) -> usize {
    let mut count = ByteCount(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// The write keys a body names, in order, without duplicates.
#[derive(Default)]
struct WriteKeys(Vec<String>);

impl WriteKeys {
    fn take_from(&mut self, obj: &mut Properties) {
        if let Some(Value::String(key)) = obj.shift_remove("writeKey") {
            let key = key.trim();
            if !key.is_empty() && !self.0.iter().any(|k| k == key) {
                self.0.push(key.to_owned());
            }
        }
    }
}

/// Parses a request body (already gunzipped) for the route `kind`.
///
/// All-or-nothing where Segment refuses the request (bad JSON, a call over 32 KB: 400); otherwise each call is
/// accepted or dropped on its own, as Segment does (see the crate docs). When no call at all can be accepted the
/// request is refused with [`SegmentError::Calls`], so the sender sees why.
pub fn parse(
    kind: CallKind,
    body: &[u8],
    settings: &SegmentSettings,
    received_at_ms: i64,
) -> Result<SegmentRequest, SegmentError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SegmentError::EmptyBody);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| SegmentError::InvalidJson(format!("the body is not valid JSON ({e})")))?;
    let Value::Object(mut root) = value else {
        return Err(SegmentError::InvalidJson(format!("the body must be a JSON object, got {}", describe(&value))));
    };
    let mut keys = WriteKeys::default();
    keys.take_from(&mut root);
    let mut out = SegmentRequest::default();
    let (items, batch_sent_at) = if kind == CallKind::Batch {
        let items = match root.shift_remove("batch") {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => {
                return Err(SegmentError::InvalidBatch(
                    "`batch` is required: an array of calls, each with its `type`".into(),
                ));
            }
            Some(other) => {
                return Err(SegmentError::InvalidBatch(format!(
                    "`batch` must be an array of calls, got {}",
                    describe(&other)
                )));
            }
        };
        if items.is_empty() {
            return Err(SegmentError::EmptyBatch);
        }
        let sent_at = match root.get("sentAt").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => {
                let parsed = v.as_str().and_then(parse_iso_ms);
                if parsed.is_none() {
                    out.warnings.push(format!(
                        "batch `sentAt` must be an ISO-8601 time, got {}; times were not corrected for clock skew",
                        describe(v)
                    ));
                }
                parsed
            }
        };
        (items, sent_at)
    } else {
        (vec![Value::Object(std::mem::take(&mut root))], None)
    };
    let shared = |key: &str| root.get(key).and_then(Value::as_object).cloned().unwrap_or_default();
    let (batch_context, batch_integrations) = (shared("context"), shared("integrations"));
    let env = Env { settings, received_at_ms, batch_sent_at, in_batch: kind == CallKind::Batch };
    out.call_count = items.len();
    for (index, item) in items.into_iter().enumerate() {
        if index >= MAX_BATCH_CALLS {
            out.rejected.push(too_many(out.call_count));
            break;
        }
        if env.in_batch {
            let size = compact_len(&item);
            if size > MAX_CALL_BYTES {
                return Err(SegmentError::CallTooLarge { index: Some(index), size: Some(size) });
            }
        }
        match item_call(kind, index, item, &batch_context, &batch_integrations, &mut keys) {
            Ok((call_kind, obj)) => match convert_call(call_kind, index, obj, &env, &mut out.warnings) {
                Ok(commands) => {
                    out.commands.extend(commands);
                    out.command_origin.resize(out.commands.len(), index);
                }
                Err(problem) => out.rejected.push(problem),
            },
            Err(problem) => out.rejected.push(problem),
        }
    }
    if keys.0.len() > 1 {
        return Err(SegmentError::ConflictingWriteKeys);
    }
    out.write_key_in_body = keys.0.pop();
    if out.commands.is_empty() {
        return Err(SegmentError::Calls(std::mem::take(&mut out.rejected)));
    }
    Ok(out)
}

/// Segment: "Each batch request can only have up to 2500 events… Segment returns a `200` response but rejects
/// the event when the number of batched events exceeds the limit" (SD-http). Herd keeps the first 2,500 calls
/// and reports the rest as one rejection.
fn too_many(count: usize) -> CallProblem {
    CallProblem {
        index: MAX_BATCH_CALLS,
        code: "batch_limit_exceeded",
        message: format!(
            "batch[{MAX_BATCH_CALLS}..{count}]: the {} calls past the first {MAX_BATCH_CALLS} were not stored; send \
             at most {MAX_BATCH_CALLS} calls per batch",
            count - MAX_BATCH_CALLS
        ),
    }
}

/// A call object with its kind, write key taken out and the batch's `context` and `integrations` merged in.
fn item_call(
    route: CallKind,
    index: usize,
    item: Value,
    batch_context: &Properties,
    batch_integrations: &Properties,
    keys: &mut WriteKeys,
) -> Result<(CallKind, Properties), CallProblem> {
    let Value::Object(mut obj) = item else {
        let message = format!("batch[{index}] must be a JSON object (a call), got {}", describe(&item));
        return Err(CallProblem { index, code: "not_an_object", message });
    };
    keys.take_from(&mut obj);
    if route != CallKind::Batch {
        // The route names the call; a `type` in the body is ignored, as RudderStack's gateway overwrites it.
        return Ok((route, obj));
    }
    // Very old libraries sent `action` instead of `type` (facade).
    let call_type = obj.get("type").or_else(|| obj.get("action")).filter(|v| !v.is_null());
    let kind = match call_type {
        Some(Value::String(t)) => CallKind::from_type(t).ok_or_else(|| {
            let message =
                format!("batch[{index}]: unknown `type` {t:?}; use track, identify, group, page, screen or alias");
            CallProblem { index, code: "unknown_type", message }
        })?,
        other => {
            let got = other.map_or_else(|| "nothing".to_owned(), describe);
            let message = format!(
                "batch[{index}]: every call in a batch needs its `type` (track, identify, group, page, screen or \
                 alias), got {got}"
            );
            return Err(CallProblem { index, code: "type_missing", message });
        }
    };
    for (key, shared) in [("context", batch_context), ("integrations", batch_integrations)] {
        if shared.is_empty() {
            continue;
        }
        match obj.get_mut(key) {
            Some(Value::Object(own)) => merge_under(own, shared),
            _ => {
                obj.insert(key.to_owned(), Value::Object(shared.clone()));
            }
        }
    }
    Ok((kind, obj))
}

/// The body's `writeKey` without converting any call: the batch-level key, else the first call's.
/// `None` for bodies that are not JSON objects or name no key. The server needs it before [`parse`] to find the
/// project (and its settings) when the client did not use Basic auth.
pub fn write_key_from_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "writeKey", default)]
        write_key: Option<Value>,
        #[serde(default)]
        batch: Option<serde::de::IgnoredAny>,
    }
    let key_of =
        |v: Option<&Value>| v.and_then(Value::as_str).map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned);
    let probe: Probe = serde_json::from_slice(body).ok()?;
    if let Some(key) = key_of(probe.write_key.as_ref()) {
        return Some(key);
    }
    probe.batch?;
    let Value::Object(root) = serde_json::from_slice::<Value>(body).ok()? else { return None };
    root.get("batch")?.as_array()?.iter().find_map(|item| key_of(item.get("writeKey")))
}
