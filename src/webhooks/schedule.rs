//! The delivery schedule's decisions, in one place: what is in flight, how many more
//! attempts each webhook may have at once (its share of `max_in_flight_per_webhook`, under
//! the global `max_in_flight`), claiming a due delivery, and the retry policy
//! ([`after_attempt`]).
//!
//! The store keeps the persisted queue and reads what is due as the [`DueRequest`] that
//! [`InFlight::due_request`] fills says: it hands out only deliveries not in flight,
//! and no more of a webhook than its room. Only the dispatcher's loop claims, and only
//! what that read handed out, while attempts can only free room meanwhile: so a claim
//! always fits, and [`InFlight::claim`] cannot fail.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::client::{Answer, Failure};
use crate::clock::UnixMs;
use crate::ids::WebhookId;
use crate::store::{AfterAttempt, DeliveryKey, DueRequest};
use crate::sync::lock;

/// The longest a `Retry-After` may push an attempt.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Decides what follows an attempt that ended at `now` (steady clock): any 2xx delivers;
/// `410` pauses the webhook; anything else is a failure, retried after the next
/// configured delay (at least `Retry-After` on a `429`/`503`, capped at
/// [`MAX_RETRY_AFTER`]) or abandoned when none is left.
pub fn after_attempt(
    result: &Result<Answer, Failure>,
    failures_before: u32,
    retry_delays: &[Duration],
    now: UnixMs,
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
    AfterAttempt::RetryAt(now + delay.max(asked))
}

/// What the dispatcher has in flight, and so what the next due read may hand out. Shared
/// (an `Arc`) by the dispatcher's loop and the [`Claim`]s of running attempts.
pub struct InFlight {
    /// A std mutex: never held across an await.
    ledger: Mutex<Ledger>,
    /// Attempts sending at once, across all webhooks.
    max: usize,
    /// Attempts sending at once to one webhook.
    max_per_webhook: usize,
    /// The store's due signal: rung when a claim's end makes the loop's next read differ
    /// (a retry became due, or a slot it waits for was freed).
    due_signal: Arc<Notify>,
    /// Set while due deliveries wait for a slot: finishing attempts then wake the loop
    /// (otherwise they need not).
    waiting_for_slot: AtomicBool,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Deliveries claimed (by `seq`): out of due reads until their outcome is recorded.
    deliveries: HashSet<u64>,
    /// Attempts sending, per webhook (a webhook with none is not listed).
    sending: HashMap<WebhookId, usize>,
    /// Attempts sending overall.
    sending_total: usize,
}

impl InFlight {
    /// Nothing in flight yet; at most `max` attempts sending at once, `max_per_webhook` to
    /// one webhook.
    pub fn new(max: usize, max_per_webhook: usize, due_signal: Arc<Notify>) -> Arc<InFlight> {
        Arc::new(InFlight {
            ledger: Mutex::new(Ledger::default()),
            max,
            max_per_webhook,
            due_signal,
            waiting_for_slot: AtomicBool::new(false),
        })
    }

    /// The due read to make now: at most `batch` deliveries due at `now` (steady clock),
    /// webhooks taking turns after `start_after`, none in flight, each webhook within its
    /// share. `None` when every slot is taken: a finishing attempt rings the due signal.
    pub fn due_request(
        &self,
        now: UnixMs,
        batch: usize,
        start_after: Option<WebhookId>,
    ) -> Option<DueRequest> {
        let ledger = lock(&self.ledger);
        let max = self.max.saturating_sub(ledger.sending_total).min(batch);
        if max == 0 {
            self.wait_for_slot(true);
            return None;
        }
        Some(DueRequest {
            now,
            max,
            start_after,
            skip: ledger.deliveries.clone(),
            room: ledger
                .sending
                .iter()
                .map(|(&webhook, &n)| (webhook, self.max_per_webhook.saturating_sub(n)))
                .collect(),
            room_otherwise: self.max_per_webhook,
        })
    }

