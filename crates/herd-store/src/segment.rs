//! Immutable Parquet segments: the columnar layout of stored events, writing a segment durably, reading it back.
//!
//! Scalar fields are typed columns; property bags are JSON text columns (kept whole: export and rare keys read
//! them). Format v2 adds the typed columns of [`crate::shred`] after them. The file's key-value metadata carries
//! `herd.segment_format` so that layouts can be told apart, and `herd.unshredded` (v2) the keys left as JSON.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Array, Int64Builder, RecordBatch, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder, UInt64Array, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use herd_model::{Properties, StoredEvent};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{Result, StoreError};

/// Version of the segment column layout.
pub const SEGMENT_FORMAT_VERSION: u32 = 2;

/// Key-value metadata key of the format version.
pub const FORMAT_KEY: &str = "herd.segment_format";
/// Key-value metadata key of the JSON list of typed column names left out of a v2 segment.
pub const UNSHREDDED_KEY: &str = "herd.unshredded";

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The Arrow schema of the columns every segment has (all of format v1).
pub fn schema() -> SchemaRef {
    let json = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::UInt64, false),
        Field::new("uuid", DataType::Utf8, false),
        Field::new("amplitude_id", DataType::UInt64, true),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("device_id", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("event_time", ts(), false),
        Field::new("client_event_time", ts(), true),
        Field::new("client_upload_time", ts(), true),
        Field::new("server_upload_time", ts(), false),
        Field::new("insert_id", DataType::Utf8, true),
        Field::new("session_id", DataType::Int64, false),
        Field::new("event_id", DataType::Int64, true),
        json("event_properties"),
        json("user_properties"),
        json("groups"),
        json("group_properties"),
        json("device"),
        json("revenue"),
        json("data"),
        json("extra"),
    ]))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Builds one record batch from events.
pub fn to_batch(events: &[StoredEvent]) -> Result<RecordBatch> {
    let n = events.len();
    let mut seq = UInt64Builder::with_capacity(n);
    let mut uuid = StringBuilder::new();
    let mut aid = UInt64Builder::with_capacity(n);
    let mut user_id = StringBuilder::new();
    let mut device_id = StringBuilder::new();
    let mut event_type = StringBuilder::new();
    let mut times: [TimestampMillisecondBuilder; 4] =
        std::array::from_fn(|_| TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"));
    let mut insert_id = StringBuilder::new();
    let mut session_id = Int64Builder::with_capacity(n);
    let mut event_id = Int64Builder::with_capacity(n);
    let mut jsons: [StringBuilder; 8] = std::array::from_fn(|_| StringBuilder::new());
    for e in events {
        seq.append_value(e.seq);
        uuid.append_value(&e.uuid);
        aid.append_option(e.amplitude_id);
        user_id.append_option(e.user_id.as_deref());
        device_id.append_option(e.device_id.as_deref());
        event_type.append_value(&e.event_type);
        times[0].append_value(e.event_time);
        times[1].append_option(e.client_event_time);
        times[2].append_option(e.client_upload_time);
        times[3].append_value(e.server_upload_time);
        insert_id.append_option(e.insert_id.as_deref());
        session_id.append_value(e.session_id);
        event_id.append_option(e.event_id);
        jsons[0].append_value(to_json(&e.event_properties));
        jsons[1].append_value(to_json(&e.user_properties));
        jsons[2].append_value(to_json(&e.groups));
        jsons[3].append_value(to_json(&e.group_properties));
        jsons[4].append_value(to_json(&e.device));
        jsons[5].append_value(to_json(&e.revenue));
        jsons[6].append_value(to_json(&e.data));
        jsons[7].append_value(to_json(&e.extra));
    }
    let [t0, t1, t2, t3] = &mut times;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(seq.finish()),
        Arc::new(uuid.finish()),
        Arc::new(aid.finish()),
        Arc::new(user_id.finish()),
        Arc::new(device_id.finish()),
        Arc::new(event_type.finish()),
        Arc::new(t0.finish()),
        Arc::new(t1.finish()),
        Arc::new(t2.finish()),
        Arc::new(t3.finish()),
        Arc::new(insert_id.finish()),
        Arc::new(session_id.finish()),
        Arc::new(event_id.finish()),
    ];
    columns.extend(jsons.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    RecordBatch::try_new(schema(), columns).map_err(|e| StoreError::Segment(e.to_string()))
}

/// Builds one format-v2 record batch (the columns of [`schema`], then the typed columns) and the names of the
/// typed columns left out.
pub fn to_batch_v2(events: &[StoredEvent]) -> Result<(RecordBatch, Vec<String>)> {
    let base = to_batch(events)?;
    let typed = crate::shred::shred(events);
    let mut fields: Vec<Field> = schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(typed.fields);
    let mut columns = base.columns().to_vec();
    columns.extend(typed.columns);
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| StoreError::Segment(e.to_string()))?;
    Ok((batch, typed.unshredded))
}

