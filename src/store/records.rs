//! The stored shapes: what each record looks like on disk, owned by the store.
//!
//! The domain types (`model`, `drift`) and the JSON types (`wire`) are free to change;
//! these are not. Each stored shape is encoded by `codec` (bincode 1.3: fields in order,
//! fixed-width integers, enums as a `u32` variant index), so a field added, removed,
//! reordered or retyped here — or a variant reordered — changes the bytes on disk. That
//! is a new format version with a migration, and the golden tests below (the exact bytes
//! the v1 release wrote, in `tests/fixtures/v1/records.json`, and those of format 2, in
//! `tests/fixtures/v2/contracts.json` and `tests/fixtures/v2/webhooks.json`) fail until
//! it is one.
//!
//! The shapes here are those of the current format ([`super::codec::FORMAT_VERSION`]);
//! shapes an older format used and this one replaced live in [`v1`], [`v2`] and [`v4`],
//! which the migrations decode.

pub mod v1;
pub mod v2;
pub mod v4;

use serde::{Deserialize, Serialize};

use crate::clock::UnixMs;
use crate::credentials::Environment;
use crate::drift::{
    Column, ColumnType, Compatibility, Diff, Rename, Rules, SeverityOverride, TypeChange, Verdict,
};
use crate::ids::{AccountId, CheckId, ContractId, DeliveryId, KeyId, WebhookId};
use crate::model::{
    Account, ApiKey, Attempt, AttemptOutcome, Check, Contract, ContractVersion, Delivery,
    DeliveryStatus, DisabledReason, PreviousSecret, Webhook, WebhookFilter, WebhookFormat,
};

/// A domain type the store persists, through its stored shape.
pub trait Record: Sized {
    /// The on-disk shape.
    type Stored: Serialize + serde::de::DeserializeOwned;
    /// Domain → disk.
    fn to_stored(&self) -> Self::Stored;
    /// Disk → domain (every stored value has a domain value: this cannot fail).
    fn from_stored(stored: Self::Stored) -> Self;
    /// The record as read under a key ending in `seq`: a check stored since format 5
    /// takes its id's seq from its key (`ids::CheckId`); every other record is as stored.
    fn at_seq(self, _seq: u64) -> Self {
        self
    }
}

/// A stored shape of an older format, which a migration decodes into today's domain type
/// `T` (and which golden tests encode, to prove the shape is still what that release
/// wrote).
pub trait LegacyShape<T>: Serialize + serde::de::DeserializeOwned {
    /// Domain → the old shape (fields the old format did not have are dropped); only the
    /// golden tests write old shapes.
    #[cfg(test)]
    fn from_domain(record: &T) -> Self;
    /// The old shape → domain (fields it did not have take the values that give the old
    /// behaviour).
    fn into_domain(self) -> T;
}

// ---- the shapes; variant order is part of the format ----

