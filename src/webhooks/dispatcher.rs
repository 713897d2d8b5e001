//! The delivery loop: wakes when the earliest delivery is due (or when the store signals a
//! commit that made deliveries due), reads a batch of due deliveries as
//! [`schedule`](super::schedule) asks (none in flight, each webhook within its share),
//! claims each and runs its attempt as its own task, so one slow endpoint cannot starve
//! the others.
//!
//! The life of one attempt, one pipeline for queued and test deliveries alike: render
//! the body ([`format`](mod@format)) → sign the headers → send with a deadline → classify
//! the answer → decide what follows and record it, under a policy: a queued delivery is
//! retried by the retry policy and recorded in one transaction (delivered, re-keyed for a
//! retry, abandoned, or waiting for a paused webhook) before its claim is released; a
//! test delivery has a single attempt and is recorded finished.
//!
//! Time comes from the store's [`Clock`]: due times are on its steady clock, and every
//! in-process wait is a tokio (monotonic) sleep, never longer than the longest configured
//! delay, so a wall-clock step can neither fire an attempt twice nor hold a retry back.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::client::{Answer, Failure, WebhookClient};
use super::format::{self, Body, Event};
use super::schedule::{after_attempt, Claim, InFlight};
use super::signature::{driftguard_signature, standard_signature};
use crate::clock::{Clock, UnixMs};
use crate::ids::{AccountId, DeliveryId, WebhookId};
use crate::metrics::Metrics;
use crate::model::{Attempt, AttemptOutcome, Delivery, DeliveryStatus, Webhook};
use crate::store::{AfterAttempt, DeliveryKey, DueDelivery, Store, StoreError};
use crate::sync::stopped;

/// Most deliveries read in one batch.
const DUE_BATCH: usize = 256;
/// When every due delivery belongs to a webhook that has its share in flight, look again
/// after an attempt finishes, or after this long at the latest.
const BUSY_RECHECK: Duration = Duration::from_millis(100);
/// How often finished deliveries past retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Deliveries purged per transaction.
const PURGE_BATCH: usize = 1000;
/// When an outcome cannot be recorded (the disk is failing), the delivery is held back
/// this long before it is tried again, so a failing store does not turn into a hot loop.
const RECORD_FAILURE_BACKOFF: Duration = Duration::from_secs(1);
/// While deliveries are paused because the store cannot write, how often to look again.
const STORE_RECHECK: Duration = Duration::from_secs(1);
/// When shutting down, attempts in flight get this long before they are cut off (their
/// due entries make them run again after the restart).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How deliveries are attempted.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// Delay before attempt 2, 3, …; abandoned after `1 + len` failures.
    pub retry_delays: Vec<Duration>,
    /// Deadline of one attempt.
    pub attempt_timeout: Duration,
    /// Attempts in flight at once, across all webhooks.
    pub max_in_flight: NonZeroUsize,
    /// Attempts in flight at once to one webhook.
    pub max_in_flight_per_webhook: NonZeroUsize,
    /// Finished deliveries are kept this long in the history.
    pub retention: Duration,
    /// Abandoned deliveries in a row that disable a webhook; 0: never.
    pub disable_after: u32,
}

impl DeliverySettings {
    /// The longest the scheduler sleeps before reading the queue again, whatever it
    /// expects: the longest configured delay.
    fn max_sleep(&self) -> Duration {
        let longest = self.retry_delays.iter().copied().max().unwrap_or_default();
        longest
            .max(self.attempt_timeout)
            .clamp(Duration::from_secs(1), PURGE_EVERY)
    }
}

/// Sends one attempt: the HTTPS [`WebhookClient`] in production.
pub trait Transport: Send + Sync + 'static {
    /// POSTs `body` to `url`; `Err` describes an attempt that got no answer.
    fn post(
        &self,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> impl Future<Output = Result<Answer, Failure>> + Send;
}

