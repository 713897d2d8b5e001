//! The records DriftGuard keeps, in the product's words. The store persists them (in
//! stored shapes of its own, `store::records`) and `wire` renders them as JSON; these
//! types are neither, so either can change without the other.

use crate::clock::UnixMs;
use crate::credentials::{Environment, KeyHash};
use crate::drift::{compare_versions, Column, Compatibility, Diff, Rules, Verdict, VersionChanges};
pub use crate::filter::WebhookFilter;
pub use crate::ids::{AccountId, CheckId, ContractId, DeliveryId, KeyId, WebhookId};

/// A team: it owns keys, contracts, checks and webhooks, and holds the credit balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Internal number.
    pub id: AccountId,
    /// Unique operator-facing name (`default` for the first one).
    pub name: String,
    /// What live checks may still spend.
    pub credits_remaining: u64,
    /// What live checks have spent.
    pub credits_used: u64,
    /// Every stored check, live or test.
    pub total_checks: u64,
    /// When it was created.
    pub created_at: UnixMs,
}

/// An API key, without the key itself (only its hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// `key_…` id.
    pub id: KeyId,
    /// The owner.
    pub account: AccountId,
    /// SHA-256 of the full key.
    pub hash: KeyHash,
    /// First 16 characters of the key.
    pub preview: String,
    /// Live or test.
    pub environment: Environment,
    /// Revoked keys answer 401.
    pub active: bool,
    /// When it was created.
    pub created_at: UnixMs,
    /// Updated lazily (see `http::auth`).
    pub last_used_at: Option<UnixMs>,
}

/// The columns a dataset must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    /// `ctr_…` id.
    pub id: ContractId,
    /// Unique within the account.
    pub name: String,
    /// 1 at creation; every update that changes something adds 1.
    pub version: u32,
    /// The expected schema (order kept as given; it is not significant).
    pub columns: Vec<Column>,
    /// How changes score (defaults: the v1 scoring).
    pub rules: Rules,
    /// Which column changes an update may make (`none`: any).
    pub compatibility: Compatibility,
    /// When it was created.
    pub created_at: UnixMs,
    /// When it last changed: the `created_at` of its current version.
    pub updated_at: UnixMs,
}

impl Contract {
    /// The contract's current version, as its history keeps it.
    pub fn current_version(&self) -> ContractVersion {
        ContractVersion {
            version: self.version,
            name: self.name.clone(),
            columns: self.columns.clone(),
            rules: self.rules,
            compatibility: self.compatibility,
            created_at: self.updated_at,
        }
    }
}

/// One version of a contract, as it was when it was made. Versions never change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractVersion {
    /// 1, 2, …
    pub version: u32,
    /// The contract's name in this version.
    pub name: String,
    /// The schema in this version.
    pub columns: Vec<Column>,
    /// The rules in this version.
    pub rules: Rules,
    /// The compatibility mode in this version.
    pub compatibility: Compatibility,
    /// When this version was made.
    pub created_at: UnixMs,
}

/// A version in a contract's history, with what changed from the version before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    /// The version.
    pub version: ContractVersion,
    /// `None` for version 1.
    pub changes: Option<VersionChanges>,
}

impl VersionEntry {
    /// `version`, compared with the version `before` it (`None` for version 1).
    pub fn new(version: ContractVersion, before: Option<&ContractVersion>) -> Self {
        let changes = before.map(|b| {
            compare_versions(
                (&b.name, &b.columns, &b.rules, b.compatibility),
                (
                    &version.name,
                    &version.columns,
                    &version.rules,
                    version.compatibility,
                ),
            )
        });
        VersionEntry { version, changes }
    }
}

/// A stored check result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `chk_…` id.
    pub id: CheckId,
    /// The contract checked against.
    pub contract_id: ContractId,
    /// The version of the contract it ran against.
    pub contract_version: u32,
    /// Derived from `severity`.
    pub verdict: Verdict,
    /// 0–100.
    pub severity: u8,
    /// The exact difference.
    pub diff: Diff,
    /// 1 for a live key, 0 for a test key.
    pub credits_used: u8,
    /// When it was created.
    pub created_at: UnixMs,
}

