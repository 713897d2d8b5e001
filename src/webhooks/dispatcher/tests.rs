//! Compiled only under #[cfg(test)] (`mod tests;` in `dispatcher.rs`), so `expect` here
//! is a test's assertion, not a request path's.
//!
//! The scheduler on tokio's paused time (the retry policy's own tests are in
//! `schedule.rs`): a real store
//! in a temp dir, a scripted transport in place of the HTTPS client (the integration
//! tests in `tests/webhooks.rs` use a real HTTPS receiver), and hours of schedule run in
//! milliseconds.

use std::collections::VecDeque;
use std::sync::atomic::AtomicI64;

use tokio::sync::mpsc;

use super::*;
use crate::credentials::{generate_key, generate_webhook_secret, Environment};
use crate::drift::{Column, ColumnType, Verdict};
use crate::ids::AccountId;
use crate::model::{Delivery, DeliveryStatus};
use crate::store::{NewWebhook, PageRequest};
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::webhooks::schedule::tests::{status, DELAYS, T0};

#[test]
fn the_scheduler_never_sleeps_past_the_longest_delay() {
    let settings = settings(&DELAYS);
    assert_eq!(settings.max_sleep(), Duration::from_secs(25));
    let quick = DeliverySettings {
        retry_delays: vec![],
        attempt_timeout: Duration::from_millis(10),
        ..settings
    };
    assert_eq!(
        quick.max_sleep(),
        Duration::from_secs(1),
        "at least a second"
    );
}

fn settings(delays: &[Duration]) -> DeliverySettings {
    DeliverySettings {
        retry_delays: delays.to_vec(),
        attempt_timeout: Duration::from_secs(10),
        max_in_flight: NonZeroUsize::new(8).expect("8"),
        max_in_flight_per_webhook: NonZeroUsize::new(2).expect("2"),
        retention: Duration::from_secs(3600),
        disable_after: 10,
    }
}

/// What the receiver saw of one attempt.
#[derive(Debug)]
struct Seen {
    /// On the store's steady clock.
    at: UnixMs,
    attempt: String,
    /// Every header, by name.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str().ok())
    }
}

