//! The delivery queue: a persisted timer wheel in redb.
//!
//! A pending delivery whose webhook is active has one entry in `DUE`, keyed by its
//! webhook and the millisecond it is due on the queue's steady clock (`Clock::steady`).
//! The dispatcher visits the webhooks with entries in turn (a skip scan: one seek per
//! webhook) and takes each one's due entries up to the room the dispatcher gives it, so a
//! backlog on one webhook never hides another webhook's due delivery. Reading is not
//! claiming: the entry stays where it is while the attempt runs (the dispatcher, the
//! queue's only consumer, remembers what it has in flight — `webhooks::schedule`), and the
//! attempt's outcome moves or removes it. So a crash anywhere during an
//! attempt leaves the entry behind, due, and the next start attempts it again: nothing is
//! lost, nothing is scanned at start-up, and no wall-clock lease can expire under a
//! running attempt.
//!
//! A `pagerduty` webhook's deliveries go one at a time, oldest first (whatever their due
//! times): a `resolve` must never overtake the `trigger` it resolves. The incidents those
//! events open and close are kept in `INCIDENTS` ([`what_to_send`] decides, in the
//! check's transaction; [`finish_attempt`] settles them).
//!
//! Invariant: `Delivery::next_attempt_at == Some(t)` exactly when `DUE` holds
//! `(webhook, t, delivery seq)`.

use std::collections::{HashMap, HashSet};

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};

use super::stats::move_delivery;
use super::tables::*;
use super::StoreError;
use crate::clock::UnixMs;
use crate::drift::Verdict;
use crate::ids::{AccountId, DeliveryId, WebhookId};
use crate::model::{
    Attempt, Check, Delivery, DeliveryStatus, DisabledReason, Webhook, WebhookFormat,
};

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
    /// The name of the check's contract, for the formats that show it; `None` if the
    /// contract is gone.
    pub contract_name: Option<String>,
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

/// A `DUE` entry: `(webhook id, due ms, delivery seq)`.
pub type DueEntry = (u128, u64, u64);

/// What [`due`] is asked for. The dispatcher fills it: it alone decides what is in flight
/// and how many more deliveries each webhook may have at once; the read only obeys.
#[derive(Clone, Debug)]
pub struct DueRequest {
    /// Entries due at or before this (steady clock) are due.
    pub now: UnixMs,
    /// At most this many deliveries.
    pub max: usize,
    /// Start after this webhook (the last one served), so webhooks take turns.
    pub start_after: Option<WebhookId>,
    /// Deliveries (by `seq`) not to hand out: they are being attempted.
    pub skip: HashSet<u64>,
    /// At most this many deliveries of each webhook listed here…
    pub room: HashMap<WebhookId, usize>,
    /// …and this many of any other.
    pub room_otherwise: usize,
}

/// The answer of [`due`].
#[derive(Clone, Debug, Default)]
pub struct DueBatch {
    /// The deliveries to attempt now.
    pub ready: Vec<DueDelivery>,
    /// When the earliest entry that is neither in flight nor handed out here is due.
    pub next_due: Option<UnixMs>,
    /// Some due entries were left because their webhook had no room left.
    pub skipped_busy: bool,
    /// Entries whose delivery, webhook or check is gone or paused (a repair for
    /// [`repair`]; cannot happen unless the invariant was broken).
    pub stale: Vec<DueEntry>,
    /// The last webhook served: the next request starts after it.
    pub last_served: Option<WebhookId>,
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

/// Queues a pending delivery of `check` to `webhook` as delivery number `seq`, due at
/// `due` (steady clock). Runs in the check's own transaction.
pub fn enqueue(
    deliveries: &mut WriteRecords<'_, (u128, u64), Delivery>,
    due_table: &mut Table<'_, DueEntry, ()>,
    account: AccountId,
    webhook: &Webhook,
    check: &Check,
    seq: u64,
    due: UnixMs,
) -> Result<()> {
    let now = check.created_at;
    let delivery = Delivery {
        id: DeliveryId::generate(now),
        seq,
        account,
        webhook_id: webhook.id,
        check_id: Some(check.id),
        status: DeliveryStatus::Pending,
        failures: 0,
        next_attempt_at: Some(due),
        attempts: Vec::new(),
        created_at: now,
        finished_at: None,
    };
    deliveries.insert((webhook.id.raw(), seq), &delivery)?;
    due_table.insert((webhook.id.raw(), due_key(due), seq), ())?;
    Ok(())
}

/// What a check sends one webhook (SPEC 3, 5.3, 6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Send {
    /// Nothing.
    Nothing,
    /// The check, in the webhook's format.
    Check,
    /// A PagerDuty `trigger`: the incident of (webhook, contract) is open from now on.
    Trigger,
    /// A PagerDuty `resolve` of the incident DriftGuard opened.
    Resolve,
}