/// Writes `events` to `path` durably: a temporary file, fsync, rename, fsync of the directory.
/// Returns the file's size in bytes.
pub fn write(path: &Path, events: &[StoredEvent]) -> Result<u64> {
    let dir = path.parent().expect("segment paths have a parent");
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    // One batch for the whole file: its typed columns depend on every event in it.
    let (batch, unshredded) = to_batch_v2(events)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(FORMAT_KEY.to_owned(), SEGMENT_FORMAT_VERSION.to_string()),
            KeyValue::new(UNSHREDDED_KEY.to_owned(), serde_json::to_string(&unshredded).expect("strings serialise")),
        ]))
        .build();
    let seg_err = |e: parquet::errors::ParquetError| StoreError::Segment(e.to_string());
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(seg_err)?;
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = (batch.num_rows() - offset).min(64 * 1024);
        writer.write(&batch.slice(offset, len)).map_err(seg_err)?;
        offset += len;
    }
    let file = writer.into_inner().map_err(seg_err)?;
    file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    let bytes = file.metadata().map_err(|e| StoreError::io(&tmp, e))?.len();
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    sync_dir(dir)?;
    Ok(bytes)
}

/// Writes a format-v1 segment (JSON bags only), as Herd before v2 did: for tests of reading and upgrading old
/// data directories.
#[cfg(test)]
pub(crate) fn write_v1(path: &Path, events: &[StoredEvent]) -> Result<()> {
    std::fs::create_dir_all(path.parent().expect("a parent")).map_err(|e| StoreError::io(path, e))?;
    let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(FORMAT_KEY.to_owned(), "1".to_owned())]))
        .build();
    let seg_err = |e: parquet::errors::ParquetError| StoreError::Segment(e.to_string());
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(seg_err)?;
    writer.write(&to_batch(events)?).map_err(seg_err)?;
    writer.close().map_err(seg_err)?;
    Ok(())
}

/// Makes a rename or file creation in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))
}

/// What a segment file's footer says about its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentLayout {
    /// `herd.segment_format` (1 when absent).
    pub format: u32,
    /// The Arrow schema of the file.
    pub schema: SchemaRef,
    /// Typed columns left out (v2).
    pub unshredded: Vec<String>,
}

/// Reads a segment's footer: its format version, schema and unshredded keys.
pub fn layout(path: &Path) -> Result<SegmentLayout> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let seg_err = |e: parquet::errors::ParquetError| StoreError::Segment(format!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(seg_err)?;
    let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    let get = |key: &str| kv.iter().find(|e| e.key == key).and_then(|e| e.value.clone());
    let format = get(FORMAT_KEY).and_then(|v| v.parse().ok()).unwrap_or(1);
    let unshredded = match get(UNSHREDDED_KEY) {
        Some(v) => serde_json::from_str(&v)
            .map_err(|e| StoreError::Corrupt { what: "segment", detail: format!("{UNSHREDDED_KEY}: {e}") })?,
        None => Vec::new(),
    };
    Ok(SegmentLayout { format, schema: builder.schema().clone(), unshredded })
}

