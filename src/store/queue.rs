//! The delivery queue: a persisted timer wheel in redb.
//!
//! A pending delivery whose webhook is active has one entry in `DUE`, keyed by the wall
//! clock millisecond it is due; the scheduler asks for the first keys ≤ now. Claiming an
//! entry re-keys it to `now + lease` in the same transaction, so a crash anywhere during
//! the attempt leaves the entry behind and the attempt simply fires again when the lease
//! expires: nothing is lost and no recovery scan is needed at start-up.
//!
//! Invariant: `Delivery::next_attempt_at == Some(t)` exactly when `DUE` holds
//! `(t, delivery seq)`.

use std::collections::HashMap;

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};

use super::codec::decode;
use super::tables::{self, *};
use super::StoreError;
use crate::drift::Verdict;
use crate::model::{AccountId, Attempt, Check, Delivery, DeliveryStatus, Webhook};

type Result<T> = std::result::Result<T, StoreError>;

/// A delivery claimed for one attempt, with everything needed to send it.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The delivery (its `next_attempt_at` is now the lease expiry).
    pub delivery: Delivery,
    /// Where to send it, and the secret to sign with.
    pub webhook: Webhook,
    /// The payload's source.
    pub check: Check,
    /// The attempt number (1-based); the same again if a crash interrupts it.
    pub attempt: u32,
}

/// The result of [`claim_due`].
#[derive(Clone, Debug, Default)]
pub struct Claimed {
    /// The deliveries to attempt now.
    pub claims: Vec<Claim>,
    /// When the earliest remaining entry is due (unix ms), if any.
    pub next_due: Option<i64>,
    /// Some due entries were left because their webhook had its share in flight.
    pub skipped_busy: bool,
}

/// What to do with a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAttempt {
    /// A 2xx: done.
    Delivered,
    /// A failure with attempts left: try again at this unix ms.
    RetryAt(i64),
    /// The last allowed attempt failed.
    Abandon,
    /// `410 Gone`: pause the webhook; the delivery waits for it to resume.
    PauseWebhook,
}

fn due_key(at: i64) -> u64 {
    at.max(0) as u64
}

/// Queues one delivery per matching webhook (active, subscribed to the verdict, scoped to
/// the contract or to all). Runs in the check's own transaction.
pub fn enqueue(
    txn: &WriteTransaction,
    meta: &mut Table<&'static str, u64>,
    account: AccountId,
    check: &Check,
    now: i64,
) -> Result<usize> {
    let matching: Vec<Webhook> = {
        let table = txn.open_table(WEBHOOKS)?;
        let mut matching = Vec::new();
        for row in table.range((account, 0)..=(account, u64::MAX))? {
            let webhook: Webhook = decode(row?.1.value())?;
            if fires_for(&webhook, check.verdict, check.contract_id) {
                matching.push(webhook);
            }
        }
        matching
    };
    if matching.is_empty() {
        return Ok(0);
    }
    let mut deliveries = txn.open_table(DELIVERIES)?;
    let mut due = txn.open_table(DUE)?;
    for webhook in &matching {
        let seq = take_seq(meta)?;
        let delivery = Delivery {
            id: crate::ids::new_id(now),
            seq,
            account,
            webhook_id: webhook.id,
            check_id: check.id,
            status: DeliveryStatus::Pending,
            failures: 0,
            next_attempt_at: Some(now),
            attempts: Vec::new(),
            created_at: now,
            finished_at: None,
        };
        put(&mut deliveries, (webhook.id, seq), &delivery)?;
        due.insert((due_key(now), seq), webhook.id)?;
    }
    Ok(matching.len())
}

fn fires_for(webhook: &Webhook, verdict: Verdict, contract_id: u128) -> bool {
    webhook.active
        && webhook.events.contains(&verdict)
        && webhook.contract_id.is_none_or(|c| c == contract_id)
}

