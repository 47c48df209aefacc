//! Errors of the store, split by who is at fault: the request (a rejection) or the machine (storage).

use std::path::PathBuf;

/// A result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Something went wrong inside the store. None of these is the sender's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (usually a running `herd serve`) holds the data directory.
    #[error("data directory {dir} is in use by another herd process")]
    Locked { dir: PathBuf },
    /// The embedded database failed.
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    /// A file could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A persisted record could not be decoded.
    #[error("corrupt or unknown record in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// A Parquet segment could not be written or read.
    #[error("segment error: {0}")]
    Segment(String),
    /// A project with that name or key already exists.
    #[error("{0}")]
    Conflict(String),
    /// No such project.
    #[error("no project named {0:?}")]
    NoSuchProject(String),
    /// The project's writer has stopped (the server is shutting down).
    #[error("the project's writer has stopped")]
    WriterStopped,
}

macro_rules! via_redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(redb::Error::from(e))
            }
        }
    )*};
}
via_redb_error!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.into(), source }
    }
}

/// Why one request was refused. The request changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A group identification names a group type the project cannot take any more.
    #[error(
        "group type {group_type:?} cannot be added: the project already uses {limit} group types ({known}); \
         send one of those, or raise `limits.max_group_types` in the server config"
    )]
    GroupTypeLimit { group_type: String, limit: usize, known: String },
}
