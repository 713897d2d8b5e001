//! The stored shapes of format 1 that format 2 replaced: contracts (no rules, no
//! overrides, no history) and checks (no contract version, a diff without renames or
//! ignored columns). The migration to format 2 decodes them; the v1 golden tests encode
//! them to prove they are still the bytes the v1 release wrote.

use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::{ms, stored_type_change};
use super::{type_change, LegacyShape, StoredColumnType, StoredTypeChange, StoredVerdict, UnixMs};
use crate::drift::{Column, Diff, Rules};
use crate::ids::{CheckId, ContractId};
use crate::model::{Check, Contract};

/// The version every format-1 contract and check is, after the migration.
pub const FIRST_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredColumn {
    name: String,
    column_type: StoredColumnType,
    required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContract {
    id: u128,
    name: String,
    version: u32,
    columns: Vec<StoredColumn>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDiff {
    removed: Vec<String>,
    type_changes: Vec<StoredTypeChange>,
    added: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheck {
    id: u128,
    contract_id: u128,
    verdict: StoredVerdict,
    severity: u8,
    diff: StoredDiff,
    credits_used: u8,
    created_at: i64,
}

impl LegacyShape<Contract> for StoredContract {
    #[cfg(test)]
    fn from_domain(c: &Contract) -> Self {
        StoredContract {
            id: c.id.raw(),
            name: c.name.clone(),
            version: c.version,
            columns: c
                .columns
                .iter()
                .map(|c| StoredColumn {
                    name: c.name.clone(),
                    column_type: c.column_type.into(),
                    required: c.required,
                })
                .collect(),
            created_at: ms(c.created_at),
            updated_at: ms(c.updated_at),
        }
    }

    /// A v1 contract has default rules and no overrides: it scores exactly as before.
    fn into_domain(self) -> Contract {
        Contract {
            id: ContractId::from_raw(self.id),
            name: self.name,
            version: self.version,
            columns: self
                .columns
                .into_iter()
                .map(|c| Column {
                    name: c.name,
                    column_type: c.column_type.into(),
                    required: c.required,
                    severity_override: None,
                })
                .collect(),
            rules: Rules::default(),
            created_at: UnixMs(self.created_at),
            updated_at: UnixMs(self.updated_at),
        }
    }
}

impl LegacyShape<Check> for StoredCheck {
    #[cfg(test)]
    fn from_domain(c: &Check) -> Self {
        StoredCheck {
            id: c.id.raw(),
            contract_id: c.contract_id.raw(),
            verdict: c.verdict.into(),
            severity: c.severity,
            diff: StoredDiff {
                removed: c.diff.removed.clone(),
                type_changes: c.diff.type_changes.iter().map(stored_type_change).collect(),
                added: c.diff.added.clone(),
            },
            credits_used: c.credits_used,
            created_at: ms(c.created_at),
        }
    }

    /// A v1 check ran against version 1 (the only one there was), before renames and
    /// ignored columns were reported: both lists are empty. Its score and verdict stay.
    fn into_domain(self) -> Check {
        Check {
            id: CheckId::from_raw(self.id),
            contract_id: ContractId::from_raw(self.contract_id),
            contract_version: FIRST_VERSION,
            verdict: self.verdict.into(),
            severity: self.severity,
            diff: Diff {
                removed: self.diff.removed,
                type_changes: self
                    .diff
                    .type_changes
                    .into_iter()
                    .map(type_change)
                    .collect(),
                added: self.diff.added,
                renames: Vec::new(),
                ignored: Vec::new(),
            },
            credits_used: self.credits_used,
            created_at: UnixMs(self.created_at),
        }
    }
}