/// A subscription that receives check results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// `wh_…` id.
    pub id: WebhookId,
    /// Absolute `https://` URL.
    pub url: String,
    /// Verdicts that fire it, without duplicates, in the order given.
    pub events: Vec<Verdict>,
    /// `None`: every contract of the account.
    pub contract_id: Option<ContractId>,
    /// Paused webhooks get no new deliveries.
    pub active: bool,
    /// `whsec_…`; signs every delivery. Returned once, at creation (or rotation).
    pub secret: String,
    /// When it was created.
    pub created_at: UnixMs,
    /// What the body of a delivery looks like.
    pub format: WebhookFormat,
    /// Why it is inactive; `None` while active.
    pub disabled_reason: Option<DisabledReason>,
    /// Abandoned deliveries in a row (a delivered one resets it).
    pub consecutive_failures: u32,
    /// The secret before the last rotation, still signing until its grace period ends.
    pub previous_secret: Option<PreviousSecret>,
    /// What a check must also be to fire it; `None`: every check its events and scope
    /// allow.
    pub filter: Option<WebhookFilter>,
    /// The PagerDuty integration's routing key (`pagerduty` format only). Like the
    /// secret, returned by no answer.
    pub routing_key: Option<String>,
}

/// The body a webhook receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The check document, exactly as the check endpoint answered it.
    Json,
    /// A message Slack, Mattermost and Rocket.Chat incoming webhooks accept.
    Slack,
    /// A Microsoft Teams workflow message carrying an Adaptive Card.
    Teams,
    /// A Discord webhook message with one embed.
    Discord,
    /// A PagerDuty Events API v2 event: `trigger` on drift, `resolve` once it is fixed.
    PagerDuty,
}

impl WebhookFormat {
    /// Every format, in the order the API lists them.
    pub const ALL: [WebhookFormat; 5] = [
        WebhookFormat::Json,
        WebhookFormat::Slack,
        WebhookFormat::Teams,
        WebhookFormat::Discord,
        WebhookFormat::PagerDuty,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Discord => "discord",
            WebhookFormat::PagerDuty => "pagerduty",
        }
    }

    /// The format with this JSON name.
    pub fn from_name(name: &str) -> Option<WebhookFormat> {
        match name {
            "json" => Some(WebhookFormat::Json),
            "slack" => Some(WebhookFormat::Slack),
            "teams" => Some(WebhookFormat::Teams),
            "discord" => Some(WebhookFormat::Discord),
            "pagerduty" => Some(WebhookFormat::PagerDuty),
            _ => None,
        }
    }
}

/// Why a webhook is inactive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// The receiver answered `410 Gone`.
    Gone,
    /// `webhooks.disable_after` deliveries in a row were abandoned.
    Failing,
    /// Paused by a PATCH.
    Paused,
}

impl DisabledReason {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Gone => "gone",
            DisabledReason::Failing => "failing",
            DisabledReason::Paused => "paused",
        }
    }
}

/// A secret replaced by a rotation, kept for its grace period so receivers that still
/// verify with it accept deliveries meanwhile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousSecret {
    /// The old `whsec_…`.
    pub secret: String,
    /// When it stops signing (and is dropped).
    pub expires_at: UnixMs,
}

impl Webhook {
    /// The previous secret if it still signs at `now`.
    pub fn previous_secret_at(&self, now: UnixMs) -> Option<&str> {
        self.previous_secret
            .as_ref()
            .filter(|p| p.expires_at > now)
            .map(|p| p.secret.as_str())
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for its paused webhook to resume).
    Pending,
    /// A 2xx answer confirmed receipt.
    Delivered,
    /// Every allowed attempt failed.
    Abandoned,
}

impl DeliveryStatus {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }
}

/// What one attempt ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No answer: refused, TLS failure, timeout…
    Error(String),
}

/// One attempt to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt; sent as `X-DriftGuard-Attempt`.
    pub number: u32,
    /// When the request started.
    pub at: UnixMs,
    /// How long until the answer (or the failure).
    pub duration_ms: u64,
    /// Status or error.
    pub outcome: AttemptOutcome,
}

