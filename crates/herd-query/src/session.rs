//! A query session over one project: `events` (the registered Parquet segments plus the log tail, from one
//! consistent snapshot), `users` and `groups` (current state), and Herd's SQL functions.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use herd_store::ProjectStore;

use crate::error::{QueryError, Result};
use crate::udf::{self, CurrentState};

/// What a session needs from the store, read once per query.
pub(crate) struct Loaded {
    pub ctx: SessionContext,
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The runtime every session shares, so that DataFusion's caches of Parquet footers, file statistics and file
/// listings (bounded LRU caches, keyed by path, size and modification time) outlive one query: segments are
/// immutable and never reuse a path, so an entry is never stale.
fn runtime() -> Arc<RuntimeEnv> {
    static RUNTIME: OnceLock<Arc<RuntimeEnv>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| RuntimeEnvBuilder::new().build_arc().expect("the default runtime environment builds"))
        .clone()
}

/// Opens a session over `project`. `with_state` also loads current user and group properties (for current-mode
/// reports and the `users` / `groups` tables).
pub(crate) async fn open(project: &ProjectStore, with_state: bool) -> Result<Loaded> {
    let snapshot = project.snapshot().map_err(QueryError::Store)?;
    let layout = crate::columns::events_layout(&snapshot.segment_files, &snapshot.tail)?;
    let config = SessionConfig::new()
        .with_target_partitions(2)
        .with_information_schema(true)
        .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
        .with_extension(Arc::new(layout.columns));
    let ctx = SessionContext::new_with_config_rt(config, runtime());
    let (schema, tail) = (layout.schema, layout.tail);
    ctx.register_table("events_tail", Arc::new(MemTable::try_new(schema.clone(), vec![vec![tail]])?))?;
    if snapshot.segment_files.is_empty() {
        ctx.sql("CREATE VIEW events AS SELECT * FROM events_tail").await?;
    } else {
        let urls = snapshot
            .segment_files
            .iter()
            .map(|p| ListingTableUrl::parse(p.to_string_lossy()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
        ctx.register_table("events_segments", Arc::new(ListingTable::try_new(config)?))?;
        ctx.sql("CREATE VIEW events AS SELECT * FROM events_segments UNION ALL SELECT * FROM events_tail").await?;
    }

    let mut current = CurrentState::default();
    if with_state {
        let users = project.users().map_err(QueryError::Store)?;
        let groups = project.groups().map_err(QueryError::Store)?;
        ctx.register_table("users", Arc::new(users_table(&users)?))?;
        ctx.register_table("groups", Arc::new(groups_table(&groups)?))?;
        for (id, u) in users {
            current.users.insert(id, serde_json::Value::Object(u.properties).to_string());
        }
        let mut by_type: HashMap<String, HashMap<String, serde_json::Value>> = HashMap::new();
        for (t, v, g) in groups {
            by_type.entry(t).or_default().insert(v, serde_json::Value::Object(g.properties));
        }
        current.groups = by_type;
    }
    for f in udf::all(Arc::new(current)).into_iter().chain(crate::udf_typed::all()) {
        ctx.register_udf(f);
    }
    // Reports that use dynamic properties register it again with their values.
    ctx.register_udf(crate::dynamic::udf(Default::default()));
    ctx.register_udf(crate::cohorts::empty_udf());
    Ok(Loaded { ctx })
}

fn users_table(users: &[(u64, herd_store::UserState)]) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("amplitude_id", DataType::UInt64, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("device_ids", DataType::Utf8, false),
        Field::new("properties", DataType::Utf8, false),
        Field::new("groups", DataType::Utf8, false),
        Field::new("first_seen", ts(), true),
    ]));
    let mut id = UInt64Builder::new();
    let mut user_id = StringBuilder::new();
    let mut devices = StringBuilder::new();
    let mut props = StringBuilder::new();
    let mut groups = StringBuilder::new();
    let mut first = TimestampMillisecondBuilder::new().with_timezone("UTC");
    for (aid, u) in users {
        id.append_value(*aid);
        user_id.append_option(u.user_id.as_deref());
        devices.append_value(serde_json::to_string(&u.device_ids).unwrap_or_default());
        props.append_value(serde_json::to_string(&u.properties).unwrap_or_default());
        groups.append_value(serde_json::to_string(&u.groups).unwrap_or_default());
        first.append_option(u.first_seen_ms);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(user_id.finish()),
        Arc::new(devices.finish()),
        Arc::new(props.finish()),
        Arc::new(groups.finish()),
        Arc::new(first.finish()),
    ];
    Ok(MemTable::try_new(schema.clone(), vec![vec![RecordBatch::try_new(schema, columns)?]])?)
}

fn groups_table(groups: &[(String, String, herd_store::GroupState)]) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("group_type", DataType::Utf8, false),
        Field::new("group_value", DataType::Utf8, false),
        Field::new("group_key", DataType::UInt64, false),
        Field::new("properties", DataType::Utf8, false),
        Field::new("first_seen", ts(), false),
        Field::new("creator_amplitude_id", DataType::UInt64, true),
    ]));
    let mut t = StringBuilder::new();
    let mut v = StringBuilder::new();
    let mut key = UInt64Builder::new();
    let mut props = StringBuilder::new();
    let mut first = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut creator = UInt64Builder::new();
    for (gt, gv, g) in groups {
        t.append_value(gt);
        v.append_value(gv);
        key.append_value(g.key);
        props.append_value(serde_json::to_string(&g.properties).unwrap_or_default());
        first.append_value(g.first_seen_ms);
        creator.append_option(g.creator_amplitude_id);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(t.finish()),
        Arc::new(v.finish()),
        Arc::new(key.finish()),
        Arc::new(props.finish()),
        Arc::new(first.finish()),
        Arc::new(creator.finish()),
    ];
    Ok(MemTable::try_new(schema.clone(), vec![vec![RecordBatch::try_new(schema, columns)?]])?)
}
