//! Amplitude's Behavioral Cohorts API, the parts that carry cohorts in and out: upload (`POST
//! /api/3/cohorts/upload`), list (`GET /api/3/cohorts`) and the three-step download (`/api/5/cohorts/request/…`).
//!
//! Decisions where Amplitude's docs are silent:
//! - **Upload.** `name`, `id_type` (`BY_AMP_ID` | `BY_USER_ID`; for group cohorts both mean the group value) and
//!   `ids` are required; `app_id`, `owner` and `published` are accepted as Amplitude requires them but not checked
//!   (`app_id` is the project the key belongs to). `cg` names a group type for a cohort of groups.
//!   `existing_cohort_id` replaces that cohort's ids. Duplicate and blank ids are dropped. `skip_invalid_ids` and
//!   `skip_save` are accepted; `skip_save: true` answers without saving.
//! - **Response.** `{"cohortId", "cohort_id", "metadata": {"matched", "totals", "invalid_ids_sample"}}`: both
//!   spellings of the id (the current and the older docs); `matched` counts ids that name a known user or group.
//! - **Download.** The request answers 202 with a request id; the job is done at once, so the status answers 200
//!   `JOB COMPLETED`, and the file is computed when fetched (behavioural cohorts as of then): CSV with a header,
//!   `amplitude_id,user_id` for users, `group_value` for groups.

use herd_model::cohort::{Cohort, CohortDefinition, CohortMembers, IdType, ids_from_lines};
use herd_model::report::CountBy;
use serde_json::{Value, json};

use crate::dashboard::{DashboardError, invalid};

/// A parsed upload.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortUpload {
    pub name: String,
    pub id_type: IdType,
    pub ids: Vec<String>,
    pub count_by: CountBy,
    pub owner: String,
    pub published: bool,
    pub existing_cohort_id: Option<String>,
    pub skip_save: bool,
}

fn text_field(obj: &serde_json::Map<String, Value>, field: &str) -> Result<Option<String>, DashboardError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(field, format!("must be a string, got {other}"))),
    }
}