/// What `check`, of a contract named `name` (asked for only when the filter needs it),
/// sends `webhook`, whose open incident for the contract is `incident` (an `INCIDENTS`
/// value). An inactive webhook or one scoped to another contract gets nothing. Otherwise
/// the webhook fires when its `events` hold the verdict and its filter passes — except
/// that a `pagerduty` webhook turns a firing drift into a `trigger`, never sends a pass
/// as such, and resolves the incident it opened at the contract's next pass, whatever
/// its events and filter say (incidents close themselves when the data is fixed).
pub(super) fn what_to_send(
    webhook: &Webhook,
    check: &Check,
    incident: Option<u64>,
    name: impl FnOnce() -> Option<String>,
) -> Send {
    if !webhook.active || webhook.contract_id.is_some_and(|c| c != check.contract_id) {
        return Send::Nothing;
    }
    let pagerduty = webhook.format == WebhookFormat::PagerDuty;
    if pagerduty && check.verdict == Verdict::Pass {
        return match incident {
            Some(INCIDENT_OPEN) => Send::Resolve,
            _ => Send::Nothing, // none open, or its resolve is on its way
        };
    }
    let fires = webhook.events.contains(&check.verdict)
        && webhook
            .filter
            .as_ref()
            .is_none_or(|f| f.passes(check.severity, name));
    match (fires, pagerduty) {
        (false, _) => Send::Nothing,
        (true, false) => Send::Check,
        (true, true) => Send::Trigger,
    }
}

/// After an attempt of delivery `seq` of a `pagerduty` webhook: a delivered `resolve`
/// closes its incident; an abandoned one leaves it open, so the next pass resolves again.
/// (A `trigger` queued meanwhile has reopened the row, which then no longer names `seq`.)
fn settle_incident(
    txn: &WriteTransaction,
    webhook_id: WebhookId,
    seq: u64,
    delivered: bool,
) -> Result<()> {
    let mut incidents = txn.open_table(INCIDENTS)?;
    let webhook = webhook_id.raw();
    let mut resolving = Vec::new();
    for row in incidents.range((webhook, 0)..=(webhook, u128::MAX))? {
        let (key, value) = row?;
        if value.value() == seq {
            resolving.push(key.value());
        }
    }
    for key in resolving {
        if delivered {
            incidents.remove(key)?;
        } else {
            incidents.insert(key, INCIDENT_OPEN)?;
        }
    }
    Ok(())
}

/// Forgets every incident of a webhook (deleted, or no longer a `pagerduty` one); resolves
/// nothing.
pub(super) fn forget_incidents(txn: &WriteTransaction, webhook_id: WebhookId) -> Result<()> {
    let webhook = webhook_id.raw();
    txn.open_table(INCIDENTS)?
        .retain_in((webhook, 0)..=(webhook, u128::MAX), |_, _| false)?;
    Ok(())
}

