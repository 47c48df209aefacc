//! Accounts: every group of one type with its current properties, first and last seen, members, events and dynamic
//! properties; filters on any of these (property filters optionally also on past values), sorting and paging; and
//! one group's profile (property history from its group identifications, members, latest events).
//!
//! Members are the union of users in the group at user level (identify, `setGroup`, Segment `group`) and users
//! whose events carried the group; anonymous users merged into an identified one count as that user.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::{Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use herd_model::accounts::{
    Account, AccountField, AccountFilter, AccountsQuery, AccountsResult, DynamicProperty, GroupProfile, Member,
    PropertyChange,
};
use herd_model::{GROUP_IDENTIFY_EVENT, IDENTIFY_EVENT, Properties};
use herd_store::ProjectStore;
use serde_json::Value;

use crate::compile::{lit, op_name};
use crate::error::{QueryError, Result};
use crate::udf::{flat_values, matches, text_of};

/// What one member did in one group.
#[derive(Debug, Clone, Copy, Default)]
struct Activity {
    events: u64,
    last_ms: Option<i64>,
    user_level: bool,
}

/// One past group identification of a group.
#[derive(Debug, Clone)]
struct Snapshot {
    time_ms: i64,
    amplitude_id: Option<u64>,
    properties: Properties,
}

/// Everything known about the groups of one type, loaded once per request.
pub(crate) struct Facts {
    group_type: String,
    accounts: Vec<Account>,
    members: HashMap<String, HashMap<u64, Activity>>,
    /// Group value → its group identifications, oldest first (loaded when asked for).
    history: HashMap<String, Vec<Snapshot>>,
    user_ids: HashMap<u64, Option<String>>,
    dynamic_names: Vec<String>,
}