    /// Whether due deliveries wait for a busy webhook's slot (the due read said so).
    pub fn wait_for_slot(&self, waiting: bool) {
        self.waiting_for_slot.store(waiting, Ordering::Relaxed);
    }

    /// Claims a delivery the last [`due_request`](Self::due_request)'s read handed out: it
    /// counts against its webhook's share and the global bound until [`Claim::sent`], and
    /// stays out of due reads until the claim is dropped.
    pub fn claim(self: &Arc<Self>, delivery: DeliveryKey) -> Claim {
        let DeliveryKey { webhook_id, seq } = delivery;
        let mut ledger = lock(&self.ledger);
        ledger.deliveries.insert(seq);
        self.take_slot(&mut ledger, webhook_id, Some(seq))
    }

    /// Claims a slot for a test delivery's attempt, which counts against its webhook's
    /// share and the global bound like any attempt; `None` when either is full (the test
    /// is refused rather than queued: it answers its request).
    pub fn claim_test(self: &Arc<Self>, webhook_id: WebhookId) -> Option<Claim> {
        let mut ledger = lock(&self.ledger);
        let sending = ledger.sending.get(&webhook_id).copied().unwrap_or(0);
        if ledger.sending_total >= self.max || sending >= self.max_per_webhook {
            return None;
        }
        Some(self.take_slot(&mut ledger, webhook_id, None))
    }

    /// Counts one more attempt sending to `webhook_id`; the claim gives it back.
    fn take_slot(
        self: &Arc<Self>,
        ledger: &mut Ledger,
        webhook_id: WebhookId,
        seq: Option<u64>,
    ) -> Claim {
        *ledger.sending.entry(webhook_id).or_default() += 1;
        ledger.sending_total += 1;
        Claim {
            in_flight: self.clone(),
            webhook_id,
            seq,
            sending: true,
            due_again: false,
        }
    }

    fn wake_if_waiting(&self, due_again: bool) {
        if due_again || self.waiting_for_slot.load(Ordering::Relaxed) {
            self.due_signal.notify_one();
        }
    }

    /// Attempts sending to `webhook` (for tests).
    #[cfg(test)]
    pub fn sending(&self, webhook: WebhookId) -> usize {
        lock(&self.ledger)
            .sending
            .get(&webhook)
            .copied()
            .unwrap_or(0)
    }

    /// Whether nothing is in flight (for tests).
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        let ledger = lock(&self.ledger);
        ledger.deliveries.is_empty() && ledger.sending.is_empty() && ledger.sending_total == 0
    }
}

/// One claimed delivery: holds its slot while the attempt is sent, and keeps the delivery
/// out of due reads until its outcome is recorded (dropped).
pub struct Claim {
    in_flight: Arc<InFlight>,
    webhook_id: WebhookId,
    /// The queued delivery's `seq`; `None` for a test delivery (never in the queue).
    seq: Option<u64>,
    /// Still holding its slot.
    sending: bool,
    /// Set when the recorded outcome made the delivery due again (a retry).
    due_again: bool,
}

impl Claim {
    /// The attempt has its answer: its slot is free (the slot bounds sending, not the
    /// bookkeeping after it).
    pub fn sent(&mut self) {
        if !std::mem::take(&mut self.sending) {
            return;
        }
        {
            let mut ledger = lock(&self.in_flight.ledger);
            if let Some(count) = ledger.sending.get_mut(&self.webhook_id) {
                *count -= 1;
                if *count == 0 {
                    ledger.sending.remove(&self.webhook_id);
                }
            }
            ledger.sending_total = ledger.sending_total.saturating_sub(1);
        }
        self.in_flight.wake_if_waiting(false);
    }

    /// The recorded outcome made the delivery due again: the loop is woken to see it.
    pub fn due_again(&mut self) {
        self.due_again = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.sent();
        if let Some(seq) = self.seq {
            lock(&self.in_flight.ledger).deliveries.remove(&seq);
        }
        // Only now can the loop see the retry; it may also be waiting for a slot.
        self.in_flight.wake_if_waiting(self.due_again);
    }
}

