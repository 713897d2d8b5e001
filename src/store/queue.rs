//! The delivery queue: a persisted timer wheel in redb.
//!
//! A pending delivery whose webhook is active has one entry in `DUE`, keyed by the
//! millisecond it is due on the queue's steady clock (`Clock::steady`); the dispatcher
//! reads the first keys ≤ now. Reading is not claiming: the entry stays where it is while
//! the attempt runs (the dispatcher, the queue's only consumer, remembers what it has in
//! flight), and the attempt's outcome moves or removes it. So a crash anywhere during an
//! attempt leaves the entry behind, due, and the next start attempts it again: nothing is
//! lost, nothing is scanned at start-up, and no wall-clock lease can expire under a
//! running attempt.
//!
//! Invariant: `Delivery::next_attempt_at == Some(t)` exactly when `DUE` holds
//! `(t, delivery seq)`.

use std::collections::{HashMap, HashSet};

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};

use super::tables::*;
use super::StoreError;
use crate::clock::UnixMs;
use crate::drift::Verdict;
use crate::ids::{AccountId, ContractId, DeliveryId, WebhookId};
use crate::model::{Attempt, Check, Delivery, DeliveryStatus, Webhook};

type Result<T> = std::result::Result<T, StoreError>;

/// Where a delivery is kept: its webhook and its store-wide `seq` (unique on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeliveryKey {
    /// The webhook it goes to.
    pub webhook_id: WebhookId,
    /// Its place in creation order; also its key in `DUE` and `FINISHED`.
    pub seq: u64,
}

/// A due delivery, with everything needed to attempt it.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Where to send it, and the secret to sign with.
    pub webhook: Webhook,
    /// The payload's source.
    pub check: Check,
    /// The attempt number (1-based); the same again if a crash interrupts it.
    pub attempt: u32,
}

impl DueDelivery {
    /// Where the delivery is kept.
    pub fn key(&self) -> DeliveryKey {
        DeliveryKey {
            webhook_id: self.webhook.id,
            seq: self.delivery.seq,
        }
    }
}

/// What the dispatcher has in flight: deliveries (by `seq`) and their count per webhook.
#[derive(Clone, Debug, Default)]
pub struct InFlight {
    /// Deliveries being attempted; their `DUE` entries are not to be handed out again.
    pub deliveries: HashSet<u64>,
    /// Attempts running per webhook.
    pub per_webhook: HashMap<WebhookId, usize>,
}

/// What [`due`] is asked for.
#[derive(Clone, Debug)]
pub struct DueRequest {
    /// Entries due at or before this (steady clock) are due.
    pub now: UnixMs,
    /// At most this many deliveries.
    pub max: usize,
    /// At most this many attempts in flight to one webhook.
    pub per_webhook_cap: usize,
    /// What is running already.
    pub in_flight: InFlight,
}

/// The answer of [`due`].
#[derive(Clone, Debug, Default)]
pub struct DueBatch {
    /// The deliveries to attempt now.
    pub ready: Vec<DueDelivery>,
    /// When the earliest entry that is neither in flight nor handed out here is due.
    pub next_due: Option<UnixMs>,
    /// Some due entries were left because their webhook had its share in flight.
    pub skipped_busy: bool,
    /// Entries whose delivery, webhook or check is gone or paused (a repair for
    /// [`repair`]; cannot happen unless the invariant was broken).
    pub stale: Vec<(u64, u64, WebhookId)>,
}

/// What to do with a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAttempt {
    /// A 2xx: done.
    Delivered,
    /// A failure with attempts left: try again at this (steady clock) time.
    RetryAt(UnixMs),
    /// The last allowed attempt failed.
    Abandon,
    /// `410 Gone`: pause the webhook; the delivery waits for it to resume.
    PauseWebhook,
}

fn due_key(at: UnixMs) -> u64 {
    at.0.max(0) as u64
}

/// Queues one delivery per matching webhook (active, subscribed to the verdict, scoped to
/// the contract or to all), due at `due`. Runs in the check's own transaction.
pub fn enqueue(
    txn: &WriteTransaction,
    meta: &mut Table<&'static str, u64>,
    account: AccountId,
    check: &Check,
    due: UnixMs,
) -> Result<usize> {
    let now = check.created_at;
    let matching: Vec<Webhook> = {
        let table = WEBHOOKS.write(txn)?;
        let mut matching = Vec::new();
        for row in table.range((account.0, 0)..=(account.0, u64::MAX))? {
            let (_, webhook) = row?;
            if fires_for(&webhook, check.verdict, check.contract_id) {
                matching.push(webhook);
            }
        }
        matching
    };
    if matching.is_empty() {
        return Ok(0);
    }
    let mut deliveries = DELIVERIES.write(txn)?;
    let mut due_table = txn.open_table(DUE)?;
    for webhook in &matching {
        let seq = take_seq(meta)?;
        let delivery = Delivery {
            id: DeliveryId::generate(now),
            seq,
            account,
            webhook_id: webhook.id,
            check_id: check.id,
            status: DeliveryStatus::Pending,
            failures: 0,
            next_attempt_at: Some(due),
            attempts: Vec::new(),
            created_at: now,
            finished_at: None,
        };
        deliveries.insert((webhook.id.raw(), seq), &delivery)?;
        due_table.insert((due_key(due), seq), webhook.id.raw())?;
    }
    Ok(matching.len())
}

