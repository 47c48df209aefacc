//! Query results as JSON rows (`[{"column": value, …}, …]`) for the SQL API.

use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use serde_json::{Map, Value};

use crate::error::Result;

/// Converts batches to rows; integers, floats and booleans stay JSON numbers and booleans, everything else is
/// rendered as text (timestamps in RFC 3339), NULL as `null`.
pub fn to_json_rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let mut columns: Vec<Box<dyn Fn(usize) -> Value>> = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let array = batch.column(i).clone();
            let column: Box<dyn Fn(usize) -> Value> = match field.data_type() {
                DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                    let a = cast(&array, &DataType::Int64)?;
                    Box::new(move |r| {
                        let a = a.as_any().downcast_ref::<Int64Array>().expect("Int64");
                        if a.is_valid(r) { Value::from(a.value(r)) } else { Value::Null }
                    })
                }
                DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                    let a = cast(&array, &DataType::UInt64)?;
                    Box::new(move |r| {
                        let a = a.as_any().downcast_ref::<UInt64Array>().expect("UInt64");
                        if a.is_valid(r) { Value::from(a.value(r)) } else { Value::Null }
                    })
                }
                DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
                    let a = cast(&array, &DataType::Float64)?;
                    Box::new(move |r| {
                        let a = a.as_any().downcast_ref::<Float64Array>().expect("Float64");
                        if a.is_valid(r) { Value::from(a.value(r)) } else { Value::Null }
                    })
                }
                DataType::Boolean => {
                    let a = array.clone();
                    Box::new(move |r| {
                        let a = a.as_any().downcast_ref::<BooleanArray>().expect("Boolean");
                        if a.is_valid(r) { Value::from(a.value(r)) } else { Value::Null }
                    })
                }
                _ => {
                    let a = cast(&array, &DataType::Utf8)?;
                    Box::new(move |r| {
                        let a = a.as_any().downcast_ref::<StringArray>().expect("Utf8");
                        if a.is_valid(r) { Value::from(a.value(r)) } else { Value::Null }
                    })
                }
            };
            columns.push(column);
        }
        for r in 0..batch.num_rows() {
            let mut row = Map::new();
            for (i, field) in schema.fields().iter().enumerate() {
                row.insert(field.name().clone(), columns[i](r));
            }
            rows.push(row);
        }
    }
    Ok(rows)
}
