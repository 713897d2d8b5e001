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

/// The bounds a footer must keep before the `parquet` crate decodes it.
///
/// The crate checks every Thrift list against the bytes left, but it takes a schema
/// element's `num_children` on trust: it reserves room for that many children and
/// recurses once per level of nesting. A footer of a few bytes saying "2 147 483 647
/// children" would make it ask for 16 GiB, and one nesting 100 000 groups would overflow
/// the stack — an abort, not an error. This walk reads the Thrift compact protocol only as
/// far as it must to count: every schema element's children, against the elements that
/// follow and a maximum depth. It decodes nothing else; the crate does that.
mod bounds {

    /// The deepest schema tree accepted: far beyond real schemas, far below the stack.
    pub const MAX_DEPTH: usize = 64;

    /// The deepest Thrift nesting skipped over (the crate's own limit).
    const MAX_SKIP_DEPTH: usize = 64;

    /// Checks the schema trees in `footer` (a Thrift compact `FileMetaData`); the error says
    /// what is wrong and where, as a sentence's predicate ("is …", "says …").
    pub fn check(footer: &[u8]) -> Result<(), String> {
        let mut r = Reader { buf: footer, at: 0 };
        r.file_metadata()
            .map_err(|why| format!("is not valid Parquet metadata: {why} (at byte {})", r.at))
    }

    /// Compact-protocol type ids.
    mod ty {
        pub const BOOL_TRUE: u8 = 1;
        pub const BOOL_FALSE: u8 = 2;
        pub const BYTE: u8 = 3;
        pub const I16: u8 = 4;
        pub const I32: u8 = 5;
        pub const I64: u8 = 6;
        pub const DOUBLE: u8 = 7;
        pub const BINARY: u8 = 8;
        pub const LIST: u8 = 9;
        pub const SET: u8 = 10;
        pub const MAP: u8 = 11;
        pub const STRUCT: u8 = 12;
    }