impl Transport for WebhookClient {
    fn post(
        &self,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> impl Future<Output = Result<Answer, Failure>> + Send {
        WebhookClient::post(self, url, headers, body)
    }
}

/// Owns the delivery loop. Built by the daemon; [`Dispatcher::run`] until stopped.
pub struct Dispatcher<T: Transport = WebhookClient> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    store: Store,
    clock: Clock,
    transport: T,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    /// Signalled by the store after commits that made deliveries due, and by attempts
    /// that free a slot someone waits for.
    due_signal: Arc<Notify>,
    /// What is in flight; the one place that decides each webhook's share.
    in_flight: Arc<InFlight>,
}

impl<T: Transport> Dispatcher<T> {
    /// A dispatcher over `store` (and its clock), sending with `transport`.
    pub fn new(
        store: Store,
        transport: T,
        settings: DeliverySettings,
        metrics: Arc<Metrics>,
    ) -> Dispatcher<T> {
        let due_signal = store.due_signal();
        let in_flight = InFlight::new(
            settings.max_in_flight.get(),
            settings.max_in_flight_per_webhook.get(),
            due_signal.clone(),
        );
        Dispatcher {
            inner: Arc::new(Inner {
                clock: store.clock(),
                due_signal,
                store,
                transport,
                settings,
                metrics,
                in_flight,
            }),
        }
    }

    /// The handle through which the API sends test deliveries with this dispatcher's
    /// transport and clock.
    pub fn handle(&self) -> DeliveryHandle<T> {
        DeliveryHandle {
            inner: self.inner.clone(),
        }
    }

    /// Delivers until `stop` turns true, then gives attempts in flight a short grace period.
    /// Pending deliveries stay queued for the next start.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let inner = &self.inner;
        let mut attempts = JoinSet::new();
        let mut next_purge = tokio::time::Instant::now();
        // Webhooks take turns: each batch starts after the last webhook served.
        let mut last_served = None;
        let mut paused = false;
        loop {
            while attempts.try_join_next().is_some() {}
            if *stop.borrow() {
                break;
            }
            // While the store cannot write, no outcome could be recorded: an attempt now
            // would only be sent again later. Hold every delivery (once logged) until the
            // writer has recovered.
            if let Some(why) = inner.store.write_failure() {
                if !paused {
                    tracing::warn!(reason = %why, "webhook deliveries paused until the store can write again");
                    paused = true;
                }
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = tokio::time::sleep(STORE_RECHECK) => continue,
                }
            }
            if std::mem::take(&mut paused) {
                tracing::info!("the store can write again; webhook deliveries resume");
            }
            if tokio::time::Instant::now() >= next_purge {
                inner.purge_expired().await;
                next_purge = tokio::time::Instant::now() + PURGE_EVERY;
            }
            let request = inner
                .in_flight
                .due_request(inner.clock.steady(), DUE_BATCH, last_served);
            let Some(request) = request else {
                // Every slot is taken: look again when an attempt has its answer.
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = inner.due_signal.notified() => continue,
                    _ = tokio::time::sleep(BUSY_RECHECK) => continue,
                }
            };
            let capacity = request.max;
            let batch = match inner.store.deliveries().due(request).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read due deliveries; retrying in 1 s");
                    tokio::select! {
                        _ = stopped(&mut stop) => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            if !batch.stale.is_empty() {
                tracing::warn!(entries = batch.stale.len(), "dropping stale due entries");
                if let Err(e) = inner.store.deliveries().repair(batch.stale).await {
                    tracing::error!(error = %e, "cannot drop stale due entries");
                }
            }
            last_served = batch.last_served.or(last_served);
            let batch_was_full = batch.ready.len() == capacity;
            for due in batch.ready {
                // The read handed out only what has room: the claim always fits.
                let claim = inner.in_flight.claim(due.key());
                attempts.spawn(Inner::attempt(inner.clone(), due, claim));
            }
            if batch_was_full {
                continue;
            }
            inner.in_flight.wait_for_slot(batch.skipped_busy);
            let wait = if batch.skipped_busy {
                BUSY_RECHECK
            } else {
                batch
                    .next_due
                    .map_or(PURGE_EVERY, |at| at.since(inner.clock.steady()))
            };
            tokio::select! {
                _ = stopped(&mut stop) => break,
                _ = inner.due_signal.notified() => {}
                _ = tokio::time::sleep(wait.min(inner.settings.max_sleep())) => {}
            }
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, async {
            while attempts.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!(
                in_flight = attempts.len(),
                "webhook attempts still in flight at shutdown; they will be retried after the restart"
            );
            attempts.abort_all();
        }
    }
}