/// Reads up to `max` deliveries due at `now` that are not to be skipped, visiting webhooks
/// in turn from `start_after` and taking from each no more than its room. Writes nothing.
pub fn due(txn: &ReadTransaction, request: &DueRequest) -> Result<DueBatch> {
    let due_table = txn.open_table(DUE)?;
    let deliveries = DELIVERIES.read(txn)?;
    let ids = txn.open_table(IDS)?;
    let webhooks = WEBHOOKS.read(txn)?;
    let checks = CHECKS.read(txn)?;
    let contracts = CONTRACTS.read(txn)?;
    let now = due_key(request.now);
    let mut batch = DueBatch::default();
    let mut earliest_later: Option<u64> = None;
    // Two laps: the webhooks after `start_after`, then from the first one round to it.
    let start = request
        .start_after
        .and_then(|w| w.raw().checked_add(1))
        .unwrap_or(0);
    let mut laps = vec![(start, u128::MAX)];
    if start > 0 {
        laps.push((0, start - 1));
    }
    'laps: for (from, until) in laps {
        let mut next = Some(from);
        while let Some(webhook_raw) = next {
            // Seek: the first entry at or after this webhook id.
            let Some(first) = due_table.range((webhook_raw, 0, 0)..)?.next() else {
                break;
            };
            let webhook = first?.0.value().0;
            if webhook > until {
                break;
            }
            next = webhook.checked_add(1);
            let webhook_id = WebhookId::from_raw(webhook);
            let mut room = request
                .room
                .get(&webhook_id)
                .copied()
                .unwrap_or(request.room_otherwise);
            // The webhook, read once for all its entries (with the account that owns it).
            let hook: Option<(Location, Webhook)> = match ids.get(webhook)? {
                Some(location) => {
                    let location = location.value();
                    webhooks.get(location)?.map(|w| (location, w))
                }
                None => None,
            };
            let entries = due_table.range((webhook, 0, 0)..=(webhook, u64::MAX, u64::MAX))?;
            let mut entries: Box<dyn Iterator<Item = Result<DueEntry>>> =
                Box::new(entries.map(|row| Ok(row?.0.value())));
            if hook
                .as_ref()
                .is_some_and(|(_, w)| w.format == WebhookFormat::PagerDuty)
            {
                // One at a time, oldest first, whenever it is due: a resolve never
                // overtakes the trigger it resolves (nor a retried trigger a later one).
                let mut head: Option<DueEntry> = None;
                let mut behind = 0;
                for entry in entries {
                    let entry = entry?;
                    behind += usize::from(head.is_some());
                    if head.is_none_or(|(_, _, seq)| entry.2 < seq) {
                        head = Some(entry);
                    }
                }
                let Some(head @ (_, head_at, head_seq)) = head else {
                    continue;
                };
                if behind > 0 && head_at <= now {
                    // The rest wait for the head's attempt: look again when it is answered.
                    batch.skipped_busy = true;
                }
                if request.skip.contains(&head_seq) {
                    continue;
                }
                entries = Box::new(std::iter::once(Ok(head)));
                room = room.min(1);
            }
            for entry in entries {
                let entry @ (_, at, seq) = entry?;
                if request.skip.contains(&seq) {
                    continue;
                }
                if at > now {
                    earliest_later = Some(earliest_later.map_or(at, |e| e.min(at)));
                    break;
                }
                if batch.ready.len() == request.max {
                    earliest_later = Some(now); // more is due: look again at once
                    break 'laps;
                }
                if room == 0 {
                    batch.skipped_busy = true;
                    break;
                }
                let Some(delivery) = deliveries.get((webhook, seq))? else {
                    batch.stale.push(entry);
                    continue;
                };
                let owner = delivery.account;
                let owned_hook = hook
                    .as_ref()
                    .filter(|((account, _), _)| *account == owner.0)
                    .map(|(_, w)| w);
                let check = match delivery.check_id {
                    Some(check_id) => find_check(&ids, &checks, owner, check_id)?,
                    None => None, // a test delivery is never queued
                };
                match (owned_hook, check) {
                    (Some(hook), Some((_, check))) if hook.active => {
                        room -= 1;
                        batch.last_served = Some(webhook_id);
                        let attempt = delivery.next_attempt_number();
                        // Looked up now, so a message shows the contract's current name.
                        let contract_name =
                            get_owned(&ids, &contracts, owner, check.contract_id.raw())?
                                .map(|(_, contract)| contract.name);
                        batch.ready.push(DueDelivery {
                            delivery,
                            webhook: hook.clone(),
                            check,
                            contract_name,
                            attempt,
                        });
                    }
                    _ => batch.stale.push(entry),
                }
            }
        }
    }
    batch.next_due = earliest_later.map(|at| UnixMs(at as i64));
    Ok(batch)
}

