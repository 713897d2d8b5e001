//! The scheduler: wakes when the earliest delivery is due (or when a check queues new
//! ones), claims a batch, and runs each attempt as its own task under a global bound and
//! a per-webhook bound, so one slow endpoint cannot starve the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::client::{Answer, WebhookClient};
use super::signature::{driftguard_signature, standard_signature};
use crate::clock::now_ms;
use crate::http::views::CheckView;
use crate::ids::{format_id, IdKind};
use crate::metrics::Metrics;
use crate::model::{Attempt, AttemptOutcome};
use crate::store::{AfterAttempt, Claim, Store};
use crate::sync::{lock, stopped};

/// Most deliveries claimed in one transaction.
const CLAIM_BATCH: usize = 256;
/// A claimed attempt may run for `attempt_timeout` plus this before its lease expires and
/// it is tried again (which only happens if the process died mid-attempt).
const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// When every due delivery belongs to a webhook that has its share in flight, look again
/// after an attempt finishes, or after this long at the latest.
const BUSY_RECHECK: Duration = Duration::from_millis(100);
/// The longest a `Retry-After` may push an attempt.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How often finished deliveries past retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Deliveries purged per transaction.
const PURGE_BATCH: usize = 1000;
/// When shutting down, attempts in flight get this long before they are cut off (their
/// leases then make them run again after the restart).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How deliveries are attempted.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// Delay before attempt 2, 3, …; abandoned after `1 + len` failures.
    pub retry_delays: Vec<Duration>,
    /// Deadline of one attempt.
    pub attempt_timeout: Duration,
    /// Attempts in flight at once, across all webhooks.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one webhook.
    pub max_in_flight_per_webhook: usize,
    /// Finished deliveries are kept this long in the history.
    pub retention: Duration,
}

/// Wakes the scheduler: call after committing something that may be due now.
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Makes the scheduler look at the queue again (cheap; coalesces).
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Decides what follows an attempt: any 2xx delivers; `410` pauses the webhook; anything
/// else is a failure, retried after the next configured delay (at least `Retry-After` on a
/// `429`/`503`, capped at [`MAX_RETRY_AFTER`]) or abandoned when none is left.
pub fn after_attempt(
    result: &Result<Answer, String>,
    failures_before: u32,
    retry_delays: &[Duration],
    now: i64,
) -> AfterAttempt {
    let answer = result.as_ref().ok();
    match answer.map(|a| a.status) {
        Some(200..=299) => return AfterAttempt::Delivered,
        Some(410) => return AfterAttempt::PauseWebhook,
        _ => {}
    }
    let Some(&delay) = retry_delays.get(failures_before as usize) else {
        return AfterAttempt::Abandon;
    };
    let asked = answer
        .filter(|a| a.status == 429 || a.status == 503)
        .and_then(|a| a.retry_after)
        .map(|d| d.min(MAX_RETRY_AFTER))
        .unwrap_or_default();
    AfterAttempt::RetryAt(now + delay.max(asked).as_millis() as i64)
}

/// Owns the delivery loop. Built by the daemon; [`Dispatcher::run`] until stopped.
pub struct Dispatcher {
    inner: Arc<Inner>,
    wake: Wake,
}

struct Inner {
    store: Store,
    client: WebhookClient,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    /// Bounds attempts in flight overall.
    permits: Arc<Semaphore>,
    /// Attempts in flight (claimed, not yet recorded) per webhook. A std mutex: never
    /// held across an await.
    per_webhook: Mutex<HashMap<u128, usize>>,
    /// Set while due deliveries wait for a busy webhook's slot: finishing attempts then
    /// wake the scheduler (otherwise they need not).
    waiting_for_slot: AtomicBool,
}

impl Dispatcher {
    /// A dispatcher over `store`, sending with `client`.
    pub fn new(
        store: Store,
        client: WebhookClient,
        settings: DeliverySettings,
        metrics: Arc<Metrics>,
    ) -> Dispatcher {
        let permits = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        Dispatcher {
            inner: Arc::new(Inner {
                store,
                client,
                settings,
                metrics,
                permits,
                per_webhook: Mutex::new(HashMap::new()),
                waiting_for_slot: AtomicBool::new(false),
            }),
            wake: Wake::default(),
        }
    }

    /// The handle that wakes this dispatcher.
    pub fn wake(&self) -> Wake {
        self.wake.clone()
    }