impl<T: Transport> Inner<T> {
    /// A queued delivery's attempt (spawned by the loop): the [`pipeline`](Self::pipeline)
    /// under the retry policy.
    async fn attempt(self: Arc<Self>, due: DueDelivery, claim: Claim) {
        let event = Event::Check {
            check: &due.check,
            contract_name: due.contract_name.as_deref(),
        };
        let queued = Queued {
            key: due.key(),
            failures_before: due.delivery.failures,
            claim,
        };
        let attempt = self
            .pipeline(&due.webhook, event, due.delivery.id, due.attempt, queued)
            .await;
        if let Err(e) = attempt {
            tracing::error!(error = %e, delivery = %due.delivery.id, "webhook attempt not made");
        }
    }

    /// The life of one attempt, for a queued delivery and a test delivery alike: render
    /// the body in the webhook's format → sign the headers → send (the transport holds the
    /// deadline) → classify the answer → decide what follows and record it (`policy`).
    async fn pipeline<P: Policy>(
        &self,
        webhook: &Webhook,
        event: Event<'_>,
        delivery_id: DeliveryId,
        number: u32,
        mut policy: P,
    ) -> Result<P::Recorded, StoreError> {
        let id = delivery_id.to_string();
        let body = format::render(webhook, &event)
            .map_err(|e| StoreError::Internal(format!("cannot render the payload: {e}")))?;
        let started_at = self.clock.now();
        let headers = headers(webhook, started_at, &id, number, &body);
        let started = tokio::time::Instant::now();
        let result = self.transport.post(&webhook.url, headers, body.bytes).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        policy.answered();
        let after = policy.after(&result, &self.settings.retry_delays, self.clock.steady());
        let test = P::TEST;
        let outcome = match result {
            Ok(answer) => AttemptOutcome::Status(answer.status),
            Err(failure) => {
                // The tenant sees the summary; the operator's log gets the detail.
                tracing::warn!(delivery = %id, webhook = %webhook.id, test, error = %failure.detail, "webhook attempt got no answer");
                AttemptOutcome::Error(failure.summary.to_owned())
            }
        };
        tracing::debug!(delivery = %id, attempt = number, test, ?outcome, ?after, duration_ms, "webhook attempt");
        let attempt = Attempt {
            number,
            at: started_at,
            duration_ms,
            outcome,
        };
        policy
            .record(self, webhook, delivery_id, attempt, after)
            .await
    }

    async fn purge_expired(&self) {
        // Previous secrets past their grace period no longer sign (see `headers`); here
        // they are dropped from the store too.
        match self.store.webhooks().drop_expired_secrets().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                webhooks = n,
                "dropped previous webhook secrets past their grace period"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot drop expired webhook secrets"),
        }
        let before = self.clock.now() - self.settings.retention;
        loop {
            match self
                .store
                .deliveries()
                .purge_finished(before, PURGE_BATCH)
                .await
            {
                Ok(n) if n == PURGE_BATCH => continue,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot purge old deliveries");
                    return;
                }
            }
        }
    }
}

