//! A Parquet footer (the file, or any tail of it that holds the footer) → columns (SPEC 6.1).
//!
//! A Parquet file ends with its metadata (the footer, Thrift compact protocol), the
//! footer's length (4 bytes, little-endian) and the magic `PAR1`. Only those bytes are
//! read: [`tail_len`] says how many from the last [`TRAILER_LEN`], the `parquet` crate
//! decodes the footer, and its schema tree becomes [`Field`]s:
//!
//! - a group is a record, unless it is a `LIST` or `MAP` (logical or converted, also the
//!   legacy `MAP_KEY_VALUE`): those are kept whole, as is every `REPEATED` field — the
//!   legacy list encodings (`repeated int32 x`, a repeated group without `LIST`) included;
//! - a primitive takes its logical type, else its converted type, else its physical type.
//!
//! `REQUIRED` → required; `OPTIONAL` and `REPEATED` → not.

mod bounds;

use parquet::basic::{ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::schema::types::Type;

use super::{columns, ConvertError, Converted, Field, Options, Shape};
use crate::drift::ColumnType;

/// Converts `source` into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let footer = footer(source)?;
    // The crate trusts the footer's child counts (it allocates and recurses by them):
    // those are checked first, so a hostile footer is an error, never an abort.
    bounds::check(footer).map_err(|why| ConvertError::source(format!("the footer {why}")))?;
    let metadata = ParquetMetaDataReader::decode_metadata(footer)
        .map_err(|e| ConvertError::source(format!("the footer does not decode: {e}")))?;
    let mut warnings = Vec::new();
    let fields = metadata
        .file_metadata()
        .schema()
        .get_fields()
        .iter()
        .map(|t| field(t, "", &mut warnings))
        .collect();
    Ok(Converted {
        columns: columns(fields, options.nested)?,
        warnings,
    })
}

/// The last bytes of every Parquet file: the footer's length (4 bytes, little-endian) and
/// the magic `PAR1`.
pub const TRAILER_LEN: usize = 8;

/// The magic at both ends of a Parquet file.
const MAGIC: &[u8; 4] = b"PAR1";

/// The magic of a file whose footer is encrypted (Parquet modular encryption).
const ENCRYPTED_MAGIC: &[u8; 4] = b"PARE";

/// How many bytes at the end of the file hold the footer and the trailer, from the file's
/// last [`TRAILER_LEN`] bytes — what a reader must seek back and read (and all it reads).
/// Given more bytes, it reads the last [`TRAILER_LEN`] of them.
pub fn tail_len(trailer: &[u8]) -> Result<u64, ConvertError> {
    let Some(start) = trailer.len().checked_sub(TRAILER_LEN) else {
        let why = if trailer.is_empty() {
            "the input is empty".to_string()
        } else {
            format!("the input is {} bytes", trailer.len())
        };
        return Err(ConvertError::source(format!(
            "{why}: a Parquet file ends with an {TRAILER_LEN}-byte trailer (the footer's \
             length and the magic \"PAR1\")"
        )));
    };
    let (length, magic) = trailer[start..].split_at(4);
    if magic == ENCRYPTED_MAGIC {
        return Err(ConvertError::source(
            "the footer is encrypted (magic \"PARE\"): DriftGuard reads only plaintext footers",
        ));
    }
    if magic != MAGIC {
        return Err(ConvertError::source(format!(
            "not a Parquet file, or cut short: the last 4 bytes are \"{}\", not the magic \
             \"PAR1\"",
            magic.escape_ascii()
        )));
    }
    let mut le = [0u8; 4];
    le.copy_from_slice(length);
    Ok(u64::from(u32::from_le_bytes(le)) + TRAILER_LEN as u64)
}

/// The footer's bytes: those before the trailer, as many as the trailer says.
fn footer(source: &[u8]) -> Result<&[u8], ConvertError> {
    let tail = tail_len(source)?;
    let footer_len = tail - TRAILER_LEN as u64;
    let before = source.len() - TRAILER_LEN;
    match usize::try_from(tail) {
        Ok(tail) if tail <= source.len() => Ok(&source[source.len() - tail..before]),
        _ => Err(ConvertError::source(format!(
            "the trailer says the footer is {footer_len} bytes, but only {before} bytes come \
             before it: send the whole file or at least its last {tail} bytes"
        ))),
    }
}