    /// A cursor over the footer's bytes.
    struct Reader<'a> {
        buf: &'a [u8],
        at: usize,
    }

    impl Reader<'_> {
        /// `FileMetaData`: field 2 is the schema, a list of `SchemaElement`s.
        fn file_metadata(&mut self) -> Result<(), String> {
            let mut last = 0;
            let mut schema_checked = false;
            loop {
                let step = match self.field_header(&mut last) {
                    Ok(None) => return Ok(()),
                    Ok(Some((2, ty::LIST))) => {
                        self.schema()?;
                        schema_checked = true;
                        continue;
                    }
                    Ok(Some((_, kind))) => self.skip(kind, MAX_SKIP_DEPTH),
                    Err(why) => Err(why),
                };
                // Past a checked schema, bytes this walk cannot read are the crate's to
                // report: it reads them in the same order, and its message is the one users see.
                if step.is_err() && schema_checked {
                    return Ok(());
                }
                step?;
            }
        }

        /// The schema: a tree written depth-first, each element saying how many children
        /// follow it.
        fn schema(&mut self) -> Result<(), String> {
            let (len, kind) = self.list_header()?;
            if kind != ty::STRUCT {
                // Not a list of elements: the crate says so.
                return self.skip_elements(len, kind, MAX_SKIP_DEPTH);
            }
            // Children still to come for each group open around the next element.
            let mut open: Vec<u64> = Vec::new();
            for i in 0..len {
                let children = self.schema_element()?;
                if let Some(top) = open.last_mut() {
                    *top = top.saturating_sub(1);
                }
                if children > 0 {
                    let follow = len - i - 1;
                    if children > follow {
                        return Err(format!(
                            "schema element {i} says it has {children} children, but only \
                             {follow} elements follow"
                        ));
                    }
                    open.push(children);
                    if open.len() > MAX_DEPTH {
                        return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
                    }
                }
                while open.last() == Some(&0) {
                    open.pop();
                }
            }
            Ok(())
        }

        /// One `SchemaElement`: its `num_children` (field 5), 0 when absent or negative (the
        /// crate refuses a negative count itself).
        fn schema_element(&mut self) -> Result<u64, String> {
            let mut children = 0;
            let mut last = 0;
            while let Some((id, kind)) = self.field_header(&mut last)? {
                if id == 5 && kind == ty::I32 {
                    children = u64::try_from(zigzag(self.varint()?)).unwrap_or(0);
                } else {
                    self.skip(kind, MAX_SKIP_DEPTH)?;
                }
            }
            Ok(children)
        }

        /// A field header: `None` at the struct's end, else the field id and its type.
        fn field_header(&mut self, last: &mut i64) -> Result<Option<(i64, u8)>, String> {
            let byte = self.byte()?;
            if byte == 0 {
                return Ok(None);
            }
            let delta = i64::from(byte >> 4);
            let id = if delta == 0 {
                zigzag(self.varint()?)
            } else {
                *last + delta
            };
            *last = id;
            Ok(Some((id, byte & 0x0f)))
        }

        /// A list or set header: the element count and type.
        fn list_header(&mut self) -> Result<(u64, u8), String> {
            let byte = self.byte()?;
            let short = u64::from(byte >> 4);
            let len = if short == 15 { self.varint()? } else { short };
            Ok((len, byte & 0x0f))
        }

        /// Skips one value of type `kind` (a field's: booleans carry their value in the type).
        fn skip(&mut self, kind: u8, depth: usize) -> Result<(), String> {
            let depth = depth
                .checked_sub(1)
                .ok_or_else(|| format!("Thrift nesting deeper than {MAX_SKIP_DEPTH} levels"))?;
            match kind {
                ty::BOOL_TRUE | ty::BOOL_FALSE => Ok(()),
                ty::BYTE => self.bytes(1),
                ty::I16 | ty::I32 | ty::I64 => self.varint().map(drop),
                ty::DOUBLE => self.bytes(8),
                ty::BINARY => {
                    let len = self.varint()?;
                    self.bytes(len)
                }
                ty::LIST | ty::SET => {
                    let (len, kind) = self.list_header()?;
                    self.skip_elements(len, kind, depth)
                }
                ty::MAP => {
                    let len = self.varint()?;
                    if len == 0 {
                        return Ok(());
                    }
                    let kinds = self.byte()?;
                    for _ in 0..len {
                        self.skip_element(kinds >> 4, depth)?;
                        self.skip_element(kinds & 0x0f, depth)?;
                    }
                    Ok(())
                }
                ty::STRUCT => {
                    let mut last = 0;
                    while let Some((_, kind)) = self.field_header(&mut last)? {
                        self.skip(kind, depth)?;
                    }
                    Ok(())
                }
                other => Err(format!("unknown Thrift type {other}")),
            }
        }

        /// Skips `len` elements of a list, each at least one byte (so a huge count runs out of
        /// input quickly).
        fn skip_elements(&mut self, len: u64, kind: u8, depth: usize) -> Result<(), String> {
            for _ in 0..len {
                self.skip_element(kind, depth)?;
            }
            Ok(())
        }

        /// Skips one element of a list or map: a boolean there is a whole byte.
        fn skip_element(&mut self, kind: u8, depth: usize) -> Result<(), String> {
            match kind {
                ty::BOOL_TRUE | ty::BOOL_FALSE => self.bytes(1),
                _ => self.skip(kind, depth),
            }
        }

        fn byte(&mut self) -> Result<u8, String> {
            let byte = *self.buf.get(self.at).ok_or("it ends too early")?;
            self.at += 1;
            Ok(byte)
        }

        fn bytes(&mut self, n: u64) -> Result<(), String> {
            let end = usize::try_from(n)
                .ok()
                .and_then(|n| self.at.checked_add(n))
                .filter(|&end| end <= self.buf.len())
                .ok_or("it ends too early")?;
            self.at = end;
            Ok(())
        }

        /// An unsigned LEB128 varint of at most 10 bytes.
        fn varint(&mut self) -> Result<u64, String> {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let byte = self.byte()?;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return Ok(value);
                }
            }
            Err("a varint longer than 10 bytes".into())
        }
    }

    /// A zigzag-encoded signed integer.
    fn zigzag(n: u64) -> i64 {
        ((n >> 1) as i64) ^ -((n & 1) as i64)
    }
}

#[cfg(test)]
mod tests;