    /// Delivers until `stop` turns true, then gives attempts in flight a short grace period.
    /// Pending deliveries stay queued for the next start.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut attempts = JoinSet::new();
        let mut next_purge = tokio::time::Instant::now();
        loop {
            while attempts.try_join_next().is_some() {}
            if *stop.borrow() {
                break;
            }
            if tokio::time::Instant::now() >= next_purge {
                self.inner.purge_expired().await;
                next_purge = tokio::time::Instant::now() + PURGE_EVERY;
            }
            let capacity = self.inner.permits.available_permits().min(CLAIM_BATCH);
            if capacity == 0 {
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = self.inner.permits.acquire() => continue,
                }
            }
            let now = now_ms();
            let lease_until =
                now + (self.inner.settings.attempt_timeout + LEASE_MARGIN).as_millis() as i64;
            let in_flight = lock(&self.inner.per_webhook).clone();
            let claimed = match self
                .inner
                .store
                .claim_due(
                    now,
                    lease_until,
                    capacity,
                    in_flight,
                    self.inner.settings.max_in_flight_per_webhook,
                )
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim due deliveries; retrying in 1 s");
                    tokio::select! {
                        _ = stopped(&mut stop) => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            let batch_was_full = claimed.claims.len() == capacity;
            for claim in claimed.claims {
                match self.inner.reserve(claim.webhook.id) {
                    Some(slot) => {
                        attempts.spawn(Inner::attempt(
                            self.inner.clone(),
                            self.wake.clone(),
                            claim,
                            slot,
                        ));
                    }
                    // Cannot happen (only this loop reserves, within the counts it passed);
                    // the lease brings the delivery back if it ever does.
                    None => tracing::warn!("no slot for a claimed delivery"),
                }
            }
            if batch_was_full {
                continue;
            }
            self.inner
                .waiting_for_slot
                .store(claimed.skipped_busy, Ordering::Relaxed);
            let wait = if claimed.skipped_busy {
                BUSY_RECHECK
            } else {
                match claimed.next_due {
                    Some(at) => Duration::from_millis((at - now_ms()).max(0) as u64),
                    None => PURGE_EVERY,
                }
            };
            tokio::select! {
                _ = stopped(&mut stop) => break,
                _ = self.wake.0.notified() => {}
                _ = tokio::time::sleep(wait) => {}
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

/// A reserved slot for one attempt: a global permit and the webhook's share.
struct Slot {
    inner: Arc<Inner>,
    webhook_id: u128,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.inner.per_webhook);
        if let Some(count) = counts.get_mut(&self.webhook_id) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.webhook_id);
            }
        }
    }
}

impl Inner {
    fn reserve(self: &Arc<Self>, webhook_id: u128) -> Option<Slot> {
        let mut counts = lock(&self.per_webhook);
        let count = counts.entry(webhook_id).or_insert(0);
        if *count >= self.settings.max_in_flight_per_webhook.max(1) {
            return None;
        }
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        *count += 1;
        Some(Slot {
            inner: self.clone(),
            webhook_id,
            _permit: permit,
        })
    }

