//! Deliveries: the webhooks' history and the persisted queue ([`super::queue`] holds its
//! transaction bodies). The dispatcher reads due deliveries and records outcomes here;
//! the API lists, retries and recovers.

use super::queue::{self, AfterAttempt, DeliveryKey, DueBatch, DueEntry, DueRequest};
use super::tables::{Page, PageRequest};
use super::{Store, StoreError};
use crate::clock::UnixMs;
use crate::ids::{AccountId, DeliveryId, WebhookId};
use crate::model::{Attempt, Delivery, DisabledReason};

type Result<T> = std::result::Result<T, StoreError>;

/// The store's deliveries and their queue. A borrow of the [`Store`]: get one with
/// [`Store::deliveries`].
#[derive(Clone, Copy)]
pub struct Deliveries<'s> {
    store: &'s Store,
}

impl Store {
    /// The webhooks' deliveries: their history and the queue of pending ones.
    pub fn deliveries(&self) -> Deliveries<'_> {
        Deliveries { store: self }
    }
}

impl Deliveries<'_> {
    /// One page of a webhook's deliveries, newest first (404 for another account's webhook).
    pub async fn list(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        self.store
            .read(move |txn| {
                super::webhooks::webhook(txn, account, webhook_id)?;
                queue::list(txn, webhook_id, page)
            })
            .await
    }

    /// The deliveries due now (a read: nothing is written until an attempt ends).
    pub async fn due(&self, request: DueRequest) -> Result<DueBatch> {
        self.store.read(move |txn| queue::due(txn, &request)).await
    }

    /// Drops the stale due entries [`Deliveries::due`] reported.
    pub async fn repair(&self, stale: Vec<DueEntry>) -> Result<()> {
        self.store
            .write(move |txn| queue::repair(txn, &stale))
            .await
    }

    /// Records an attempt's outcome and moves the delivery on; `disable_after` abandoned
    /// deliveries in a row disable the webhook (0: never). Returns the reason if the
    /// webhook was disabled. The dispatcher, which made the attempt, reschedules itself
    /// (it must first stop holding the delivery).
    pub async fn finish_attempt(
        &self,
        delivery: DeliveryKey,
        attempt: Attempt,
        after: AfterAttempt,
        disable_after: u32,
    ) -> Result<Option<DisabledReason>> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| {
                queue::finish_attempt(txn, delivery, attempt, after, disable_after, now)
            })
            .await
    }

    /// Stores a finished test delivery of the account's webhook (`NotFound` if the webhook
    /// is gone); its `seq` is assigned here.
    pub async fn record_test(&self, account: AccountId, delivery: Delivery) -> Result<Delivery> {
        self.store
            .write(move |txn| queue::record_test(txn, account, delivery))
            .await
    }

    /// Queues a delivered or abandoned delivery again, due now.
    pub async fn retry(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
        delivery_id: DeliveryId,
    ) -> Result<Delivery> {
        let due = self.store.clock().steady();
        let delivery = self
            .store
            .write(move |txn| queue::retry(txn, account, webhook_id, delivery_id, due))
            .await?;
        if delivery.next_attempt_at.is_some() {
            self.store.signal_due();
        }
        Ok(delivery)
    }

    /// Queues again every abandoned delivery of the webhook created at or after `since`,
    /// due now; returns how many.
    pub async fn recover(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
        since: UnixMs,
    ) -> Result<usize> {
        let due = self.store.clock().steady();
        let requeued = self
            .store
            .write(move |txn| queue::recover(txn, account, webhook_id, since, due))
            .await?;
        if requeued > 0 {
            self.store.signal_due();
        }
        Ok(requeued)
    }

    /// Deletes up to `max` deliveries finished before `before`; returns how many.
    pub async fn purge_finished(&self, before: UnixMs, max: usize) -> Result<usize> {
        self.store
            .write(move |txn| queue::purge_finished(txn, before, max))
            .await
    }

    /// When the earliest queued delivery is due (steady clock), and how many are queued.
    pub async fn queue_state(&self) -> Result<(Option<UnixMs>, u64)> {
        self.store
            .read(|txn| Ok((queue::next_due(txn)?, queue::due_count(txn)?)))
            .await
    }
}
