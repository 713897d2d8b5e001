//! How a contract changes between two versions: whether an update changes anything at all
//! (column order is not significant), and the `changes` a version answers with.

use std::collections::HashMap;

use super::{Column, Compatibility, Rules, TypeChange};

/// A column whose `required` flag flipped between two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredChange {
    /// The column name.
    pub column: String,
    /// Before.
    pub from: bool,
    /// After.
    pub to: bool,
}

/// A contract renamed between two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameChange {
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
}

/// A contract's compatibility mode changed between two versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompatibilityChange {
    /// Before.
    pub from: Compatibility,
    /// After.
    pub to: Compatibility,
}

/// A version of a contract as [`compare_versions`] compares it: name, columns, rules and
/// compatibility mode.
pub type VersionShape<'a> = (&'a str, &'a [Column], &'a Rules, Compatibility);

/// What changed from one version of a contract to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionChanges {
    /// Columns of the new version only, in its order.
    pub added: Vec<String>,
    /// Columns of the old version only, in its order.
    pub removed: Vec<String>,
    /// Columns in both whose type changed, in the old version's order.
    pub type_changes: Vec<TypeChange>,
    /// Columns in both whose `required` flipped, in the old version's order.
    pub required_changes: Vec<RequiredChange>,
    /// The contract's name, if it changed.
    pub name_changed: Option<NameChange>,
    /// The rules changed, or the `severity_override` of a column in both versions did.
    pub rules_changed: bool,
    /// The compatibility mode, if it changed.
    pub compatibility_changed: Option<CompatibilityChange>,
}

/// True if the two schemas are the same: equal rules and the same columns (same name,
/// type, `required` and override), whatever their order.
pub fn same_schema(a: &[Column], a_rules: &Rules, b: &[Column], b_rules: &Rules) -> bool {
    if a_rules != b_rules || a.len() != b.len() {
        return false;
    }
    let by_name: HashMap<&str, &Column> = a.iter().map(|c| (c.name.as_str(), c)).collect();
    b.iter()
        .all(|c| by_name.get(c.name.as_str()).is_some_and(|old| *old == c))
}

/// The changes from version `(old_name, old, old_rules, old_mode)` to `(new_name, new,
/// new_rules, new_mode)`.
pub fn compare_versions(
    (old_name, old, old_rules, old_mode): VersionShape<'_>,
    (new_name, new, new_rules, new_mode): VersionShape<'_>,
) -> VersionChanges {
    let old_by_name: HashMap<&str, &Column> = old.iter().map(|c| (c.name.as_str(), c)).collect();
    let new_by_name: HashMap<&str, &Column> = new.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut changes = VersionChanges {
        added: new
            .iter()
            .filter(|c| !old_by_name.contains_key(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect(),
        removed: Vec::new(),
        type_changes: Vec::new(),
        required_changes: Vec::new(),
        name_changed: (old_name != new_name).then(|| NameChange {
            from: old_name.to_owned(),
            to: new_name.to_owned(),
        }),
        rules_changed: old_rules != new_rules,
        compatibility_changed: (old_mode != new_mode).then_some(CompatibilityChange {
            from: old_mode,
            to: new_mode,
        }),
    };
    for before in old {
        let Some(after) = new_by_name.get(before.name.as_str()) else {
            changes.removed.push(before.name.clone());
            continue;
        };
        if before.column_type != after.column_type {
            changes.type_changes.push(TypeChange::new(
                before.name.clone(),
                before.column_type,
                after.column_type,
            ));
        }
        if before.required != after.required {
            changes.required_changes.push(RequiredChange {
                column: before.name.clone(),
                from: before.required,
                to: after.required,
            });
        }
        if before.severity_override != after.severity_override {
            changes.rules_changed = true;
        }
    }
    changes
}
