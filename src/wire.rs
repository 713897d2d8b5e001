//! The JSON shapes of the API ("views"), built from the domain records. The same function
//! renders a record wherever it appears, so `POST /check`, `GET /checks/{id}` and the json
//! webhook payload (`webhooks::format::json`) are the same bytes.
//!
//! This module sits below both `http` (which answers with views) and `webhooks` (which
//! sends them); it knows neither. The shapes of the drift engine's types — columns, rules,
//! a diff, a version's changes — are in `wire/schema.rs`, both ways: parsed from requests
//! (`…Doc`) and rendered in answers (`…View`).

use serde::Serialize;

use crate::clock::UnixMs;
use crate::credentials::Environment;
use crate::drift::{Column, Rules, VersionChanges};
use crate::ids::{CheckId, ContractId, DeliveryId, KeyId, WebhookId};
use crate::model::{
    Account, ApiKey, Attempt, AttemptOutcome, Check, Contract, Delivery, DeliveryCounts, LastCheck,
    Overview, VersionEntry, Webhook,
};
use crate::schemas::Converted;

mod schema;

pub use schema::{
    columns_view, incoming_columns_view, verdicts_view, ChangeKindView, ColumnDoc, ColumnTypeDoc,
    ColumnView, ColumnsView, CompatibilityChangeView, CompatibilityDoc, DiffView,
    IncomingColumnDoc, IncomingColumnView, IncomingColumnsView, ListView, NameChangeView,
    RenameView, RequiredChangeView, RulesDoc, SeverityOverrideDoc, TypeChangeView, VerdictDoc,
    VerdictsView, VersionChangesView, ViolationView,
};

/// A contract.
#[derive(Serialize)]
pub struct ContractView<'a> {
    id: ContractId,
    name: &'a str,
    version: u32,
    schema: SchemaView<'a>,
    compatibility: CompatibilityDoc,
    created_at: String,
    updated_at: String,
}

/// `{"columns": [...], "rules": {...}}`, as in requests. Default rules are left out, so
/// a contract without rules reads exactly as in v1.
#[derive(Serialize)]
pub struct SchemaView<'a> {
    columns: ColumnsView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<RulesDoc>,
}

impl<'a> SchemaView<'a> {
    fn new(columns: &'a [Column], rules: &'a Rules) -> Self {
        SchemaView {
            columns: columns_view(columns),
            rules: (!rules.is_default()).then(|| RulesDoc::from(*rules)),
        }
    }
}

impl<'a> ContractView<'a> {
    /// Renders a contract.
    pub fn new(c: &'a Contract) -> Self {
        ContractView {
            id: c.id,
            name: &c.name,
            version: c.version,
            schema: SchemaView::new(&c.columns, &c.rules),
            compatibility: c.compatibility.into(),
            created_at: c.created_at.rfc3339(),
            updated_at: c.updated_at.rfc3339(),
        }
    }
}

/// The answer to a dry-run update: the contract it would become, and what would change
/// (`null` when nothing would: no new version).
#[derive(Serialize)]
pub struct DryRunView<'a> {
    #[serde(flatten)]
    contract: ContractView<'a>,
    changes: Option<VersionChangesView<'a>>,
}

impl<'a> DryRunView<'a> {
    /// Renders what an update would make of a contract.
    pub fn new(contract: &'a Contract, changes: Option<&'a VersionChanges>) -> Self {
        DryRunView {
            contract: ContractView::new(contract),
            changes: changes.map(VersionChangesView::new),
        }
    }
}

/// One version of a contract, with what changed from the version before (`null` for
/// version 1).
#[derive(Serialize)]
pub struct VersionView<'a> {
    version: u32,
    name: &'a str,
    schema: SchemaView<'a>,
    compatibility: CompatibilityDoc,
    created_at: String,
    changes: Option<VersionChangesView<'a>>,
}

impl<'a> VersionView<'a> {
    /// Renders a version of a contract.
    pub fn new(entry: &'a VersionEntry) -> Self {
        let v = &entry.version;
        VersionView {
            version: v.version,
            name: &v.name,
            schema: SchemaView::new(&v.columns, &v.rules),
            compatibility: v.compatibility.into(),
            created_at: v.created_at.rfc3339(),
            changes: entry.changes.as_ref().map(VersionChangesView::new),
        }
    }
}

/// `{"id", "deleted": true, "deleted_webhooks": [...]}`: a contract and the webhooks
/// scoped to it.
#[derive(Serialize)]
pub struct ContractDeletedView<'a> {
    id: ContractId,
    deleted: bool,
    deleted_webhooks: &'a [WebhookId],
}