/// One check result on its way to one webhook, with every attempt made so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// `dlv_…` id: the same on every attempt, so receivers can drop duplicates.
    pub id: DeliveryId,
    /// Its place in the store (creation order); with `webhook_id`, its key.
    pub seq: u64,
    /// Owner of the webhook and the check.
    pub account: AccountId,
    /// The subscription.
    pub webhook_id: WebhookId,
    /// The check whose result is the payload; `None` for a test delivery (a ping).
    pub check_id: Option<CheckId>,
    /// Pending, delivered or abandoned.
    pub status: DeliveryStatus,
    /// Attempts that count towards abandonment (a `410` does not).
    pub failures: u32,
    /// When the next attempt is due (on the queue's steady clock); `None` while its
    /// webhook is paused and once finished. Mirrors the delivery's key in the `due` table.
    pub next_attempt_at: Option<UnixMs>,
    /// The last [`Delivery::ATTEMPTS_KEPT`] attempts, oldest first (numbers keep
    /// counting: the first kept one's number tells how many went before).
    pub attempts: Vec<Attempt>,
    /// When it was created.
    pub created_at: UnixMs,
    /// When it was delivered or abandoned; retention counts from here.
    pub finished_at: Option<UnixMs>,
}

impl Delivery {
    /// Attempts a delivery keeps: a delivery recovered again and again must not grow
    /// without end (30 recoveries once left 99 attempts on each).
    pub const ATTEMPTS_KEPT: usize = 20;

    /// The number its next attempt gets.
    pub fn next_attempt_number(&self) -> u32 {
        self.attempts
            .last()
            .map_or(1, |a| a.number.saturating_add(1))
    }

    /// Adds an attempt, dropping the oldest beyond [`Delivery::ATTEMPTS_KEPT`].
    pub fn add_attempt(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
        let over = self.attempts.len().saturating_sub(Self::ATTEMPTS_KEPT);
        self.attempts.drain(..over);
    }

    /// Attempts made but no longer kept.
    pub fn attempts_dropped(&self) -> u32 {
        self.attempts
            .first()
            .map_or(0, |a| a.number.saturating_sub(1))
    }
}

/// A contract's latest check, as lists and the overview show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastCheck {
    /// The check.
    pub id: CheckId,
    /// Its result.
    pub verdict: Verdict,
    /// Its severity.
    pub severity: u8,
    /// When it was made.
    pub created_at: UnixMs,
}

/// Counts by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    /// `pass`.
    pub pass: u64,
    /// `warning`.
    pub warning: u64,
    /// `breaking`.
    pub breaking: u64,
}

impl VerdictCounts {
    /// All three.
    pub fn total(&self) -> u64 {
        self.pass + self.warning + self.breaking
    }
}

/// One UTC day of checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayCounts {
    /// The day's first millisecond.
    pub day_start: UnixMs,
    /// Its checks by verdict.
    pub counts: VerdictCounts,
}

/// An account's webhooks by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookCounts {
    /// All of them.
    pub total: u64,
    /// Active.
    pub active: u64,
    /// Paused by a PATCH.
    pub paused: u64,
    /// Disabled after abandoned deliveries in a row.
    pub failing: u64,
    /// Disabled by a `410 Gone`.
    pub gone: u64,
}

/// Deliveries by where they stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Delivered.
    pub delivered: u64,
    /// Abandoned.
    pub abandoned: u64,
    /// Still pending.
    pub pending: u64,
}

impl std::ops::AddAssign for DeliveryCounts {
    fn add_assign(&mut self, other: DeliveryCounts) {
        self.delivered += other.delivered;
        self.abandoned += other.abandoned;
        self.pending += other.pending;
    }
}

/// What the console's first page shows of an account (SPEC 6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// The account (its credits and check count).
    pub account: Account,
    /// Checks per day, the last 30 UTC days, oldest first, today last.
    pub checks_by_day: Vec<DayCounts>,
    /// The account's contracts.
    pub contracts_total: u64,
    /// Contracts by the result of their latest check.
    pub contracts_by_last_result: VerdictCounts,
    /// Contracts never checked.
    pub contracts_never_checked: u64,
    /// Webhooks by state.
    pub webhooks: WebhookCounts,
    /// Deliveries created in the last 24 hours, by where they stand now.
    pub deliveries_24h: DeliveryCounts,
}
