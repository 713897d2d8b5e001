//! Schema import (SPEC 6.1): a foreign schema — Avro, JSON Schema, SQL DDL, a Parquet
//! footer, a dbt manifest — becomes DriftGuard columns, with a warning for everything
//! mapped by a fallback.
//!
//! Pure like [`crate::drift`]: bytes in, columns out; no HTTP, no store, no file or
//! network I/O (the CLI reads files, the API handler reads the body). One function per
//! format parses with that format's own library into a tree of [`Field`]s; [`columns`]
//! turns the tree into columns under the [`Nested`] option, the one place that knows how
//! records become `json` columns or dotted leaves.
//!
//! - [`avro`]: schemas and object container file headers.
//! - [`json_schema`]: drafts 7 and 2020-12.
//! - [`sql`]: `CREATE TABLE` statements, by dialect; also the type names dbt uses.
//! - [`parquet`]: the footer only.
//! - [`dbt`]: one model of a manifest.

pub mod avro;
pub mod dbt;
pub mod json_schema;
pub mod parquet;
pub mod sql;

use std::collections::HashMap;
use std::fmt;

use crate::drift::{self, Column, ColumnType};

/// The foreign formats SPEC 6.1 reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An `.avsc` schema (JSON), or an Avro object container file whose header holds one.
    Avro,
    /// A JSON Schema document (drafts 7 and 2020-12).
    JsonSchema,
    /// `CREATE TABLE` statements.
    Sql,
    /// A Parquet file, or any tail of it that holds the footer.
    Parquet,
    /// A dbt `manifest.json`.
    Dbt,
}

impl Format {
    /// Every format, in the order the API documents them.
    pub const ALL: [Format; 5] = [
        Format::Avro,
        Format::JsonSchema,
        Format::Sql,
        Format::Parquet,
        Format::Dbt,
    ];

    /// The name used by the API's `format` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Avro => "avro",
            Format::JsonSchema => "json_schema",
            Format::Sql => "sql",
            Format::Parquet => "parquet",
            Format::Dbt => "dbt",
        }
    }

    /// The format with this API name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// What becomes of nested records (SPEC 6.1 `nested`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nested {
    /// Each nested record is one `json` column (the default).
    #[default]
    Json,
    /// One column per leaf, named by its path joined with `.`, required only when it and
    /// every parent are required.
    Flatten,
}

impl Nested {
    /// The option with this name (`json`, `flatten`).
    pub fn from_name(name: &str) -> Option<Nested> {
        match name {
            "json" => Some(Nested::Json),
            "flatten" => Some(Nested::Flatten),
            _ => None,
        }
    }
}

/// The options of one conversion; each format reads the ones that concern it.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Nested records: one `json` column or flattened leaves.
    pub nested: Nested,
    /// SQL: which of several tables (the last part of a qualified name; unquoted names
    /// compare case-insensitively).
    pub table: Option<String>,
    /// SQL: the dialect's name (`generic` when absent).
    pub dialect: Option<String>,
    /// dbt: the model, seed or snapshot, by `name` or `unique_id` (required for dbt).
    pub model: Option<String>,
}

/// A conversion's answer: columns ready for a contract, and what was guessed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Converted {
    /// Every column has a name, a type and `required`.
    pub columns: Vec<Column>,
    /// One line for everything mapped by a fallback (an unknown type, a union of
    /// unrelated types, a column without a type), naming it.
    pub warnings: Vec<String>,
}

/// Which input a [`ConvertError`] is about: the document, or one of the options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The document (`source` in the API, the file in the CLI).
    Source,
    /// The `table` option.
    Table,
    /// The `dialect` option.
    Dialect,
    /// The `model` option.
    Model,
}

impl Input {
    /// The API's field name.
    pub fn field(self) -> &'static str {
        match self {
            Input::Source => "source",
            Input::Table => "table",
            Input::Dialect => "dialect",
            Input::Model => "model",
        }
    }
}

/// Where in the document an error is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A line and column (1-based) of a text that does not parse (SQL, JSON).
    LineColumn {
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
    },
    /// A JSON Pointer (`/fields/3/type`) into a valid document DriftGuard cannot map.
    Pointer(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::LineColumn { line, column } => write!(f, "line {line}, column {column}"),
            Place::Pointer(pointer) if pointer.is_empty() => f.write_str("at the top level"),
            Place::Pointer(pointer) => write!(f, "at {pointer}"),
        }
    }
}

/// Why a document could not be converted, and where. Shown as `place: message`; the API
/// prefixes the field (`source: line 3, column 5: …`), the CLI the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", place.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct ConvertError {
    /// The document or the option at fault.
    pub input: Input,
    /// Where in the document, when that is known.
    pub place: Option<Place>,
    /// What is wrong, in words (the parser's own message where there is one).
    pub message: String,
}