impl<'a> ContractDeletedView<'a> {
    /// Renders a contract's deletion.
    pub fn new(id: ContractId, deleted_webhooks: &'a [WebhookId]) -> Self {
        ContractDeletedView {
            id,
            deleted: true,
            deleted_webhooks,
        }
    }
}

/// The result of `POST /contracts/infer` (and what `driftguard infer` prints).
#[derive(Serialize)]
pub struct InferredView<'a> {
    /// Ready to paste into a contract's `schema`.
    columns: ColumnsView<'a>,
}

impl<'a> InferredView<'a> {
    /// Renders inferred columns.
    pub fn new(columns: &'a [Column]) -> Self {
        InferredView {
            columns: columns_view(columns),
        }
    }
}

/// The result of `POST /schemas/convert` (and what `driftguard infer --avro …` prints):
/// columns rendered as a contract's, and a line for everything mapped by a fallback.
#[derive(Serialize)]
pub struct ConvertedView<'a> {
    /// Ready to paste into a contract's `schema`.
    columns: ColumnsView<'a>,
    /// Empty when nothing was guessed.
    warnings: &'a [String],
}

impl<'a> ConvertedView<'a> {
    /// Renders a conversion's answer.
    pub fn new(converted: &'a Converted) -> Self {
        ConvertedView {
            columns: columns_view(&converted.columns),
            warnings: &converted.warnings,
        }
    }
}

/// A check result (also the webhook payload).
#[derive(Serialize)]
pub struct CheckView<'a> {
    id: CheckId,
    contract_id: ContractId,
    contract_version: u32,
    result: VerdictDoc,
    severity: u8,
    diff: DiffView<'a>,
    credits_used: u8,
    created_at: String,
}

impl<'a> CheckView<'a> {
    /// Renders a check.
    pub fn new(c: &'a Check) -> Self {
        CheckView {
            id: c.id,
            contract_id: c.contract_id,
            contract_version: c.contract_version,
            result: c.verdict.into(),
            severity: c.severity,
            diff: DiffView::new(&c.diff),
            credits_used: c.credits_used,
            created_at: c.created_at.rfc3339(),
        }
    }
}

/// `GET /usage`.
#[derive(Serialize)]
pub struct UsageView {
    credits_remaining: u64,
    credits_used: u64,
    total_checks: u64,
}

impl UsageView {
    /// Renders an account's counters.
    pub fn new(a: &Account) -> Self {
        UsageView {
            credits_remaining: a.credits_remaining,
            credits_used: a.credits_used,
            total_checks: a.total_checks,
        }
    }
}

/// A key in `GET /keys`.
#[derive(Serialize)]
pub struct KeyView<'a> {
    id: KeyId,
    key_preview: &'a str,
    environment: Environment,
    is_active: bool,
    created_at: String,
    last_used_at: Option<String>,
}

impl<'a> KeyView<'a> {
    /// Renders a key; `last_used_at` comes from the auth layer (it may be fresher).
    pub fn new(k: &'a ApiKey, last_used_at: Option<UnixMs>) -> Self {
        KeyView {
            id: k.id,
            key_preview: &k.preview,
            environment: k.environment,
            is_active: k.active,
            created_at: k.created_at.rfc3339(),
            last_used_at: last_used_at.map(UnixMs::rfc3339),
        }
    }
}

/// A key just created: the only time the full key is shown.
#[derive(Serialize)]
pub struct NewKeyView<'a> {
    id: KeyId,
    key: &'a str,
    key_preview: &'a str,
    environment: Environment,
    is_active: bool,
    created_at: String,
}

impl<'a> NewKeyView<'a> {
    /// Renders a new key with its full text.
    pub fn new(k: &'a ApiKey, key: &'a str) -> Self {
        NewKeyView {
            id: k.id,
            key,
            key_preview: &k.preview,
            environment: k.environment,
            is_active: k.active,
            created_at: k.created_at.rfc3339(),
        }
    }
}

/// The answer to revoke/activate.
#[derive(Serialize)]
pub struct KeyStateView<'a> {
    id: KeyId,
    is_active: bool,
    environment: Environment,
    key_preview: &'a str,
}

impl<'a> KeyStateView<'a> {
    /// Renders a key's new state.
    pub fn new(k: &'a ApiKey) -> Self {
        KeyStateView {
            id: k.id,
            is_active: k.active,
            environment: k.environment,
            key_preview: &k.preview,
        }
    }
}

/// `{"id", "deleted": true}`.
#[derive(Serialize)]
pub struct DeletedView<Id: Serialize> {
    id: Id,
    deleted: bool,
}