/// Removes `DUE` entries that [`due`] found stale: a paused webhook's delivery waits
/// without one; a delivery whose webhook or check is gone is dropped.
pub fn repair(txn: &WriteTransaction, stale: &[DueEntry]) -> Result<()> {
    let mut due = txn.open_table(DUE)?;
    let mut deliveries = DELIVERIES.write(txn)?;
    let webhooks = WEBHOOKS.write(txn)?;
    let ids = txn.open_table(IDS)?;
    for &entry @ (webhook, _, seq) in stale {
        due.remove(entry)?;
        let Some(mut delivery) = deliveries.get((webhook, seq))? else {
            continue;
        };
        if get_owned(&ids, &webhooks, delivery.account, webhook)?.is_some() {
            delivery.next_attempt_at = None; // paused: waits for the webhook to resume
            deliveries.insert((webhook, seq), &delivery)?;
        } else {
            deliveries.remove((webhook, seq))?;
            uncount(txn, &delivery)?;
        }
    }
    Ok(())
}

/// When the earliest entry is due: the earliest of each webhook's first entry (one seek
/// per webhook with entries).
pub fn next_due(txn: &ReadTransaction) -> Result<Option<UnixMs>> {
    let due = txn.open_table(DUE)?;
    let mut earliest: Option<u64> = None;
    let mut next = Some(0u128);
    while let Some(webhook) = next {
        let Some(first) = due.range((webhook, 0, 0)..)?.next() else {
            break;
        };
        let (webhook, at, _) = first?.0.value();
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
        next = webhook.checked_add(1);
    }
    Ok(earliest.map(|at| UnixMs(at as i64)))
}

/// The number of pending deliveries with a due entry.
pub fn due_count(txn: &ReadTransaction) -> Result<u64> {
    Ok(txn.open_table(DUE)?.len()?)
}

