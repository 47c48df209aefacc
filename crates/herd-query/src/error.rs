//! Errors of queries, split by fault: the request (a bad report or SQL) or the machine (storage, engine).

/// A result with [`QueryError`].
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The report or SQL asks for something invalid; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The engine failed while planning or running.
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Reading the project's data failed.
    #[error("store: {0}")]
    Store(herd_store::StoreError),
    /// The query task panicked or was cancelled (a bug or a shutdown, never the sender's fault).
    #[error("query task failed: {0}")]
    Task(String),
}

impl QueryError {
    /// True when the sender should fix the request (a 400), false for server faults.
    pub fn is_invalid_request(&self) -> bool {
        match self {
            QueryError::Invalid(_) => true,
            // Planning errors of user-written SQL (unknown column, syntax) are the sender's to fix.
            QueryError::Engine(e) => matches!(
                e.find_root(),
                datafusion::error::DataFusionError::Plan(_)
                    | datafusion::error::DataFusionError::SQL(..)
                    | datafusion::error::DataFusionError::SchemaError(..)
                    | datafusion::error::DataFusionError::NotImplemented(_)
            ),
            _ => false,
        }
    }
}
