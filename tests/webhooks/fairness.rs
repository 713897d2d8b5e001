//! Fairness between webhooks: a slow endpoint or a backlog on one never holds up another.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_does_not_hold_up_the_others() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.max_in_flight_per_webhook = 2.try_into().unwrap();
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let slow = id_of(&webhook(&server, &receiver.url("/slow"), ALL_EVENTS, None).await);
    webhook(&server, &receiver.url("/fast"), ALL_EVENTS, None).await;
    receiver.set_default("/slow", Reply::status(200).delayed(Duration::from_secs(2)));
    for _ in 0..6 {
        let checked = Instant::now();
        run_check(&server, &contract_id, pass_columns()).await;
        assert!(
            checked.elapsed() < Duration::from_secs(1),
            "the check answer never waits for a delivery"
        );
    }
    let fast = receiver.wait_for("/fast", 6, Duration::from_secs(20)).await;
    let slow_requests = receiver.wait_for("/slow", 6, Duration::from_secs(20)).await;
    // The slow webhook's third request had to wait for one of its first two answers.
    assert!(
        slow_requests[2].at - slow_requests[0].at >= Duration::from_secs(2),
        "two at a time to the slow webhook"
    );
    assert!(
        fast[5].at < slow_requests[2].at,
        "the fast endpoint got everything while the slow one was busy with its first two"
    );
    let (all, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &slow),
        |list| list.len() == 6 && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(all, "{list:#?}");
    assert_eq!(
        receiver.max_in_flight("/slow"),
        2,
        "max_in_flight_per_webhook bounds one webhook's attempts"
    );
}

/// A server with 8 attempts in flight at most, 2 to one webhook.
async fn two_slots_per_webhook(ca: &TestCa) -> TestServer {
    start(ca, |cfg| {
        cfg.webhooks.max_in_flight = 8.try_into().unwrap();
        cfg.webhooks.max_in_flight_per_webhook = 2.try_into().unwrap();
    })
    .await
}

/// Issue 9: behind a backlog of 60 deliveries to a receiver that answers in 3 s (at most
/// 2 in flight to it), another webhook's first delivery still goes out at once — the
/// backlog is 90 s of work, and a scheduler that reads due entries in time order alone
/// would have kept the other webhook waiting behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_on_one_webhook_never_delays_another_webhooks_first_attempt() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = two_slots_per_webhook(&ca).await;
    let busy_contract = contract(&server, "busy").await;
    let other_contract = contract(&server, "other").await;
    let busy_url = receiver.url("/busy");
    webhook(&server, &busy_url, ALL_EVENTS, Some(&busy_contract)).await;
    receiver.set_default("/busy", Reply::status(200).delayed(Duration::from_secs(3)));
    for _ in 0..60 {
        run_check(&server, &busy_contract, pass_columns()).await;
    }
    receiver.wait_for("/busy", 2, Duration::from_secs(20)).await;

    webhook(
        &server,
        &receiver.url("/other"),
        ALL_EVENTS,
        Some(&other_contract),
    )
    .await;
    let checked = Instant::now();
    run_check(&server, &other_contract, pass_columns()).await;
    let other = receiver
        .wait_for("/other", 1, Duration::from_secs(30))
        .await;
    let waited = other[0].at - checked;
    assert!(
        waited < Duration::from_secs(3),
        "the other webhook's first attempt started {waited:?} after its check"
    );
    assert!(
        receiver.requests("/busy").len() < 20,
        "the busy webhook's backlog was still there"
    );
}

/// Issue 26: test deliveries take a slot like any attempt. Twenty `/test` calls at once
/// to a receiver that answers in a second, with 2 slots per webhook: at most 2 reach it at
/// a time; the rest are `429` with `Retry-After` (nothing stored for them), and once the
/// slots are free a test goes through again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_deliveries_obey_the_in_flight_bounds() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = two_slots_per_webhook(&ca).await;
    let hook = id_of(&webhook(&server, &receiver.url("/slow"), ALL_EVENTS, None).await);
    receiver.set_default("/slow", Reply::status(200).delayed(Duration::from_secs(1)));
    let path = format!("/api/v1/webhooks/{hook}/test");
    let calls = (0..20)
        .map(|_| server.send(Method::POST, &path, Some(&server.key), ""))
        .collect();
    let answers = join_all(calls).await;
    let sent = answers.iter().filter(|a| a.status == 200).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(sent + refused.len(), 20, "only 200 or 429");
    assert!((1..=2).contains(&sent), "{sent} sent at once");
    for answer in &refused {
        assert_eq!(answer.header("retry-after"), Some("1"));
        answer.assert_error(429, "rate_limited");
    }
    assert!(receiver.max_in_flight("/slow") <= 2);
    assert_eq!(receiver.count("/slow"), sent);
    assert_eq!(
        deliveries(&server, &hook).await.len(),
        sent,
        "a refused test stores nothing"
    );
    // The slots were given back.
    server
        .send(Method::POST, &path, Some(&server.key), "")
        .await
        .assert_status(200);
}
