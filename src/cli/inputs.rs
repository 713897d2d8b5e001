//! What `driftguard check` and `infer` read: a schema file (`{"columns": [...]}`), sample
//! records (one JSON object, a JSON array of objects, or NDJSON) or a CSV file, turned into
//! columns by the drift engine's multi-sample inference; or a foreign schema (Avro, JSON
//! Schema, SQL DDL, a Parquet footer, a dbt manifest) converted locally by
//! [`crate::schemas`], which is pure: this file does its reading.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::drift::{self, Column, ColumnType, IncomingColumn};
use crate::schemas::{self, ConvertError, Converted, Format, Input, Options};
use crate::wire::{ColumnDoc, IncomingColumnDoc};

/// A local input that cannot be read or understood (exit code 2). Names the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn read(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))
}

/// `--schema FILE` as a contract's columns (`compat`, `push`): `{"columns": [{"name",
/// "type", "required"}, ...]}`, `required` given for every column.
pub fn contract_schema_file(path: &Path) -> Result<Vec<Column>, InputError> {
    #[derive(Deserialize)]
    struct SchemaFile {
        columns: Vec<ColumnDoc>,
    }
    let schema: SchemaFile = serde_json::from_str(&read(path)?).map_err(|e| {
        InputError(format!(
            "{}: not a contract schema ({{\"columns\": [{{\"name\", \"type\", \"required\"}}]}}): {e}",
            path.display()
        ))
    })?;
    named(path, schema.columns.into_iter().map(Into::into).collect())
}

/// `--schema FILE`: `{"columns": [{"name", "type"}, ...]}` (`required` is accepted and ignored).
pub fn schema_file(path: &Path) -> Result<Vec<IncomingColumn>, InputError> {
    #[derive(Deserialize)]
    struct SchemaFile {
        columns: Vec<IncomingColumnDoc>,
    }
    let text = read(path)?;
    let schema: SchemaFile = serde_json::from_str(&text).map_err(|e| {
        InputError(format!(
            "{}: not a schema ({{\"columns\": [{{\"name\", \"type\"}}]}}): {e}",
            path.display()
        ))
    })?;
    let columns: Vec<IncomingColumn> = schema.columns.into_iter().map(Into::into).collect();
    drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), "columns")
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    Ok(columns)
}

/// `--sample FILE`: the columns inferred from its records.
pub fn sample_file(path: &Path) -> Result<Vec<Column>, InputError> {
    let records =
        sample_records(&read(path)?).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    named(path, drift::infer_samples(&records))
}

/// The records of a sample file: one JSON object, a JSON array of objects, or NDJSON (one
/// object per line; blank lines are skipped). At least one record.
pub fn sample_records(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    let records = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(record)) => vec![record],
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(record) => Ok(record),
                _ => Err(format!("record {}: not a JSON object", i + 1)),
            })
            .collect::<Result<_, _>>()?,
        Ok(_) => return Err("not a JSON object, an array of objects, or NDJSON".into()),
        // Not one JSON document: NDJSON, one record per line.
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(record)) => Ok(record),
                Ok(_) => Err(format!("line {}: not a JSON object", i + 1)),
                Err(e) => Err(format!("line {}: not JSON: {e}", i + 1)),
            })
            .collect::<Result<_, _>>()?,
    };
    if records.is_empty() {
        return Err("no records".into());
    }
    Ok(records)
}

/// `--csv FILE`: the columns of the header, in its order, typed from the rows.
pub fn csv_file(path: &Path) -> Result<Vec<Column>, InputError> {
    let columns = csv_columns(read(path)?.as_bytes())
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    named(path, columns)
}