/// Answers from a script (then 500s), and reports every attempt on a channel.
struct Scripted {
    answers: Mutex<VecDeque<Result<Answer, Failure>>>,
    clock: Clock,
    seen: mpsc::UnboundedSender<Seen>,
    /// Steps the wall clock by this much while each attempt is in flight.
    wall_step: Option<(&'static AtomicI64, i64)>,
}

impl Transport for Scripted {
    fn post(
        &self,
        _url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        _body: Bytes,
    ) -> impl Future<Output = Result<Answer, Failure>> + Send {
        let attempt = headers
            .iter()
            .find(|(name, _)| name == "x-driftguard-attempt")
            .and_then(|(_, value)| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let _ = self.seen.send(Seen {
            at: self.clock.steady(),
            attempt,
            headers,
        });
        if let Some((step, by)) = self.wall_step {
            step.fetch_add(by, Ordering::Relaxed);
        }
        let answer = lock(&self.answers)
            .pop_front()
            .unwrap_or_else(|| status(500, None));
        async move { answer }
    }
}

/// A store on `clock` with one account (number 1).
async fn store_on(clock: Clock) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let batch = NonZeroUsize::new(64).expect("64");
    let store = Store::open_with(dir.path(), batch, clock).expect("open store");
    store
        .accounts()
        .bootstrap(100, generate_key(Environment::Live))
        .await
        .expect("bootstrap");
    (store, dir)
}

/// [`store_on`] with a running dispatcher. Returns the store, the receiver's reports and
/// the stop flag.
async fn running(
    clock: Clock,
    answers: Vec<Result<Answer, Failure>>,
    wall_step: Option<(&'static AtomicI64, i64)>,
) -> (
    Store,
    tempfile::TempDir,
    mpsc::UnboundedReceiver<Seen>,
    watch::Sender<bool>,
) {
    running_with(clock, answers, wall_step, settings(&DELAYS)).await
}

/// [`running`] with these delivery settings.
async fn running_with(
    clock: Clock,
    answers: Vec<Result<Answer, Failure>>,
    wall_step: Option<(&'static AtomicI64, i64)>,
    settings: DeliverySettings,
) -> (
    Store,
    tempfile::TempDir,
    mpsc::UnboundedReceiver<Seen>,
    watch::Sender<bool>,
) {
    let (store, dir) = store_on(clock).await;
    let (seen, reports) = mpsc::unbounded_channel();
    let transport = Scripted {
        answers: Mutex::new(answers.into()),
        clock,
        seen,
        wall_step,
    };
    let dispatcher = Dispatcher::new(store.clone(), transport, settings, Metrics::new());
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(dispatcher.run(stopped));
    (store, dir, reports, stop)
}

/// Creates a contract and a webhook and runs one check, which queues one delivery.
async fn check_with_a_webhook(store: &Store) -> (WebhookId, crate::ids::CheckId) {
    let account = AccountId(1);
    let column = Column {
        name: "id".into(),
        column_type: ColumnType::Integer,
        required: true,
        severity_override: None,
    };
    let contract = store
        .contracts()
        .create(
            account,
            crate::store::NewContract {
                name: "users".into(),
                columns: vec![column],
                ..Default::default()
            },
        )
        .await
        .expect("contract");
    let webhook = store
        .webhooks()
        .create(
            account,
            NewWebhook {
                url: "https://receiver.test/hook".into(),
                events: vec![Verdict::Pass, Verdict::Warning, Verdict::Breaking],
                contract_id: None,
                secret: generate_webhook_secret(),
                format: crate::model::WebhookFormat::Json,
                filter: None,
                routing_key: None,
            },
            10,
        )
        .await
        .expect("webhook");
    let check = store
        .checks()
        .run(account, contract.id, None, vec![], Environment::Test)
        .await
        .expect("check");
    (webhook.id, check.id)
}

async fn deliveries(store: &Store, webhook: WebhookId) -> Vec<Delivery> {
    let page = PageRequest {
        cursor: None,
        limit: 100,
    };
    store
        .deliveries()
        .list(AccountId(1), webhook, page)
        .await
        .expect("deliveries")
        .items
}

async fn next(reports: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    reports.recv().await.expect("the dispatcher runs")
}

/// The default configuration's schedule, end to end: at once, 5 s later, 25 s later, then
/// abandoned (the spec's delivery rules). On paused time: no test waits 35 real seconds.
#[tokio::test(start_paused = true)]
async fn the_default_schedule_runs_to_abandonment_on_time() {
    let defaults = crate::config::Config::default().webhooks;
    assert_eq!(defaults.retry_delays, DELAYS, "the spec's default delays");
    let (store, _dir, mut reports, stop) = running(Clock::tokio(T0), vec![], None).await;
    let (webhook, _) = check_with_a_webhook(&store).await;

    let first = next(&mut reports).await;
    let second = next(&mut reports).await;
    let third = next(&mut reports).await;
    assert_eq!(first.attempt, "1");
    assert_eq!(
        (second.attempt.as_str(), third.attempt.as_str()),
        ("2", "3")
    );
    assert_eq!(second.at.since(first.at), Duration::from_secs(5));
    assert_eq!(third.at.since(second.at), Duration::from_secs(25));

    // Abandoned after the third: an hour later nothing more has been sent.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(reports.try_recv().is_err(), "no fourth attempt");
    let delivery = &deliveries(&store, webhook).await[0];
    assert_eq!(delivery.status, DeliveryStatus::Abandoned);
    assert_eq!(delivery.attempts.len(), 3);
    assert_eq!(delivery.next_attempt_at, None);
    let _ = stop.send(true);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_answer_pushes_the_next_attempt() {
    let answers = vec![status(503, Some(120)), status(200, None)];
    let (store, _dir, mut reports, stop) = running(Clock::tokio(T0), answers, None).await;
    let (webhook, _) = check_with_a_webhook(&store).await;

    let first = next(&mut reports).await;
    let second = next(&mut reports).await;
    assert_eq!(second.at.since(first.at), Duration::from_secs(120));
    // The outcome is recorded just after the answer: wait for it (on paused time).
    let mut status = DeliveryStatus::Pending;
    for _ in 0..100 {
        status = deliveries(&store, webhook).await[0].status;
        if status == DeliveryStatus::Delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, DeliveryStatus::Delivered);
    let _ = stop.send(true);
}

#[tokio::test(start_paused = true)]
async fn wall_clock_steps_neither_repeat_nor_delay_attempts() {
    // Every attempt moves the wall clock: back an hour, then forward 30 s, and so on.
    static STEP: AtomicI64 = AtomicI64::new(0);
    for by in [-3_600_000, 30_000] {
        STEP.store(0, Ordering::Relaxed);
        let clock = Clock::tokio_with_wall_step(T0, &STEP);
        let (store, _dir, mut reports, stop) = running(clock, vec![], Some((&STEP, by))).await;
        let (webhook, _) = check_with_a_webhook(&store).await;

        let first = next(&mut reports).await;
        let second = next(&mut reports).await;
        let third = next(&mut reports).await;
        let numbers = [&first, &second, &third].map(|s| s.attempt.clone());
        assert_eq!(numbers, ["1", "2", "3"], "each attempt once (step {by} ms)");
        assert_eq!(
            second.at.since(first.at),
            Duration::from_secs(5),
            "step {by} ms"
        );
        assert_eq!(
            third.at.since(second.at),
            Duration::from_secs(25),
            "step {by} ms"
        );
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(
            reports.try_recv().is_err(),
            "no fourth attempt (step {by} ms)"
        );
        let delivery = &deliveries(&store, webhook).await[0];
        assert_eq!(delivery.status, DeliveryStatus::Abandoned);
        let _ = stop.send(true);
    }
}

#[tokio::test(start_paused = true)]
async fn a_check_made_while_the_dispatcher_sleeps_is_sent_at_once() {
    let answers = vec![status(200, None), status(200, None)];
    let (store, _dir, mut reports, stop) = running(Clock::tokio(T0), answers, None).await;
    let (webhook, _) = check_with_a_webhook(&store).await;
    let first = next(&mut reports).await;

    // The dispatcher now sleeps (nothing is due); an hour passes, then a new check.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let contract = store
        .contracts()
        .list(
            AccountId(1),
            PageRequest {
                cursor: None,
                limit: 1,
            },
        )
        .await
        .expect("contracts")
        .items[0]
        .id;
    let before = store.clock().steady();
    store
        .checks()
        .run(AccountId(1), contract, None, vec![], Environment::Test)
        .await
        .expect("check");
    let second = next(&mut reports).await;
    assert_eq!(
        second.at, before,
        "sent when committed, not at the next wake-up"
    );
    assert!(second.at.since(first.at) >= Duration::from_secs(3600));
    assert_eq!(deliveries(&store, webhook).await.len(), 2);
    let _ = stop.send(true);
}

#[test]
fn in_flight_bookkeeping_is_released() {
    // A claim counts against the webhook until dropped, and keeps its delivery out of
    // due reads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // No dispatcher runs: this one is only used for its bookkeeping.
        let (store, _dir) = store_on(Clock::tokio(T0)).await;
        let (webhook, _) = check_with_a_webhook(&store).await;
        let dispatcher = Dispatcher::new(
            store.clone(),
            Scripted {
                answers: Mutex::new(VecDeque::new()),
                clock: store.clock(),
                seen: mpsc::unbounded_channel().0,
                wall_step: None,
            },
            settings(&DELAYS),
            Metrics::new(),
        );
        let in_flight = &dispatcher.inner.in_flight;
        let request = in_flight
            .due_request(store.clock().steady(), 8, None)
            .expect("room");
        let batch = store.deliveries().due(request).await.expect("due");
        let due = &batch.ready[0];
        assert_eq!(due.webhook.id, webhook);
        let claim = in_flight.claim(due.key());
        let again = in_flight
            .due_request(store.clock().steady(), 8, None)
            .expect("room");
        assert!(again.skip.contains(&due.delivery.seq));
        let again = store.deliveries().due(again).await.expect("due");
        assert!(
            again
                .ready
                .iter()
                .all(|d| d.delivery.seq != due.delivery.seq),
            "the same delivery twice"
        );
        assert_eq!(in_flight.sending(webhook), 1);
        drop(claim);
        assert!(in_flight.is_empty());
    });
}

/// Waits (on paused time) until the webhook's newest delivery is no longer pending.
async fn settled(store: &Store, webhook: WebhookId) -> Delivery {
    for _ in 0..1000 {
        let newest = deliveries(store, webhook).await.remove(0);
        if newest.status != DeliveryStatus::Pending {
            return newest;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the delivery did not finish");
}

async fn another_check(store: &Store) {
    let page = PageRequest {
        cursor: None,
        limit: 1,
    };
    let contract = store
        .contracts()
        .list(AccountId(1), page)
        .await
        .expect("contracts")
        .items[0]
        .id;
    store
        .checks()
        .run(AccountId(1), contract, None, vec![], Environment::Test)
        .await
        .expect("check");
}

/// `disable_after` abandoned deliveries in a row disable the webhook (`failing`); a
/// delivered one in between starts the count again; once disabled, checks queue nothing.
#[tokio::test(start_paused = true)]
async fn abandoned_deliveries_in_a_row_disable_the_webhook() {
    use crate::model::DisabledReason;
    let refused = || Err(Failure::plain("connection refused"));
    let answers = vec![
        refused(),
        refused(),
        status(204, None),
        refused(),
        refused(),
        refused(),
    ];
    // One attempt per delivery, disabled at the third abandoned one in a row.
    let settings = DeliverySettings {
        disable_after: 3,
        ..settings(&[])
    };
    let (store, _dir, mut reports, stop) =
        running_with(Clock::tokio(T0), answers, None, settings).await;
    let (webhook, _) = check_with_a_webhook(&store).await;
    let mut counts = Vec::new();
    for n in 0..6 {
        if n > 0 {
            another_check(&store).await;
        }
        next(&mut reports).await;
        settled(&store, webhook).await;
        let hook = store
            .webhooks()
            .get(AccountId(1), webhook)
            .await
            .expect("webhook");
        counts.push(hook.consecutive_failures);
    }
    assert_eq!(
        counts,
        [1, 2, 0, 1, 2, 3],
        "a delivered one resets the count"
    );
    let hook = store
        .webhooks()
        .get(AccountId(1), webhook)
        .await
        .expect("webhook");
    assert!(!hook.active);
    assert_eq!(hook.disabled_reason, Some(DisabledReason::Failing));
    another_check(&store).await;
    assert_eq!(
        deliveries(&store, webhook).await.len(),
        6,
        "no new delivery"
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        reports.try_recv().is_err(),
        "a disabled webhook gets nothing"
    );
    let _ = stop.send(true);
}

/// With `disable_after = 0` no count disables a webhook.
#[tokio::test(start_paused = true)]
async fn disable_after_zero_never_disables() {
    let settings = DeliverySettings {
        disable_after: 0,
        ..settings(&[])
    };
    let (store, _dir, mut reports, stop) =
        running_with(Clock::tokio(T0), vec![], None, settings).await;
    let (webhook, _) = check_with_a_webhook(&store).await;
    for n in 0..12 {
        if n > 0 {
            another_check(&store).await;
        }
        next(&mut reports).await;
        settled(&store, webhook).await;
    }
    let hook = store
        .webhooks()
        .get(AccountId(1), webhook)
        .await
        .expect("webhook");
    assert!(hook.active && hook.disabled_reason.is_none());
    assert_eq!(hook.consecutive_failures, 12);
    let _ = stop.send(true);
}

/// After a rotation the old secret signs too (`X-DriftGuard-Signature-Previous`, a second
/// `v1,` signature) until its grace period ends; then only the new one signs, and the
/// next purge pass drops the old secret from the store.
#[tokio::test(start_paused = true)]
async fn the_previous_secret_signs_until_its_grace_ends_then_is_dropped() {
    let answers = vec![status(200, None), status(200, None)];
    let (store, _dir, mut reports, stop) = running(Clock::tokio(T0), answers, None).await;
    let (webhook, _) = check_with_a_webhook(&store).await;
    let first = next(&mut reports).await;
    assert_eq!(first.header("x-driftguard-signature-previous"), None);
    let old = store
        .webhooks()
        .get(AccountId(1), webhook)
        .await
        .expect("webhook")
        .secret;

    let rotated = store
        .webhooks()
        .rotate_secret(
            AccountId(1),
            webhook,
            generate_webhook_secret(),
            Duration::from_secs(60),
        )
        .await
        .expect("rotate");
    assert_eq!(
        rotated.previous_secret.as_ref().map(|p| p.secret.as_str()),
        Some(old.as_str())
    );
    another_check(&store).await;
    let during = next(&mut reports).await;
    let previous = during
        .header("x-driftguard-signature-previous")
        .expect("previous signature");
    assert_ne!(Some(previous), during.header("x-driftguard-signature"));
    let signatures = during
        .header("webhook-signature")
        .expect("webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(
        signatures.split(' ').all(|s| s.starts_with("v1,")),
        "{signatures}"
    );

    // The grace ends: one signature again.
    tokio::time::sleep(Duration::from_secs(61)).await;
    another_check(&store).await;
    let after = next(&mut reports).await;
    assert_eq!(after.header("x-driftguard-signature-previous"), None);
    assert_eq!(
        after
            .header("webhook-signature")
            .map(|s| s.split(' ').count()),
        Some(1)
    );
    // …and the hourly purge pass drops it from the store.
    tokio::time::sleep(PURGE_EVERY + Duration::from_secs(60)).await;
    let hook = store
        .webhooks()
        .get(AccountId(1), webhook)
        .await
        .expect("webhook");
    assert_eq!(hook.previous_secret, None);
    assert_eq!(hook.secret, rotated.secret);
    let _ = stop.send(true);
}
