//! A dbt `manifest.json`: one model, seed or snapshot → columns (SPEC 6.1).
//!
//! The manifest is read in one pass into borrowing structs that keep only what the
//! conversion needs (every other field, the macros and docs that are most of a large
//! project's tens of megabytes, is skipped by serde without being built). Columns keep the
//! manifest's order; each `data_type` is mapped by [`super::sql`]'s type table, parsed in
//! the dialect of the manifest's adapter. A column is required when a `not_null` data test
//! is attached to it (tests are nodes of their own), or a `not_null` or `primary_key`
//! constraint names it (on the column, or on the model).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::{columns, sql, ConvertError, Converted, Field, Input, Options, Place};
use crate::drift::ColumnType;

/// The node kinds that have columns of their own data (tests, sources, analyses do not).
const KINDS: [&str; 3] = ["model", "seed", "snapshot"];

/// How many close names a "no such model" error suggests at most.
const SUGGESTIONS: usize = 5;

/// Converts `source` into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let Some(wanted) = options.model.as_deref() else {
        return Err(ConvertError::option(
            Input::Model,
            "model is required for dbt: the name or unique_id of the model, seed or snapshot to convert",
        ));
    };
    if source.iter().all(u8::is_ascii_whitespace) {
        return Err(ConvertError::source("the manifest is empty"));
    }
    let manifest: Manifest<'_> = serde_json::from_slice(source).map_err(json_error)?;
    let nodes: Vec<&Node<'_>> = manifest
        .nodes
        .0
        .iter()
        .map(|(_, n)| n)
        .filter(|n| KINDS.contains(&n.resource_type.as_ref()))
        .collect();
    let node = pick(&nodes, wanted)?;

    // The `not_null` data tests attached to the node, by column.
    let tested: Vec<&str> = manifest
        .nodes
        .0
        .iter()
        .map(|(_, n)| n)
        .filter(|n| n.resource_type == "test")
        .filter(|n| {
            n.test_metadata
                .as_ref()
                .is_some_and(|t| t.name == "not_null")
        })
        .filter(|n| n.attached_node.as_deref() == Some(node.unique_id.as_ref()))
        .filter_map(|n| {
            n.column_name.as_deref().or_else(|| {
                let metadata = n.test_metadata.as_ref()?;
                metadata.kwargs.column_name.as_deref()
            })
        })
        .collect();
    let constrained: Vec<&str> = node
        .constraints
        .iter()
        .filter(|c| c.makes_required())
        .flat_map(|c| c.columns.iter().map(|s| s.as_ref()))
        .collect();

    let dialect = sql::dialect(adapter_dialect(&manifest.metadata.adapter_type))?;
    let mut warnings = Vec::new();
    let fields: Vec<Field> = node
        .columns
        .0
        .iter()
        .map(|(key, column)| {
            let name = column.name.as_deref().unwrap_or(key.as_ref());
            let named = |c: &&str| c.eq_ignore_ascii_case(name);
            let required = tested.iter().any(named)
                || constrained.iter().any(named)
                || column.constraints.iter().any(Constraint::makes_required);
            match column.data_type.as_deref() {
                Some(type_name) if !type_name.trim().is_empty() => {
                    sql::type_name_field(name, required, type_name, dialect.as_ref(), &mut warnings)
                }
                _ => {
                    warnings.push(format!(
                        "column {name:?}: no data_type in the manifest, read as string"
                    ));
                    Field::scalar(name, required, ColumnType::String)
                }
            }
        })
        .collect();
    if fields.is_empty() {
        warnings.push(format!(
            "the {} {} has no columns in the manifest (document them in a .yml file)",
            node.resource_type, node.unique_id
        ));
    }
    Ok(Converted {
        columns: columns(fields, options.nested)?,
        warnings,
    })
}

/// The node `wanted` names, by `unique_id` or `name`; one that does not exist is an error
/// listing close names.
fn pick<'n, 'a>(nodes: &[&'n Node<'a>], wanted: &str) -> Result<&'n Node<'a>, ConvertError> {
    if let Some(node) = nodes.iter().find(|n| n.unique_id == wanted) {
        return Ok(node);
    }
    let named: Vec<&&Node<'_>> = nodes.iter().filter(|n| n.name == wanted).collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(ConvertError::option(Input::Model, not_found(nodes, wanted))),
        several => {
            let ids: Vec<&str> = several.iter().map(|n| n.unique_id.as_ref()).collect();
            Err(ConvertError::option(
                Input::Model,
                format!(
                    "several nodes are named {wanted:?} ({}); give its unique_id",
                    ids.join(", ")
                ),
            ))
        }
    }
}

