//! The drift engine: schemas, the diff between a contract and an incoming schema, its
//! severity score and verdict, and schema inference from a sample record.
//!
//! Everything here is pure — no I/O, no clock, no randomness — so every rule of the spec
//! is pinned down by unit and property tests below.

mod infer;

pub use infer::{infer_columns, infer_samples, infer_type, merge_types, MAX_SAMPLES};

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// The seven column types. Anything else in a request is rejected by serde.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// Any other number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A date and time.
    Timestamp,
    /// A nested object or array.
    Json,
}

/// A column of a contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Case-sensitive, 1–256 characters.
    pub name: String,
    /// The declared type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Whether losing the column is worse (40 points instead of 20).
    pub required: bool,
}

/// A column of the schema a pipeline actually received (`required` is not meaningful).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingColumn {
    /// Compared with contract columns by exact name.
    pub name: String,
    /// The received type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// A column whose type differs between the contract and the incoming schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeChange {
    /// The column name.
    pub column: String,
    /// The contract's type.
    pub from: ColumnType,
    /// The incoming type.
    pub to: ColumnType,
}

/// The exact difference between a contract and an incoming schema.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// Contract columns missing from the incoming schema, in contract order.
    pub removed: Vec<String>,
    /// Columns in both with different types, in contract order.
    pub type_changes: Vec<TypeChange>,
    /// Incoming columns unknown to the contract, in incoming order.
    pub added: Vec<String>,
}

/// The verdict derived from a severity score. Also the names of webhook events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Severity 0–19.
    Pass,
    /// Severity 20–89.
    Warning,
    /// Severity 90–100.
    Breaking,
}

impl Verdict {
    /// The name used in JSON and in webhook `events`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warning => "warning",
            Verdict::Breaking => "breaking",
        }
    }

    /// The verdict for a severity score (the only input that decides it).
    pub fn from_severity(severity: u8) -> Verdict {
        match severity {
            0..=19 => Verdict::Pass,
            20..=89 => Verdict::Warning,
            _ => Verdict::Breaking,
        }
    }
}

/// Points per kind of change; the sum is capped at [`MAX_SEVERITY`].
pub const REMOVED_REQUIRED_POINTS: u32 = 40;
/// Points for a removed optional column.
pub const REMOVED_OPTIONAL_POINTS: u32 = 20;
/// Points for a type change.
pub const TYPE_CHANGE_POINTS: u32 = 30;
/// Points for an added column.
pub const ADDED_POINTS: u32 = 5;
/// The severity cap.
pub const MAX_SEVERITY: u8 = 100;

/// The outcome of checking an incoming schema against a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// `pass`, `warning` or `breaking`, derived from `severity`.
    pub verdict: Verdict,
    /// 0–100.
    pub severity: u8,
    /// What changed.
    pub diff: Diff,
}

/// Compares `incoming` with the `contract` columns and scores the difference.
pub fn assess(contract: &[Column], incoming: &[IncomingColumn]) -> Assessment {
    let incoming_types: HashMap<&str, ColumnType> = incoming
        .iter()
        .map(|c| (c.name.as_str(), c.column_type))
        .collect();
    let contract_names: HashSet<&str> = contract.iter().map(|c| c.name.as_str()).collect();

    let mut diff = Diff::default();
    let mut points: u32 = 0;
    for column in contract {
        match incoming_types.get(column.name.as_str()) {
            None => {
                diff.removed.push(column.name.clone());
                points += if column.required {
                    REMOVED_REQUIRED_POINTS
                } else {
                    REMOVED_OPTIONAL_POINTS
                };
            }
            Some(&to) if to != column.column_type => {
                diff.type_changes.push(TypeChange {
                    column: column.name.clone(),
                    from: column.column_type,
                    to,
                });
                points += TYPE_CHANGE_POINTS;
            }
            Some(_) => {}
        }
    }
    for column in incoming {
        if !contract_names.contains(column.name.as_str()) {
            diff.added.push(column.name.clone());
            points += ADDED_POINTS;
        }
    }

    // u32 cannot overflow: schemas come from bounded request bodies.
    let severity = points.min(u32::from(MAX_SEVERITY)) as u8;
    Assessment {
        verdict: Verdict::from_severity(severity),
        severity,
        diff,
    }
}

/// Longest column or contract name, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Checks a name (contract, column, account) of 1–256 characters; the error names `field`.
pub fn validate_name(name: &str, field: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(format!(
            "{field}: must be 1 to {MAX_NAME_CHARS} characters (got {chars})"
        ));
    }
    Ok(())
}

/// Checks the schema rules shared by contracts and incoming schemas: names of 1–256
/// characters, no two columns with the same name. `field` is the JSON path of the column
/// list (e.g. `schema.columns`) so the message names the offending field.
pub fn validate_column_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    field: &str,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (i, name) in names.into_iter().enumerate() {
        validate_name(name, &format!("{field}[{i}].name"))?;
        if !seen.insert(name) {
            return Err(format!("{field}[{i}].name: duplicate column name {name:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