    /// One attempt: sign, send, record the outcome, and re-key or finish the delivery.
    async fn attempt(self: Arc<Self>, wake: Wake, claim: Claim, slot: Slot) {
        let delivery_id = format_id(IdKind::Delivery, claim.delivery.id);
        let body = match serde_json::to_vec(&CheckView::new(&claim.check)) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                tracing::error!(error = %e, delivery = %delivery_id, "cannot render the payload");
                return;
            }
        };
        let started_at = now_ms();
        let headers = headers(&claim, &delivery_id, started_at / 1000, &body);
        let clock = tokio::time::Instant::now();
        let result = self.client.post(&claim.webhook.url, headers, body).await;
        let duration_ms = clock.elapsed().as_millis() as u64;
        // The slot bounds sending, not bookkeeping: free it before the (batched) write.
        // The delivery stays leased until the outcome is recorded, so it cannot be
        // claimed twice meanwhile.
        drop(slot);
        let after = after_attempt(
            &result,
            claim.delivery.failures,
            &self.settings.retry_delays,
            now_ms(),
        );
        let outcome = match result {
            Ok(answer) => AttemptOutcome::Status(answer.status),
            Err(error) => AttemptOutcome::Error(error),
        };
        tracing::debug!(delivery = %delivery_id, attempt = claim.attempt, ?outcome, ?after, duration_ms, "webhook attempt");
        self.metrics.count_attempt(match after {
            AfterAttempt::Delivered => "delivered",
            AfterAttempt::RetryAt(_) => "failed",
            AfterAttempt::Abandon => "abandoned",
            AfterAttempt::PauseWebhook => "gone",
        });
        if matches!(after, AfterAttempt::Abandon) {
            tracing::warn!(delivery = %delivery_id, ?outcome, "webhook delivery abandoned after its last attempt");
        }
        let attempt = Attempt {
            number: claim.attempt,
            at: started_at,
            duration_ms,
            outcome,
        };
        if let Err(e) = self
            .store
            .finish_attempt(
                claim.webhook.id,
                claim.delivery.seq,
                attempt,
                after,
                now_ms(),
            )
            .await
        {
            // The lease is still in the queue: the attempt will be made again.
            tracing::error!(error = %e, delivery = %delivery_id, "cannot record a webhook attempt");
        }
        // The scheduler sleeps until the earliest due entry it saw, often this attempt's
        // lease: a retry due sooner, or deliveries waiting for this slot, need it now.
        if matches!(after, AfterAttempt::RetryAt(_))
            || self.waiting_for_slot.load(Ordering::Relaxed)
        {
            wake.notify();
        }
    }

    async fn purge_expired(&self) {
        let before = now_ms() - self.settings.retention.as_millis() as i64;
        loop {
            match self.store.purge_finished(before, PURGE_BATCH).await {
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

fn headers(
    claim: &Claim,
    delivery_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(HeaderName, HeaderValue)> {
    let secret = &claim.webhook.secret;
    let mut headers = vec![
        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
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
    add("x-driftguard-delivery", delivery_id.to_owned());
    add("x-driftguard-attempt", claim.attempt.to_string());
    add("webhook-id", delivery_id.to_owned());
    add("webhook-timestamp", timestamp.to_string());
    if let Some(signature) = standard_signature(secret, delivery_id, timestamp, body) {
        add("webhook-signature", signature);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAYS: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(25)];

    fn status(code: u16, retry_after: Option<u64>) -> Result<Answer, String> {
        Ok(Answer {
            status: code,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn any_2xx_delivers() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(
                after_attempt(&status(code, None), 0, &DELAYS, 0),
                AfterAttempt::Delivered
            );
        }
    }

    #[test]
    fn failures_follow_the_schedule_then_abandon() {
        let refused = Err("refused".to_owned());
        assert_eq!(
            after_attempt(&refused, 0, &DELAYS, 1000),
            AfterAttempt::RetryAt(6000)
        );
        assert_eq!(
            after_attempt(&status(500, None), 1, &DELAYS, 1000),
            AfterAttempt::RetryAt(26000)
        );
        assert_eq!(
            after_attempt(&status(302, None), 2, &DELAYS, 1000),
            AfterAttempt::Abandon
        );
        assert_eq!(after_attempt(&refused, 0, &[], 0), AfterAttempt::Abandon);
    }

    #[test]
    fn gone_pauses_the_webhook() {
        assert_eq!(
            after_attempt(&status(410, None), 2, &DELAYS, 0),
            AfterAttempt::PauseWebhook
        );
    }

    #[test]
    fn retry_after_pushes_the_next_attempt_but_is_capped() {
        assert_eq!(
            after_attempt(&status(429, Some(60)), 0, &DELAYS, 0),
            AfterAttempt::RetryAt(60_000)
        );
        assert_eq!(
            after_attempt(&status(503, Some(1)), 0, &DELAYS, 0),
            AfterAttempt::RetryAt(5_000)
        );
        assert_eq!(
            after_attempt(&status(503, Some(86_400)), 0, &DELAYS, 0),
            AfterAttempt::RetryAt(3_600_000)
        );
        // Other statuses' Retry-After is not a promise.
        assert_eq!(
            after_attempt(&status(500, Some(60)), 0, &DELAYS, 0),
            AfterAttempt::RetryAt(5_000)
        );
        // It never adds attempts.
        assert_eq!(
            after_attempt(&status(429, Some(60)), 2, &DELAYS, 0),
            AfterAttempt::Abandon
        );
    }
}