impl<Id: Serialize> DeletedView<Id> {
    /// Renders a deletion.
    pub fn new(id: Id) -> Self {
        DeletedView { id, deleted: true }
    }
}

/// A webhook, never with its secret…
#[derive(Serialize)]
pub struct WebhookView<'a> {
    id: WebhookId,
    url: &'a str,
    events: VerdictsView<'a>,
    contract_id: Option<ContractId>,
    active: bool,
    /// …except in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    created_at: String,
    format: &'static str,
    /// `gone`, `failing` or `paused` while inactive.
    disabled_reason: Option<&'static str>,
    consecutive_failures: u32,
    /// `null`: no filter. (The PagerDuty routing key, like the secret, is never shown.)
    filter: Option<FilterView<'a>>,
    /// Only with `?include=deliveries_24h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries_24h: Option<DeliveryCountsView>,
}

/// A webhook's filter: each part `null` when not set.
#[derive(Serialize)]
struct FilterView<'a> {
    min_severity: Option<u8>,
    contract_names: Option<&'a [String]>,
}

impl<'a> WebhookView<'a> {
    /// Renders a webhook without its secret.
    pub fn new(w: &'a Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: &w.url,
            events: verdicts_view(&w.events),
            contract_id: w.contract_id,
            active: w.active,
            secret: None,
            created_at: w.created_at.rfc3339(),
            format: w.format.as_str(),
            disabled_reason: w.disabled_reason.map(|r| r.as_str()),
            consecutive_failures: w.consecutive_failures,
            filter: w.filter.as_ref().map(|f| FilterView {
                min_severity: f.min_severity,
                contract_names: f.contract_names.as_deref(),
            }),
            deliveries_24h: None,
        }
    }

    /// Adds the webhook's deliveries of the last 24 hours.
    pub fn with_deliveries_24h(self, counts: DeliveryCounts) -> Self {
        WebhookView {
            deliveries_24h: Some(DeliveryCountsView::new(counts)),
            ..self
        }
    }

    /// Renders a just-created webhook, with its secret.
    pub fn with_secret(w: &'a Webhook) -> Self {
        WebhookView {
            secret: Some(&w.secret),
            ..WebhookView::new(w)
        }
    }
}

/// The answer to `POST /webhooks/{id}/rotate-secret`: the only time the new secret is
/// shown.
#[derive(Serialize)]
pub struct RotatedSecretView<'a> {
    id: WebhookId,
    secret: &'a str,
    previous_secret_expires_at: Option<String>,
}

impl<'a> RotatedSecretView<'a> {
    /// Renders a rotation.
    pub fn new(w: &'a Webhook) -> Self {
        RotatedSecretView {
            id: w.id,
            secret: &w.secret,
            previous_secret_expires_at: w.previous_secret.as_ref().map(|p| p.expires_at.rfc3339()),
        }
    }
}

/// The answer to `POST /webhooks/{id}/recover`.
#[derive(Serialize)]
pub struct RequeuedView {
    /// Deliveries queued again.
    pub requeued: usize,
}

/// A delivery in `GET /webhooks/{id}/deliveries`.
#[derive(Serialize)]
pub struct DeliveryView {
    id: DeliveryId,
    webhook_id: WebhookId,
    /// `null` for a test delivery.
    check_id: Option<CheckId>,
    status: &'static str,
    next_attempt_at: Option<String>,
    attempts: Vec<AttemptView>,
    /// Attempts made before the ones shown (a delivery keeps its last 20).
    attempts_dropped: u32,
    created_at: String,
}

/// One attempt of a delivery.
#[derive(Serialize)]
pub struct AttemptView {
    number: u32,
    at: String,
    /// The HTTP status, when the receiver answered.
    status_code: Option<u16>,
    /// What went wrong, when it did not.
    error: Option<String>,
    duration_ms: u64,
}

impl DeliveryView {
    /// Renders a delivery with its attempts.
    pub fn new(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            check_id: d.check_id,
            status: d.status.as_str(),
            next_attempt_at: d.next_attempt_at.map(UnixMs::rfc3339),
            attempts: d.attempts.iter().map(AttemptView::new).collect(),
            attempts_dropped: d.attempts_dropped(),
            created_at: d.created_at.rfc3339(),
        }
    }
}

impl AttemptView {
    fn new(a: &Attempt) -> Self {
        let (status_code, error) = match &a.outcome {
            AttemptOutcome::Status(code) => (Some(*code), None),
            AttemptOutcome::Error(e) => (None, Some(e.clone())),
        };
        AttemptView {
            number: a.number,
            at: a.at.rfc3339(),
            status_code,
            error,
            duration_ms: a.duration_ms,
        }
    }
}

