//! An Avro schema (`.avsc` JSON) or the header of an object container file → columns (SPEC 6.1).
//!
//! Apache's `apache-avro` crate parses the schema (and so checks it, resolves named types
//! and namespaces) and decodes the container header's metadata; this file maps the parsed
//! [`Schema`] onto the seven column types. The top level must be a record; its fields
//! become [`Field`]s, nested records stay records for [`columns`] to keep whole or
//! flatten.

use std::collections::BTreeSet;

use apache_avro::error::Details;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::{Name, NamesRef, RecordSchema, ResolvedSchema};
use apache_avro::types::Value as AvroValue;
use apache_avro::Schema;
use serde_json::Value;

use super::{columns, ConvertError, Converted, Field, Nested, Options, Place, Shape};
use crate::drift::ColumnType;

/// Most bytes of an Avro object container file a reader needs to give [`convert`]: the
/// header (magic, metadata with the schema, sync marker) is at the start, so a reader
/// passes at most this much of a data file, never its blocks of records.
pub const CONTAINER_PREFIX_LEN: usize = 16 * 1024 * 1024;

/// The first bytes of every object container file.
const CONTAINER_MAGIC: &[u8] = b"Obj\x01";

/// How deep records may nest, counting each named record a field refers to: deeper is a
/// `400`, not a stack overflow (a chain of records each holding the one before is short in
/// JSON but deep once expanded).
pub(super) const MAX_DEPTH: usize = 64;

/// How many fields the expanded tree may hold: a record referred to by many fields is
/// expanded at each one, so a small document could otherwise ask for millions.
pub(super) const MAX_FIELDS: usize = 100_000;

/// Converts `source` — an `.avsc` schema, or an object container file (or its first
/// bytes, up to [`CONTAINER_PREFIX_LEN`]) — into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    if source.is_empty() {
        return Err(ConvertError::source(
            "the file is empty: expected an Avro schema (.avsc) or an object container file",
        ));
    }
    if source.starts_with(CONTAINER_MAGIC) {
        let schema = container_schema(source)?;
        return convert_schema_text(&schema, options).map_err(|mut e| {
            e.message = format!("{} (in the header's avro.schema)", e.message);
            e
        });
    }
    convert_schema_text(source, options)
}

/// The `avro.schema` metadata of a container file's header, decoded by apache-avro (the
/// metadata is an Avro `map` of `bytes`). The data blocks after the header are never read,
/// so any codec's file converts, and a prefix of the file is enough.
fn container_schema(source: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let damaged = |why: String| {
        ConvertError::source(format!(
            "the object container file's header is cut short or damaged: {why}"
        ))
    };
    let mut rest = &source[CONTAINER_MAGIC.len()..];
    let metadata_schema = Schema::map(Schema::Bytes).build();
    let reader = GenericDatumReader::builder(&metadata_schema)
        .build()
        .map_err(|e| damaged(describe(&e)))?;
    let metadata = reader
        .read_value(&mut rest)
        .map_err(|e| damaged(describe(&e)))?;
    // A header is the metadata and then the 16-byte sync marker.
    if rest.len() < 16 {
        return Err(damaged("it ends before the sync marker".into()));
    }
    let AvroValue::Map(mut metadata) = metadata else {
        return Err(damaged("its metadata is not a map".into()));
    };
    match metadata.remove("avro.schema") {
        Some(AvroValue::Bytes(schema)) => Ok(schema),
        _ => Err(damaged("it has no avro.schema metadata".into())),
    }
}

/// Converts the text of an `.avsc` schema.
fn convert_schema_text(text: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let document: Value = serde_json::from_slice(text).map_err(json_error)?;
    let schema = Schema::parse(&document).map_err(|e| schema_error(&e, &document))?;
    let Schema::Record(record) = &schema else {
        return Err(ConvertError::at_pointer(
            "",
            format!(
                "the schema must be a record, not {}",
                describe_schema(&schema)
            ),
        ));
    };
    let resolved = ResolvedSchema::try_from(&schema).map_err(|e| schema_error(&e, &document))?;
    let mut mapping = Mapping {
        names: resolved.get_names(),
        nested: options.nested,
        expanding: vec![record.name.clone()],
        fields: 0,
        warnings: Vec::new(),
    };
    let fields = mapping.record_fields(record, "")?;
    let warnings = mapping.warnings;
    Ok(Converted {
        columns: columns(fields, options.nested)?,
        warnings,
    })
}

