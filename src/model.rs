//! The records DriftGuard keeps, in the product's words. The store persists them (through
//! its codec) and the HTTP layer renders them; neither adds fields of its own.

use serde::{Deserialize, Serialize};

use crate::credentials::{Environment, KeyHash};
use crate::drift::{Column, Diff, Verdict};

/// Accounts are numbered from 1 in creation order; they never appear in the API.
pub type AccountId = u64;

/// A team: it owns keys, contracts, checks and webhooks, and holds the credit balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An API key, without the key itself (only its hash is kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_…` id.
    pub id: u128,
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
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; updated lazily (see `http::auth`).
    pub last_used_at: Option<i64>,
}

/// The columns a dataset must have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// `ctr_…` id.
    pub id: u128,
    /// Unique within the account.
    pub name: String,
    /// Always 1 today (contracts are immutable).
    pub version: u32,
    /// The expected schema.
    pub columns: Vec<Column>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A stored check result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `chk_…` id.
    pub id: u128,
    /// The contract checked against.
    pub contract_id: u128,
    /// Derived from `severity`.
    pub verdict: Verdict,
    /// 0–100.
    pub severity: u8,
    /// The exact difference.
    pub diff: Diff,
    /// 1 for a live key, 0 for a test key.
    pub credits_used: u8,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A subscription that receives check results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `wh_…` id.
    pub id: u128,
    /// Absolute `https://` URL.
    pub url: String,
    /// Verdicts that fire it, without duplicates, in the order given.
    pub events: Vec<Verdict>,
    /// `None`: every contract of the account.
    pub contract_id: Option<u128>,
    /// Paused webhooks get no new deliveries.
    pub active: bool,
    /// `whsec_…`; signs every delivery. Returned once, at creation.
    pub secret: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for its paused webhook to resume).
    Pending,
    /// A 2xx answer confirmed receipt.
    Delivered,
    /// Every allowed attempt failed.
    Abandoned,
}

/// What one attempt ended with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No answer: refused, TLS failure, timeout…
    Error(String),
}

/// One attempt to deliver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt; sent as `X-DriftGuard-Attempt`.
    pub number: u32,
    /// Unix milliseconds when the request started.
    pub at: i64,
    /// How long until the answer (or the failure).
    pub duration_ms: u64,
    /// Status or error.
    pub outcome: AttemptOutcome,
}

/// One check result on its way to one webhook, with every attempt made so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_…` id: the same on every attempt, so receivers can drop duplicates.
    pub id: u128,
    /// Its place in the store (creation order); with `webhook_id`, its key.
    pub seq: u64,
    /// Owner of the webhook and the check.
    pub account: AccountId,
    /// The subscription.
    pub webhook_id: u128,
    /// The check whose result is the payload.
    pub check_id: u128,
    /// Pending, delivered or abandoned.
    pub status: DeliveryStatus,
    /// Attempts that count towards abandonment (a `410` does not).
    pub failures: u32,
    /// When the next attempt is due (unix ms); `None` while its webhook is paused and once
    /// finished. Mirrors the delivery's key in the `due` table.
    pub next_attempt_at: Option<i64>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it was delivered or abandoned (unix ms); retention counts from here.
    pub finished_at: Option<i64>,
}