/// The headers of one attempt to `webhook`, made at `now`, with `body`: its content type,
/// and both signatures with the current secret and, while a rotated-out secret is in its
/// grace period, with that one too (`X-DriftGuard-Signature-Previous`, a second `v1,` in
/// `webhook-signature`).
fn headers(
    webhook: &Webhook,
    now: UnixMs,
    delivery_id: &str,
    attempt: u32,
    body: &Body,
) -> Vec<(HeaderName, HeaderValue)> {
    let timestamp = now.unix_seconds();
    let secret = &webhook.secret;
    let previous = webhook.previous_secret_at(now);
    let body_type = HeaderValue::from_static(body.content_type);
    let body = &body.bytes[..];
    let mut headers = vec![
        (CONTENT_TYPE, body_type),
        (
            USER_AGENT,
            HeaderValue::from_static(concat!("DriftGuard-Webhooks/", env!("CARGO_PKG_VERSION"))),
        ),
    ];
    let mut add = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.push((HeaderName::from_static(name), value));
        }
    };
    add("x-driftguard-signature", driftguard_signature(secret, body));
    if let Some(previous) = previous {
        add(
            "x-driftguard-signature-previous",
            driftguard_signature(previous, body),
        );
    }
    add("x-driftguard-delivery", delivery_id.to_owned());
    add("x-driftguard-attempt", attempt.to_string());
    add("webhook-id", delivery_id.to_owned());
    add("webhook-timestamp", timestamp.to_string());
    let signatures: Vec<String> = [Some(secret.as_str()), previous]
        .into_iter()
        .flatten()
        .filter_map(|s| standard_signature(s, delivery_id, timestamp, body))
        .collect();
    if !signatures.is_empty() {
        add("webhook-signature", signatures.join(" "));
    }
    headers
}

/// Sends test deliveries (`POST /webhooks/{id}/test`) with the dispatcher's transport
/// and clock. Cheap to clone.
pub struct DeliveryHandle<T: Transport = WebhookClient> {
    inner: Arc<Inner<T>>,
}