fn strings(b: &RecordBatch, i: usize) -> Result<StringArray> {
    let a = cast(b.column(i), &DataType::Utf8)?;
    Ok(a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
}

fn ints(b: &RecordBatch, i: usize) -> Result<Int64Array> {
    let a = cast(b.column(i), &DataType::Int64)?;
    Ok(a.as_any().downcast_ref::<Int64Array>().expect("cast to Int64").clone())
}

fn uints(b: &RecordBatch, i: usize) -> Result<UInt64Array> {
    let a = cast(b.column(i), &DataType::UInt64)?;
    Ok(a.as_any().downcast_ref::<UInt64Array>().expect("cast to UInt64").clone())
}

async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    tracing::debug!(%sql, "accounts query");
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// The events of one group type, one row per (event, group value) as `unit`.
fn unnested(ctx: &SessionContext, group_type: &str, columns: &str, condition: &str) -> String {
    let values = match crate::columns::of(ctx).get(&herd_store::shred::group_column(group_type)) {
        crate::columns::Typed::Column(c) => c,
        _ => format!("herd_values(groups, {})", lit(group_type)),
    };
    format!("SELECT unnest({values}) AS unit, {columns} FROM events WHERE {condition}")
}

fn not_state_changes() -> String {
    format!("event_type NOT IN ({}, {})", lit(IDENTIFY_EVENT), lit(GROUP_IDENTIFY_EVENT))
}

impl Facts {
    pub(crate) async fn load(
        ctx: &SessionContext,
        project: &ProjectStore,
        group_type: &str,
        now_ms: i64,
        with_history: bool,
    ) -> Result<Facts> {
        let users = project.users().map_err(QueryError::Store)?;
        let canonical: HashMap<u64, u64> =
            users.iter().filter_map(|(id, u)| u.merged_into.map(|into| (*id, into))).collect();
        let canon = |id: u64| canonical.get(&id).copied().unwrap_or(id);
        let user_ids: HashMap<u64, Option<String>> = users.iter().map(|(id, u)| (*id, u.user_id.clone())).collect();

        let mut members: HashMap<String, HashMap<u64, Activity>> = HashMap::new();
        let sql = format!(
            "SELECT unit, amplitude_id, COUNT(*) AS events, MAX(CAST(event_time AS BIGINT)) AS last FROM ({}) u \
             WHERE amplitude_id IS NOT NULL GROUP BY unit, amplitude_id",
            unnested(ctx, group_type, "amplitude_id, event_time", &not_state_changes())
        );
        for b in collect(ctx, &sql).await? {
            let (unit, aid, events, last) = (strings(&b, 0)?, uints(&b, 1)?, ints(&b, 2)?, ints(&b, 3)?);
            for row in 0..b.num_rows() {
                let a =
                    members.entry(unit.value(row).to_owned()).or_default().entry(canon(aid.value(row))).or_default();
                a.events += events.value(row) as u64;
                a.last_ms = a.last_ms.max(Some(last.value(row)));
            }
        }
        for (id, u) in &users {
            for v in u.groups.0.get(group_type).into_iter().flatten() {
                members.entry(v.clone()).or_default().entry(canon(*id)).or_default().user_level = true;
            }
        }

        let mut history: HashMap<String, Vec<Snapshot>> = HashMap::new();
        if with_history {
            let sql = format!(
                "SELECT unit, CAST(event_time AS BIGINT), amplitude_id, group_properties FROM ({}) h ORDER BY seq",
                unnested(
                    ctx,
                    group_type,
                    "event_time, amplitude_id, group_properties, seq",
                    &format!("event_type = {}", lit(GROUP_IDENTIFY_EVENT))
                )
            );
            for b in collect(ctx, &sql).await? {
                let (unit, time, aid, props) = (strings(&b, 0)?, ints(&b, 1)?, uints(&b, 2)?, strings(&b, 3)?);
                for row in 0..b.num_rows() {
                    let unit = unit.value(row);
                    let all: Value = serde_json::from_str(props.value(row)).unwrap_or(Value::Null);
                    let properties = all[group_type][unit].as_object().cloned().unwrap_or_default();
                    history.entry(unit.to_owned()).or_default().push(Snapshot {
                        time_ms: time.value(row),
                        amplitude_id: aid.is_valid(row).then(|| aid.value(row)),
                        properties,
                    });
                }
            }
        }

        let record = project.record();
        let defs: Vec<DynamicProperty> =
            DynamicProperty::all_in(&record.settings).into_iter().filter(|d| d.group_type == group_type).collect();
        let zone = crate::project_zone(&record.settings)?;
        let mut dynamic: Vec<(String, HashMap<String, f64>)> = Vec::new();
        for def in &defs {
            dynamic.push((def.name.clone(), crate::dynamic::compute(ctx, def, now_ms, zone).await?));
        }

        let accounts = project
            .groups()
            .map_err(QueryError::Store)?
            .into_iter()
            .filter(|(t, _, _)| t == group_type)
            .map(|(t, value, state)| {
                let m = members.get(&value);
                Account {
                    group_type: t,
                    properties: state.properties,
                    first_seen_ms: state.first_seen_ms,
                    last_seen_ms: m.and_then(|m| m.values().filter_map(|a| a.last_ms).max()),
                    members: m.map_or(0, |m| m.len() as u64),
                    events: m.map_or(0, |m| m.values().map(|a| a.events).sum()),
                    creator_amplitude_id: state.creator_amplitude_id,
                    dynamic: dynamic
                        .iter()
                        .map(|(name, values)| (name.clone(), values.get(&value).copied().unwrap_or(0.0)))
                        .collect(),
                    group_value: value,
                }
            })
            .collect();
        Ok(Facts {
            group_type: group_type.to_owned(),
            accounts,
            members,
            history,
            user_ids,
            dynamic_names: defs.into_iter().map(|d| d.name).collect(),
        })
    }

    fn check_field(&self, field: &AccountField) -> Result<()> {
        if let AccountField::Dynamic(name) = field
            && !self.dynamic_names.contains(name)
        {
            return Err(QueryError::Invalid(format!(
                "{name:?} is not a dynamic property of group type {:?}; defined: [{}]",
                self.group_type,
                self.dynamic_names.join(", ")
            )));
        }
        Ok(())
    }
}

/// The value(s) of a field of an account, as text (numbers as JSON numbers would print).
fn field_values(a: &Account, field: &AccountField, properties: &Properties) -> Vec<String> {
    let number = |x: f64| text_of(&Value::from(x));
    match field {
        AccountField::Property(k) => properties.get(k).map(|v| flat_values(&[v])).unwrap_or_default(),
        AccountField::Dynamic(name) => a.dynamic.get(name).map(|x| vec![number(*x)]).unwrap_or_default(),
        AccountField::Value => vec![a.group_value.clone()],
        AccountField::Members => vec![a.members.to_string()],
        AccountField::FirstSeen => vec![a.first_seen_ms.to_string()],
        AccountField::LastSeen => a.last_seen_ms.map(|t| vec![t.to_string()]).unwrap_or_default(),
    }
}

fn keeps(facts: &Facts, a: &Account, f: &AccountFilter, history: bool) -> bool {
    let holds = |props: &Properties| matches(op_name(f.op), &field_values(a, &f.field, props), &f.values);
    if holds(&a.properties) {
        return true;
    }
    history
        && matches!(f.field, AccountField::Property(_))
        && facts.history.get(&a.group_value).is_some_and(|snaps| snaps.iter().any(|s| holds(&s.properties)))
}

/// Numbers before text, missing values last (whatever the direction).
fn compare(a: &[String], b: &[String]) -> Ordering {
    match (a.first(), b.first()) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        },
    }
}

