//! Snowflake results as text rows: the JSON `rowset` (strings already) and the
//! Arrow IPC streams of `rowsetBase64` and result chunks.
//!
//! Snowflake's Arrow is its own dialect of Arrow: `NUMBER(p, s)` arrives as a
//! plain integer column whose field metadata carries the scale, and timestamps as
//! scaled integers or `{epoch, fraction}` structs. Standard Arrow types (what
//! other servers send) are formatted with arrow's own display code.

use std::io::Cursor;

use arrow::array::{Array, AsArray, RecordBatch, StructArray};
use arrow::datatypes::{DataType, Field, Int16Type, Int32Type, Int64Type, Int8Type};
use arrow::ipc::reader::StreamReader;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// One column of `rowtype`: its name and Snowflake type.
#[derive(Clone, Debug, Default)]
pub struct ColumnType {
    pub name: String,
    /// `fixed`, `real`, `text`, `date`, `timestamp_ntz`, `boolean`, …
    pub kind: String,
    pub precision: Option<i64>,
    pub scale: Option<i64>,
}

impl ColumnType {
    pub fn from_json(v: &serde_json::Value) -> ColumnType {
        ColumnType {
            name: v["name"].as_str().unwrap_or_default().to_owned(),
            kind: v["type"].as_str().unwrap_or_default().to_lowercase(),
            precision: v["precision"].as_i64(),
            scale: v["scale"].as_i64(),
        }
    }

    /// The type as Snowflake SQL writes it, for casts.
    pub fn sql_type(&self) -> String {
        match self.kind.as_str() {
            "fixed" => format!(
                "number({},{})",
                self.precision.unwrap_or(38),
                self.scale.unwrap_or(0)
            ),
            "real" => "float".to_owned(),
            "text" => "varchar".to_owned(),
            "" => "varchar".to_owned(),
            other => other.to_owned(),
        }
    }
}

const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// Every row of an Arrow IPC stream, as text.
pub fn decode_arrow(bytes: &[u8]) -> Result<Vec<Vec<Option<String>>>, String> {
    let reader = StreamReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| format!("cannot read the Arrow result: {e}"))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("cannot read an Arrow batch: {e}"))?;
        append_batch(&batch, &mut rows)?;
    }
    Ok(rows)
}

fn append_batch(batch: &RecordBatch, rows: &mut Vec<Vec<Option<String>>>) -> Result<(), String> {
    let schema = batch.schema();
    let columns: Vec<Vec<Option<String>>> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(array, field)| column_text(array.as_ref(), field))
        .collect::<Result<_, _>>()?;
    for i in 0..batch.num_rows() {
        rows.push(columns.iter().map(|c| c[i].clone()).collect());
    }
    Ok(())
}

fn metadata_int(field: &Field, key: &str) -> Option<i64> {
    field.metadata().get(key).and_then(|v| v.parse().ok())
}

/// A column's values as text, honouring Snowflake's field metadata.
fn column_text(array: &dyn Array, field: &Field) -> Result<Vec<Option<String>>, String> {
    let logical = field
        .metadata()
        .get("logicalType")
        .map(|s| s.to_uppercase())
        .unwrap_or_default();
    let scale = metadata_int(field, "scale").unwrap_or(0);
    let ints = integers(array);
    if let Some(values) = &ints {
        if logical == "FIXED" && scale > 0 {
            return Ok(values
                .iter()
                .map(|v| v.map(|v| scaled_decimal(v as i128, scale as u32)))
                .collect());
        }
        if logical.starts_with("TIMESTAMP") {
            return Ok(values
                .iter()
                .map(|v| v.map(|v| timestamp_from_scaled(v, scale as u32)))
                .collect());
        }
    }
    if let Some(s) = array.as_struct_opt() {
        if logical.starts_with("TIMESTAMP") {
            return Ok(struct_timestamps(s));
        }
    }
    let options = FormatOptions::default()
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_datetime_format(Some(TIMESTAMP_FORMAT));
    let formatter = ArrayFormatter::try_new(array, &options)
        .map_err(|e| format!("cannot format a {} column: {e}", array.data_type()))?;
    Ok((0..array.len())
        .map(|i| {
            if array.is_null(i) {
                None
            } else {
                Some(formatter.value(i).to_string())
            }
        })
        .collect())
}

