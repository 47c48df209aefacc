//! `POST|GET /groupidentify` (research §4): form fields `api_key`, `identification` → GroupIdentify commands.
//!
//! Each identification has `group_type` (required string), `group_value` (required string; a number or
//! boolean is taken in its JSON spelling) and optional `group_properties` (operations or plain keys).
//! `insert_id` and `time` are read; everything else (`library`, …) is kept in `extra`.
//! Errors use the Identify API's bodies ([`IdentifyError`]).

use herd_model::{Command, GroupIdentify, PropertyOps};
use serde_json::Value;

use crate::error::{EventErrors, Problem};
use crate::event::read_time;
use crate::fields::{Reader, describe};
use crate::identify::{IdentifyError, read_form_request};

/// Amplitude: "maximum number of group identifies per request is 1024".
pub const MAX_GROUP_IDENTIFICATIONS: usize = 1024;
/// Amplitude: "maximum number of group properties per request is 1024" (counted over all identifications,
/// each property of each operation once).
pub const MAX_GROUP_PROPERTIES: usize = 1024;

/// An accepted `/groupidentify` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupIdentifyRequest {
    pub api_key: String,
    /// One [`Command::GroupIdentify`] per identification, in order.
    pub commands: Vec<Command>,
    pub warnings: Vec<String>,
}

/// Parses a `/groupidentify` form body (POST) or query string (GET), including the unencoded JSON that
/// `curl --data 'identification={…}'` sends.
pub fn parse_group_identify(form: &[u8]) -> Result<GroupIdentifyRequest, IdentifyError> {
    let request = read_form_request(form, MAX_GROUP_IDENTIFICATIONS)?;
    let mut errors = EventErrors::default();
    let mut warnings = Vec::new();
    let mut commands = Vec::with_capacity(request.items.len());
    let mut property_count = 0;
    for (index, item) in request.items.into_iter().enumerate() {
        let Value::Object(obj) = item else {
            let what = format!("identification {index} must be a JSON object, got {}", describe(&item));
            errors.record(Problem::Invalid, index, &["identification"], what);
            continue;
        };
        let reader = Reader::new(obj, index, "identification", &mut errors);
        if let Some(g) = read_group_identification(reader, &mut warnings) {
            property_count += property_count_of(&g.ops);
            commands.push(Command::GroupIdentify(Box::new(g)));
        }
    }
    if !errors.is_empty() {
        return Err(IdentifyError::Invalid(Box::new(errors)));
    }
    if property_count > MAX_GROUP_PROPERTIES {
        let max = MAX_GROUP_PROPERTIES;
        return Err(IdentifyError::TooManyProperties { count: property_count, max });
    }
    Ok(GroupIdentifyRequest { api_key: request.api_key, commands, warnings })
}

fn property_count_of(ops: &PropertyOps) -> usize {
    ops.plain.len() + ops.ops.iter().map(|(_, props)| props.len()).sum::<usize>()
}

/// A required, non-blank field; `read` does the type check.
fn required(r: &mut Reader<'_>, field: &str, read: impl FnOnce(&mut Reader<'_>) -> Option<String>) -> String {
    if !r.has(field) {
        r.missing(field, &format!("`{field}` is required"));
        return String::new();
    }
    // `None`: the wrong type, already reported.
    let value = read(r);
    if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
        r.missing(field, &format!("`{field}` must not be blank"));
    }
    value.unwrap_or_default()
}

fn read_group_identification(mut reader: Reader<'_>, warnings: &mut Vec<String>) -> Option<GroupIdentify> {
    let r = &mut reader;
    let group_type = required(r, "group_type", |r| r.strict_string("group_type"));
    let group_value = required(r, "group_value", |r| r.string("group_value"));
    let properties = r.object("group_properties");
    let insert_id = r.string("insert_id");
    let time = read_time(r, "time", warnings);
    let ops = match properties.as_ref().map(PropertyOps::parse) {
        None => PropertyOps::default(),
        Some(Ok(ops)) => ops,
        Some(Err(e)) => {
            r.invalid("group_properties", &format!("`group_properties`: {e}"));
            PropertyOps::default()
        }
    };
    if r.failed() {
        return None;
    }
    Some(GroupIdentify {
        group_type: group_type.trim().to_owned(),
        group_value,
        ops,
        time,
        insert_id,
        user_id: None,
        device_id: None,
        extra: reader.rest(),
    })
}

#[cfg(test)]
mod tests;
