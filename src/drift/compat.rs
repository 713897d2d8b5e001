//! Compatibility modes (SPEC 6.2), as a schema registry enforces them: which changes from a
//! stored version of a contract to a new schema a contract's mode refuses, and why.
//!
//! There are two directions, each the mirror of the other:
//! - *backward*: readers of the new schema read data written under the old one, so the new
//!   schema may not demand what old data may lack (a required column it did not have, a
//!   column made required) nor a type that old values may not fit (a narrowing);
//! - *forward*: readers of the old schema read data written under the new one, so the new
//!   schema may not drop what old readers require (a required column, or its being required)
//!   nor a type that they do not accept (a widening).
//!
//! An incompatible type change breaks both. `full` checks both; a transitive mode checks the
//! new schema against every stored version instead of the latest only.

use std::collections::{HashMap, HashSet};

use super::{ChangeKind, Column, ColumnType};

/// A contract's compatibility mode: which changes from its stored versions to a new schema
/// it allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compatibility {
    /// Any change is allowed: the behaviour of a contract that never set a mode.
    #[default]
    None,
    /// Readers of the new schema can read data written under the latest stored version.
    Backward,
    /// Readers of the latest stored version can read data written under the new schema.
    Forward,
    /// Both `backward` and `forward`, against the latest stored version.
    Full,
    /// `backward` against every stored version.
    BackwardTransitive,
    /// `forward` against every stored version.
    ForwardTransitive,
    /// `full` against every stored version.
    FullTransitive,
}

impl Compatibility {
    /// Every mode, in the spec's order.
    pub const ALL: [Compatibility; 7] = [
        Compatibility::None,
        Compatibility::Backward,
        Compatibility::Forward,
        Compatibility::Full,
        Compatibility::BackwardTransitive,
        Compatibility::ForwardTransitive,
        Compatibility::FullTransitive,
    ];

    /// The mode's name, as the spec writes it (`none`, `backward`, …, `full_transitive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::None => "none",
            Compatibility::Backward => "backward",
            Compatibility::Forward => "forward",
            Compatibility::Full => "full",
            Compatibility::BackwardTransitive => "backward_transitive",
            Compatibility::ForwardTransitive => "forward_transitive",
            Compatibility::FullTransitive => "full_transitive",
        }
    }

    /// The mode named exactly `name` (as [`Compatibility::as_str`] writes it; case matters).
    pub fn from_name(name: &str) -> Option<Compatibility> {
        Compatibility::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// True if the mode judges a new schema against every stored version, not only the
    /// latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Compatibility::BackwardTransitive
                | Compatibility::ForwardTransitive
                | Compatibility::FullTransitive
        )
    }

    /// True if the mode requires that readers of the new schema can read old data.
    pub fn checks_backward(self) -> bool {
        matches!(
            self,
            Compatibility::Backward
                | Compatibility::Full
                | Compatibility::BackwardTransitive
                | Compatibility::FullTransitive
        )
    }

    /// True if the mode requires that readers of an old version can read new data.
    pub fn checks_forward(self) -> bool {
        matches!(
            self,
            Compatibility::Forward
                | Compatibility::Full
                | Compatibility::ForwardTransitive
                | Compatibility::FullTransitive
        )
    }
}

/// Which rule of a mode a change breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A required column was removed (breaks forward).
    ColumnRemoved,
    /// A required column was added (breaks backward).
    RequiredColumnAdded,
    /// A column's `required` went from `false` to `true` (breaks backward).
    MadeRequired,
    /// A column's `required` went from `true` to `false` (breaks forward).
    MadeOptional,
    /// A column's type was widened: integer→number, date→timestamp (breaks forward).
    TypeWidened,
    /// A column's type was narrowed: number→integer, timestamp→date (breaks backward).
    TypeNarrowed,
    /// A column's type changed incompatibly (breaks both).
    TypeChanged,
}

impl Rule {
    /// Every rule, in the spec's order.
    pub const ALL: [Rule; 7] = [
        Rule::ColumnRemoved,
        Rule::RequiredColumnAdded,
        Rule::MadeRequired,
        Rule::MadeOptional,
        Rule::TypeWidened,
        Rule::TypeNarrowed,
        Rule::TypeChanged,
    ];

    /// The rule's name, as the spec writes it (`column_removed`, …, `type_changed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::ColumnRemoved => "column_removed",
            Rule::RequiredColumnAdded => "required_column_added",
            Rule::MadeRequired => "made_required",
            Rule::MadeOptional => "made_optional",
            Rule::TypeWidened => "type_widened",
            Rule::TypeNarrowed => "type_narrowed",
            Rule::TypeChanged => "type_changed",
        }
    }

    /// The rule named exactly `name` (as [`Rule::as_str`] writes it; case matters).
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// One change that a compatibility mode refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The stored version the new schema was judged against.
    pub version: u32,
    /// The column that changed (removed, added, or in both versions).
    pub column: String,
    /// The rule it breaks.
    pub rule: Rule,
    /// One sentence naming the column, the version and types involved, and why it breaks.
    pub message: String,
}