impl<T: Transport> Clone for DeliveryHandle<T> {
    fn clone(&self) -> Self {
        DeliveryHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Transport> DeliveryHandle<T> {
    /// Sends one signed test delivery to the account's webhook now — active or paused —
    /// with a single attempt and no retries, then records it in the history and returns
    /// it. It never enters the queue, costs no credits, never counts toward auto-disable
    /// and never re-activates the webhook; a delivered one resets the failure count.
    pub async fn send_test(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
    ) -> Result<Delivery, TestError> {
        let inner = &self.inner;
        let webhook = inner.store.webhooks().get(account, webhook_id).await?;
        let claim = inner
            .in_flight
            .claim_test(webhook.id)
            .ok_or(TestError::Busy)?;
        let created_at = inner.clock.now();
        let id = DeliveryId::generate(created_at);
        let event = Event::Ping {
            webhook_id: webhook.id,
            created_at,
        };
        let test = Test {
            account,
            created_at,
            claim,
        };
        Ok(inner.pipeline(&webhook, event, id, 1, test).await?)
    }
}

/// Why a test delivery was not made.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// Every slot its attempt could take is busy (`webhooks.max_in_flight`, or the
    /// webhook's `max_in_flight_per_webhook`): nothing was sent or stored.
    #[error("too many attempts in flight to this webhook")]
    Busy,
    /// The webhook is not the account's, or the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an attempt is for, and so how the [pipeline](Inner::pipeline) decides and records
/// what follows it: [`Queued`] or [`Test`].
trait Policy: Send {
    /// What recording gives back.
    type Recorded;
    /// Whether it is a test delivery (for the log).
    const TEST: bool;

    /// The attempt has its answer; nothing is recorded yet.
    fn answered(&mut self) {}

    /// What follows an attempt that ended at `now` (steady clock) with `result`.
    fn after(
        &self,
        result: &Result<Answer, Failure>,
        retry_delays: &[Duration],
        now: UnixMs,
    ) -> AfterAttempt;

    /// Records the attempt and what follows it.
    fn record<T: Transport>(
        self,
        inner: &Inner<T>,
        webhook: &Webhook,
        delivery_id: DeliveryId,
        attempt: Attempt,
        after: AfterAttempt,
    ) -> impl Future<Output = Result<Self::Recorded, StoreError>> + Send;
}

/// An attempt of a queued delivery: retried by [`after_attempt`], recorded with
/// `Deliveries::finish_attempt` (which re-keys the delivery, finishes it or disables the
/// webhook).
struct Queued {
    /// Where the delivery is kept.
    key: DeliveryKey,
    /// Its failed attempts so far (which retry delay comes next).
    failures_before: u32,
    /// Its slot and its place in the in-flight ledger.
    claim: Claim,
}

impl Policy for Queued {
    type Recorded = ();
    const TEST: bool = false;

    fn answered(&mut self) {
        // The slot bounds sending, not bookkeeping: free it before the (batched) write.
        // The claim keeps the delivery out of due batches until the outcome is recorded.
        self.claim.sent();
    }

    fn after(
        &self,
        result: &Result<Answer, Failure>,
        retry_delays: &[Duration],
        now: UnixMs,
    ) -> AfterAttempt {
        after_attempt(result, self.failures_before, retry_delays, now)
    }

    /// One transaction: delivered, re-keyed for a retry, abandoned, or waiting for a
    /// paused webhook. A failed write leaves the due entry: the attempt is made again.
    async fn record<T: Transport>(
        mut self,
        inner: &Inner<T>,
        _webhook: &Webhook,
        delivery_id: DeliveryId,
        attempt: Attempt,
        after: AfterAttempt,
    ) -> Result<(), StoreError> {
        inner.metrics.count_attempt(match after {
            AfterAttempt::Delivered => "delivered",
            AfterAttempt::RetryAt(_) => "failed",
            AfterAttempt::Abandon => "abandoned",
            AfterAttempt::PauseWebhook => "gone",
        });
        if matches!(after, AfterAttempt::Abandon) {
            tracing::warn!(delivery = %delivery_id, outcome = ?attempt.outcome, "webhook delivery abandoned after its last attempt");
        }
        let recorded = inner
            .store
            .deliveries()
            .finish_attempt(self.key, attempt, after, inner.settings.disable_after)
            .await;
        match recorded {
            Ok(disabled) => {
                if matches!(after, AfterAttempt::RetryAt(_)) {
                    self.claim.due_again();
                }
                if let Some(reason) = disabled {
                    tracing::warn!(webhook = %self.key.webhook_id, reason = reason.as_str(), "webhook disabled; its pending deliveries wait until it is re-activated");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, delivery = %delivery_id, "cannot record a webhook attempt");
                tokio::time::sleep(RECORD_FAILURE_BACKOFF).await;
                self.claim.due_again();
            }
        }
        // Dropping the claim releases the delivery (and wakes the loop for a retry).
        Ok(())
    }
}

/// A test delivery: a single attempt, no retries, recorded as a finished test delivery
/// (`Deliveries::record_test`): it never enters the queue, costs no credits, never
/// counts toward auto-disable and never re-activates the webhook.
struct Test {
    /// Whose webhook it is.
    account: AccountId,
    /// When it was created (wall clock).
    created_at: UnixMs,
    /// Its slot, held while the attempt is sent.
    claim: Claim,
}

impl Policy for Test {
    type Recorded = Delivery;
    const TEST: bool = true;

    fn answered(&mut self) {
        self.claim.sent();
    }

    /// Any 2xx delivers; anything else abandons it (a `410` pauses nothing).
    fn after(&self, result: &Result<Answer, Failure>, _: &[Duration], _: UnixMs) -> AfterAttempt {
        match result {
            Ok(answer) if (200..=299).contains(&answer.status) => AfterAttempt::Delivered,
            _ => AfterAttempt::Abandon,
        }
    }

    async fn record<T: Transport>(
        self,
        inner: &Inner<T>,
        webhook: &Webhook,
        delivery_id: DeliveryId,
        attempt: Attempt,
        after: AfterAttempt,
    ) -> Result<Delivery, StoreError> {
        let status = match after {
            AfterAttempt::Delivered => DeliveryStatus::Delivered,
            _ => DeliveryStatus::Abandoned,
        };
        let delivery = Delivery {
            id: delivery_id,
            seq: 0, // assigned by the store
            account: self.account,
            webhook_id: webhook.id,
            check_id: None,
            status,
            failures: u32::from(status == DeliveryStatus::Abandoned),
            next_attempt_at: None,
            attempts: vec![attempt],
            created_at: self.created_at,
            finished_at: Some(inner.clock.now()),
        };
        inner
            .store
            .deliveries()
            .record_test(self.account, delivery)
            .await
    }
}

#[cfg(test)]
mod tests;
