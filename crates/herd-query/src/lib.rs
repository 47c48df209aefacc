//! Herd's query layer: reports (event segmentation by users or by any group type, with stamped or current
//! properties) compiled to SQL in one place ([`compile`]) and run by DataFusion over a project's Parquet segments
//! plus its unflushed log tail, so an acknowledged event is counted by the next query. Read-only SQL over the
//! `events`, `users` and `groups` tables of one project is available as is.
//!
//! Query work runs on its own Tokio runtime ([`QueryEngine`]), apart from the HTTP and ingest threads.

pub mod buckets;
pub mod compile;
mod error;
pub mod formula;
pub mod rows;
mod segmentation;
mod session;
mod udf;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use herd_model::report::{PropertyMode, Segmentation, SegmentationResult};
use herd_store::ProjectStore;

pub use error::{QueryError, Result};

/// Runs reports on a runtime of their own.
#[derive(Debug)]
pub struct QueryEngine {
    /// Always `Some` until drop; taken there so it can be shut down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
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
        Ok(QueryEngine { runtime: Some(runtime) })
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
        self.spawn(async move {
            let loaded = session::open(&project, req.property_mode == PropertyMode::Current).await?;
            segmentation::segmentation(&loaded.ctx, &req).await
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
