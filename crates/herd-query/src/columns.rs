//! Which typed columns (segment format v2, `herd_store::shred`) a query session can read instead of the JSON
//! bags: the union of the segments' and the tail's typed columns, minus the keys some of them left as JSON.
//! Segment footers are read once per file and remembered (segments are immutable).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use herd_model::StoredEvent;
use herd_store::segment::{self, SegmentLayout};
use herd_store::shred;

use crate::error::{QueryError, Result};

/// How a property reference can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Typed {
    /// From this typed column (a quoted SQL identifier).
    Column(String),
    /// No event of the snapshot has it: NULL.
    Absent,
    /// From the JSON bag.
    Json,
}

/// The typed columns of one query session's `events`.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    present: HashSet<String>,
    unshredded: HashSet<String>,
    /// Everything from JSON: a segment older than format v2 is in the snapshot, or no catalog was registered.
    json_only: bool,
}

/// A quoted SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Columns {
    /// Everything from JSON (sessions without a snapshot's catalog).
    pub(crate) fn json_only() -> Columns {
        Columns { json_only: true, ..Default::default() }
    }

    pub(crate) fn get(&self, name: &str) -> Typed {
        if self.json_only || self.unshredded.contains(name) {
            Typed::Json
        } else if self.present.contains(name) {
            Typed::Column(quote(name))
        } else {
            Typed::Absent
        }
    }

    /// `, "col", …`: every typed column, for SELECT lists that carry columns through layers (unused ones are
    /// pruned by the optimizer).
    pub(crate) fn carried(&self) -> String {
        if self.json_only {
            return String::new();
        }
        let mut names: Vec<&String> = self.present.iter().collect();
        names.sort();
        names.iter().map(|n| format!(", {}", quote(n))).collect()
    }
}

/// The catalog of a session, or "everything from JSON" when the session has none.
pub(crate) fn of(ctx: &SessionContext) -> Arc<Columns> {
    ctx.state().config().get_extension::<Columns>().unwrap_or_else(|| Arc::new(Columns::json_only()))
}

type LayoutKey = (PathBuf, u64, Option<std::time::SystemTime>);

/// A segment's footer, remembered by path, size and modification time.
fn layout(path: &Path) -> Result<Arc<SegmentLayout>> {
    static CACHE: OnceLock<Mutex<HashMap<LayoutKey, Arc<SegmentLayout>>>> = OnceLock::new();
    let Ok(stat) = std::fs::metadata(path) else {
        // Unreadable: the footer read reports why.
        return Ok(Arc::new(segment::layout(path).map_err(QueryError::Store)?));
    };
    let key = (path.to_owned(), stat.len(), stat.modified().ok());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().expect("layout cache lock").get(&key) {
        return Ok(found.clone());
    }
    let found = Arc::new(segment::layout(path).map_err(QueryError::Store)?);
    cache.lock().expect("layout cache lock").insert(key, found.clone());
    Ok(found)
}

/// What a session registers: the `events` schema, the tail as one batch of it, and the column catalog.
pub(crate) struct EventsLayout {
    pub schema: SchemaRef,
    pub tail: RecordBatch,
    pub columns: Columns,
}

/// Reads the segments' footers and converts the tail, and unites their typed columns.
pub(crate) fn events_layout(segment_files: &[PathBuf], tail: &[StoredEvent]) -> Result<EventsLayout> {
    let mut typed: BTreeMap<String, Field> = BTreeMap::new();
    let mut columns = Columns::default();
    for path in segment_files {
        let l = layout(path)?;
        if l.format < 2 {
            columns.json_only = true;
        }
        for f in l.schema.fields() {
            if shred::is_typed_column(f.name()) {
                typed.entry(f.name().clone()).or_insert_with(|| f.as_ref().clone().with_nullable(true));
            }
        }
        columns.unshredded.extend(l.unshredded.iter().cloned());
    }
    let (tail_batch, tail_unshredded) = segment::to_batch_v2(tail).map_err(QueryError::Store)?;
    for f in tail_batch.schema().fields() {
        if shred::is_typed_column(f.name()) {
            typed.entry(f.name().clone()).or_insert_with(|| f.as_ref().clone().with_nullable(true));
        }
    }
    columns.unshredded.extend(tail_unshredded);
    let mut fields: Vec<Field> = segment::schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    columns.present.extend(typed.keys().cloned());
    fields.extend(typed.into_values());
    let schema = Arc::new(Schema::new(fields));
    let rows = tail_batch.num_rows();
    let tail_columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| tail_batch.column_by_name(f.name()).cloned().unwrap_or_else(|| new_null_array(f.data_type(), rows)))
        .collect();
    let tail = RecordBatch::try_new(schema.clone(), tail_columns)?;
    Ok(EventsLayout { schema, tail, columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_answers() {
        let mut c = Columns::default();
        c.present.insert("e.a".into());
        c.present.insert("e.b".into());
        c.unshredded.insert("e.b".into());
        assert_eq!(c.get("e.a"), Typed::Column("\"e.a\"".into()));
        assert_eq!(c.get("e.b"), Typed::Json);
        assert_eq!(c.get("e.c"), Typed::Absent);
        assert_eq!(Columns::json_only().get("e.a"), Typed::Json);
        assert_eq!(c.carried(), r#", "e.a", "e.b""#);
    }
}