/// Records an attempt of a delivery and moves it on as `after` says, and keeps the
/// webhook's count of abandoned deliveries in a row: a delivered one resets it, an
/// abandoned one adds to it and, at `disable_after` (0: never), disables the webhook
/// (`failing`); a `410` disables it too (`gone`). `now` is the wall clock (for
/// `finished_at`); a retry's time is on the steady clock already. Returns the reason
/// if this attempt disabled the webhook.
pub fn finish_attempt(
    txn: &WriteTransaction,
    key: DeliveryKey,
    attempt: Attempt,
    after: AfterAttempt,
    disable_after: u32,
    now: UnixMs,
) -> Result<Option<DisabledReason>> {
    let DeliveryKey { webhook_id, seq } = key;
    let mut deliveries = DELIVERIES.write(txn)?;
    let Some(mut delivery) = deliveries.get((webhook_id.raw(), seq))? else {
        return Ok(None); // deleted with its webhook while the attempt ran
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(None); // cannot happen with one dispatcher; finishing twice would be wrong
    }
    let webhook = get_owned(
        &txn.open_table(IDS)?,
        &WEBHOOKS.write(txn)?,
        delivery.account,
        webhook_id.raw(),
    )?;
    let mut due = txn.open_table(DUE)?;
    if let Some(at) = delivery.next_attempt_at.take() {
        due.remove((webhook_id.raw(), due_key(at), seq))?;
    }
    delivery.add_attempt(attempt);
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
                due.insert((webhook_id.raw(), due_key(at), seq), ())?;
                delivery.next_attempt_at = Some(at);
            }
        }
        // The delivery waits (no due entry) like the webhook's other pending ones.
        AfterAttempt::PauseWebhook => {}
    }
    deliveries.insert((webhook_id.raw(), seq), &delivery)?;
    drop((deliveries, due));
    if delivery.status != DeliveryStatus::Pending {
        let finished = Some(delivery.status);
        move_delivery(txn, &delivery, Some(DeliveryStatus::Pending), finished)?;
    }
    let Some((location, mut webhook)) = webhook else {
        return Ok(None);
    };
    let before = webhook.clone();
    let mut disabled = None;
    match after {
        AfterAttempt::Delivered => webhook.consecutive_failures = 0,
        AfterAttempt::Abandon => {
            webhook.consecutive_failures = webhook.consecutive_failures.saturating_add(1);
            if disable_after > 0 && webhook.consecutive_failures >= disable_after && webhook.active
            {
                disabled = Some(DisabledReason::Failing);
            }
        }
        AfterAttempt::PauseWebhook => disabled = Some(DisabledReason::Gone),
        AfterAttempt::RetryAt(_) => {}
    }
    if let Some(reason) = disabled {
        webhook.active = false;
        webhook.disabled_reason = Some(reason);
    }
    if webhook != before {
        WEBHOOKS.write(txn)?.insert(location, &webhook)?;
    }
    if disabled.is_some() {
        set_paused(txn, webhook_id, true, now)?;
    }
    let finished = matches!(after, AfterAttempt::Delivered | AfterAttempt::Abandon);
    if finished && webhook.format == WebhookFormat::PagerDuty {
        settle_incident(txn, webhook_id, seq, after == AfterAttempt::Delivered)?;
    }
    Ok(disabled)
}

/// Stores a test delivery whose single attempt has ended (it never enters the queue).
/// A delivered one resets the webhook's count of abandoned deliveries in a row; nothing
/// else about the webhook changes (a test never re-activates one).
pub fn record_test(
    txn: &WriteTransaction,
    account: AccountId,
    mut delivery: Delivery,
) -> Result<Delivery> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let raw = delivery.webhook_id.raw();
    let (location, mut webhook) =
        get_owned(&txn.open_table(IDS)?, &webhooks, account, raw)?.ok_or(StoreError::NotFound)?;
    delivery.seq = next_seq(txn)?;
    DELIVERIES
        .write(txn)?
        .insert((raw, delivery.seq), &delivery)?;
    if let Some(at) = delivery.finished_at {
        txn.open_table(FINISHED)?
            .insert((due_key(at), delivery.seq), raw)?;
    }
    move_delivery(txn, &delivery, None, Some(delivery.status))?;
    if delivery.status == DeliveryStatus::Delivered && webhook.consecutive_failures != 0 {
        webhook.consecutive_failures = 0;
        webhooks.insert(location, &webhook)?;
    }
    Ok(delivery)
}

/// Queues a delivery again with a fresh series of attempts (its attempts so far stay,
/// and numbering goes on): due at `due` if its webhook is active, else waiting for it.
fn requeue(
    txn: &WriteTransaction,
    webhook: &Webhook,
    mut delivery: Delivery,
    due: UnixMs,
) -> Result<Delivery> {
    if let Some(at) = delivery.finished_at.take() {
        txn.open_table(FINISHED)?
            .remove((due_key(at), delivery.seq))?;
    }
    let was = Some(delivery.status);
    move_delivery(txn, &delivery, was, Some(DeliveryStatus::Pending))?;
    delivery.status = DeliveryStatus::Pending;
    delivery.failures = 0;
    delivery.next_attempt_at = None;
    if webhook.active {
        txn.open_table(DUE)?
            .insert((webhook.id.raw(), due_key(due), delivery.seq), ())?;
        delivery.next_attempt_at = Some(due);
    }
    DELIVERIES
        .write(txn)?
        .insert((webhook.id.raw(), delivery.seq), &delivery)?;
    Ok(delivery)
}