/// A JSON syntax error at its line and column (serde_json counts both from 1).
pub(super) fn json_error(error: serde_json::Error) -> ConvertError {
    let message = error.to_string();
    // serde_json's Display ends with " at line L column C", which the place says already.
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    };
    if error.line() == 0 {
        return ConvertError::source(message);
    }
    ConvertError::at(
        Place::LineColumn {
            line: error.line() as u64,
            column: error.column() as u64,
        },
        message,
    )
}

/// An apache-avro error, at the JSON Pointer of the unknown name when it is one.
fn schema_error(error: &apache_avro::Error, document: &Value) -> ConvertError {
    match error.details() {
        Details::ParsePrimitive(name) | Details::ParsePrimitiveSimilar(name, _) => {
            let message = format!(
                "unknown type {name:?}: not a primitive type, nor a record, enum or fixed defined earlier"
            );
            match find_reference(document, name, "", None, 0) {
                Some(pointer) => ConvertError::at_pointer(pointer, message),
                None => ConvertError::source(message),
            }
        }
        _ => ConvertError::source(format!("not a valid Avro schema: {}", describe(error))),
    }
}

/// An apache-avro error's message with its causes.
fn describe(error: &apache_avro::Error) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        // Some of its messages already end with their cause's.
        let text = c.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
    }
    message
}

/// The JSON Pointer of the first place where `document` names the type `fullname`,
/// resolving names as Avro does (a name without a dot is in the enclosing namespace).
/// apache-avro's error names the type but not the place; this walks the same positions.
fn find_reference(
    value: &Value,
    fullname: &str,
    pointer: &str,
    namespace: Option<&str>,
    depth: usize,
) -> Option<String> {
    if depth > 2 * MAX_DEPTH {
        return None;
    }
    let child = |key: &str| format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
    match value {
        Value::String(name) => {
            let full = match (name.contains('.'), namespace) {
                (false, Some(ns)) if !ns.is_empty() => format!("{ns}.{name}"),
                _ => name.clone(),
            };
            (full == fullname).then(|| pointer.to_owned())
        }
        Value::Array(union) => union.iter().enumerate().find_map(|(i, v)| {
            find_reference(v, fullname, &child(&i.to_string()), namespace, depth + 1)
        }),
        Value::Object(object) => match object.get("type")? {
            Value::String(kind) if kind == "record" || kind == "error" => {
                let name = object.get("name").and_then(Value::as_str).unwrap_or("");
                let namespace = match name.rfind('.') {
                    Some(dot) => Some(&name[..dot]),
                    None => object
                        .get("namespace")
                        .and_then(Value::as_str)
                        .or(namespace),
                };
                let fields = object.get("fields")?.as_array()?;
                fields.iter().enumerate().find_map(|(i, field)| {
                    let at = format!("{}/{i}/type", child("fields"));
                    find_reference(field.get("type")?, fullname, &at, namespace, depth + 1)
                })
            }
            Value::String(kind) if kind == "array" => object.get("items").and_then(|items| {
                find_reference(items, fullname, &child("items"), namespace, depth + 1)
            }),
            Value::String(kind) if kind == "map" => object.get("values").and_then(|values| {
                find_reference(values, fullname, &child("values"), namespace, depth + 1)
            }),
            Value::String(kind) if kind == "enum" || kind == "fixed" => None,
            inner => find_reference(inner, fullname, &child("type"), namespace, depth + 1),
        },
        _ => None,
    }
}