/// "No model named …" with up to [`SUGGESTIONS`] close names: by edit distance (at most a
/// third of the name, and at least 2), or sharing a prefix of 3 characters or more.
fn not_found(nodes: &[&Node<'_>], wanted: &str) -> String {
    let wanted_lower = wanted.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(2);
    let mut close: Vec<(usize, &str)> = nodes
        .iter()
        .filter_map(|n| {
            let name = n.name.as_ref();
            let lower = name.to_lowercase();
            let distance = strsim::levenshtein(&wanted_lower, &lower);
            let prefix = wanted_lower
                .chars()
                .zip(lower.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (distance <= limit || prefix >= 3).then_some((distance, name))
        })
        .collect();
    close.sort();
    close.dedup_by(|a, b| a.1 == b.1);
    let mut message = format!("no model, seed or snapshot named {wanted:?} in the manifest");
    if close.is_empty() {
        message.push_str(&format!(" (it has {})", nodes.len()));
    } else {
        let names: Vec<&str> = close.iter().take(SUGGESTIONS).map(|(_, n)| *n).collect();
        message.push_str(&format!("; close names: {}", names.join(", ")));
    }
    message
}

/// The SQL dialect a manifest's `data_type`s are written in, from its adapter.
fn adapter_dialect(adapter: &str) -> &'static str {
    match adapter {
        "postgres" | "redshift" => "postgres",
        "duckdb" => "duckdb",
        "snowflake" => "snowflake",
        "bigquery" => "bigquery",
        "mysql" | "mariadb" => "mysql",
        "sqlite" => "sqlite",
        "sqlserver" | "fabric" | "synapse" => "mssql",
        _ => "generic",
    }
}

/// A JSON error at its line and column: the text does not parse, or is no manifest.
fn json_error(error: serde_json::Error) -> ConvertError {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    let message = match error.classify() {
        serde_json::error::Category::Data => format!("not a dbt manifest: {message}"),
        _ => message.to_owned(),
    };
    ConvertError::at(
        Place::LineColumn {
            line: error.line().max(1) as u64,
            column: error.column().max(1) as u64,
        },
        message,
    )
}

/// The parts of `manifest.json` the conversion reads.
#[derive(Deserialize)]
#[serde(expecting = "a dbt manifest (an object with metadata and nodes)")]
struct Manifest<'a> {
    /// Which adapter wrote it: the dialect of its `data_type`s.
    #[serde(borrow)]
    metadata: Metadata<'a>,
    /// Models, seeds, snapshots and tests (and analyses, operations…), by unique_id.
    #[serde(borrow)]
    nodes: Entries<IgnoredAny, Node<'a>>,
}

/// The manifest's `metadata`.
#[derive(Deserialize)]
#[serde(expecting = "the manifest's metadata object")]
struct Metadata<'a> {
    /// `duckdb`, `postgres`, `snowflake`, …
    #[serde(borrow, default)]
    adapter_type: Cow<'a, str>,
}

/// A node: a model, seed or snapshot with columns, or a test attached to one.
#[derive(Deserialize)]
struct Node<'a> {
    /// `model`, `seed`, `snapshot`, `test`, …
    #[serde(borrow)]
    resource_type: Cow<'a, str>,
    /// What `model` names (or the unique_id below).
    #[serde(borrow)]
    name: Cow<'a, str>,
    /// `model.<project>.<name>`: what a test's `attached_node` points at.
    #[serde(borrow)]
    unique_id: Cow<'a, str>,
    /// The documented columns, in the manifest's order.
    #[serde(borrow, default)]
    columns: Entries<Cow<'a, str>, Column<'a>>,
    /// Model-level constraints (`primary_key`, `not_null` with `columns`); null on seeds.
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    constraints: Vec<Constraint<'a>>,
    /// A test's kind (`not_null`, `unique`, …).
    #[serde(borrow, default)]
    test_metadata: Option<TestMetadata<'a>>,
    /// The node a test checks.
    #[serde(borrow, default)]
    attached_node: Option<Cow<'a, str>>,
    /// The column a column test checks.
    #[serde(borrow, default)]
    column_name: Option<Cow<'a, str>>,
}

/// A documented column of a model, seed or snapshot.
#[derive(Deserialize)]
struct Column<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    constraints: Vec<Constraint<'a>>,
}

/// A contract constraint: on a column, or on the model with its `columns`.
#[derive(Deserialize)]
struct Constraint<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    /// The columns of a model-level constraint.
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    columns: Vec<Cow<'a, str>>,
}

impl Constraint<'_> {
    /// `not_null`, and `primary_key` (which implies it, as in SQL DDL).
    fn makes_required(&self) -> bool {
        self.kind == "not_null" || self.kind == "primary_key"
    }
}

/// What a generic data test is (`not_null`, `unique`, …), and its arguments.
#[derive(Deserialize)]
struct TestMetadata<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    kwargs: TestArguments<'a>,
}

/// Older manifests name a test's column only here.
#[derive(Deserialize, Default)]
struct TestArguments<'a> {
    #[serde(borrow, default)]
    column_name: Option<Cow<'a, str>>,
}

/// A JSON object's entries in the document's order, values typed.
struct Entries<K, V>(Vec<(K, V)>);

impl<K, V> Default for Entries<K, V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Entries::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_any(EntriesVisitor(PhantomData))
    }
}

/// A list that may be `null`.
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests;
