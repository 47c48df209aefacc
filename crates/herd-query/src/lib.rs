//! Herd's query layer: reports (event segmentation by users or by any group type, with stamped or current
//! properties) compiled to SQL in one place ([`compile`]) and run by DataFusion over a project's Parquet segments
//! plus its unflushed log tail, so an acknowledged event is counted by the next query. Read-only SQL over the
//! `events`, `users` and `groups` tables of one project is available as is.
//!
//! Query work runs on its own Tokio runtime ([`QueryEngine`]), apart from the HTTP and ingest threads.

mod accounts;
mod aggregates;
pub mod buckets;
mod catalog;
mod cohorts;
mod columns;
pub mod compile;
mod compile_stream;
mod dynamic;
mod engagement;
mod error;
pub mod formula;
mod funnel;
mod retention;
pub mod rows;
mod segmentation;
mod session;
mod udf;
mod udf_typed;

#[cfg(test)]
mod typed_equivalence;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use herd_model::accounts::{AccountsQuery, AccountsResult, GroupProfile};
use herd_model::cohort::{Cohort, CohortMembers};
use herd_model::engagement::{Lifecycle, LifecycleResult, Stickiness, StickinessResult};
use herd_model::funnel::{Funnel, FunnelResult};
use herd_model::report::{CountBy, PropertyMode, Segmentation, SegmentationResult};
use herd_model::retention::{Retention, RetentionResult};
use herd_store::ProjectStore;

pub use catalog::{EventTypeStats, UserSummary};
pub use error::{QueryError, Result};

/// The project setting that holds its reporting time zone (IANA name or offset; default UTC).
pub const TIME_ZONE_SETTING: &str = "time_zone";

/// Runs reports on a runtime of their own.
#[derive(Debug)]
pub struct QueryEngine {
    /// Always `Some` until drop; taken there so it can be shut down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
    /// "Now" for dynamic-property windows; the wall clock unless fixed (tests).
    fixed_now_ms: Option<i64>,
}