fn fires_for(webhook: &Webhook, verdict: Verdict, contract_id: ContractId) -> bool {
    webhook.active
        && webhook.events.contains(&verdict)
        && webhook.contract_id.is_none_or(|c| c == contract_id)
}

/// Reads up to `max` deliveries due at `now` that are not in flight, taking no more for
/// one webhook than `per_webhook_cap` minus what it has in flight. Writes nothing.
pub fn due(txn: &ReadTransaction, request: &DueRequest) -> Result<DueBatch> {
    let due_table = txn.open_table(DUE)?;
    let deliveries = DELIVERIES.read(txn)?;
    let ids = txn.open_table(IDS)?;
    let webhooks = WEBHOOKS.read(txn)?;
    let checks = CHECKS.read(txn)?;
    let mut batch = DueBatch::default();
    let mut taken: HashMap<WebhookId, usize> = HashMap::new();
    // Entries in flight are passed over; beyond them, a bounded number are looked at.
    let budget = request
        .in_flight
        .deliveries
        .len()
        .saturating_add(request.max.saturating_mul(4));
    for row in due_table.iter()?.take(budget) {
        let (key, webhook_id) = row?;
        let (at, seq) = key.value();
        if request.in_flight.deliveries.contains(&seq) {
            continue;
        }
        if at > due_key(request.now) || batch.ready.len() == request.max {
            batch.next_due = Some(UnixMs(at as i64));
            break;
        }
        let webhook_id = WebhookId::from_raw(webhook_id.value());
        let count = taken.entry(webhook_id).or_insert_with(|| {
            let running = request.in_flight.per_webhook.get(&webhook_id);
            running.copied().unwrap_or(0)
        });
        if *count >= request.per_webhook_cap {
            batch.skipped_busy = true;
            continue;
        }
        let Some(delivery) = deliveries.get((webhook_id.raw(), seq))? else {
            batch.stale.push((at, seq, webhook_id));
            continue;
        };
        let webhook = get_owned(&ids, &webhooks, delivery.account, webhook_id.raw())?;
        let check = get_owned(&ids, &checks, delivery.account, delivery.check_id.raw())?;
        match (webhook, check) {
            (Some((_, webhook)), Some((_, check))) if webhook.active => {
                *count += 1;
                let attempt = delivery.attempts.len() as u32 + 1;
                batch.ready.push(DueDelivery {
                    delivery,
                    webhook,
                    check,
                    attempt,
                });
            }
            _ => batch.stale.push((at, seq, webhook_id)),
        }
    }
    Ok(batch)
}

/// Removes `DUE` entries that [`due`] found stale: a paused webhook's delivery waits
/// without one; a delivery whose webhook or check is gone is dropped.
pub fn repair(txn: &WriteTransaction, stale: &[(u64, u64, WebhookId)]) -> Result<()> {
    let mut due = txn.open_table(DUE)?;
    let mut deliveries = DELIVERIES.write(txn)?;
    let webhooks = WEBHOOKS.write(txn)?;
    let ids = txn.open_table(IDS)?;
    for &(at, seq, webhook_id) in stale {
        due.remove((at, seq))?;
        let Some(mut delivery) = deliveries.get((webhook_id.raw(), seq))? else {
            continue;
        };
        if get_owned(&ids, &webhooks, delivery.account, webhook_id.raw())?.is_some() {
            delivery.next_attempt_at = None; // paused: waits for the webhook to resume
            deliveries.insert((webhook_id.raw(), seq), &delivery)?;
        } else {
            deliveries.remove((webhook_id.raw(), seq))?;
        }
    }
    Ok(())
}

/// When the earliest entry is due.
pub fn next_due(txn: &ReadTransaction) -> Result<Option<UnixMs>> {
    Ok(txn
        .open_table(DUE)?
        .first()?
        .map(|(key, _)| UnixMs(key.value().0 as i64)))
}

/// The number of pending deliveries with a due entry.
pub fn due_count(txn: &ReadTransaction) -> Result<u64> {
    Ok(txn.open_table(DUE)?.len()?)
}

