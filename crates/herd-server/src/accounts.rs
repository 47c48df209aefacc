//! Accounts and dynamic group properties over HTTP, with HTTP Basic `api_key:secret_key`:
//!
//! - `GET /api/v1/groups/{group_type}?where=…&history=true&sort=-members&limit=&offset=`: the accounts list. Each
//!   `where` is `<field><op><value>` with `=`, `!=`, `~` (contains), `!~`, `<`, `<=`, `>`, `>=`; several values
//!   separated by `|` are alternatives; fields are a group property name, `dyn:<name>` (a dynamic property),
//!   `$value`, `$members`, `$first_seen`, `$last_seen` (ms). `sort` takes a field, `-` in front for descending.
//! - `GET /api/v1/groups/{group_type}/{group_value}?recent=50`: one group's profile.
//! - `GET /api/v1/dynamic-properties`, `PUT|DELETE /api/v1/dynamic-properties/{name}`: definitions, stored as the
//!   project setting `dynamic_property.<name>` (so `herd project set` and the admin API see them too).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herd_model::accounts::{AccountField, AccountFilter, AccountSort, AccountsQuery, DynamicProperty};
use herd_model::report::FilterOp;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, Fault};
use crate::export::query_project;
use crate::query::query_error;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::herd(Fault::BadRequest, "Invalid request", message)
}

/// A field name as the query string writes it.
pub fn parse_field(text: &str) -> Result<AccountField, ApiError> {
    let text = text.trim();
    Ok(match text {
        "" => return Err(bad("a where/sort field is empty; name a group property, dyn:<name> or $members")),
        "$value" => AccountField::Value,
        "$members" => AccountField::Members,
        "$first_seen" => AccountField::FirstSeen,
        "$last_seen" => AccountField::LastSeen,
        t if t.starts_with('$') => {
            return Err(bad(format!("unknown field {t:?}; built-ins are $value, $members, $first_seen, $last_seen")));
        }
        t => match t.strip_prefix("dyn:") {
            Some(name) => AccountField::Dynamic(name.to_owned()),
            None => AccountField::Property(t.to_owned()),
        },
    })
}

/// `<field><op><value>`.
pub fn parse_where(text: &str) -> Result<AccountFilter, ApiError> {
    const OPS: [(&str, FilterOp); 8] = [
        ("!=", FilterOp::IsNot),
        ("!~", FilterOp::DoesNotContain),
        ("<=", FilterOp::LessOrEqual),
        (">=", FilterOp::GreaterOrEqual),
        ("=", FilterOp::Is),
        ("~", FilterOp::Contains),
        ("<", FilterOp::Less),
        (">", FilterOp::Greater),
    ];
    let at = text.find(['!', '=', '~', '<', '>']).ok_or_else(|| {
        bad(format!("where={text:?} has no operator; write e.g. where=plan=Enterprise or where=dyn:wau>5"))
    })?;
    let rest = &text[at..];
    let (sym, op) = OPS
        .iter()
        .find(|(sym, _)| rest.starts_with(sym))
        .ok_or_else(|| bad(format!("where={text:?}: unknown operator; use =, !=, ~, !~, <, <=, >, >=")))?;
    let values: Vec<String> = rest[sym.len()..].split('|').map(str::to_owned).collect();
    Ok(AccountFilter { field: parse_field(&text[..at])?, op: *op, values })
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, ApiError> {
    text.trim().parse().map_err(|_| bad(format!("{name}={text:?} is not a number")))
}

/// The accounts query a query string describes.
pub fn parse_accounts_query(group_type: String, query: &str) -> Result<AccountsQuery, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| bad(format!("the query string is malformed: {e}")))?;
    let mut q = AccountsQuery { group_type, filters: Vec::new(), history: false, sort: None, limit: 100, offset: 0 };
    for (k, v) in pairs {
        match k.as_str() {
            "where" => q.filters.push(parse_where(&v)?),
            "history" => {
                q.history = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad(format!("history={v:?}: use true or false"))),
                }
            }
            "sort" => {
                let (field, descending) = match v.strip_prefix('-') {
                    Some(f) => (f, true),
                    None => (v.as_str(), false),
                };
                q.sort = Some(AccountSort { field: parse_field(field)?, descending });
            }
            "limit" => q.limit = number("limit", &v)?,
            "offset" => q.offset = number("offset", &v)?,
            other => {
                return Err(bad(format!("unknown parameter {other:?}; use where, history, sort, limit, offset")));
            }
        }
    }
    Ok(q)
}