/// One conversion's walk over a parsed schema.
struct Mapping<'s> {
    /// Every named type of the document, by full name (apache-avro's resolution).
    names: &'s NamesRef<'s>,
    /// Only flattening looks inside a recursive record, so only it warns about one.
    nested: Nested,
    /// The records being expanded, outermost first: a field of one of their types is a
    /// recursion, kept as one `json` column.
    expanding: Vec<Name>,
    /// Fields produced so far, against [`MAX_FIELDS`].
    fields: usize,
    /// What was mapped by a fallback.
    warnings: Vec<String>,
}

impl<'s> Mapping<'s> {
    /// The fields of a record whose own path (dotted field names) is `path`.
    fn record_fields(
        &mut self,
        record: &'s RecordSchema,
        path: &str,
    ) -> Result<Vec<Field>, ConvertError> {
        if self.expanding.len() > MAX_DEPTH {
            return Err(ConvertError::source(format!(
                "the field {path:?} nests records more than {MAX_DEPTH} deep"
            )));
        }
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            self.fields += 1;
            if self.fields > MAX_FIELDS {
                return Err(ConvertError::source(format!(
                    "the schema expands to more than {MAX_FIELDS} fields"
                )));
            }
            let path = if path.is_empty() {
                field.name.clone()
            } else {
                format!("{path}.{}", field.name)
            };
            let (shape, nullable) = self.field_shape(&field.schema, &path)?;
            fields.push(Field {
                name: field.name.clone(),
                required: !nullable,
                shape,
            });
        }
        Ok(fields)
    }

    /// The shape of a field's type, and whether it admits `null` (a union with `"null"`).
    fn field_shape(
        &mut self,
        schema: &'s Schema,
        path: &str,
    ) -> Result<(Shape, bool), ConvertError> {
        let Schema::Union(union) = schema else {
            if matches!(schema, Schema::Null) {
                self.warn(path, "the type null becomes string");
                return Ok((Shape::Scalar(ColumnType::String), true));
            }
            return Ok((self.shape(schema, path)?, false));
        };
        let nullable = union.variants().iter().any(|v| matches!(v, Schema::Null));
        let members: Vec<&'s Schema> = union
            .variants()
            .iter()
            .filter(|v| !matches!(v, Schema::Null))
            .collect();
        let shape = match members.as_slice() {
            [] => {
                self.warn(path, "the union [\"null\"] becomes string");
                Shape::Scalar(ColumnType::String)
            }
            [only] => self.shape(only, path)?,
            several => {
                let mut shapes = Vec::with_capacity(several.len());
                for member in several {
                    shapes.push(self.shape(member, path)?);
                }
                match union_shape(shapes) {
                    Some(shape) => shape,
                    None => {
                        let names: Vec<String> =
                            union.variants().iter().map(describe_schema).collect();
                        self.warn(
                            path,
                            &format!("the union [{}] becomes json", names.join(", ")),
                        );
                        Shape::Scalar(ColumnType::Json)
                    }
                }
            }
        };
        Ok((shape, nullable))
    }

    /// The shape of a type other than a union (SPEC 6.1's Avro row).
    fn shape(&mut self, schema: &'s Schema, path: &str) -> Result<Shape, ConvertError> {
        let column_type = match schema {
            Schema::Boolean => ColumnType::Boolean,
            Schema::Int | Schema::Long => ColumnType::Integer,
            Schema::Float | Schema::Double | Schema::Decimal(_) | Schema::BigDecimal => {
                ColumnType::Number
            }
            Schema::Date => ColumnType::Date,
            Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => ColumnType::Timestamp,
            Schema::Bytes
            | Schema::String
            | Schema::Fixed(_)
            | Schema::Enum(_)
            | Schema::Uuid(_)
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::Duration(_) => ColumnType::String,
            Schema::Array(_) | Schema::Map(_) => return Ok(Shape::Whole),
            // Only inside a union of nothing else, which `field_shape` handles; a union
            // directly in a union is refused by the parser.
            Schema::Null | Schema::Union(_) => ColumnType::Json,
            Schema::Record(record) => return self.nested_record(record, path),
            Schema::Ref { name } => {
                let Some(named) = self.names.get(name) else {
                    return Err(ConvertError::source(format!(
                        "unknown type {:?}",
                        name.fullname(None)
                    )));
                };
                return self.shape(named, path);
            }
        };
        Ok(Shape::Scalar(column_type))
    }

    /// A nested record's shape: its fields, or one `json` column when it holds itself.
    fn nested_record(
        &mut self,
        record: &'s RecordSchema,
        path: &str,
    ) -> Result<Shape, ConvertError> {
        if self.expanding.contains(&record.name) {
            if self.nested == Nested::Flatten {
                self.warn(
                    path,
                    &format!(
                        "the record {:?} contains itself, so it stays one json column",
                        record.name.fullname(None)
                    ),
                );
            }
            return Ok(Shape::Whole);
        }
        self.expanding.push(record.name.clone());
        let fields = self.record_fields(record, path);
        self.expanding.pop();
        Ok(Shape::Record(fields?))
    }

    fn warn(&mut self, path: &str, what: &str) {
        self.warnings.push(format!("field {path:?}: {what}"));
    }
}