// Unchanged since format 1.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredColumnType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredVerdict {
    Pass,
    Warning,
    Breaking,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredEnvironment {
    Live,
    Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredDeliveryStatus {
    Pending,
    Delivered,
    Abandoned,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredOutcome {
    Status(u16),
    Error(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccount {
    id: u64,
    name: String,
    credits_remaining: u64,
    credits_used: u64,
    total_checks: u64,
    created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    id: u128,
    account: u64,
    hash: [u8; 32],
    preview: String,
    environment: StoredEnvironment,
    active: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTypeChange {
    column: String,
    from: StoredColumnType,
    to: StoredColumnType,
}

// New in format 2 (contracts that evolve, rules, a diff that explains itself).

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredOverride {
    Ignore,
    Warning,
    Breaking,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRules {
    allow_additional_columns: bool,
    treat_renames_as_breaking: bool,
    allow_type_widening: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredColumn {
    name: String,
    column_type: StoredColumnType,
    required: bool,
    severity_override: Option<StoredOverride>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRename {
    from: String,
    to: String,
    column_type: StoredColumnType,
}

/// A type change's `kind` is not stored: it is a function of `from` and `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDiff {
    removed: Vec<String>,
    type_changes: Vec<StoredTypeChange>,
    added: Vec<String>,
    renames: Vec<StoredRename>,
    ignored: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheck {
    id: u128,
    contract_id: u128,
    contract_version: u32,
    verdict: StoredVerdict,
    severity: u8,
    diff: StoredDiff,
    credits_used: u8,
    created_at: i64,
}

// ---- version 2: webhooks gain a format, why they are disabled, a failure count and
// the previous secret; a delivery's check is optional (test deliveries have none) ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredFormat {
    Json,
    Slack,
    // New variants go last: bincode writes the variant's index, so every stored webhook
    // keeps its bytes.
    Teams,
    Discord,
    PagerDuty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredDisabledReason {
    Gone,
    Failing,
    Paused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPreviousSecret {
    secret: String,
    expires_at: i64,
}

// ---- version 3: contracts and their versions gain a compatibility mode; webhooks a
// filter and PagerDuty's routing key ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredCompatibility {
    None,
    Backward,
    Forward,
    Full,
    BackwardTransitive,
    ForwardTransitive,
    FullTransitive,
}

/// The contract row holds its current version, so reading a contract stays one lookup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContract {
    id: u128,
    name: String,
    version: u32,
    columns: Vec<StoredColumn>,
    rules: StoredRules,
    created_at: i64,
    updated_at: i64,
    compatibility: StoredCompatibility,
}

/// One row of a contract's history, keyed `(contract id, version)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContractVersion {
    version: u32,
    name: String,
    columns: Vec<StoredColumn>,
    rules: StoredRules,
    created_at: i64,
    compatibility: StoredCompatibility,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFilter {
    min_severity: Option<u8>,
    contract_names: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    id: u128,
    url: String,
    events: Vec<StoredVerdict>,
    contract_id: Option<u128>,
    active: bool,
    secret: String,
    created_at: i64,
    format: StoredFormat,
    disabled_reason: Option<StoredDisabledReason>,
    consecutive_failures: u32,
    previous_secret: Option<StoredPreviousSecret>,
    filter: Option<StoredFilter>,
    routing_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttempt {
    number: u32,
    at: i64,
    duration_ms: u64,
    outcome: StoredOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelivery {
    id: u128,
    seq: u64,
    account: u64,
    webhook_id: u128,
    check_id: Option<u128>,
    status: StoredDeliveryStatus,
    failures: u32,
    next_attempt_at: Option<i64>,
    attempts: Vec<StoredAttempt>,
    created_at: i64,
    finished_at: Option<i64>,
    /// Since format 5: the seq a check id carries (0: none, or an id from before).
    check_seq: u64,
}

// ---- conversions ----

/// A one-to-one mapping between a domain enum and its stored enum.
macro_rules! same_variants {
    ($domain:ident <-> $stored:ident: $($variant:ident),+) => {
        impl From<$domain> for $stored {
            fn from(v: $domain) -> Self {
                match v { $($domain::$variant => $stored::$variant),+ }
            }
        }
        impl From<$stored> for $domain {
            fn from(v: $stored) -> Self {
                match v { $($stored::$variant => $domain::$variant),+ }
            }
        }
    };
}
same_variants!(ColumnType <-> StoredColumnType: String, Integer, Number, Boolean, Date, Timestamp, Json);
same_variants!(Verdict <-> StoredVerdict: Pass, Warning, Breaking);
same_variants!(SeverityOverride <-> StoredOverride: Ignore, Warning, Breaking);
same_variants!(Environment <-> StoredEnvironment: Live, Test);
same_variants!(DeliveryStatus <-> StoredDeliveryStatus: Pending, Delivered, Abandoned);
same_variants!(WebhookFormat <-> StoredFormat: Json, Slack, Teams, Discord, PagerDuty);
same_variants!(DisabledReason <-> StoredDisabledReason: Gone, Failing, Paused);
same_variants!(Compatibility <-> StoredCompatibility: None, Backward, Forward, Full, BackwardTransitive, ForwardTransitive, FullTransitive);

fn ms(t: UnixMs) -> i64 {
    t.0
}

impl Record for Account {
    type Stored = StoredAccount;

    fn to_stored(&self) -> StoredAccount {
        StoredAccount {
            id: self.id.0,
            name: self.name.clone(),
            credits_remaining: self.credits_remaining,
            credits_used: self.credits_used,
            total_checks: self.total_checks,
            created_at: ms(self.created_at),
        }
    }

    fn from_stored(s: StoredAccount) -> Self {
        Account {
            id: AccountId(s.id),
            name: s.name,
            credits_remaining: s.credits_remaining,
            credits_used: s.credits_used,
            total_checks: s.total_checks,
            created_at: UnixMs(s.created_at),
        }
    }
}

impl Record for ApiKey {
    type Stored = StoredKey;

    fn to_stored(&self) -> StoredKey {
        StoredKey {
            id: self.id.raw(),
            account: self.account.0,
            hash: self.hash,
            preview: self.preview.clone(),
            environment: self.environment.into(),
            active: self.active,
            created_at: ms(self.created_at),
            last_used_at: self.last_used_at.map(ms),
        }
    }

    fn from_stored(s: StoredKey) -> Self {
        ApiKey {
            id: KeyId::from_raw(s.id),
            account: AccountId(s.account),
            hash: s.hash,
            preview: s.preview,
            environment: s.environment.into(),
            active: s.active,
            created_at: UnixMs(s.created_at),
            last_used_at: s.last_used_at.map(UnixMs),
        }
    }
}

fn stored_column(c: &Column) -> StoredColumn {
    StoredColumn {
        name: c.name.clone(),
        column_type: c.column_type.into(),
        required: c.required,
        severity_override: c.severity_override.map(Into::into),
    }
}

fn column(c: StoredColumn) -> Column {
    Column {
        name: c.name,
        column_type: c.column_type.into(),
        required: c.required,
        severity_override: c.severity_override.map(Into::into),
    }
}

fn stored_rules(r: &Rules) -> StoredRules {
    StoredRules {
        allow_additional_columns: r.allow_additional_columns,
        treat_renames_as_breaking: r.treat_renames_as_breaking,
        allow_type_widening: r.allow_type_widening,
    }
}

fn rules(r: StoredRules) -> Rules {
    Rules {
        allow_additional_columns: r.allow_additional_columns,
        treat_renames_as_breaking: r.treat_renames_as_breaking,
        allow_type_widening: r.allow_type_widening,
    }
}

fn stored_type_change(t: &TypeChange) -> StoredTypeChange {
    StoredTypeChange {
        column: t.column.clone(),
        from: t.from.into(),
        to: t.to.into(),
    }
}

fn type_change(t: StoredTypeChange) -> TypeChange {
    TypeChange::new(t.column, t.from.into(), t.to.into())
}

impl Record for Contract {
    type Stored = StoredContract;

    fn to_stored(&self) -> StoredContract {
        StoredContract {
            id: self.id.raw(),
            name: self.name.clone(),
            version: self.version,
            columns: self.columns.iter().map(stored_column).collect(),
            rules: stored_rules(&self.rules),
            created_at: ms(self.created_at),
            updated_at: ms(self.updated_at),
            compatibility: self.compatibility.into(),
        }
    }

    fn from_stored(s: StoredContract) -> Self {
        Contract {
            id: ContractId::from_raw(s.id),
            name: s.name,
            version: s.version,
            columns: s.columns.into_iter().map(column).collect(),
            rules: rules(s.rules),
            compatibility: s.compatibility.into(),
            created_at: UnixMs(s.created_at),
            updated_at: UnixMs(s.updated_at),
        }
    }
}

impl Record for ContractVersion {
    type Stored = StoredContractVersion;

    fn to_stored(&self) -> StoredContractVersion {
        StoredContractVersion {
            version: self.version,
            name: self.name.clone(),
            columns: self.columns.iter().map(stored_column).collect(),
            rules: stored_rules(&self.rules),
            created_at: ms(self.created_at),
            compatibility: self.compatibility.into(),
        }
    }

    fn from_stored(s: StoredContractVersion) -> Self {
        ContractVersion {
            version: s.version,
            name: s.name,
            columns: s.columns.into_iter().map(column).collect(),
            rules: rules(s.rules),
            compatibility: s.compatibility.into(),
            created_at: UnixMs(s.created_at),
        }
    }
}

impl Record for Check {
    type Stored = StoredCheck;

    fn to_stored(&self) -> StoredCheck {
        let diff = &self.diff;
        StoredCheck {
            id: self.id.raw(),
            contract_id: self.contract_id.raw(),
            contract_version: self.contract_version,
            verdict: self.verdict.into(),
            severity: self.severity,
            diff: StoredDiff {
                removed: diff.removed.clone(),
                type_changes: diff.type_changes.iter().map(stored_type_change).collect(),
                added: diff.added.clone(),
                renames: diff
                    .renames
                    .iter()
                    .map(|r| StoredRename {
                        from: r.from.clone(),
                        to: r.to.clone(),
                        column_type: r.column_type.into(),
                    })
                    .collect(),
                ignored: diff.ignored.clone(),
            },
            credits_used: self.credits_used,
            created_at: ms(self.created_at),
        }
    }

    fn at_seq(mut self, seq: u64) -> Self {
        self.id = CheckId::stored(self.id.raw(), seq);
        self
    }

    fn from_stored(s: StoredCheck) -> Self {
        Check {
            id: CheckId::from_raw(s.id),
            contract_id: ContractId::from_raw(s.contract_id),
            contract_version: s.contract_version,
            verdict: s.verdict.into(),
            severity: s.severity,
            diff: Diff {
                removed: s.diff.removed,
                type_changes: s.diff.type_changes.into_iter().map(type_change).collect(),
                added: s.diff.added,
                renames: s
                    .diff
                    .renames
                    .into_iter()
                    .map(|r| Rename {
                        from: r.from,
                        to: r.to,
                        column_type: r.column_type.into(),
                    })
                    .collect(),
                ignored: s.diff.ignored,
            },
            credits_used: s.credits_used,
            created_at: UnixMs(s.created_at),
        }
    }
}

impl Record for Webhook {
    type Stored = StoredWebhook;

    fn to_stored(&self) -> StoredWebhook {
        StoredWebhook {
            id: self.id.raw(),
            url: self.url.clone(),
            events: self.events.iter().map(|&v| v.into()).collect(),
            contract_id: self.contract_id.map(ContractId::raw),
            active: self.active,
            secret: self.secret.clone(),
            created_at: ms(self.created_at),
            format: self.format.into(),
            disabled_reason: self.disabled_reason.map(Into::into),
            consecutive_failures: self.consecutive_failures,
            previous_secret: self.previous_secret.as_ref().map(|p| StoredPreviousSecret {
                secret: p.secret.clone(),
                expires_at: ms(p.expires_at),
            }),
            filter: self.filter.as_ref().map(|f| StoredFilter {
                min_severity: f.min_severity,
                contract_names: f.contract_names.clone(),
            }),
            routing_key: self.routing_key.clone(),
        }
    }

    fn from_stored(s: StoredWebhook) -> Self {
        Webhook {
            id: WebhookId::from_raw(s.id),
            url: s.url,
            events: s.events.into_iter().map(Verdict::from).collect(),
            contract_id: s.contract_id.map(ContractId::from_raw),
            active: s.active,
            secret: s.secret,
            created_at: UnixMs(s.created_at),
            format: s.format.into(),
            disabled_reason: s.disabled_reason.map(Into::into),
            consecutive_failures: s.consecutive_failures,
            previous_secret: s.previous_secret.map(|p| PreviousSecret {
                secret: p.secret,
                expires_at: UnixMs(p.expires_at),
            }),
            filter: s.filter.map(|f| WebhookFilter {
                min_severity: f.min_severity,
                contract_names: f.contract_names,
            }),
            routing_key: s.routing_key,
        }
    }
}

impl Record for Delivery {
    type Stored = StoredDelivery;

    fn to_stored(&self) -> StoredDelivery {
        StoredDelivery {
            id: self.id.raw(),
            seq: self.seq,
            account: self.account.0,
            webhook_id: self.webhook_id.raw(),
            check_id: self.check_id.map(CheckId::raw),
            check_seq: self.check_id.and_then(CheckId::seq).unwrap_or(0),
            status: self.status.into(),
            failures: self.failures,
            next_attempt_at: self.next_attempt_at.map(ms),
            attempts: self
                .attempts
                .iter()
                .map(|a| StoredAttempt {
                    number: a.number,
                    at: ms(a.at),
                    duration_ms: a.duration_ms,
                    outcome: match &a.outcome {
                        AttemptOutcome::Status(code) => StoredOutcome::Status(*code),
                        AttemptOutcome::Error(e) => StoredOutcome::Error(e.clone()),
                    },
                })
                .collect(),
            created_at: ms(self.created_at),
            finished_at: self.finished_at.map(ms),
        }
    }

    fn from_stored(s: StoredDelivery) -> Self {
        Delivery {
            id: DeliveryId::from_raw(s.id),
            seq: s.seq,
            account: AccountId(s.account),
            webhook_id: WebhookId::from_raw(s.webhook_id),
            check_id: s.check_id.map(|raw| CheckId::stored(raw, s.check_seq)),
            status: s.status.into(),
            failures: s.failures,
            next_attempt_at: s.next_attempt_at.map(UnixMs),
            attempts: s
                .attempts
                .into_iter()
                .map(|a| Attempt {
                    number: a.number,
                    at: UnixMs(a.at),
                    duration_ms: a.duration_ms,
                    outcome: match a.outcome {
                        StoredOutcome::Status(code) => AttemptOutcome::Status(code),
                        StoredOutcome::Error(e) => AttemptOutcome::Error(e),
                    },
                })
                .collect(),
            created_at: UnixMs(s.created_at),
            finished_at: s.finished_at.map(UnixMs),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Golden tests: the exact bytes the v1 release wrote for one record of each kind
    //! (`tests/fixtures/v1/records.json`, made by that release's own code), against the
    //! same records built here. A change to a stored shape fails them until it is a new
    //! format version with a migration.

    use super::*;
    use crate::credentials::hash_key;
    use crate::store::codec::{decode, decode_legacy, encode};

    const GOLDEN: &str = include_str!("../../tests/fixtures/v1/records.json");
    /// Version 2's webhook and delivery shapes, written once by this release's code.
    const GOLDEN_V2_WEBHOOKS: &str = include_str!("../../tests/fixtures/v2/webhooks.json");

    fn golden(name: &str) -> Vec<u8> {
        golden_in(GOLDEN, name)
    }

    fn golden_in(file: &str, name: &str) -> Vec<u8> {
        let all: serde_json::Value = serde_json::from_str(file).expect("golden JSON");
        let hex = all[name].as_str().expect("a golden record");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// `record` encodes to the v1 release's golden bytes for `name`, and back.
    #[track_caller]
    fn assert_golden<T: Record + PartialEq + std::fmt::Debug>(name: &str, record: &T) {
        assert_golden_in(GOLDEN, name, record);
    }

    /// The same for a record whose format-1 shape `S` format 2 replaced: the old shape
    /// still writes and reads the v1 release's bytes (what the migration decodes).
    #[track_caller]
    fn assert_golden_v1<S, T>(name: &str, record: &T)
    where
        S: LegacyShape<T>,
        T: PartialEq + std::fmt::Debug,
    {
        let bytes = golden(name);
        let encoded = bincode::serialize(&S::from_domain(record)).expect("encode");
        assert_eq!(encoded, bytes, "{name}: encoding changed");
        assert_eq!(
            &decode_legacy::<S, T>(&bytes).expect("decode"),
            record,
            "{name}: decoding changed"
        );
        assert!(
            decode_legacy::<S, T>(&bytes[..bytes.len() - 1]).is_err(),
            "{name}: truncated"
        );
    }

    /// A v1 record whose shape version 2 changed: its golden bytes still decode as the v1
    /// shape (and encode back to the same bytes), and upgrade to `record`.
    #[track_caller]
    fn assert_golden_upgrade<V1, T>(name: &str, record: &T)
    where
        V1: Serialize + serde::de::DeserializeOwned + Into<T::Stored>,
        T: Record + PartialEq + std::fmt::Debug,
    {
        assert_golden_upgrade_in::<V1, T>(GOLDEN, name, record);
    }

    /// The same for the golden bytes of `name` in `file`, of an older shape `Old`.
    #[track_caller]
    fn assert_golden_upgrade_in<Old, T>(file: &str, name: &str, record: &T)
    where
        Old: Serialize + serde::de::DeserializeOwned + Into<T::Stored>,
        T: Record + PartialEq + std::fmt::Debug,
    {
        let bytes = golden_in(file, name);
        let old: Old = bincode::deserialize(&bytes).expect("decodes as its old shape");
        assert_eq!(
            bincode::serialize(&old).expect("encode"),
            bytes,
            "{name}: old encoding changed"
        );
        assert_eq!(
            &T::from_stored(old.into()),
            record,
            "{name}: upgrade changed"
        );
        assert!(
            bincode::deserialize::<Old>(&bytes[..bytes.len() - 1]).is_err(),
            "{name}: truncated"
        );
    }

    const USERS: u128 = 140423434683270703896908940817014141632;
    const WARNING_CHECK: u128 = 140423434955138570915793928161745751821;
    const WEBHOOK_ALL: u128 = 140423434812304725769905510220676286963;
    const WEBHOOK_SCOPED: u128 = 140423434906040252226725121316161420810;

    fn column(name: &str, column_type: ColumnType, required: bool) -> Column {
        Column {
            name: name.into(),
            column_type,
            required,
            severity_override: None,
        }
    }

    #[test]
    fn accounts_keys_and_contracts_keep_their_v1_bytes() {
        assert_golden(
            "account",
            &Account {
                id: AccountId(1),
                name: "default".into(),
                credits_remaining: 998,
                credits_used: 2,
                total_checks: 3,
                created_at: UnixMs(1772392920000),
            },
        );
        assert_golden(
            "api_key",
            &ApiKey {
                id: KeyId::from_raw(140423434369109170348801520112690967878),
                account: AccountId(1),
                hash: hash_key("dg_live_FixtureFixtureFixtureFixture01"),
                preview: "dg_live_FixtureF".into(),
                environment: Environment::Live,
                active: true,
                created_at: UnixMs(1772392920000),
                last_used_at: Some(UnixMs(1772392923000)),
            },
        );
        use ColumnType::*;
        assert_golden_v1::<v1::StoredContract, _>(
            "contract",
            &Contract {
                id: ContractId::from_raw(USERS),
                name: "users".into(),
                version: 1,
                columns: vec![
                    column("user_id", Integer, true),
                    column("email", String, true),
                    column("created_at", Timestamp, true),
                    column("nickname", String, false),
                    column("score", Number, false),
                    column("active", Boolean, true),
                    column("birthday", Date, false),
                    column("profile", Json, false),
                ],
                rules: Rules::default(),
                compatibility: Compatibility::None,
                created_at: UnixMs(1772392924000),
                updated_at: UnixMs(1772392924000),
            },
        );
    }

    #[test]
    fn checks_and_webhooks_keep_their_v1_bytes() {
        assert_golden_v1::<v1::StoredCheck, _>(
            "check",
            &Check {
                id: CheckId::from_raw(WARNING_CHECK),
                contract_id: ContractId::from_raw(USERS),
                contract_version: 1,
                verdict: Verdict::Warning,
                severity: 75,
                diff: Diff {
                    removed: vec!["email".into()],
                    type_changes: vec![TypeChange::new(
                        "created_at".into(),
                        ColumnType::Timestamp,
                        ColumnType::String,
                    )],
                    added: vec!["extra".into()],
                    renames: vec![],
                    ignored: vec![],
                },
                credits_used: 1,
                created_at: UnixMs(1772392928000),
            },
        );
        assert_golden_upgrade::<v1::StoredWebhook, _>(
            "webhook",
            &Webhook {
                id: WebhookId::from_raw(WEBHOOK_SCOPED),
                url: "https://[::1]:9/x?y=z".into(),
                events: vec![Verdict::Warning],
                contract_id: Some(ContractId::from_raw(USERS)),
                active: false,
                secret: "whsec_FixtureFixtureFixtureFixture1".into(),
                created_at: UnixMs(1772392927000),
                // What version 2 adds to a v1 webhook.
                format: WebhookFormat::Json,
                disabled_reason: Some(DisabledReason::Paused),
                consecutive_failures: 0,
                previous_secret: None,
                // And version 3.
                filter: None,
                routing_key: None,
            },
        );
    }

    fn attempt(outcome: AttemptOutcome) -> Attempt {
        Attempt {
            number: 1,
            at: UnixMs(1772392931000),
            duration_ms: 12,
            outcome,
        }
    }

    #[test]
    fn deliveries_in_every_state_keep_their_v1_bytes() {
        let pending = Delivery {
            id: DeliveryId::from_raw(140423435146827585624268951836139621633),
            seq: 14,
            account: AccountId(1),
            webhook_id: WebhookId::from_raw(WEBHOOK_ALL),
            check_id: Some(CheckId::from_raw(140423435168805246155565233538530913858)),
            status: DeliveryStatus::Pending,
            failures: 1,
            next_attempt_at: Some(UnixMs(4102444800000)),
            attempts: vec![attempt(AttemptOutcome::Status(500))],
            created_at: UnixMs(1772392930000),
            finished_at: None,
        };
        assert_golden_upgrade::<v1::StoredDelivery, _>("delivery_0", &pending);
        assert_golden_upgrade::<v1::StoredDelivery, _>(
            "delivery_2",
            &Delivery {
                id: DeliveryId::from_raw(140423434990296886341549404990182325807),
                seq: 9,
                check_id: Some(CheckId::from_raw(WARNING_CHECK)),
                status: DeliveryStatus::Delivered,
                failures: 0,
                next_attempt_at: None,
                attempts: vec![attempt(AttemptOutcome::Status(200))],
                created_at: UnixMs(1772392928000),
                finished_at: Some(UnixMs(1772392932000)),
                ..pending.clone()
            },
        );
        assert_golden_upgrade::<v1::StoredDelivery, _>(
            "delivery_3",
            &Delivery {
                id: DeliveryId::from_raw(140423434963139677317956401180893911790),
                seq: 10,
                webhook_id: WebhookId::from_raw(WEBHOOK_SCOPED),
                check_id: Some(CheckId::from_raw(WARNING_CHECK)),
                status: DeliveryStatus::Abandoned,
                failures: 1,
                next_attempt_at: None,
                attempts: vec![attempt(AttemptOutcome::Error("connection refused".into()))],
                created_at: UnixMs(1772392928000),
                finished_at: Some(UnixMs(1772392932000)),
                ..pending
            },
        );
    }

    // ---- format 2 ----

    /// Format 2's contracts, versions and checks.
    const GOLDEN_V2_CONTRACTS: &str = include_str!("../../tests/fixtures/v2/contracts.json");

    /// `record` encodes to the golden bytes for `name` in `file`, and decodes from them.
    #[track_caller]
    fn assert_golden_in<T: Record + PartialEq + std::fmt::Debug>(
        file: &str,
        name: &str,
        record: &T,
    ) {
        let bytes = golden_in(file, name);
        assert_eq!(
            encode(record).expect("encode"),
            bytes,
            "{name}: encoding changed"
        );
        assert_eq!(
            &decode::<T>(&bytes).expect("decode"),
            record,
            "{name}: decoding changed"
        );
        assert!(
            decode::<T>(&bytes[..bytes.len() - 1]).is_err(),
            "{name}: truncated"
        );
    }

    fn v2_columns() -> Vec<Column> {
        use ColumnType::*;
        vec![
            column("user_id", Integer, true),
            Column {
                severity_override: Some(SeverityOverride::Ignore),
                ..column("nickname", String, false)
            },
            Column {
                severity_override: Some(SeverityOverride::Warning),
                ..column("score", Number, false)
            },
            Column {
                severity_override: Some(SeverityOverride::Breaking),
                ..column("created_at", Timestamp, true)
            },
        ]
    }

    fn v2_rules() -> Rules {
        Rules {
            allow_additional_columns: true,
            treat_renames_as_breaking: false,
            allow_type_widening: true,
        }
    }

    #[test]
    fn format_2_contracts_versions_and_checks_keep_their_bytes() {
        let contract = Contract {
            id: ContractId::from_raw(USERS),
            name: "users".into(),
            version: 3,
            columns: v2_columns(),
            rules: v2_rules(),
            compatibility: Compatibility::None,
            created_at: UnixMs(1772392924000),
            updated_at: UnixMs(1772393924000),
        };
        assert_golden_upgrade_in::<v2::StoredContract, _>(
            GOLDEN_V2_CONTRACTS,
            "contract",
            &contract,
        );
        assert_golden_upgrade_in::<v2::StoredContract, _>(
            GOLDEN_V2_CONTRACTS,
            "contract_default_rules",
            &Contract {
                version: 1,
                columns: vec![column("id", ColumnType::Json, true)],
                rules: Rules::default(),
                updated_at: contract.created_at,
                ..contract.clone()
            },
        );
        assert_golden_upgrade_in::<v2::StoredContractVersion, _>(
            GOLDEN_V2_CONTRACTS,
            "contract_version",
            &contract.current_version(),
        );
        assert_golden_in(
            GOLDEN_V2_CONTRACTS,
            "check",
            &Check {
                id: CheckId::from_raw(WARNING_CHECK),
                contract_id: ContractId::from_raw(USERS),
                contract_version: 3,
                verdict: Verdict::Warning,
                severity: 35,
                diff: Diff {
                    removed: vec!["nickname".into(), "user_id".into()],
                    type_changes: vec![TypeChange::new(
                        "score".into(),
                        ColumnType::Number,
                        ColumnType::Integer,
                    )],
                    added: vec!["userId".into(), "extra".into()],
                    renames: vec![Rename {
                        from: "user_id".into(),
                        to: "userId".into(),
                        column_type: ColumnType::Integer,
                    }],
                    ignored: vec!["nickname".into(), "extra".into()],
                },
                credits_used: 0,
                created_at: UnixMs(1772393928000),
            },
        );
    }

    fn v2_webhooks() -> [(&'static str, Webhook); 2] {
        let slack = Webhook {
            id: WebhookId::from_raw(WEBHOOK_ALL),
            url: "https://hooks.slack.com/services/T0/B0/x".into(),
            events: vec![Verdict::Breaking, Verdict::Warning],
            contract_id: None,
            active: false,
            secret: "whsec_FixtureFixtureFixtureFixture2".into(),
            created_at: UnixMs(1772392926000),
            format: WebhookFormat::Slack,
            disabled_reason: Some(DisabledReason::Failing),
            consecutive_failures: 10,
            previous_secret: Some(PreviousSecret {
                secret: "whsec_FixtureFixtureFixtureFixture0".into(),
                expires_at: UnixMs(1772479326000),
            }),
            filter: None,
            routing_key: None,
        };
        let gone = Webhook {
            id: WebhookId::from_raw(WEBHOOK_SCOPED),
            url: "https://hooks.example.com/drift".into(),
            events: vec![Verdict::Pass],
            contract_id: Some(ContractId::from_raw(USERS)),
            format: WebhookFormat::Json,
            disabled_reason: Some(DisabledReason::Gone),
            consecutive_failures: 0,
            previous_secret: None,
            ..slack.clone()
        };
        [
            ("webhook_slack_failing_rotated", slack),
            ("webhook_json_gone", gone),
        ]
    }

    fn v2_deliveries() -> [(&'static str, Delivery); 2] {
        let test = Delivery {
            id: DeliveryId::from_raw(140423435146827585624268951836139621634),
            seq: 21,
            account: AccountId(1),
            webhook_id: WebhookId::from_raw(WEBHOOK_ALL),
            check_id: None,
            status: DeliveryStatus::Delivered,
            failures: 0,
            next_attempt_at: None,
            attempts: vec![attempt(AttemptOutcome::Status(204))],
            created_at: UnixMs(1772392931000),
            finished_at: Some(UnixMs(1772392931012)),
        };
        let check = Delivery {
            id: DeliveryId::from_raw(140423435146827585624268951836139621635),
            seq: 22,
            check_id: Some(CheckId::from_raw(WARNING_CHECK)),
            status: DeliveryStatus::Pending,
            failures: 1,
            next_attempt_at: Some(UnixMs(4102444800000)),
            attempts: vec![attempt(AttemptOutcome::Error("blocked".into()))],
            finished_at: None,
            ..test.clone()
        };
        [("delivery_test", test), ("delivery_check", check)]
    }

    #[test]
    fn webhooks_and_deliveries_keep_their_v2_bytes() {
        for (name, webhook) in v2_webhooks() {
            assert_golden_upgrade_in::<v2::StoredWebhook, _>(GOLDEN_V2_WEBHOOKS, name, &webhook);
        }
        for (name, delivery) in v2_deliveries() {
            assert_golden_upgrade_in::<v4::StoredDelivery, _>(GOLDEN_V2_WEBHOOKS, name, &delivery);
        }
        // The disabled reason no record above has: its variant index, pinned on its own.
        assert_eq!(
            bincode::serialize(&StoredDisabledReason::from(DisabledReason::Paused))
                .expect("encode"),
            [2, 0, 0, 0]
        );
        // Likewise the formats added after v2, after the two above: their indexes.
        for (format, index) in [
            (WebhookFormat::Teams, 2u8),
            (WebhookFormat::Discord, 3),
            (WebhookFormat::PagerDuty, 4),
        ] {
            let bytes = bincode::serialize(&StoredFormat::from(format)).expect("encode");
            assert_eq!(bytes, [index, 0, 0, 0], "{format:?}");
            let back: StoredFormat = bincode::deserialize(&bytes).expect("decode");
            assert_eq!(WebhookFormat::from(back), format);
        }
    }
}

#[cfg(test)]
mod format_3 {
    //! Format 3's contracts and versions (`tests/fixtures/v3/contracts.json`: a
    //! compatibility mode) and webhooks (`tests/fixtures/v3/webhooks.json`: a filter and
    //! PagerDuty's routing key).

    use super::*;
    use crate::store::codec::{decode, encode};

    const GOLDEN_V3_WEBHOOKS: &str = include_str!("../../tests/fixtures/v3/webhooks.json");
    const GOLDEN_V3_CONTRACTS: &str = include_str!("../../tests/fixtures/v3/contracts.json");

    fn webhooks() -> [(&'static str, Webhook); 2] {
        let pagerduty = Webhook {
            id: WebhookId::from_raw(140423434812304725769905510220676286963),
            url: "https://events.pagerduty.com/v2/enqueue".into(),
            events: vec![Verdict::Breaking, Verdict::Warning],
            contract_id: None,
            active: true,
            secret: "whsec_FixtureFixtureFixtureFixture3".into(),
            created_at: UnixMs(1772392926000),
            format: WebhookFormat::PagerDuty,
            disabled_reason: None,
            consecutive_failures: 0,
            previous_secret: None,
            filter: Some(WebhookFilter {
                min_severity: Some(40),
                contract_names: Some(vec!["orders_*".into(), "users".into()]),
            }),
            routing_key: Some("R0FIXTUREFIXTUREFIXTUREFIXTURE01".into()),
        };
        let severe = Webhook {
            format: WebhookFormat::Json,
            filter: Some(WebhookFilter {
                min_severity: Some(90),
                contract_names: None,
            }),
            routing_key: None,
            ..pagerduty.clone()
        };
        [
            ("webhook_pagerduty_filtered", pagerduty),
            ("webhook_json_severe", severe),
        ]
    }

    fn contract() -> Contract {
        Contract {
            id: ContractId::from_raw(140423434683270703896908940817014141632),
            name: "orders".into(),
            version: 2,
            columns: vec![Column {
                name: "amount".into(),
                column_type: ColumnType::Number,
                required: true,
                severity_override: None,
            }],
            rules: Rules::default(),
            compatibility: Compatibility::BackwardTransitive,
            created_at: UnixMs(1772392924000),
            updated_at: UnixMs(1772393924000),
        }
    }

    #[test]
    fn contracts_and_versions_keep_their_v3_bytes() {
        let golden: serde_json::Value =
            serde_json::from_str(GOLDEN_V3_CONTRACTS).expect("golden JSON");
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let contract = contract();
        let encoded = encode(&contract).expect("encode");
        assert_eq!(golden["contract"].as_str(), Some(hex(&encoded).as_str()));
        assert_eq!(decode::<Contract>(&encoded).expect("decode"), contract);
        let version = contract.current_version();
        let encoded = encode(&version).expect("encode");
        assert_eq!(
            golden["contract_version"].as_str(),
            Some(hex(&encoded).as_str())
        );
        assert_eq!(
            decode::<ContractVersion>(&encoded).expect("decode"),
            version
        );
        // Every mode's variant index, pinned.
        for (i, mode) in Compatibility::ALL.into_iter().enumerate() {
            let bytes = bincode::serialize(&StoredCompatibility::from(mode)).expect("encode");
            assert_eq!(bytes, [i as u8, 0, 0, 0], "{mode:?}");
        }
    }

    #[test]
    fn webhooks_keep_their_v3_bytes() {
        let golden: serde_json::Value =
            serde_json::from_str(GOLDEN_V3_WEBHOOKS).expect("golden JSON");
        for (name, webhook) in webhooks() {
            let encoded = encode(&webhook).expect("encode");
            let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                golden[name].as_str(),
                Some(hex.as_str()),
                "{name}: encoding changed"
            );
            assert_eq!(
                decode::<Webhook>(&encoded).expect("decode"),
                webhook,
                "{name}"
            );
            assert!(
                decode::<Webhook>(&encoded[..encoded.len() - 1]).is_err(),
                "{name}: truncated"
            );
        }
    }
}

#[cfg(test)]
mod format_5 {
    //! Format 5's delivery (`tests/fixtures/v5/deliveries.json`): the seq of its check's
    //! id after the fields of formats 2 to 4.

    use super::*;
    use crate::store::codec::{decode, encode};

    const GOLDEN_V5_DELIVERIES: &str = include_str!("../../tests/fixtures/v5/deliveries.json");

    #[test]
    fn a_delivery_keeps_the_seq_of_its_checks_id() {
        let golden: serde_json::Value =
            serde_json::from_str(GOLDEN_V5_DELIVERIES).expect("golden JSON");
        let delivery = Delivery {
            id: DeliveryId::from_raw(140423435146827585624268951836139621635),
            seq: 22,
            account: AccountId(1),
            webhook_id: WebhookId::from_raw(140423434812304725769905510220676286963),
            check_id: Some(CheckId::stored(0x1234_5678_9abc_def0_1234_5678, 300)),
            status: DeliveryStatus::Pending,
            failures: 1,
            next_attempt_at: Some(UnixMs(4102444800000)),
            attempts: Vec::new(),
            created_at: UnixMs(1772392931000),
            finished_at: None,
        };
        let encoded = encode(&delivery).expect("encode");
        let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            golden["delivery_check_seq"].as_str(),
            Some(hex.as_str()),
            "encoding changed"
        );
        let back = decode::<Delivery>(&encoded).expect("decode");
        assert_eq!(back, delivery);
        assert_eq!(back.check_id.and_then(CheckId::seq), Some(300));
    }
}