/// Types CSV cells like JSON values: an empty cell is a missing value; `-?digits` an
/// integer; a decimal or exponent number a number; `true`/`false` a boolean; any other
/// text a JSON string would be (so dates and timestamps are recognised).
pub fn csv_columns(bytes: &[u8]) -> Result<Vec<Column>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.is_empty() {
        return Err("no header line".into());
    }
    let mut records = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("row {}: {e}", i + 1))?;
        if row.len() > header.len() {
            return Err(format!(
                "row {}: {} cells, but the header names {} columns",
                i + 1,
                row.len(),
                header.len()
            ));
        }
        let record: Map<String, Value> = header
            .iter()
            .zip(row.iter())
            .filter(|(_, cell)| !cell.is_empty())
            .map(|(name, cell)| (name.clone(), csv_value(cell)))
            .collect();
        records.push(record);
    }
    let inferred = drift::infer_samples(&records);
    // Header order; a column that never holds a value is an optional string.
    Ok(header
        .iter()
        .map(|name| {
            inferred
                .iter()
                .find(|c| &c.name == name)
                .cloned()
                .unwrap_or_else(|| Column {
                    name: name.clone(),
                    column_type: ColumnType::String,
                    required: false,
                    severity_override: None,
                })
        })
        .collect())
}

/// A JSON value of the type a CSV cell spells (only its type matters to inference).
pub fn csv_value(cell: &str) -> Value {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = cell.strip_prefix('-').unwrap_or(cell);
    if digits(unsigned) {
        return Value::from(0);
    }
    if is_decimal_or_exponent(unsigned) {
        return Value::from(0.5);
    }
    match cell {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(cell.to_owned()),
    }
}

/// `1.5`, `.5`, `1.`, `1e3`, `1.5E-3` (no sign: the caller strips one `-`).
fn is_decimal_or_exponent(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(whole)
        && fraction.is_none_or(all_digits)
        && !(whole.is_empty() && fraction.is_none_or(str::is_empty));
    mantissa_ok && exponent_ok && (fraction.is_some() || exponent.is_some())
}

/// `--avro`, `--json-schema`, `--sql`, `--parquet`, `--dbt FILE`: the file's columns and
/// warnings. Reads only what the format needs: a Parquet file's footer (from its end),
/// the start of an Avro file (where a container file's header is), other files whole.
pub fn foreign_file(
    format: Format,
    path: &Path,
    options: &Options,
) -> Result<Converted, InputError> {
    let cannot_read =
        |e: std::io::Error| InputError(format!("cannot read {}: {e}", path.display()));
    let bytes = match format {
        Format::Parquet => parquet_tail(path).map_err(|e| match e {
            TailError::Io(e) => cannot_read(e),
            TailError::Footer(e) => convert_error(path, &e),
        })?,
        Format::Avro => {
            let limit = u64::try_from(schemas::avro::CONTAINER_PREFIX_LEN).unwrap_or(u64::MAX);
            let mut bytes = Vec::new();
            File::open(path)
                .and_then(|file| file.take(limit).read_to_end(&mut bytes))
                .map_err(cannot_read)?;
            bytes
        }
        Format::JsonSchema | Format::Sql | Format::Dbt => {
            std::fs::read(path).map_err(cannot_read)?
        }
    };
    schemas::convert(format, &bytes, options).map_err(|e| convert_error(path, &e))
}

/// Why the tail of a Parquet file could not be read.
enum TailError {
    Io(std::io::Error),
    /// The trailer says the file is not Parquet (or names an impossible footer length).
    Footer(ConvertError),
}

/// The last bytes of a Parquet file that hold its footer: the trailer from the end, then
/// as many bytes before it as the trailer says. A 10 GB file reads kilobytes.
fn parquet_tail(path: &Path) -> Result<Vec<u8>, TailError> {
    let mut file = File::open(path).map_err(TailError::Io)?;
    let len = file.metadata().map_err(TailError::Io)?.len();
    let trailer_len = u64::try_from(schemas::parquet::TRAILER_LEN).unwrap_or(u64::MAX);
    // Shorter than a trailer: the converter says what is wrong with these few bytes.
    let tail = if len < trailer_len {
        len
    } else {
        file.seek(SeekFrom::End(
            -i64::try_from(trailer_len).unwrap_or(i64::MAX),
        ))
        .map_err(TailError::Io)?;
        let mut trailer = vec![0; schemas::parquet::TRAILER_LEN];
        file.read_exact(&mut trailer).map_err(TailError::Io)?;
        // A footer longer than the file is the converter's to report, from what there is.
        schemas::parquet::tail_len(&trailer)
            .map_err(TailError::Footer)?
            .min(len)
    };
    file.seek(SeekFrom::Start(len - tail))
        .map_err(TailError::Io)?;
    let mut bytes = Vec::new();
    file.take(tail)
        .read_to_end(&mut bytes)
        .map_err(TailError::Io)?;
    Ok(bytes)
}