/// The retry policy's tests, and the fixtures the dispatcher's tests share with them.
#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A short retry schedule.
    pub(crate) const DELAYS: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(25)];
    /// A fixed "now".
    pub(crate) const T0: UnixMs = UnixMs(1_772_392_920_000);

    /// An answer with this status (and `Retry-After` in seconds).
    pub(crate) fn status(code: u16, retry_after: Option<u64>) -> Result<Answer, Failure> {
        Ok(Answer {
            status: code,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn any_2xx_delivers() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(
                after_attempt(&status(code, None), 0, &DELAYS, T0),
                AfterAttempt::Delivered
            );
        }
    }

    #[test]
    fn failures_follow_the_schedule_then_abandon() {
        let refused = Err(Failure::plain("connection refused"));
        assert_eq!(
            after_attempt(&refused, 0, &DELAYS, UnixMs(1000)),
            AfterAttempt::RetryAt(UnixMs(6000))
        );
        assert_eq!(
            after_attempt(&status(500, None), 1, &DELAYS, UnixMs(1000)),
            AfterAttempt::RetryAt(UnixMs(26000))
        );
        assert_eq!(
            after_attempt(&status(302, None), 2, &DELAYS, UnixMs(1000)),
            AfterAttempt::Abandon
        );
        assert_eq!(after_attempt(&refused, 0, &[], T0), AfterAttempt::Abandon);
    }

    #[test]
    fn gone_pauses_the_webhook() {
        assert_eq!(
            after_attempt(&status(410, None), 2, &DELAYS, T0),
            AfterAttempt::PauseWebhook
        );
    }

    #[test]
    fn retry_after_pushes_the_next_attempt_but_is_capped() {
        let at = |ms| AfterAttempt::RetryAt(UnixMs(ms));
        let zero = UnixMs(0);
        assert_eq!(
            after_attempt(&status(429, Some(60)), 0, &DELAYS, zero),
            at(60_000)
        );
        assert_eq!(
            after_attempt(&status(503, Some(1)), 0, &DELAYS, zero),
            at(5_000)
        );
        assert_eq!(
            after_attempt(&status(503, Some(86_400)), 0, &DELAYS, zero),
            at(3_600_000)
        );
        // Other statuses' Retry-After is not a promise.
        assert_eq!(
            after_attempt(&status(500, Some(60)), 0, &DELAYS, zero),
            at(5_000)
        );
        // It never adds attempts.
        assert_eq!(
            after_attempt(&status(429, Some(60)), 2, &DELAYS, zero),
            AfterAttempt::Abandon
        );
    }

    #[test]
    fn the_due_request_gives_each_webhook_its_room_and_none_when_every_slot_is_taken() {
        let in_flight = InFlight::new(2, 1, Arc::new(Notify::new()));
        let request = in_flight.due_request(T0, 256, None).expect("room");
        assert_eq!((request.max, request.room_otherwise), (2, 1));
        assert!(request.skip.is_empty() && request.room.is_empty());
        assert_eq!(in_flight.due_request(T0, 1, None).expect("room").max, 1);

        let (a, b) = (WebhookId::from_raw(1), WebhookId::from_raw(2));
        let key = |webhook_id, seq| DeliveryKey { webhook_id, seq };
        let mut first = in_flight.claim(key(a, 10));
        let second = in_flight.claim(key(b, 11));
        assert!(
            in_flight.due_request(T0, 256, None).is_none(),
            "both slots taken"
        );
        // Answered: its slot is free, but the delivery stays out of due reads until its
        // outcome is recorded.
        first.sent();
        let request = in_flight.due_request(T0, 256, None).expect("room");
        assert_eq!(request.max, 1);
        assert_eq!(
            (request.room.get(&a), request.room.get(&b)),
            (None, Some(&0))
        );
        assert_eq!(request.skip, HashSet::from([10, 11]));
        drop(first);
        drop(second);
        assert!(in_flight.is_empty());
    }
}
