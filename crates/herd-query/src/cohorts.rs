//! Cohort membership at query time, and `herd_cohort(ids_json, amplitude_id, user_id, groups)`: true when the
//! event's user (for a cohort of users) or one of its groups of the cohort's type (for a cohort of groups) is in
//! any of the cohorts named. Static cohorts are their lists; behavioural ones are computed from the events when
//! the query starts, over the `days` before "now".

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;
use herd_model::cohort::{Cohort, CohortDefinition, CohortMembers, IdType};
use herd_model::report::{CountBy, Filter, PropertyMode, PropertySource};
use serde_json::Value;

use crate::compile::{Aggregate, Scope};
use crate::error::{QueryError, Result};
use crate::udf::Args;

const DAY_MS: i64 = 86_400_000;

/// Who is in one cohort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Members {
    Users { amplitude_ids: HashSet<String>, user_ids: HashSet<String> },
    Groups { group_type: String, values: HashSet<String> },
}

impl Members {
    /// The members as users (resolved against the project's users) or group values.
    pub(crate) fn resolve(&self, users: &[(u64, herd_store::UserState)]) -> CohortMembers {
        match self {
            Members::Users { amplitude_ids, user_ids } => CohortMembers::Users(
                users
                    .iter()
                    .filter(|(id, u)| {
                        amplitude_ids.contains(&id.to_string())
                            || u.user_id.as_ref().is_some_and(|uid| user_ids.contains(uid))
                    })
                    .map(|(id, u)| (*id, u.user_id.clone()))
                    .collect(),
            ),
            Members::Groups { values, .. } => {
                let mut v: Vec<String> = values.iter().cloned().collect();
                v.sort();
                CohortMembers::Groups(v)
            }
        }
    }
}

/// The cohort `id` of the project, or a message listing the known ones.
pub(crate) fn find<'a>(cohorts: &'a [Cohort], id: &str) -> Result<&'a Cohort> {
    cohorts.iter().find(|c| c.id == id).ok_or_else(|| {
        let known: Vec<&str> = cohorts.iter().map(|c| c.id.as_str()).collect();
        QueryError::Invalid(format!("unknown cohort {id:?}; this project's cohorts: [{}]", known.join(", ")))
    })
}

/// The members of `cohort` now.
pub(crate) async fn members(ctx: &SessionContext, cohort: &Cohort, now_ms: i64) -> Result<Members> {
    let empty = || match &cohort.count_by {
        CountBy::User => Members::Users { amplitude_ids: HashSet::new(), user_ids: HashSet::new() },
        CountBy::Group(t) => Members::Groups { group_type: t.clone(), values: HashSet::new() },
    };
    let mut m = empty();
    match &cohort.definition {
        CohortDefinition::Static { id_type, ids } => match &mut m {
            Members::Users { amplitude_ids, user_ids } => match id_type {
                IdType::ByAmpId => amplitude_ids.extend(ids.iter().cloned()),
                IdType::ByUserId => user_ids.extend(ids.iter().cloned()),
            },
            Members::Groups { values, .. } => values.extend(ids.iter().cloned()),
        },
        CohortDefinition::Behavioral { event, min_count, days } => {
            let no_buckets = HashMap::new();
            let columns = crate::columns::of(ctx);
            let rows = Aggregate {
                scope: Scope {
                    count_by: &cohort.count_by,
                    mode: PropertyMode::Stamped,
                    dynamic_buckets: &no_buckets,
                    columns: &columns,
                },
                event,
                segment: &[],
                value: None,
                start_ms: now_ms - i64::from(*days) * DAY_MS,
                end_ms: now_ms,
                interval: herd_model::report::Interval::Day,
                time_zone: "UTC",
                by_bucket: false,
                bare: false,
                histogram: None,
            };
            let sql = format!(
                "SELECT CAST(unit AS VARCHAR) FROM ({}) r GROUP BY unit HAVING COUNT(*) >= {min_count}",
                rows.filtered()?
            );
            let found: HashSet<String> = ctx
                .sql(&sql)
                .await?
                .collect()
                .await?
                .iter()
                .flat_map(|b| {
                    let a = cast(b.column(0), &DataType::Utf8).expect("text casts");
                    let a = a.as_string::<i32>();
                    (0..a.len()).filter(|i| a.is_valid(*i)).map(|i| a.value(i).to_owned()).collect::<Vec<_>>()
                })
                .collect();
            match &mut m {
                Members::Users { amplitude_ids, .. } => *amplitude_ids = found,
                Members::Groups { values, .. } => *values = found,
            }
        }
    }
    Ok(m)
}