/// Claims up to `max` deliveries due at `now`, leasing each until `lease_until`, taking
/// no more for one webhook than `per_webhook_cap` minus its `in_flight` count. Due entries
/// of saturated webhooks are skipped (read, not rewritten); at most `4 × max` entries are
/// looked at.
pub fn claim_due(
    txn: &WriteTransaction,
    now: i64,
    lease_until: i64,
    max: usize,
    in_flight: &HashMap<u128, usize>,
    per_webhook_cap: usize,
) -> Result<Claimed> {
    let mut due = txn.open_table(DUE)?;
    let mut deliveries = txn.open_table(DELIVERIES)?;
    let ids = txn.open_table(IDS)?;
    let webhooks = txn.open_table(WEBHOOKS)?;
    let checks = txn.open_table(CHECKS)?;
    let mut claimed = Claimed::default();
    let entries = {
        let mut taken: HashMap<u128, usize> = HashMap::new();
        let mut entries = Vec::new();
        for row in due
            .range(..=(due_key(now), u64::MAX))?
            .take(max.saturating_mul(4))
        {
            let (key, webhook_id) = row?;
            let webhook_id = webhook_id.value();
            let count = taken
                .entry(webhook_id)
                .or_insert_with(|| in_flight.get(&webhook_id).copied().unwrap_or(0));
            if *count >= per_webhook_cap {
                claimed.skipped_busy = true;
                continue;
            }
            *count += 1;
            entries.push((key.value(), webhook_id));
            if entries.len() == max {
                break;
            }
        }
        entries
    };
    for ((at, seq), webhook_id) in entries {
        due.remove((at, seq))?;
        let Some(mut delivery): Option<Delivery> = get(&deliveries, (webhook_id, seq))? else {
            continue; // its webhook was deleted
        };
        let webhook = get_owned::<Webhook>(&ids, &webhooks, delivery.account, webhook_id)?;
        let check = get_owned::<Check>(&ids, &checks, delivery.account, delivery.check_id)?;
        match (webhook, check) {
            (Some((_, webhook)), Some((_, check))) if webhook.active => {
                due.insert((due_key(lease_until), seq), webhook_id)?;
                delivery.next_attempt_at = Some(lease_until);
                put(&mut deliveries, (webhook_id, seq), &delivery)?;
                let attempt = delivery.attempts.len() as u32 + 1;
                claimed.claims.push(Claim {
                    delivery,
                    webhook,
                    check,
                    attempt,
                });
            }
            (Some(_), Some(_)) => {
                // Paused: wait, without a due entry, until the webhook resumes.
                delivery.next_attempt_at = None;
                put(&mut deliveries, (webhook_id, seq), &delivery)?;
            }
            _ => {
                deliveries.remove((webhook_id, seq))?;
            }
        }
    }
    claimed.next_due = due.first()?.map(|(key, _)| key.value().0 as i64);
    Ok(claimed)
}

/// When the earliest entry is due (unix ms).
pub fn next_due(txn: &ReadTransaction) -> Result<Option<i64>> {
    Ok(txn
        .open_table(DUE)?
        .first()?
        .map(|(key, _)| key.value().0 as i64))
}

/// The number of pending deliveries with a due entry.
pub fn due_count(txn: &ReadTransaction) -> Result<u64> {
    Ok(txn.open_table(DUE)?.len()?)
}