/// Reads every event of a segment, in stored order.
pub fn read(path: &Path) -> Result<Vec<StoredEvent>> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let seg_err = |e: parquet::errors::ParquetError| StoreError::Segment(format!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(seg_err)?.build().map_err(seg_err)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| StoreError::Segment(e.to_string()))?;
        from_batch(&batch, &mut out)?;
    }
    Ok(out)
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| StoreError::Corrupt { what: "segment", detail: format!("column {name} missing or mistyped") })
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn parse_json<T: serde::de::DeserializeOwned>(a: &StringArray, i: usize) -> Result<T> {
    serde_json::from_str(a.value(i)).map_err(|e| StoreError::Corrupt { what: "segment", detail: e.to_string() })
}

fn from_batch(batch: &RecordBatch, out: &mut Vec<StoredEvent>) -> Result<()> {
    let seq = col::<UInt64Array>(batch, "seq")?;
    let uuid = col::<StringArray>(batch, "uuid")?;
    let aid = col::<UInt64Array>(batch, "amplitude_id")?;
    let user_id = col::<StringArray>(batch, "user_id")?;
    let device_id = col::<StringArray>(batch, "device_id")?;
    let event_type = col::<StringArray>(batch, "event_type")?;
    let event_time = col::<TimestampMillisecondArray>(batch, "event_time")?;
    let client_event_time = col::<TimestampMillisecondArray>(batch, "client_event_time")?;
    let client_upload_time = col::<TimestampMillisecondArray>(batch, "client_upload_time")?;
    let server_upload_time = col::<TimestampMillisecondArray>(batch, "server_upload_time")?;
    let insert_id = col::<StringArray>(batch, "insert_id")?;
    let session_id = col::<Int64Array>(batch, "session_id")?;
    let event_id = col::<Int64Array>(batch, "event_id")?;
    let names =
        ["event_properties", "user_properties", "groups", "group_properties", "device", "revenue", "data", "extra"];
    let mut j: Vec<&StringArray> = Vec::with_capacity(names.len());
    for name in names {
        j.push(col::<StringArray>(batch, name)?);
    }
    let opt_ts = |a: &TimestampMillisecondArray, i: usize| a.is_valid(i).then(|| a.value(i));
    for i in 0..batch.num_rows() {
        out.push(StoredEvent {
            seq: seq.value(i),
            uuid: uuid.value(i).to_owned(),
            amplitude_id: aid.is_valid(i).then(|| aid.value(i)),
            user_id: opt_str(user_id, i),
            device_id: opt_str(device_id, i),
            event_type: event_type.value(i).to_owned(),
            event_time: event_time.value(i),
            client_event_time: opt_ts(client_event_time, i),
            client_upload_time: opt_ts(client_upload_time, i),
            server_upload_time: server_upload_time.value(i),
            insert_id: opt_str(insert_id, i),
            session_id: session_id.value(i),
            event_id: event_id.is_valid(i).then(|| event_id.value(i)),
            event_properties: parse_json::<Properties>(j[0], i)?,
            user_properties: parse_json(j[1], i)?,
            groups: parse_json(j[2], i)?,
            group_properties: parse_json(j[3], i)?,
            device: parse_json(j[4], i)?,
            revenue: parse_json(j[5], i)?,
            data: parse_json(j[6], i)?,
            extra: parse_json(j[7], i)?,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_model::GroupSet;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut groups = GroupSet::new();
        groups.insert("org id", "1234");
        let mut e = StoredEvent {
            seq: 7,
            uuid: "u".into(),
            amplitude_id: Some(3),
            user_id: Some("alice".into()),
            event_type: "play".into(),
            event_time: 1_700_000_000_000,
            server_upload_time: 1_700_000_000_500,
            session_id: -1,
            groups,
            ..Default::default()
        };
        e.event_properties.insert("k".into(), serde_json::json!([1, "x"]));
        let path = dir.path().join("d/1.parquet");
        let bytes = write(&path, &[e.clone(), StoredEvent { seq: 8, ..e.clone() }]).unwrap();
        assert!(bytes > 0);
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], e);
        assert_eq!(back[1].seq, 8);
        let layout = layout(&path).unwrap();
        assert_eq!(layout.format, SEGMENT_FORMAT_VERSION);
        assert_eq!(layout.unshredded, vec!["e.k".to_owned()]);
        assert!(layout.schema.field_with_name("g.org id").is_ok());
    }
}
