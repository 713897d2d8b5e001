//! The drift engine: schemas, the diff between a contract and an incoming schema, its
//! severity score and verdict under a contract's rules, the changes between two versions
//! of a contract, which of those changes a compatibility mode refuses, and schema inference
//! from a sample record.
//!
//! Everything here is pure — no I/O, no clock, no randomness — so every rule of the spec
//! is pinned down by unit and property tests below. Nor do these types know JSON: their
//! field names and shapes in requests and answers are `wire`'s (`wire::schema`). The one
//! exception is inference, whose input is a sample record as a `serde_json::Value`.

mod compat;
mod evolve;
mod infer;

pub use compat::{judge, violations, Compatibility, Rule, Violation};
pub use evolve::{
    compare_versions, same_schema, CompatibilityChange, NameChange, RequiredChange, VersionChanges,
    VersionShape,
};
pub use infer::{infer_columns, infer_samples, infer_type, merge_types, MAX_SAMPLES};

use std::collections::{HashMap, HashSet, VecDeque};

/// The seven column types. (Their JSON names, and the refusal of any other, are `wire`'s.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl ColumnType {
    /// Every type, in the spec's order.
    pub const ALL: [ColumnType; 7] = [
        ColumnType::String,
        ColumnType::Integer,
        ColumnType::Number,
        ColumnType::Boolean,
        ColumnType::Date,
        ColumnType::Timestamp,
        ColumnType::Json,
    ];

    /// The type's name, as the spec and people write it (`string`, …, `json`).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Json => "json",
        }
    }
}

/// What a contract column's change scores instead of its default points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeverityOverride {
    /// Any change to the column scores 0 (and is listed in `diff.ignored`).
    Ignore,
    /// Any change scores exactly [`OVERRIDE_WARNING_POINTS`].
    Warning,
    /// Any change scores exactly [`OVERRIDE_BREAKING_POINTS`].
    Breaking,
}

impl SeverityOverride {
    /// The points any change to an overridden column scores.
    pub fn points(self) -> u32 {
        match self {
            SeverityOverride::Ignore => 0,
            SeverityOverride::Warning => OVERRIDE_WARNING_POINTS,
            SeverityOverride::Breaking => OVERRIDE_BREAKING_POINTS,
        }
    }
}

/// A column of a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Case-sensitive, 1–256 characters.
    pub name: String,
    /// The declared type.
    pub column_type: ColumnType,
    /// Whether losing the column is worse (40 points instead of 20).
    pub required: bool,
    /// Replaces the points of this column's removal or type change.
    pub severity_override: Option<SeverityOverride>,
}

/// A contract's scoring rules. The defaults give the v1 scoring exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rules {
    /// Added columns score 0 instead of [`ADDED_POINTS`].
    pub allow_additional_columns: bool,
    /// When `false`, a detected rename scores [`RENAME_POINTS`] instead of a removal plus
    /// an addition.
    pub treat_renames_as_breaking: bool,
    /// A widening type change scores [`WIDENING_POINTS`] instead of
    /// [`TYPE_CHANGE_POINTS`].
    pub allow_type_widening: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            allow_additional_columns: false,
            treat_renames_as_breaking: true,
            allow_type_widening: false,
        }
    }
}

impl Rules {
    /// True for the v1 scoring (a contract that never set rules).
    pub fn is_default(&self) -> bool {
        *self == Rules::default()
    }
}

/// A column of the schema a pipeline actually received (`required` is not meaningful).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingColumn {
    /// Compared with contract columns by exact name.
    pub name: String,
    /// The received type.
    pub column_type: ColumnType,
}

/// How a type change relates the two types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Every old value is still valid: integer→number, date→timestamp.
    Widening,
    /// The reverse: number→integer, timestamp→date.
    Narrowing,
    /// Anything else.
    Incompatible,
}

impl ChangeKind {
    /// The kind of a change from `from` to `to` (two different types).
    pub fn of(from: ColumnType, to: ColumnType) -> ChangeKind {
        use ColumnType::*;
        match (from, to) {
            (Integer, Number) | (Date, Timestamp) => ChangeKind::Widening,
            (Number, Integer) | (Timestamp, Date) => ChangeKind::Narrowing,
            _ => ChangeKind::Incompatible,
        }
    }
}

/// A column whose type differs between the contract and the incoming schema (or between
/// two versions of a contract).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeChange {
    /// The column name.
    pub column: String,
    /// The contract's type.
    pub from: ColumnType,
    /// The incoming type.
    pub to: ColumnType,
    /// Always `ChangeKind::of(from, to)`; kept beside them so that every reader of the
    /// change (the check document among them) sees the same kind.
    pub kind: ChangeKind,
}

impl TypeChange {
    /// A change of `column` from `from` to `to`, with its kind.
    pub fn new(column: String, from: ColumnType, to: ColumnType) -> TypeChange {
        TypeChange {
            column,
            from,
            to,
            kind: ChangeKind::of(from, to),
        }
    }
}