/// Parses the JSON body of `POST /api/3/cohorts/upload`.
pub fn parse_cohort_upload(body: &[u8]) -> Result<CohortUpload, DashboardError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| DashboardError::BadJson { param: "body".into(), detail: e.to_string() })?;
    let Value::Object(obj) = value else {
        return Err(invalid("body", "must be a JSON object {\"name\", \"id_type\", \"ids\", …}"));
    };
    let name = text_field(&obj, "name")?.filter(|n| !n.trim().is_empty());
    let name = name.ok_or(DashboardError::Missing { param: "name" })?;
    let id_type = match text_field(&obj, "id_type")?.as_deref() {
        Some("BY_AMP_ID" | "BY_ID") => IdType::ByAmpId,
        Some("BY_USER_ID" | "BY_NAME") => IdType::ByUserId,
        None => return Err(DashboardError::Missing { param: "id_type" }),
        Some(other) => return Err(invalid("id_type", format!("is {other:?}; use BY_AMP_ID or BY_USER_ID"))),
    };
    let ids = match obj.get("ids") {
        Some(Value::Array(items)) => {
            let mut lines = String::new();
            for (i, v) in items.iter().enumerate() {
                match v {
                    Value::String(s) => lines.push_str(s),
                    Value::Number(n) => lines.push_str(&n.to_string()),
                    other => return Err(invalid(format!("ids[{i}]"), format!("must be a string, got {other}"))),
                }
                lines.push('\n');
            }
            ids_from_lines(&lines)
        }
        None | Some(Value::Null) => return Err(DashboardError::Missing { param: "ids" }),
        Some(_) => return Err(invalid("ids", "must be a JSON array of ids")),
    };
    let count_by = match text_field(&obj, "cg")?.as_deref().map(str::trim) {
        None | Some("" | "User") => CountBy::User,
        Some(t) => CountBy::Group(t.to_owned()),
    };
    Ok(CohortUpload {
        name,
        id_type,
        ids,
        count_by,
        owner: text_field(&obj, "owner")?.unwrap_or_default(),
        published: obj.get("published").and_then(Value::as_bool).unwrap_or(false),
        existing_cohort_id: text_field(&obj, "existing_cohort_id")?,
        skip_save: obj.get("skip_save").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The upload's answer.
pub fn cohort_upload_response(id: &str, matched: usize, totals: usize, invalid_sample: &[String]) -> Value {
    json!({"cohortId": id, "cohort_id": id,
           "metadata": {"matched": matched, "totals": totals, "invalid_ids_sample": invalid_sample}})
}

/// One cohort as `GET /api/3/cohorts` lists it; `size` is its membership now.
pub fn cohort_summary(c: &Cohort, size: usize) -> Value {
    let count_group = match &c.count_by {
        CountBy::User => "User".to_owned(),
        CountBy::Group(t) => t.clone(),
    };
    let definition = match &c.definition {
        CohortDefinition::Static { .. } => {
            json!({"version": 3, "countGroup": {"name": count_group, "is_computed": false},
            "cohortType": "UNIQUES", "type": "static"})
        }
        CohortDefinition::Behavioral { event, min_count, days } => json!({"version": 3,
            "countGroup": {"name": count_group, "is_computed": false}, "cohortType": "UNIQUES",
            "andClauses": [{"negated": false, "orClauses": [{"type": "event", "time_type": "rolling",
                "time_value": days, "offset": 0, "interval": 1, "type_value": event_name(event), "operator": ">=",
                "operator_value": min_count, "group_by": [], "metric": null}]}]}),
    };
    json!({"id": c.id, "name": c.name, "appId": null, "archived": false, "definition": definition,
           "description": "", "finished": true, "owners": [c.owner], "viewers": [], "published": c.published,
           "size": size, "type": match c.definition { CohortDefinition::Static { .. } => "static", _ => "behavioral" },
           "lastMod": c.updated_ms / 1000, "createdAt": c.updated_ms / 1000, "lastComputed": null, "hidden": false})
}

fn event_name(e: &herd_model::report::EventSpec) -> String {
    match &e.event {
        herd_model::report::EventSelector::Named(n) => n.clone(),
        herd_model::report::EventSelector::Any => "_all".into(),
        _ => "_active".into(),
    }
}

/// `GET /api/3/cohorts`.
pub fn cohorts_response(cohorts: &[(Cohort, usize)]) -> Value {
    json!({"cohorts": cohorts.iter().map(|(c, n)| cohort_summary(c, *n)).collect::<Vec<_>>()})
}

/// The download's first two steps: the request and its (always completed) status.
pub fn cohort_request_response(request_id: &str, cohort_id: &str, completed: bool) -> Value {
    let mut body = json!({"request_id": request_id, "cohort_id": cohort_id});
    if completed {
        body["async_status"] = "JOB COMPLETED".into();
    }
    body
}

/// The downloaded file.
pub fn cohort_csv(members: &CohortMembers) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
    };
    let mut out = String::new();
    match members {
        CohortMembers::Users(users) => {
            out.push_str("amplitude_id,user_id\n");
            for (id, uid) in users {
                out.push_str(&format!("{id},{}\n", quote(uid.as_deref().unwrap_or(""))));
            }
        }
        CohortMembers::Groups(values) => {
            out.push_str("group_value\n");
            for v in values {
                out.push_str(&quote(v));
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_bodies() {
        let u = parse_cohort_upload(
            br#"{"name":"Big","app_id":1,"id_type":"BY_USER_ID","ids":["A"," B","A",""],"owner":"me@x.io","published":true,"cg":"org"}"#,
        )
        .unwrap();
        assert_eq!(
            (u.ids.clone(), u.count_by.clone()),
            (vec!["A".to_owned(), "B".to_owned()], CountBy::Group("org".into()))
        );
        assert!(parse_cohort_upload(br#"{"name":"x","ids":[]}"#).unwrap_err().to_string().contains("id_type"));
        assert!(
            parse_cohort_upload(br#"{"name":"x","id_type":"BY_EMAIL","ids":[]}"#)
                .unwrap_err()
                .to_string()
                .contains("BY_AMP_ID")
        );
        assert!(parse_cohort_upload(b"[").is_err());
    }

    #[test]
    fn csv_quotes() {
        let csv = cohort_csv(&CohortMembers::Users(vec![(7, Some("a,b".into())), (8, None)]));
        assert_eq!(csv, "amplitude_id,user_id\n7,\"a,b\"\n8,\n");
    }
}