/// An accounts list.
pub(crate) fn list(facts: &Facts, q: &AccountsQuery) -> Result<AccountsResult> {
    for f in &q.filters {
        facts.check_field(&f.field)?;
    }
    if let Some(s) = &q.sort {
        facts.check_field(&s.field)?;
    }
    if q.limit == 0 || q.limit > 10_000 {
        return Err(QueryError::Invalid(format!("limit must be 1–10000, got {}", q.limit)));
    }
    let mut rows: Vec<&Account> =
        facts.accounts.iter().filter(|a| q.filters.iter().all(|f| keeps(facts, a, f, q.history))).collect();
    let (field, descending) = match &q.sort {
        Some(s) => (s.field.clone(), s.descending),
        None => (AccountField::Members, true),
    };
    rows.sort_by(|a, b| {
        let (va, vb) = (field_values(a, &field, &a.properties), field_values(b, &field, &b.properties));
        let order = match (va.is_empty(), vb.is_empty(), descending) {
            (false, false, true) => compare(&vb, &va),
            _ => compare(&va, &vb),
        };
        order.then_with(|| a.group_value.cmp(&b.group_value))
    });
    Ok(AccountsResult { total: rows.len(), accounts: rows.into_iter().skip(q.offset).take(q.limit).cloned().collect() })
}

/// Property changes between consecutive group identifications.
fn changes(snapshots: &[Snapshot]) -> Vec<PropertyChange> {
    let mut before = Properties::new();
    let mut out = Vec::new();
    for s in snapshots {
        let mut changed = BTreeMap::new();
        for k in before.keys().chain(s.properties.keys()) {
            let (old, new) = (before.get(k).cloned().unwrap_or(Value::Null), s.properties.get(k).cloned());
            let new = new.unwrap_or(Value::Null);
            if old != new {
                changed.insert(k.clone(), [old, new]);
            }
        }
        if !changed.is_empty() {
            out.push(PropertyChange { time_ms: s.time_ms, amplitude_id: s.amplitude_id, changes: changed });
        }
        before = s.properties.clone();
    }
    out
}

/// One group's profile.
pub(crate) async fn profile(
    ctx: &SessionContext,
    facts: &Facts,
    group_value: &str,
    recent: usize,
) -> Result<Option<GroupProfile>> {
    let Some(account) = facts.accounts.iter().find(|a| a.group_value == group_value).cloned() else {
        return Ok(None);
    };
    let mut members: Vec<Member> = facts
        .members
        .get(group_value)
        .into_iter()
        .flatten()
        .map(|(id, a)| Member {
            amplitude_id: *id,
            user_id: facts.user_ids.get(id).cloned().flatten(),
            user_level: a.user_level,
            events: a.events,
            last_seen_ms: a.last_ms,
        })
        .collect();
    members.sort_by(|a, b| b.events.cmp(&a.events).then(a.amplitude_id.cmp(&b.amplitude_id)));
    let sql = format!(
        "SELECT event_type, event_time, amplitude_id, user_id, device_id, event_properties, groups FROM ({}) r \
         WHERE unit = {} ORDER BY event_time DESC, seq DESC LIMIT {}",
        unnested(
            ctx,
            &facts.group_type,
            "event_type, event_time, amplitude_id, user_id, device_id, event_properties, groups, seq",
            &not_state_changes()
        ),
        lit(group_value),
        recent.min(1000)
    );
    let mut recent_events = crate::rows::to_json_rows(&collect(ctx, &sql).await?)?;
    for row in &mut recent_events {
        for key in ["event_properties", "groups"] {
            if let Some(Value::String(text)) = row.get(key) {
                let parsed = serde_json::from_str(text).unwrap_or(Value::Null);
                row.insert(key.to_owned(), parsed);
            }
        }
    }
    Ok(Some(GroupProfile {
        history: changes(facts.history.get(group_value).map(Vec::as_slice).unwrap_or_default()),
        account,
        members,
        recent_events,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap(t: i64, props: Value) -> Snapshot {
        Snapshot { time_ms: t, amplitude_id: None, properties: props.as_object().cloned().unwrap() }
    }

    #[test]
    fn history_lists_what_changed() {
        let h = changes(&[
            snap(1, json!({"plan": "free"})),
            snap(2, json!({"plan": "free"})),
            snap(3, json!({"plan": "pro", "seats": 5})),
            snap(4, json!({"seats": 5})),
        ]);
        assert_eq!(h.len(), 3, "the repeated identification changed nothing: {h:?}");
        assert_eq!(h[0].changes["plan"], [Value::Null, json!("free")]);
        assert_eq!(h[1].changes["plan"], [json!("free"), json!("pro")]);
        assert_eq!(h[1].changes["seats"], [Value::Null, json!(5)]);
        assert_eq!(h[2].changes.keys().collect::<Vec<_>>(), ["plan"]);
    }

    #[test]
    fn sorting_puts_numbers_first_and_missing_last() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(compare(&s(&["9"]), &s(&["10"])), Ordering::Less);
        assert_eq!(compare(&s(&["10"]), &s(&["abc"])), Ordering::Less);
        assert_eq!(compare(&s(&[]), &s(&["abc"])), Ordering::Greater);
    }
}