/// A removed column and an added column of the same type that are probably one column
/// renamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    /// The contract's (removed) name.
    pub from: String,
    /// The incoming (added) name.
    pub to: String,
    /// The type both have.
    pub column_type: ColumnType,
}

/// The exact difference between a contract and an incoming schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Contract columns missing from the incoming schema, in contract order.
    pub removed: Vec<String>,
    /// Columns in both with different types, in contract order.
    pub type_changes: Vec<TypeChange>,
    /// Incoming columns unknown to the contract, in incoming order.
    pub added: Vec<String>,
    /// Probable renames (their columns stay in `removed` and `added` too), in contract
    /// order of the removed half.
    pub renames: Vec<Rename>,
    /// Columns whose change scored 0 because of a rule or an override: contract columns
    /// in contract order, then added columns in incoming order.
    pub ignored: Vec<String>,
}

/// The verdict derived from a severity score. Also the names of webhook events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Severity 0–19.
    Pass,
    /// Severity 20–89.
    Warning,
    /// Severity 90–100.
    Breaking,
}

impl Verdict {
    /// The verdict's name, as the spec writes it (also the names of webhook `events`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warning => "warning",
            Verdict::Breaking => "breaking",
        }
    }

    /// The verdict named exactly `name` (as [`Verdict::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Verdict> {
        [Verdict::Pass, Verdict::Warning, Verdict::Breaking]
            .into_iter()
            .find(|v| v.as_str() == name)
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
/// Points for a detected rename when renames are not breaking.
pub const RENAME_POINTS: u32 = 10;
/// Points for a widening type change when widening is allowed.
pub const WIDENING_POINTS: u32 = 5;
/// Points for any change to a column overridden as `warning`.
pub const OVERRIDE_WARNING_POINTS: u32 = 20;
/// Points for any change to a column overridden as `breaking`.
pub const OVERRIDE_BREAKING_POINTS: u32 = 90;
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

/// Compares `incoming` with the `contract` columns and scores the difference under
/// `rules` and the columns' overrides. With default rules and no overrides this is the
/// v1 scoring exactly; the diff explains itself (kinds, renames, ignored) either way.
pub fn assess(contract: &[Column], rules: &Rules, incoming: &[IncomingColumn]) -> Assessment {
    let (incoming_types, added) = match_columns(contract, incoming);

    let mut diff = Diff::default();
    let mut removed: Vec<&Column> = Vec::new();
    for (column, found) in contract.iter().zip(&incoming_types) {
        match *found {
            None => {
                diff.removed.push(column.name.clone());
                removed.push(column);
            }
            Some(to) if to != column.column_type => {
                diff.type_changes.push(TypeChange::new(
                    column.name.clone(),
                    column.column_type,
                    to,
                ));
            }
            Some(_) => {}
        }
    }
    diff.added = added.iter().map(|c| c.name.clone()).collect();
    diff.renames = detect_renames(&removed, &added);

    // Removed half → added half, and the added halves whose points go with their pair.
    let renamed: HashMap<&str, &str> = diff
        .renames
        .iter()
        .map(|r| (r.from.as_str(), r.to.as_str()))
        .collect();
    let mut absorbed: HashSet<&str> = HashSet::new();
    let mut points: u32 = 0;
    let mut ignored: Vec<String> = Vec::new();
    let mut score = |name: &str, earned: u32, ignored: &mut Vec<String>| {
        if earned == 0 {
            ignored.push(name.to_owned());
        }
        points += earned;
    };
    let changes: HashMap<&str, &TypeChange> = diff
        .type_changes
        .iter()
        .map(|t| (t.column.as_str(), t))
        .collect();
    for (column, found) in contract.iter().zip(&incoming_types) {
        let name = column.name.as_str();
        if let Some(change) = changes.get(name) {
            let earned = match column.severity_override {
                Some(o) => o.points(),
                None if rules.allow_type_widening && change.kind == ChangeKind::Widening => {
                    WIDENING_POINTS
                }
                None => TYPE_CHANGE_POINTS,
            };
            score(name, earned, &mut ignored);
        } else if found.is_none() {
            let rename = renamed.get(name).copied();
            let earned = match (column.severity_override, rename) {
                (Some(o), _) => {
                    // The column's points are counted once: its new name scores nothing.
                    absorbed.extend(rename);
                    o.points()
                }
                (None, Some(to)) if !rules.treat_renames_as_breaking => {
                    absorbed.insert(to);
                    RENAME_POINTS
                }
                (None, _) if column.required => REMOVED_REQUIRED_POINTS,
                (None, _) => REMOVED_OPTIONAL_POINTS,
            };
            score(name, earned, &mut ignored);
        }
    }
    for column in &added {
        let name = column.name.as_str();
        if absorbed.contains(name) {
            continue;
        }
        let earned = if rules.allow_additional_columns {
            0
        } else {
            ADDED_POINTS
        };
        score(name, earned, &mut ignored);
    }
    diff.ignored = ignored;

    // u32 cannot overflow: schemas come from bounded request bodies.
    let severity = points.min(u32::from(MAX_SEVERITY)) as u8;
    Assessment {
        verdict: Verdict::from_severity(severity),
        severity,
        diff,
    }
}