/// The account's webhook, or `NotFound`.
fn owned_webhook(txn: &WriteTransaction, account: AccountId, id: WebhookId) -> Result<Webhook> {
    let found = get_owned(
        &txn.open_table(IDS)?,
        &WEBHOOKS.write(txn)?,
        account,
        id.raw(),
    )?;
    found.map(|(_, w)| w).ok_or(StoreError::NotFound)
}

/// `POST …/deliveries/{dlv}/retry`: queues a finished delivery of the account's webhook
/// again (see [`requeue`]). `Conflict` while it is pending, and for a test delivery.
pub fn retry(
    txn: &WriteTransaction,
    account: AccountId,
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    due: UnixMs,
) -> Result<Delivery> {
    let webhook = owned_webhook(txn, account, webhook_id)?;
    // Newest first: a retry is most often of a recent delivery.
    let found = {
        let deliveries = DELIVERIES.write(txn)?;
        let rows = deliveries.range((webhook_id.raw(), 0)..=(webhook_id.raw(), u64::MAX))?;
        let mut found = None;
        for row in rows.rev() {
            let (_, delivery) = row?;
            if delivery.id == delivery_id {
                found = Some(delivery);
                break;
            }
        }
        found
    };
    let delivery = found.ok_or(StoreError::NotFound)?;
    if delivery.check_id.is_none() {
        return Err(StoreError::Conflict(
            "a test delivery is not retried; send a new one with POST /api/v1/webhooks/{id}/test"
                .into(),
        ));
    }
    if delivery.status == DeliveryStatus::Pending {
        return Err(StoreError::Conflict(
            "the delivery is still pending; only a delivered or abandoned one can be retried"
                .into(),
        ));
    }
    requeue(txn, &webhook, delivery, due)
}

/// `POST …/recover`: queues again every abandoned delivery of the account's webhook
/// created at or after `since`. Returns how many.
pub fn recover(
    txn: &WriteTransaction,
    account: AccountId,
    webhook_id: WebhookId,
    since: UnixMs,
    due: UnixMs,
) -> Result<usize> {
    let webhook = owned_webhook(txn, account, webhook_id)?;
    let mut requeued = 0;
    for delivery in all_of(txn, webhook_id)? {
        if delivery.status == DeliveryStatus::Abandoned
            && delivery.check_id.is_some()
            && delivery.created_at >= since
        {
            requeue(txn, &webhook, delivery, due)?;
            requeued += 1;
        }
    }
    Ok(requeued)
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
        if delivery.status != DeliveryStatus::Pending || delivery.check_id.is_none() {
            continue;
        }
        match (paused, delivery.next_attempt_at) {
            (true, Some(at)) => {
                due_table.remove((webhook_id.raw(), due_key(at), delivery.seq))?;
                delivery.next_attempt_at = None;
            }
            (false, None) => {
                due_table.insert((webhook_id.raw(), due_key(due), delivery.seq), ())?;
                delivery.next_attempt_at = Some(due);
            }
            _ => continue,
        }
        deliveries.insert((webhook_id.raw(), delivery.seq), &delivery)?;
        changed += 1;
    }
    Ok(changed)
}

/// Takes a deleted delivery out of the overview's counts.
fn uncount(txn: &WriteTransaction, delivery: &Delivery) -> Result<()> {
    move_delivery(txn, delivery, Some(delivery.status), None)
}

/// Removes every delivery of a webhook, pending or finished, and its incidents.
pub fn remove_all(txn: &WriteTransaction, webhook_id: WebhookId) -> Result<()> {
    forget_incidents(txn, webhook_id)?;
    let all = all_of(txn, webhook_id)?;
    let mut deliveries = DELIVERIES.write(txn)?;
    let mut due = txn.open_table(DUE)?;
    let mut finished = txn.open_table(FINISHED)?;
    for delivery in all {
        uncount(txn, &delivery)?;
        deliveries.remove((webhook_id.raw(), delivery.seq))?;
        if let Some(at) = delivery.next_attempt_at {
            due.remove((webhook_id.raw(), due_key(at), delivery.seq))?;
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