/// The one shape of a union of several non-null members (SPEC 6.1's rule, which JSON
/// Schema's type lists and `anyOf`/`oneOf` follow too): members of one column type take
/// it, `integer`+`number` → `number`, `date`+`timestamp` → `timestamp`; anything else
/// (unrelated types, a record among others) is `None`: the caller's `json` with a warning.
pub(super) fn union_shape(shapes: Vec<Shape>) -> Option<Shape> {
    let mut types = BTreeSet::new();
    for shape in &shapes {
        match shape {
            Shape::Scalar(t) => types.insert(t.as_str()),
            Shape::Whole => types.insert(ColumnType::Json.as_str()),
            // Two records, or a record and anything else, have no one set of leaves.
            Shape::Record(_) if shapes.len() > 1 => return None,
            Shape::Record(_) => return shapes.into_iter().next(),
        };
    }
    let only = |allowed: &[ColumnType]| {
        types
            .iter()
            .all(|t| allowed.iter().any(|a| a.as_str() == *t))
    };
    let column_type = if types.len() == 1 {
        ColumnType::ALL
            .into_iter()
            .find(|t| types.contains(t.as_str()))?
    } else if only(&[ColumnType::Integer, ColumnType::Number]) {
        ColumnType::Number
    } else if only(&[ColumnType::Date, ColumnType::Timestamp]) {
        ColumnType::Timestamp
    } else {
        return None;
    };
    Some(match column_type {
        ColumnType::Json if shapes.iter().all(|s| matches!(s, Shape::Whole)) => Shape::Whole,
        t => Shape::Scalar(t),
    })
}

/// A type as a message names it: its Avro name, or `logical (underlying)`.
fn describe_schema(schema: &Schema) -> String {
    let text = match schema {
        Schema::Null => "null",
        Schema::Boolean => "boolean",
        Schema::Int => "int",
        Schema::Long => "long",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes => "bytes",
        Schema::String => "string",
        Schema::Array(_) => "array",
        Schema::Map(_) => "map",
        Schema::Union(_) => "a union",
        Schema::Record(r) => return format!("record {}", r.name.fullname(None)),
        Schema::Enum(e) => return format!("enum {}", e.name.fullname(None)),
        Schema::Fixed(f) => return format!("fixed {}", f.name.fullname(None)),
        Schema::Ref { name } => return name.fullname(None),
        Schema::Decimal(_) | Schema::BigDecimal => "decimal",
        Schema::Uuid(_) => "uuid",
        Schema::Date => "date",
        Schema::TimeMillis => "time-millis",
        Schema::TimeMicros => "time-micros",
        Schema::TimestampMillis => "timestamp-millis",
        Schema::TimestampMicros => "timestamp-micros",
        Schema::TimestampNanos => "timestamp-nanos",
        Schema::LocalTimestampMillis => "local-timestamp-millis",
        Schema::LocalTimestampMicros => "local-timestamp-micros",
        Schema::LocalTimestampNanos => "local-timestamp-nanos",
        Schema::Duration(_) => "duration",
    };
    text.to_owned()
}

#[cfg(test)]
pub(super) mod tests;