/// Records an attempt of a delivery and moves it on as `after` says. `now` is the wall
/// clock (for `finished_at`); a retry's time is on the steady clock already.
pub fn finish_attempt(
    txn: &WriteTransaction,
    key: DeliveryKey,
    attempt: Attempt,
    after: AfterAttempt,
    now: UnixMs,
) -> Result<()> {
    let DeliveryKey { webhook_id, seq } = key;
    let mut deliveries = DELIVERIES.write(txn)?;
    let Some(mut delivery) = deliveries.get((webhook_id.raw(), seq))? else {
        return Ok(()); // deleted with its webhook while the attempt ran
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(()); // cannot happen with one dispatcher; finishing twice would be wrong
    }
    let webhook = get_owned(
        &txn.open_table(IDS)?,
        &WEBHOOKS.write(txn)?,
        delivery.account,
        webhook_id.raw(),
    )?;
    let mut due = txn.open_table(DUE)?;
    if let Some(at) = delivery.next_attempt_at.take() {
        due.remove((due_key(at), seq))?;
    }
    delivery.attempts.push(attempt);
    match after {
        AfterAttempt::Delivered => finish(txn, &mut delivery, DeliveryStatus::Delivered, now)?,
        AfterAttempt::Abandon => {
            delivery.failures += 1;
            finish(txn, &mut delivery, DeliveryStatus::Abandoned, now)?;
        }
        AfterAttempt::RetryAt(at) => {
            delivery.failures += 1;
            // A webhook paused meanwhile keeps the delivery waiting instead.
            if webhook.as_ref().is_some_and(|(_, w)| w.active) {
                due.insert((due_key(at), seq), webhook_id.raw())?;
                delivery.next_attempt_at = Some(at);
            }
        }
        // The delivery waits (no due entry) like the webhook's other pending ones.
        AfterAttempt::PauseWebhook => {}
    }
    deliveries.insert((webhook_id.raw(), seq), &delivery)?;
    drop((deliveries, due));
    if let (AfterAttempt::PauseWebhook, Some((location, mut webhook))) = (after, webhook) {
        webhook.active = false;
        WEBHOOKS.write(txn)?.insert(location, &webhook)?;
        set_paused(txn, webhook_id, true, now)?;
    }
    Ok(())
}

fn finish(
    txn: &WriteTransaction,
    delivery: &mut Delivery,
    status: DeliveryStatus,
    now: UnixMs,
) -> Result<()> {
    delivery.status = status;
    delivery.finished_at = Some(now);
    txn.open_table(FINISHED)?
        .insert((due_key(now), delivery.seq), delivery.webhook_id.raw())?;
    Ok(())
}

/// Every delivery of a webhook, oldest first.
fn all_of(txn: &WriteTransaction, webhook_id: WebhookId) -> Result<Vec<Delivery>> {
    let deliveries = DELIVERIES.write(txn)?;
    let rows = deliveries.range((webhook_id.raw(), 0)..=(webhook_id.raw(), u64::MAX))?;
    rows.map(|row| row.map(|(_, delivery)| delivery)).collect()
}

/// Pauses (removes the due entries of) or resumes (makes due at `due`) a webhook's
/// pending deliveries. Returns how many changed.
pub fn set_paused(
    txn: &WriteTransaction,
    webhook_id: WebhookId,
    paused: bool,
    due: UnixMs,
) -> Result<usize> {
    let pending = all_of(txn, webhook_id)?;
    let mut deliveries = DELIVERIES.write(txn)?;
    let mut due_table = txn.open_table(DUE)?;
    let mut changed = 0;
    for mut delivery in pending {
        if delivery.status != DeliveryStatus::Pending {
            continue;
        }
        match (paused, delivery.next_attempt_at) {
            (true, Some(at)) => {
                due_table.remove((due_key(at), delivery.seq))?;
                delivery.next_attempt_at = None;
            }
            (false, None) => {
                due_table.insert((due_key(due), delivery.seq), webhook_id.raw())?;
                delivery.next_attempt_at = Some(due);
            }
            _ => continue,
        }
        deliveries.insert((webhook_id.raw(), delivery.seq), &delivery)?;
        changed += 1;
    }
    Ok(changed)
}

/// Removes every delivery of a webhook, pending or finished.
pub fn remove_all(txn: &WriteTransaction, webhook_id: WebhookId) -> Result<()> {
    let all = all_of(txn, webhook_id)?;
    let mut deliveries = DELIVERIES.write(txn)?;
    let mut due = txn.open_table(DUE)?;
    let mut finished = txn.open_table(FINISHED)?;
    for delivery in all {
        deliveries.remove((webhook_id.raw(), delivery.seq))?;
        if let Some(at) = delivery.next_attempt_at {
            due.remove((due_key(at), delivery.seq))?;
        }
        if let Some(at) = delivery.finished_at {
            finished.remove((due_key(at), delivery.seq))?;
        }
    }
    Ok(())
}

/// Deletes up to `max` deliveries finished before `before`; returns how many.
pub fn purge_finished(txn: &WriteTransaction, before: UnixMs, max: usize) -> Result<usize> {
    let mut finished = txn.open_table(FINISHED)?;
    let mut deliveries = DELIVERIES.write(txn)?;
    let expired = {
        let mut expired = Vec::new();
        for row in finished.range(..(due_key(before), 0))?.take(max) {
            let (key, webhook_id) = row?;
            expired.push((key.value(), webhook_id.value()));
        }
        expired
    };
    for &((at, seq), webhook_id) in &expired {
        finished.remove((at, seq))?;
        deliveries.remove((webhook_id, seq))?;
    }
    Ok(expired.len())
}

/// One page of a webhook's deliveries, newest first.
pub fn list(
    txn: &ReadTransaction,
    webhook_id: WebhookId,
    request: PageRequest,
) -> Result<Page<Delivery>> {
    DELIVERIES
        .read(txn)?
        .page(webhook_id.raw(), Order::NewestFirst, request)
}