/// The cohort ids named by `filters`.
pub(crate) fn referenced<'f>(filters: impl Iterator<Item = &'f Filter>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for f in filters.filter(|f| f.property.source == PropertySource::Cohort) {
        for v in &f.values {
            if !ids.contains(v) {
                ids.push(v.clone());
            }
        }
    }
    ids
}

/// Computes the cohorts `filters` name and registers `herd_cohort` with them.
pub(crate) async fn register<'f>(
    ctx: &SessionContext,
    settings: &std::collections::BTreeMap<String, String>,
    filters: impl Iterator<Item = &'f Filter>,
    now_ms: i64,
) -> Result<()> {
    let ids = referenced(filters);
    if ids.is_empty() {
        return Ok(());
    }
    let cohorts = Cohort::all_in(settings);
    let mut by_id = HashMap::new();
    for id in ids {
        let cohort = find(&cohorts, &id)?;
        by_id.insert(id, members(ctx, cohort, now_ms).await?);
    }
    ctx.register_udf(ScalarUDF::new_from_impl(HerdCohort {
        signature: Signature::variadic_any(Volatility::Immutable),
        cohorts: Arc::new(by_id),
    }));
    Ok(())
}

/// The function with no cohorts (every session has it, so that SQL naming it fails with a clear message only
/// for unknown ids).
pub(crate) fn empty_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(HerdCohort {
        signature: Signature::variadic_any(Volatility::Immutable),
        cohorts: Arc::new(HashMap::new()),
    })
}

#[derive(Debug)]
struct HerdCohort {
    signature: Signature,
    cohorts: Arc<HashMap<String, Members>>,
}

impl PartialEq for HerdCohort {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cohorts, &other.cohorts)
    }
}
impl Eq for HerdCohort {}
impl std::hash::Hash for HerdCohort {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.cohorts) as usize).hash(state);
    }
}

impl HerdCohort {
    fn is_member(&self, ids: &[String], amplitude_id: Option<&str>, user_id: Option<&str>, groups: &Value) -> bool {
        ids.iter().filter_map(|id| self.cohorts.get(id)).any(|m| match m {
            Members::Users { amplitude_ids, user_ids } => {
                amplitude_id.is_some_and(|a| amplitude_ids.contains(a)) || user_id.is_some_and(|u| user_ids.contains(u))
            }
            Members::Groups { group_type, values } => match groups.get(group_type) {
                Some(Value::Array(items)) => items.iter().any(|v| values.contains(&crate::udf::text_of(v))),
                Some(v) if !v.is_null() => values.contains(&crate::udf::text_of(v)),
                _ => false,
            },
        })
    }
}

impl ScalarUDFImpl for HerdCohort {
    fn name(&self) -> &str {
        "herd_cohort"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let a = Args::new(&args)?;
        if a.len() != 4 {
            return Err(datafusion::common::DataFusionError::Plan(
                "herd_cohort(ids_json, amplitude_id, user_id, groups)".into(),
            ));
        }
        let mut out = Vec::with_capacity(args.number_rows);
        let mut memo: HashMap<Vec<Option<&str>>, bool> = HashMap::new();
        for row in 0..args.number_rows {
            let answer = *memo.entry(a.key(row)).or_insert_with(|| {
                let ids: Vec<String> = serde_json::from_str(a.value(0, row)).unwrap_or_default();
                let text = |i: usize| a.valid(i, row).then(|| a.value(i, row));
                let groups = text(3).and_then(|g| serde_json::from_str(g).ok()).unwrap_or(Value::Null);
                self.is_member(&ids, text(1), text(2), &groups)
            });
            out.push(Some(answer));
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }
}