impl Drop for QueryEngine {
    /// Dropping a runtime normally blocks on its workers, which panics inside another runtime (the server's);
    /// running queries are abandoned instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl QueryEngine {
    /// A query runtime with `threads` worker threads.
    pub fn new(threads: usize) -> std::io::Result<QueryEngine> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("herd-query")
            .enable_all()
            .build()?;
        Ok(QueryEngine { runtime: Some(runtime), fixed_now_ms: None })
    }

    /// The same engine with "now" fixed, so that dynamic properties' windows are reproducible.
    pub fn with_fixed_now(mut self, now_ms: i64) -> QueryEngine {
        self.fixed_now_ms = Some(now_ms);
        self
    }

    fn now_ms(&self) -> i64 {
        self.fixed_now_ms.unwrap_or_else(herd_store::now_ms)
    }

    /// Runs `f` on the query runtime and waits for it from any async context.
    async fn spawn<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.runtime
            .as_ref()
            .expect("runtime lives until drop")
            .spawn(f)
            .await
            .map_err(|e| QueryError::Task(e.to_string()))?
    }

    /// An event segmentation chart.
    pub async fn segmentation(&self, project: Arc<ProjectStore>, req: Segmentation) -> Result<SegmentationResult> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, req.property_mode == PropertyMode::Current).await?;
            let filters = req.events.iter().flat_map(|e| e.filters.iter()).chain(req.segments.iter().flatten());
            let group_bys = req.events.iter().flat_map(|e| e.group_by.iter()).collect();
            let buckets = dynamic::prepare(&loaded.ctx, &project, filters.collect(), group_bys, now).await?;
            segmentation::segmentation(&loaded.ctx, &req, &buckets).await
        })
        .await
    }

    /// A funnel chart.
    pub async fn funnel(&self, project: Arc<ProjectStore>, req: Funnel) -> Result<FunnelResult> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, req.property_mode == PropertyMode::Current).await?;
            let filters = req.steps.iter().flat_map(|s| s.filters.iter()).chain(req.segments.iter().flatten());
            let group_bys = req.group_by.iter().collect();
            let buckets = dynamic::prepare(&loaded.ctx, &project, filters.collect(), group_bys, now).await?;
            funnel::funnel(&loaded.ctx, &req, &buckets).await
        })
        .await
    }

    /// A retention chart.
    pub async fn retention(&self, project: Arc<ProjectStore>, req: Retention) -> Result<RetentionResult> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, req.property_mode == PropertyMode::Current).await?;
            let filters = req.start.filters.iter().chain(&req.returning.filters).chain(req.segments.iter().flatten());
            let group_bys = req.group_by.iter().collect();
            let buckets = dynamic::prepare(&loaded.ctx, &project, filters.collect(), group_bys, now).await?;
            retention::retention(&loaded.ctx, &req, &buckets, now).await
        })
        .await
    }

    /// A stickiness chart.
    pub async fn stickiness(&self, project: Arc<ProjectStore>, req: Stickiness) -> Result<StickinessResult> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, req.property_mode == PropertyMode::Current).await?;
            let filters = req.event.filters.iter().chain(req.segments.iter().flatten());
            let buckets = dynamic::prepare(&loaded.ctx, &project, filters.collect(), Vec::new(), now).await?;
            engagement::stickiness(&loaded.ctx, &req, &buckets).await
        })
        .await
    }

    /// A lifecycle chart.
    pub async fn lifecycle(&self, project: Arc<ProjectStore>, req: Lifecycle) -> Result<LifecycleResult> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, req.property_mode == PropertyMode::Current).await?;
            let filters = req.event.filters.iter().chain(req.segments.iter().flatten());
            let buckets = dynamic::prepare(&loaded.ctx, &project, filters.collect(), Vec::new(), now).await?;
            engagement::lifecycle(&loaded.ctx, &req, &buckets).await
        })
        .await
    }

    /// The members of cohort `id` now (behavioural cohorts computed from the events).
    pub async fn cohort_members(&self, project: Arc<ProjectStore>, id: String) -> Result<CohortMembers> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, false).await?;
            let cohorts = Cohort::all_in(&project.record().settings);
            let cohort = cohorts::find(&cohorts, &id)?;
            let members = cohorts::members(&loaded.ctx, cohort, now).await?;
            let users =
                if cohort.count_by == CountBy::User { project.users().map_err(QueryError::Store)? } else { Vec::new() };
            Ok(members.resolve(&users))
        })
        .await
    }

    /// The groups of one type with their properties, activity and dynamic properties, filtered and sorted.
    pub async fn accounts(&self, project: Arc<ProjectStore>, query: AccountsQuery) -> Result<AccountsResult> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, false).await?;
            let facts = accounts::Facts::load(&loaded.ctx, &project, &query.group_type, now, query.history).await?;
            accounts::list(&facts, &query)
        })
        .await
    }

    /// One group's profile: its account row, property history, members and latest `recent` events; `None` when
    /// the group does not exist.
    pub async fn group_profile(
        &self,
        project: Arc<ProjectStore>,
        group_type: String,
        group_value: String,
        recent: usize,
    ) -> Result<Option<GroupProfile>> {
        let now = self.now_ms();
        self.spawn(async move {
            let loaded = session::open(&project, false).await?;
            let facts = accounts::Facts::load(&loaded.ctx, &project, &group_type, now, true).await?;
            accounts::profile(&loaded.ctx, &facts, &group_value, recent).await
        })
        .await
    }

    /// Every event type of the project with its counts since `period_start_ms`, first and last seen and event
    /// property names.
    pub async fn event_types(&self, project: Arc<ProjectStore>, period_start_ms: i64) -> Result<Vec<EventTypeStats>> {
        self.spawn(async move {
            let loaded = session::open(&project, false).await?;
            catalog::event_types(&loaded.ctx, period_start_ms).await
        })
        .await
    }

    /// The events of a user (its `amplitude_id`s), latest or earliest first, paged.
    pub async fn user_events(
        &self,
        project: Arc<ProjectStore>,
        amplitude_ids: Vec<u64>,
        offset: usize,
        limit: usize,
        latest_first: bool,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        self.spawn(async move {
            let loaded = session::open(&project, false).await?;
            catalog::user_events(&loaded.ctx, &amplitude_ids, offset, limit, latest_first).await
        })
        .await
    }

    /// What the events of a user (its `amplitude_id`s) add up to.
    pub async fn user_summary(&self, project: Arc<ProjectStore>, amplitude_ids: Vec<u64>) -> Result<UserSummary> {
        self.spawn(async move {
            let loaded = session::open(&project, false).await?;
            catalog::user_summary(&loaded.ctx, &amplitude_ids).await
        })
        .await
    }

    /// Read-only SQL over the project's `events`, `users` and `groups` tables. Only one `SELECT` (or `WITH …
    /// SELECT`, `EXPLAIN`, `SHOW`, `DESCRIBE`) statement is accepted.
    pub async fn sql(&self, project: Arc<ProjectStore>, sql: String) -> Result<Vec<RecordBatch>> {
        self.spawn(async move {
            let loaded = session::open(&project, true).await?;
            let options = datafusion::execution::context::SQLOptions::new()
                .with_allow_ddl(false)
                .with_allow_dml(false)
                .with_allow_statements(false);
            let df = loaded.ctx.sql_with_options(&sql, options).await?;
            Ok(df.collect().await?)
        })
        .await
    }
}

/// The reporting time zone of a project (its `time_zone` setting, default UTC).
pub fn project_zone(settings: &std::collections::BTreeMap<String, String>) -> Result<buckets::Zone> {
    let name = settings.get(TIME_ZONE_SETTING).map(String::as_str).unwrap_or("UTC");
    buckets::Zone::parse(name).map_err(QueryError::Invalid)
}