/// `FILE: place: message` for the document, `--table: message` for an option.
fn convert_error(path: &Path, error: &ConvertError) -> InputError {
    let what = match error.input {
        Input::Source => path.display().to_string(),
        Input::Table => "--table".into(),
        Input::Dialect => "--dialect".into(),
        Input::Model => "--model".into(),
    };
    InputError(format!("{what}: {error}"))
}

/// Column names must be valid (1–256 characters, no duplicates), as the server would insist.
fn named(path: &Path, columns: Vec<Column>) -> Result<Vec<Column>, InputError> {
    drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), "columns")
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType::*;

    fn types(columns: &[Column]) -> Vec<(&str, ColumnType, bool)> {
        columns
            .iter()
            .map(|c| (c.name.as_str(), c.column_type, c.required))
            .collect()
    }

    #[test]
    fn csv_cells_are_typed_like_the_spec_says() {
        let csv = "id,price,ratio,big,flag,day,at,name,note,sci\n\
                   1,2.5,.5,-12,true,2026-03-01,2026-03-01T10:00:00Z,ann,,1e3\n\
                   2,3,1.,7,false,2026-03-02,2026-03-01,bob,x,2E-2\n";
        assert_eq!(
            types(&csv_columns(csv.as_bytes()).expect("valid CSV")),
            vec![
                ("id", Integer, true),
                ("price", Number, true),
                ("ratio", Number, true),
                ("big", Integer, true),
                ("flag", Boolean, true),
                ("day", Date, true),
                ("at", Timestamp, true),
                ("name", String, true),
                ("note", String, false),
                ("sci", Number, true),
            ]
        );
    }

    #[test]
    fn csv_edge_cases() {
        for (cell, expected) in [
            ("-", String),
            ("1e", String),
            ("e3", String),
            (".", String),
            ("--1", String),
            ("True", String),
            ("1.2.3", String),
            ("+1", String),
            ("0042", Integer),
            ("-0.0e+5", Number),
        ] {
            assert_eq!(drift::infer_type(&csv_value(cell)), expected, "{cell:?}");
        }
        let header_only = csv_columns(b"a,b\n").expect("valid");
        assert_eq!(
            types(&header_only),
            vec![("a", String, false), ("b", String, false)]
        );
        assert!(csv_columns(b"a\n1,2\n").is_err(), "more cells than columns");
        assert!(csv_columns(b"").is_err(), "no header");
        let short = csv_columns(b"a,b\n1\n").expect("a short row is missing values");
        assert_eq!(
            types(&short),
            vec![("a", Integer, true), ("b", String, false)]
        );
    }

    #[test]
    fn samples_are_json_arrays_objects_or_ndjson() {
        assert_eq!(sample_records(r#"{"a": 1}"#).expect("object").len(), 1);
        assert_eq!(
            sample_records(r#"[{"a": 1}, {"b": 2}]"#)
                .expect("array")
                .len(),
            2
        );
        assert_eq!(
            sample_records("{\"a\": 1}\n\n{\"a\": null}\n")
                .expect("ndjson")
                .len(),
            2
        );
        assert!(sample_records("").is_err());
        assert!(sample_records("[]").is_err());
        assert!(sample_records("[1]").is_err());
        assert!(sample_records("{\"a\": 1}\n[1]\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(sample_records("{\"a\": 1}\n{nope\n")
            .unwrap_err()
            .contains("line 2"));
    }
}