/// Pairs the schemas by name: each contract column's type in `incoming` (`None`: it is
/// not there), and the incoming columns the contract does not have, in incoming order.
/// Schemas that list the same names in the same order — the usual check, and the hot
/// path — are paired without hashing a name. (Contract names are unique: validated.)
fn match_columns<'a>(
    contract: &[Column],
    incoming: &'a [IncomingColumn],
) -> (Vec<Option<ColumnType>>, Vec<&'a IncomingColumn>) {
    let aligned = contract.len() == incoming.len()
        && contract.iter().zip(incoming).all(|(c, i)| c.name == i.name);
    if aligned {
        let types = incoming.iter().map(|c| Some(c.column_type)).collect();
        return (types, Vec::new());
    }
    match_columns_by_name(contract, incoming)
}

/// [`match_columns`] for schemas in any order.
fn match_columns_by_name<'a>(
    contract: &[Column],
    incoming: &'a [IncomingColumn],
) -> (Vec<Option<ColumnType>>, Vec<&'a IncomingColumn>) {
    let incoming_types: HashMap<&str, ColumnType> = incoming
        .iter()
        .map(|c| (c.name.as_str(), c.column_type))
        .collect();
    let contract_names: HashSet<&str> = contract.iter().map(|c| c.name.as_str()).collect();
    let types = contract
        .iter()
        .map(|c| incoming_types.get(c.name.as_str()).copied())
        .collect();
    let added = incoming
        .iter()
        .filter(|c| !contract_names.contains(c.name.as_str()))
        .collect();
    (types, added)
}

/// A name as rename detection compares it: lower-cased, letters and digits only
/// (`userId`, `user_id` and `USER-ID` are all `userid`).
pub fn rename_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Pairs removed and added columns of the same type whose names are equal under
/// [`rename_key`] — each removed column (in contract order) with the first unpaired added
/// column (in incoming order) that matches. When that finds nothing, the only removed
/// and the only added column form a pair if their types are equal. A column is in at most
/// one pair.
fn detect_renames(removed: &[&Column], added: &[&IncomingColumn]) -> Vec<Rename> {
    let mut candidates: HashMap<(String, ColumnType), VecDeque<&IncomingColumn>> = HashMap::new();
    for column in added {
        candidates
            .entry((rename_key(&column.name), column.column_type))
            .or_default()
            .push_back(column);
    }
    let mut renames = Vec::new();
    for column in removed {
        let key = (rename_key(&column.name), column.column_type);
        if let Some(to) = candidates.get_mut(&key).and_then(VecDeque::pop_front) {
            renames.push(Rename {
                from: column.name.clone(),
                to: to.name.clone(),
                column_type: column.column_type,
            });
        }
    }
    if renames.is_empty() {
        if let ([from], [to]) = (removed, added) {
            if from.column_type == to.column_type {
                renames.push(Rename {
                    from: from.name.clone(),
                    to: to.name.clone(),
                    column_type: from.column_type,
                });
            }
        }
    }
    renames
}

/// Longest column or contract name, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Checks a name (contract, column, account) of 1–256 characters; the error names `field`.
pub fn validate_name(name: &str, field: &str) -> Result<(), String> {
    name_error(name).map_or(Ok(()), |why| Err(format!("{field}: {why}")))
}

/// What is wrong with a name, if anything (without the field: the hot path formats a field
/// path only when it has an error to report).
fn name_error(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Some(format!(
            "must be 1 to {MAX_NAME_CHARS} characters (got {chars})"
        ));
    }
    // Names reach terminals, CI logs and chat messages: a newline could forge a GitHub
    // workflow command, ESC a terminal sequence, a bidi control reorder what is shown.
    let bad = if name.is_ascii() {
        name.bytes()
            .position(|b| b.is_ascii_control())
            .map(|at| (name.as_bytes()[at] as char, at))
    } else {
        name.chars()
            .enumerate()
            .find(|&(_, c)| is_hidden_control(c))
            .map(|(at, c)| (c, at))
    };
    bad.map(|(c, at)| {
        format!(
            "must not contain control or bidirectional-formatting characters (U+{:04X} at character {at})",
            u32::from(c)
        )
    })
}

/// Control characters (C0, DEL, C1) and the Unicode controls that reorder displayed text
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
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
        if let Some(why) = name_error(name) {
            return Err(format!("{field}[{i}].name: {why}"));
        }
        if !seen.insert(name) {
            return Err(format!("{field}[{i}].name: duplicate column name {name:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