/// The answer to `POST /contracts/{id}/compatibility`: whether the schema could be the
/// contract's next version under `compatibility`, and what breaks it.
#[derive(Serialize)]
pub struct CompatibilityView<'a> {
    compatible: bool,
    compatibility: CompatibilityDoc,
    violations: Vec<ViolationView<'a>>,
}

impl<'a> CompatibilityView<'a> {
    /// Renders a compatibility answer.
    pub fn new(
        mode: crate::drift::Compatibility,
        violations: &'a [crate::drift::Violation],
    ) -> Self {
        CompatibilityView {
            compatible: violations.is_empty(),
            compatibility: mode.into(),
            violations: ViolationView::list(violations),
        }
    }
}

/// A contract's latest check in `GET /contracts?include=last_check`:
/// `{"id", "result", "severity", "created_at"}`.
#[derive(Serialize)]
pub struct LastCheckView {
    id: CheckId,
    result: VerdictDoc,
    severity: u8,
    created_at: String,
}

impl LastCheckView {
    /// Renders a latest check.
    pub fn new(c: &LastCheck) -> Self {
        LastCheckView {
            id: c.id,
            result: c.verdict.into(),
            severity: c.severity,
            created_at: c.created_at.rfc3339(),
        }
    }
}

/// A contract with its latest check (`null`: never checked).
#[derive(Serialize)]
pub struct ContractWithLastCheckView<'a> {
    #[serde(flatten)]
    contract: ContractView<'a>,
    last_check: Option<LastCheckView>,
}

impl<'a> ContractWithLastCheckView<'a> {
    /// Renders a contract and its latest check.
    pub fn new(contract: &'a Contract, last: Option<&LastCheck>) -> Self {
        ContractWithLastCheckView {
            contract: ContractView::new(contract),
            last_check: last.map(LastCheckView::new),
        }
    }
}

/// `GET /overview`: everything the console's first page shows, in one answer.
#[derive(Serialize)]
pub struct OverviewView {
    usage: UsageView,
    checks_by_day: Vec<DayView>,
    contracts: ContractCountsView,
    webhooks: WebhookCountsView,
    deliveries_24h: DeliveryCountsView,
}

/// `{"date": "YYYY-MM-DD", "pass", "warning", "breaking"}`.
#[derive(Serialize)]
struct DayView {
    date: String,
    pass: u64,
    warning: u64,
    breaking: u64,
}

/// `{"total", "by_last_result": {"pass", "warning", "breaking", "none"}}`.
#[derive(Serialize)]
struct ContractCountsView {
    total: u64,
    by_last_result: LastResultsView,
}

#[derive(Serialize)]
struct LastResultsView {
    pass: u64,
    warning: u64,
    breaking: u64,
    none: u64,
}

#[derive(Serialize)]
struct WebhookCountsView {
    total: u64,
    active: u64,
    paused: u64,
    failing: u64,
    gone: u64,
}

/// `{"delivered", "abandoned", "pending"}`.
#[derive(Serialize)]
struct DeliveryCountsView {
    delivered: u64,
    abandoned: u64,
    pending: u64,
}

impl DeliveryCountsView {
    fn new(counts: DeliveryCounts) -> Self {
        DeliveryCountsView {
            delivered: counts.delivered,
            abandoned: counts.abandoned,
            pending: counts.pending,
        }
    }
}

impl OverviewView {
    /// Renders an account's overview.
    pub fn new(o: &Overview) -> Self {
        let last = o.contracts_by_last_result;
        OverviewView {
            usage: UsageView::new(&o.account),
            checks_by_day: o
                .checks_by_day
                .iter()
                .map(|d| DayView {
                    date: d.day_start.rfc3339().chars().take(10).collect(),
                    pass: d.counts.pass,
                    warning: d.counts.warning,
                    breaking: d.counts.breaking,
                })
                .collect(),
            contracts: ContractCountsView {
                total: o.contracts_total,
                by_last_result: LastResultsView {
                    pass: last.pass,
                    warning: last.warning,
                    breaking: last.breaking,
                    none: o.contracts_never_checked,
                },
            },
            webhooks: WebhookCountsView {
                total: o.webhooks.total,
                active: o.webhooks.active,
                paused: o.webhooks.paused,
                failing: o.webhooks.failing,
                gone: o.webhooks.gone,
            },
            deliveries_24h: DeliveryCountsView::new(o.deliveries_24h),
        }
    }
}
