//! The stored shapes of format 2 that format 3 replaced: contracts and their versions (no
//! compatibility mode) and webhooks (no filter, no routing key). The migration to format 3
//! decodes them (and the one from format 1 writes format 2's webhooks first); the format-2
//! golden tests decode the bytes that release wrote.

use serde::{Deserialize, Serialize};

use super::{StoredColumn, StoredCompatibility, StoredRules};
use super::{StoredDisabledReason, StoredFormat, StoredPreviousSecret, StoredVerdict};

/// A format-2 contract row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContract {
    id: u128,
    name: String,
    version: u32,
    columns: Vec<StoredColumn>,
    rules: StoredRules,
    created_at: i64,
    updated_at: i64,
}

/// A format-2 version row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContractVersion {
    version: u32,
    name: String,
    columns: Vec<StoredColumn>,
    rules: StoredRules,
    created_at: i64,
}

impl From<StoredContract> for super::StoredContract {
    /// A format-2 contract has compatibility `none`: any change, as it always had.
    fn from(v2: StoredContract) -> Self {
        super::StoredContract {
            id: v2.id,
            name: v2.name,
            version: v2.version,
            columns: v2.columns,
            rules: v2.rules,
            created_at: v2.created_at,
            updated_at: v2.updated_at,
            compatibility: StoredCompatibility::None,
        }
    }
}

impl From<StoredContractVersion> for super::StoredContractVersion {
    /// Every format-2 version was made under compatibility `none`.
    fn from(v2: StoredContractVersion) -> Self {
        super::StoredContractVersion {
            version: v2.version,
            name: v2.name,
            columns: v2.columns,
            rules: v2.rules,
            created_at: v2.created_at,
            compatibility: StoredCompatibility::None,
        }
    }
}

/// A format-2 webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    pub(super) id: u128,
    pub(super) url: String,
    pub(super) events: Vec<StoredVerdict>,
    pub(super) contract_id: Option<u128>,
    pub(super) active: bool,
    pub(super) secret: String,
    pub(super) created_at: i64,
    pub(super) format: StoredFormat,
    pub(super) disabled_reason: Option<StoredDisabledReason>,
    pub(super) consecutive_failures: u32,
    pub(super) previous_secret: Option<StoredPreviousSecret>,
}

impl From<StoredWebhook> for super::StoredWebhook {
    /// A format-2 webhook has no filter and, having no `pagerduty` format, no routing key.
    fn from(v2: StoredWebhook) -> Self {
        super::StoredWebhook {
            id: v2.id,
            url: v2.url,
            events: v2.events,
            contract_id: v2.contract_id,
            active: v2.active,
            secret: v2.secret,
            created_at: v2.created_at,
            format: v2.format,
            disabled_reason: v2.disabled_reason,
            consecutive_failures: v2.consecutive_failures,
            previous_secret: v2.previous_secret,
            filter: None,
            routing_key: None,
        }
    }
}