impl ConvertError {
    /// An error in the document, with no more precise place.
    pub fn source(message: impl Into<String>) -> ConvertError {
        ConvertError {
            input: Input::Source,
            place: None,
            message: message.into(),
        }
    }

    /// An error at `place` in the document.
    pub fn at(place: Place, message: impl Into<String>) -> ConvertError {
        ConvertError {
            input: Input::Source,
            place: Some(place),
            message: message.into(),
        }
    }

    /// An error at a JSON Pointer into the document.
    pub fn at_pointer(pointer: impl Into<String>, message: impl Into<String>) -> ConvertError {
        ConvertError::at(Place::Pointer(pointer.into()), message)
    }

    /// An error in an option (`table`, `dialect`, `model`).
    pub fn option(input: Input, message: impl Into<String>) -> ConvertError {
        ConvertError {
            input,
            place: None,
            message: message.into(),
        }
    }
}

/// Converts `source` (the document's bytes: UTF-8 text for every format but Parquet) into
/// columns.
pub fn convert(
    format: Format,
    source: &[u8],
    options: &Options,
) -> Result<Converted, ConvertError> {
    match format {
        Format::Avro => avro::convert(source, options),
        Format::JsonSchema => json_schema::convert(source, options),
        Format::Sql => sql::convert(source, options),
        Format::Parquet => parquet::convert(source, options),
        Format::Dbt => dbt::convert(source, options),
    }
}

/// A field of a foreign schema, before it becomes columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's own name (not its path).
    pub name: String,
    /// Whether every record has it (not nullable, not optional).
    pub required: bool,
    /// A scalar, a record of fields, or anything kept whole.
    pub shape: Shape,
}

/// What a [`Field`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One of the seven column types.
    Scalar(ColumnType),
    /// A nested record (struct, group, object with properties): one `json` column or
    /// flattened leaves, as [`Nested`] says.
    Record(Vec<Field>),
    /// An array, a map, or a value of no fixed type: one `json` column either way.
    Whole,
}

impl Field {
    /// A field holding one of the seven types.
    pub fn scalar(name: impl Into<String>, required: bool, column_type: ColumnType) -> Field {
        Field {
            name: name.into(),
            required,
            shape: Shape::Scalar(column_type),
        }
    }
}

/// The columns of a record's `fields` under `nested`: nested records become one `json`
/// column, or one column per leaf named by its dotted path (required when it and every
/// parent are). Two columns of one name are an error naming both paths; so is a name
/// DriftGuard does not accept (empty, longer than 256 characters).
pub fn columns(fields: Vec<Field>, nested: Nested) -> Result<Vec<Column>, ConvertError> {
    let mut out = Vec::with_capacity(fields.len());
    // Column name → the path it came from, to name both when two collide.
    let mut paths: HashMap<String, Vec<String>> = HashMap::new();
    let mut stack: Vec<(Vec<String>, bool, Field)> = fields
        .into_iter()
        .rev()
        .map(|f| (Vec::new(), true, f))
        .collect();
    while let Some((parents, parents_required, field)) = stack.pop() {
        let mut path = parents;
        path.push(field.name);
        let required = parents_required && field.required;
        let column_type = match field.shape {
            Shape::Scalar(t) => t,
            Shape::Whole => ColumnType::Json,
            // An empty record has no leaf to flatten to: it stays one column.
            Shape::Record(children) if nested == Nested::Json || children.is_empty() => {
                ColumnType::Json
            }
            Shape::Record(children) => {
                for child in children.into_iter().rev() {
                    stack.push((path.clone(), required, child));
                }
                continue;
            }
        };
        let name = path.join(".");
        if let Some(earlier) = paths.get(&name) {
            let why = if *earlier == path {
                format!("duplicate field name {}", describe_path(&path))
            } else {
                format!(
                    "the fields {} and {} both become the column {name:?}",
                    describe_path(earlier),
                    describe_path(&path)
                )
            };
            return Err(ConvertError::source(why));
        }
        paths.insert(name.clone(), path);
        out.push(Column {
            name,
            column_type,
            required,
            severity_override: None,
        });
    }
    drift::validate_column_names(out.iter().map(|c| c.name.as_str()), "columns")
        .map_err(ConvertError::source)?;
    Ok(out)
}

/// A field's path for a message: its parts quoted and joined with `/`.
fn describe_path(path: &[String]) -> String {
    let parts: Vec<String> = path.iter().map(|p| format!("{p:?}")).collect();
    parts.join("/")
}

#[cfg(test)]
mod tests;
