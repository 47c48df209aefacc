//! Immutable Parquet segments: the columnar layout of stored events, writing a segment durably, reading it back.
//!
//! Scalar fields are typed columns; property bags are JSON text columns. The file's key-value metadata carries
//! `herd.segment_format` so that later layouts can be told apart.

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
pub const SEGMENT_FORMAT_VERSION: u32 = 1;

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The Arrow schema of a segment.
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

/// Writes `events` to `path` durably: a temporary file, fsync, rename, fsync of the directory.
/// Returns the file's size in bytes.
pub fn write(path: &Path, events: &[StoredEvent]) -> Result<u64> {
    let dir = path.parent().expect("segment paths have a parent");
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "herd.segment_format".to_owned(),
            SEGMENT_FORMAT_VERSION.to_string(),
        )]))
        .build();
    let seg_err = |e: parquet::errors::ParquetError| StoreError::Segment(e.to_string());
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(seg_err)?;
    for chunk in events.chunks(64 * 1024) {
        writer.write(&to_batch(chunk)?).map_err(seg_err)?;
    }
    let file = writer.into_inner().map_err(seg_err)?;
    file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    let bytes = file.metadata().map_err(|e| StoreError::io(&tmp, e))?.len();
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    sync_dir(dir)?;
    Ok(bytes)
}

/// Makes a rename or file creation in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))
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
    }
}