/// The changes from stored version `older` (its number and columns) to the `newer` schema
/// that `mode` refuses: `older`'s columns in its order (a column's type violation before
/// its `required` one), then added columns in `newer`'s order. Columns are matched by exact
/// name and their order is not significant; a rename is the removal and the addition that
/// it is. A transitive mode judges one pair as its non-transitive counterpart does.
pub fn violations(
    mode: Compatibility,
    (version, older): (u32, &[Column]),
    newer: &[Column],
) -> Vec<Violation> {
    let backward = mode.checks_backward();
    let forward = mode.checks_forward();
    let mut found = Vec::new();
    if !backward && !forward {
        return found;
    }
    let mut refuse = |column: &str, rule: Rule, message: String| {
        found.push(Violation {
            version,
            column: column.to_owned(),
            rule,
            message,
        });
    };

    let newer_by_name: HashMap<&str, &Column> =
        newer.iter().map(|c| (c.name.as_str(), c)).collect();
    for before in older {
        let name = before.name.as_str();
        let Some(after) = newer_by_name.get(name) else {
            if forward && before.required {
                refuse(
                    name,
                    Rule::ColumnRemoved,
                    format!(
                        "removing required column {name:?} breaks forward compatibility: \
                         readers of version {version} require {name:?}, and data written \
                         under the new schema has none"
                    ),
                );
            }
            continue;
        };
        let (from, to) = (before.column_type, after.column_type);
        if from != to {
            match ChangeKind::of(from, to) {
                ChangeKind::Widening if forward => refuse(
                    name,
                    Rule::TypeWidened,
                    format!(
                        "widening column {name:?} from {from} to {to} breaks forward \
                         compatibility: readers of version {version} expect {}, and not every \
                         {to} written under the new schema is one",
                        with_article(from),
                        from = from.as_str(),
                        to = to.as_str(),
                    ),
                ),
                ChangeKind::Narrowing if backward => refuse(
                    name,
                    Rule::TypeNarrowed,
                    format!(
                        "narrowing column {name:?} from {from} to {to} breaks backward \
                         compatibility: readers of the new schema expect {}, and not every \
                         {from} written under version {version} is one",
                        with_article(to),
                        from = from.as_str(),
                        to = to.as_str(),
                    ),
                ),
                ChangeKind::Incompatible => refuse(
                    name,
                    Rule::TypeChanged,
                    type_changed_message(name, version, from, to, backward, forward),
                ),
                ChangeKind::Widening | ChangeKind::Narrowing => {}
            }
        }
        match (before.required, after.required) {
            (false, true) if backward => refuse(
                name,
                Rule::MadeRequired,
                format!(
                    "making column {name:?} required breaks backward compatibility: data \
                     written under version {version} may have no {name:?}"
                ),
            ),
            (true, false) if forward => refuse(
                name,
                Rule::MadeOptional,
                format!(
                    "making column {name:?} optional breaks forward compatibility: readers \
                     of version {version} require {name:?}, and data written under the new \
                     schema may have none"
                ),
            ),
            _ => {}
        }
    }

    if backward {
        let older_names: HashSet<&str> = older.iter().map(|c| c.name.as_str()).collect();
        for added in newer {
            let name = added.name.as_str();
            if added.required && !older_names.contains(name) {
                refuse(
                    name,
                    Rule::RequiredColumnAdded,
                    format!(
                        "adding required column {name:?} breaks backward compatibility: data \
                         written under version {version} has no {name:?}"
                    ),
                );
            }
        }
    }
    found
}

/// The changes from the stored versions `history` (`(version, columns)`, oldest first) to
/// the `newer` schema that `mode` refuses: judged against the latest version only or, for
/// a transitive mode, against every version, grouped by version in `history`'s order. With
/// no stored version, nothing is refused.
pub fn judge(
    mode: Compatibility,
    history: &[(u32, &[Column])],
    newer: &[Column],
) -> Vec<Violation> {
    let against = if mode.is_transitive() {
        history
    } else {
        history.last().map(std::slice::from_ref).unwrap_or_default()
    };
    against
        .iter()
        .flat_map(|&older| violations(mode, older, newer))
        .collect()
}

/// The message of an incompatible type change, which says which readers it strands.
fn type_changed_message(
    name: &str,
    version: u32,
    from: ColumnType,
    to: ColumnType,
    backward: bool,
    forward: bool,
) -> String {
    let change = format!(
        "changing column {name:?} from {} to {}",
        from.as_str(),
        to.as_str()
    );
    let (direction, why) = match (backward, forward) {
        (true, true) => (
            "backward and forward",
            format!(
                "readers of version {version} expect {} and readers of the new schema {}, so \
                 neither can read the other's data",
                with_article(from),
                with_article(to)
            ),
        ),
        (true, false) => (
            "backward",
            format!(
                "readers of the new schema expect {}, not the {} written under version \
                 {version}",
                with_article(to),
                from.as_str()
            ),
        ),
        _ => (
            "forward",
            format!(
                "readers of version {version} expect {}, not the {} written under the new \
                 schema",
                with_article(from),
                to.as_str()
            ),
        ),
    };
    format!("{change} breaks {direction} compatibility: {why}")
}

/// A value of type `t`, with its article, as a sentence names it ("an integer").
fn with_article(t: ColumnType) -> &'static str {
    match t {
        ColumnType::String => "a string",
        ColumnType::Integer => "an integer",
        ColumnType::Number => "a number",
        ColumnType::Boolean => "a boolean",
        ColumnType::Date => "a date",
        ColumnType::Timestamp => "a timestamp",
        ColumnType::Json => "a json value",
    }
}

#[cfg(test)]
mod tests;