fn check_group_type(project: &herd_store::ProjectStore, group_type: &str) -> Result<(), ApiError> {
    let known = project.stats().map_err(ApiError::store)?.group_types;
    if known.iter().any(|k| k == group_type) {
        Ok(())
    } else {
        Err(ApiError::herd(
            Fault::NotFound,
            "Not found",
            format!("{group_type:?} is not a group type of this project; known: [{}]", known.join(", ")),
        ))
    }
}

pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(group_type): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let q = parse_accounts_query(group_type, query.as_deref().unwrap_or(""))?;
        check_group_type(&project, &q.group_type)?;
        let result = s.queries.accounts(project, q).await.map_err(query_error)?;
        Ok::<_, ApiError>(Json(json!({"data": result})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn profile(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((group_type, group_value)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("the query string is malformed: {e}")))?;
        let mut recent = 50;
        for (k, v) in pairs {
            match k.as_str() {
                "recent" => recent = number::<usize>("recent", &v)?.min(1000),
                other => return Err(bad(format!("unknown parameter {other:?}; use recent"))),
            }
        }
        check_group_type(&project, &group_type)?;
        let profile = s
            .queries
            .group_profile(project, group_type.clone(), group_value.clone(), recent)
            .await
            .map_err(query_error)?
            .ok_or_else(|| {
                ApiError::herd(Fault::NotFound, "Not found", format!("no group {group_type} = {group_value:?}"))
            })?;
        Ok::<_, ApiError>(Json(json!({"data": profile})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn list_dynamic(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let defs = DynamicProperty::all_in(&project.record().settings);
        Ok::<_, ApiError>(Json(json!({"data": defs})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

fn set_definition(
    s: &AppState,
    project: &herd_store::ProjectStore,
    key: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    let record = project.record();
    crate::settings::check(&record.settings, key, value).map_err(bad)?;
    s.store.set_setting(&record.name, key, value).map_err(ApiError::store)?;
    Ok(())
}

pub async fn put_dynamic(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        herd_model::accounts::check_name(&name).map_err(bad)?;
        let mut def: Value = serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
        let Some(obj) = def.as_object_mut() else {
            return Err(bad("send the definition as a JSON object"));
        };
        match obj.get("name") {
            None => {
                obj.insert("name".into(), Value::String(name.clone()));
            }
            Some(Value::String(n)) if *n == name => {}
            Some(other) => return Err(bad(format!("the body's name {other} differs from the path's {name:?}"))),
        }
        let parsed = DynamicProperty::parse(&def.to_string()).map_err(bad)?;
        let stored = serde_json::to_string(&parsed).expect("definitions serialise");
        set_definition(&s, &project, &parsed.setting_key(), Some(&stored))?;
        Ok::<_, ApiError>(Json(json!({"data": parsed})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn delete_dynamic(State(s): State<AppState>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let key = format!("{}{name}", herd_model::accounts::DYNAMIC_PROPERTY_SETTING_PREFIX);
        if !project.record().settings.contains_key(&key) {
            return Err(ApiError::herd(Fault::NotFound, "Not found", format!("no dynamic property {name:?}")));
        }
        set_definition(&s, &project, &key, None)?;
        Ok::<_, ApiError>(Json(json!({"data": {"deleted": name}})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_clauses() {
        let f = parse_where("plan=Enterprise|Growth").unwrap();
        assert_eq!(
            (f.field, f.op, f.values),
            (AccountField::Property("plan".into()), FilterOp::Is, vec!["Enterprise".into(), "Growth".into()])
        );
        let f = parse_where("dyn:wau>=5").unwrap();
        assert_eq!((f.field, f.op), (AccountField::Dynamic("wau".into()), FilterOp::GreaterOrEqual));
        assert_eq!(parse_where("name!~acme").unwrap().op, FilterOp::DoesNotContain);
        assert_eq!(parse_where("$members<3").unwrap().field, AccountField::Members);
        assert!(parse_where("plan").is_err());
        assert!(parse_where("$nope=1").is_err());
        assert!(parse_where("=x").is_err());
    }
}