/// Records an attempt of the delivery `(webhook_id, seq)` and moves it on as `after` says.
pub fn finish_attempt(
    txn: &WriteTransaction,
    webhook_id: u128,
    seq: u64,
    attempt: Attempt,
    after: AfterAttempt,
    now: i64,
) -> Result<()> {
    let mut deliveries = txn.open_table(DELIVERIES)?;
    let Some(mut delivery): Option<Delivery> = get(&deliveries, (webhook_id, seq))? else {
        return Ok(()); // deleted with its webhook while the attempt ran
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(()); // a duplicate attempt after a lease expiry already finished it
    }
    let webhook = get_owned::<Webhook>(
        &txn.open_table(IDS)?,
        &txn.open_table(WEBHOOKS)?,
        delivery.account,
        webhook_id,
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
                due.insert((due_key(at), seq), webhook_id)?;
                delivery.next_attempt_at = Some(at);
            }
        }
        // The delivery waits (no due entry) like the webhook's other pending ones.
        AfterAttempt::PauseWebhook => {}
    }
    put(&mut deliveries, (webhook_id, seq), &delivery)?;
    drop((deliveries, due));
    if let (AfterAttempt::PauseWebhook, Some((location, mut webhook))) = (after, webhook) {
        webhook.active = false;
        put(&mut txn.open_table(WEBHOOKS)?, location, &webhook)?;
        set_paused(txn, webhook_id, true, now)?;
    }
    Ok(())
}

fn finish(
    txn: &WriteTransaction,
    delivery: &mut Delivery,
    status: DeliveryStatus,
    now: i64,
) -> Result<()> {
    delivery.status = status;
    delivery.finished_at = Some(now);
    txn.open_table(FINISHED)?
        .insert((due_key(now), delivery.seq), delivery.webhook_id)?;
    Ok(())
}

/// Every delivery of a webhook, oldest first.
fn all_of(
    deliveries: &impl ReadableTable<(u128, u64), &'static [u8]>,
    webhook_id: u128,
) -> Result<Vec<Delivery>> {
    let mut all = Vec::new();
    for row in deliveries.range((webhook_id, 0)..=(webhook_id, u64::MAX))? {
        all.push(decode(row?.1.value())?);
    }
    Ok(all)
}

/// Pauses (removes the due entries of) or resumes (makes due now) a webhook's pending
/// deliveries.
pub fn set_paused(txn: &WriteTransaction, webhook_id: u128, paused: bool, now: i64) -> Result<()> {
    let mut deliveries = txn.open_table(DELIVERIES)?;
    let mut due = txn.open_table(DUE)?;
    for mut delivery in all_of(&deliveries, webhook_id)? {
        if delivery.status != DeliveryStatus::Pending {
            continue;
        }
        match (paused, delivery.next_attempt_at) {
            (true, Some(at)) => {
                due.remove((due_key(at), delivery.seq))?;
                delivery.next_attempt_at = None;
            }
            (false, None) => {
                due.insert((due_key(now), delivery.seq), webhook_id)?;
                delivery.next_attempt_at = Some(now);
            }
            _ => continue,
        }
        put(&mut deliveries, (webhook_id, delivery.seq), &delivery)?;
    }
    Ok(())
}

/// Removes every delivery of a webhook, pending or finished.
pub fn remove_all(txn: &WriteTransaction, webhook_id: u128) -> Result<()> {
    let mut deliveries = txn.open_table(DELIVERIES)?;
    let mut due = txn.open_table(DUE)?;
    let mut finished = txn.open_table(FINISHED)?;
    for delivery in all_of(&deliveries, webhook_id)? {
        deliveries.remove((webhook_id, delivery.seq))?;
        if let Some(at) = delivery.next_attempt_at {
            due.remove((due_key(at), delivery.seq))?;
        }
        if let Some(at) = delivery.finished_at {
            finished.remove((due_key(at), delivery.seq))?;
        }
    }
    Ok(())
}

/// Deletes up to `max` deliveries finished before `before` (unix ms); returns how many.
pub fn purge_finished(txn: &WriteTransaction, before: i64, max: usize) -> Result<usize> {
    let mut finished = txn.open_table(FINISHED)?;
    let mut deliveries = txn.open_table(DELIVERIES)?;
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
    webhook_id: u128,
    request: PageRequest,
) -> Result<Page<Delivery>> {
    tables::page(
        &txn.open_table(DELIVERIES)?,
        webhook_id,
        Order::NewestFirst,
        request,
    )
}
