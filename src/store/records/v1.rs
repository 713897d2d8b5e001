//! The stored shapes of format 1 that format 2 replaced: contracts (no rules, no
//! overrides, no history), checks (no contract version, a diff without renames or
//! ignored columns), webhooks (no format, disabled reason, failure count or previous
//! secret) and deliveries (always a check). The migration to format 2 decodes them; the v1 golden tests encode
//! them to prove they are still the bytes the v1 release wrote.

use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::{ms, stored_type_change};
use super::{type_change, LegacyShape, StoredColumnType, StoredTypeChange, StoredVerdict, UnixMs};
use super::{StoredAttempt, StoredDeliveryStatus, StoredFormat};
use crate::drift::{Column, Compatibility, Diff, Rules};
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
            compatibility: Compatibility::None,
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

/// A v1 webhook: no format, no disabled reason, no failure count, one secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    id: u128,
    url: String,
    events: Vec<StoredVerdict>,
    contract_id: Option<u128>,
    active: bool,
    secret: String,
    created_at: i64,
}

/// A v1 delivery: every delivery had a check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelivery {
    id: u128,
    seq: u64,
    account: u64,
    webhook_id: u128,
    check_id: u128,
    status: StoredDeliveryStatus,
    failures: u32,
    next_attempt_at: Option<i64>,
    attempts: Vec<StoredAttempt>,
    created_at: i64,
    finished_at: Option<i64>,
}

impl From<StoredWebhook> for super::v2::StoredWebhook {
    /// A v1 webhook is a JSON webhook that has not failed. An inactive one was
    /// paused by a PATCH or by a `410` — v1 did not say which; `paused` is the one a
    /// PATCH `{"active": true}` undoes, as it undoes both.
    fn from(v1: StoredWebhook) -> Self {
        super::v2::StoredWebhook {
            id: v1.id,
            url: v1.url,
            events: v1.events,
            contract_id: v1.contract_id,
            active: v1.active,
            secret: v1.secret,
            created_at: v1.created_at,
            format: StoredFormat::Json,
            disabled_reason: (!v1.active).then_some(super::StoredDisabledReason::Paused),
            consecutive_failures: 0,
            previous_secret: None,
        }
    }
}

impl From<StoredDelivery> for super::StoredDelivery {
    /// Through format 2's shape, as the migrations run.
    fn from(v1: StoredDelivery) -> Self {
        super::v4::StoredDelivery::from(v1).into()
    }
}

impl From<StoredDelivery> for super::v4::StoredDelivery {
    fn from(v1: StoredDelivery) -> Self {
        super::v4::StoredDelivery {
            id: v1.id,
            seq: v1.seq,
            account: v1.account,
            webhook_id: v1.webhook_id,
            check_id: Some(v1.check_id),
            status: v1.status,
            failures: v1.failures,
            next_attempt_at: v1.next_attempt_at,
            attempts: v1.attempts,
            created_at: v1.created_at,
            finished_at: v1.finished_at,
        }
    }
}

impl From<StoredWebhook> for super::StoredWebhook {
    /// Through format 2's shape, as the migrations run.
    fn from(v1: StoredWebhook) -> Self {
        super::v2::StoredWebhook::from(v1).into()
    }
}