/// The values of an integer column, whatever its width.
fn integers(array: &dyn Array) -> Option<Vec<Option<i64>>> {
    Some(match array.data_type() {
        DataType::Int8 => array
            .as_primitive::<Int8Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int16 => array
            .as_primitive::<Int16Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int32 => array
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::Int64 => array.as_primitive::<Int64Type>().iter().collect(),
        _ => return None,
    })
}

/// `12345` with scale 2 → `123.45`.
pub fn scaled_decimal(value: i128, scale: u32) -> String {
    let negative = value < 0;
    let digits = value.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

fn timestamp_from_scaled(value: i64, scale: u32) -> String {
    let unit = 10i64.pow(scale);
    let (secs, rest) = (value.div_euclid(unit), value.rem_euclid(unit));
    let nanos = rest * 10i64.pow(9 - scale.min(9));
    format_timestamp(secs, nanos as u32)
}

fn struct_timestamps(s: &StructArray) -> Vec<Option<String>> {
    let epoch = s
        .column_by_name("epoch")
        .and_then(|a| a.as_primitive_opt::<Int64Type>().cloned());
    let fraction = s
        .column_by_name("fraction")
        .and_then(|a| a.as_primitive_opt::<Int32Type>().cloned());
    (0..s.len())
        .map(|i| {
            if s.is_null(i) {
                return None;
            }
            let secs = epoch.as_ref().map_or(0, |e| e.value(i));
            let nanos = fraction.as_ref().map_or(0, |f| f.value(i));
            Some(format_timestamp(secs, nanos as u32))
        })
        .collect()
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS[.fraction]`, the text DuckDB
/// gives the same instant.
pub fn format_timestamp(secs: i64, nanos: u32) -> String {
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t.naive_utc().format(TIMESTAMP_FORMAT).to_string(),
        None => format!("{secs}.{nanos:09}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Int64Array, StringArray};
    use arrow::datatypes::Schema;
    use arrow::ipc::writer::StreamWriter;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn stream(fields: Vec<Field>, columns: Vec<Arc<dyn Array>>) -> Vec<u8> {
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut out = Vec::new();
        let mut w = StreamWriter::try_new(&mut out, &schema).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    fn meta(logical: &str, scale: i64) -> HashMap<String, String> {
        HashMap::from([
            ("logicalType".to_owned(), logical.to_owned()),
            ("scale".to_owned(), scale.to_string()),
        ])
    }

    #[test]
    fn snowflake_scaled_integers_become_decimals_and_timestamps() {
        let bytes = stream(
            vec![
                Field::new("AMOUNT", DataType::Int64, true).with_metadata(meta("FIXED", 2)),
                Field::new("AT", DataType::Int64, true).with_metadata(meta("TIMESTAMP_NTZ", 3)),
                Field::new("D", DataType::Date32, true),
                Field::new("NAME", DataType::Utf8, true),
            ],
            vec![
                Arc::new(Int64Array::from(vec![Some(12345), Some(-5), None])),
                // 2024-01-15 10:00:00.250 and the epoch.
                Arc::new(Int64Array::from(vec![
                    Some(1_705_312_800_250),
                    Some(0),
                    None,
                ])),
                Arc::new(Date32Array::from(vec![Some(19737), Some(0), None])),
                Arc::new(StringArray::from(vec![Some("a"), Some("it's"), None])),
            ],
        );
        let rows = decode_arrow(&bytes).unwrap();
        let text =
            |r: usize| -> Vec<Option<&str>> { rows[r].iter().map(|v| v.as_deref()).collect() };
        assert_eq!(
            text(0),
            [
                Some("123.45"),
                Some("2024-01-15 10:00:00.250"),
                Some("2024-01-15"),
                Some("a")
            ]
        );
        assert_eq!(
            text(1),
            [
                Some("-0.05"),
                Some("1970-01-01 00:00:00"),
                Some("1970-01-01"),
                Some("it's")
            ]
        );
        assert_eq!(text(2), [None, None, None, None]);
    }

    #[test]
    fn decimals_pad_their_fraction() {
        assert_eq!(scaled_decimal(5, 3), "0.005");
        assert_eq!(scaled_decimal(-1234, 2), "-12.34");
        assert_eq!(scaled_decimal(0, 1), "0.0");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_arrow(b"not arrow").is_err());
    }
}