/// One node of the schema tree (not the root), named under `parent` in warnings.
fn field(t: &Type, parent: &str, warnings: &mut Vec<String>) -> Field {
    let info = t.get_basic_info();
    let name = info.name().to_string();
    let path = if parent.is_empty() {
        name.clone()
    } else {
        format!("{parent}.{name}")
    };
    // Every node but the root has a repetition; the root never comes here.
    let repetition = info.has_repetition().then(|| info.repetition());
    let required = repetition == Some(Repetition::REQUIRED);
    let shape = if repetition == Some(Repetition::REPEATED) {
        // A repeated field is an array of its type, whatever that is: the legacy 2-level
        // list (`repeated int32 x`) and the repeated group without LIST are this too.
        Shape::Whole
    } else if t.is_group() {
        group(t, &path, warnings)
    } else {
        Shape::Scalar(primitive(t, &path, warnings))
    };
    Field {
        name,
        required,
        shape,
    }
}

/// A group: a list or a map is kept whole, any other group is a record of its fields.
fn group(t: &Type, path: &str, warnings: &mut Vec<String>) -> Shape {
    let info = t.get_basic_info();
    match (info.logical_type_ref(), info.converted_type()) {
        (Some(LogicalType::List | LogicalType::Map), _)
        | (None, ConvertedType::LIST | ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE) => {
            Shape::Whole
        }
        (Some(LogicalType::Variant(_)), _) => {
            warnings.push(format!(
                "{path:?}: the Parquet VARIANT group is semi-structured; mapped to json"
            ));
            Shape::Whole
        }
        _ => Shape::Record(
            t.get_fields()
                .iter()
                .map(|child| field(child, path, warnings))
                .collect(),
        ),
    }
}

/// A primitive's column type: by its logical type, else its converted type (the legacy
/// annotation), else its physical type.
fn primitive(t: &Type, path: &str, warnings: &mut Vec<String>) -> ColumnType {
    let info = t.get_basic_info();
    let mut fallback = |what: String| {
        warnings.push(format!(
            "{path:?}: the Parquet type {what} has no DriftGuard type; mapped to string"
        ));
        ColumnType::String
    };
    if let Some(logical) = info.logical_type_ref() {
        return match logical {
            LogicalType::Integer(_) => ColumnType::Integer,
            LogicalType::Decimal(_) | LogicalType::Float16 => ColumnType::Number,
            LogicalType::Date => ColumnType::Date,
            LogicalType::Timestamp(_) => ColumnType::Timestamp,
            LogicalType::Json => ColumnType::Json,
            LogicalType::String | LogicalType::Enum | LogicalType::Uuid | LogicalType::Time(_) => {
                ColumnType::String
            }
            // LIST or MAP on a primitive is not a valid schema, but a writer said array/map.
            LogicalType::List | LogicalType::Map => ColumnType::Json,
            other => fallback(logical_name(other)),
        };
    }
    match info.converted_type() {
        ConvertedType::UTF8
        | ConvertedType::ENUM
        | ConvertedType::TIME_MILLIS
        | ConvertedType::TIME_MICROS => ColumnType::String,
        ConvertedType::DECIMAL => ColumnType::Number,
        ConvertedType::DATE => ColumnType::Date,
        ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS => ColumnType::Timestamp,
        ConvertedType::UINT_8
        | ConvertedType::UINT_16
        | ConvertedType::UINT_32
        | ConvertedType::UINT_64
        | ConvertedType::INT_8
        | ConvertedType::INT_16
        | ConvertedType::INT_32
        | ConvertedType::INT_64 => ColumnType::Integer,
        ConvertedType::JSON
        | ConvertedType::LIST
        | ConvertedType::MAP
        | ConvertedType::MAP_KEY_VALUE => ColumnType::Json,
        ConvertedType::NONE => match t.get_physical_type() {
            PhysicalType::BOOLEAN => ColumnType::Boolean,
            PhysicalType::INT32 | PhysicalType::INT64 => ColumnType::Integer,
            // INT96: the nanosecond timestamp of Impala and old Spark.
            PhysicalType::INT96 => ColumnType::Timestamp,
            PhysicalType::FLOAT | PhysicalType::DOUBLE => ColumnType::Number,
            // Plain binary, fixed-length or not: its bytes as text.
            PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY => ColumnType::String,
        },
        other => fallback(other.to_string()),
    }
}

/// A logical type's name as the Parquet format writes it (`BSON`, `GEOMETRY`, …).
fn logical_name(logical: &LogicalType) -> String {
    match logical {
        LogicalType::Bson => "BSON".into(),
        LogicalType::Unknown => "UNKNOWN (always null)".into(),
        LogicalType::Geometry(_) => "GEOMETRY".into(),
        LogicalType::Geography(_) => "GEOGRAPHY".into(),
        LogicalType::Variant(_) => "VARIANT".into(),
        LogicalType::File => "FILE".into(),
        LogicalType::_Unknown { field_id } => format!("with logical type id {field_id}"),
        other => format!("{other:?}").to_uppercase(),
    }
}

#[cfg(test)]
mod tests;
