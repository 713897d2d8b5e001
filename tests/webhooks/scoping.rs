//! Who gets what: deliveries scoped by event and contract, paused and deleted webhooks,
//! a paused webhook's pending delivery, and attempts counted in the metrics.

use http_body_util::{BodyExt, Full};
use hyper::Request;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_scoped_by_event_and_contract() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let a = contract(&server, "a").await;
    let b = contract(&server, "b").await;
    let breaking_only = webhook(&server, &receiver.url("/breaking"), &["breaking"], None).await;
    let pass_only = webhook(&server, &receiver.url("/pass"), &["pass"], None).await;
    let on_a = webhook(&server, &receiver.url("/a"), ALL_EVENTS, Some(&a)).await;
    let on_b = webhook(&server, &receiver.url("/b"), ALL_EVENTS, Some(&b)).await;
    let everything = webhook(&server, &receiver.url("/all"), ALL_EVENTS, None).await;
    assert_eq!(on_a["contract_id"], a.as_str());

    // A pass on A: the pass, A and catch-all webhooks only.
    let (_, pass_on_a) = run_check(&server, &a, pass_columns()).await;
    // A warning on B: B and catch-all only.
    let (_, warning_on_b) = run_check(&server, &b, warning_columns()).await;
    // A breaking on B: breaking, B and catch-all.
    let (_, breaking_on_b) = run_check(&server, &b, breaking_columns()).await;

    let wait = Duration::from_secs(10);
    receiver.wait_for("/all", 3, wait).await;
    receiver.wait_for("/pass", 1, wait).await;
    receiver.wait_for("/a", 1, wait).await;
    receiver.wait_for("/b", 2, wait).await;
    receiver.wait_for("/breaking", 1, wait).await;
    // Every queued delivery is finished, so nothing else is on its way.
    for hook in [&breaking_only, &pass_only, &on_a, &on_b, &everything] {
        let id = id_of(hook);
        let finished = wait_until(wait, || async {
            deliveries(&server, &id)
                .await
                .iter()
                .all(|d| d["status"] == "delivered")
        })
        .await;
        assert!(finished, "{id}: {:#?}", deliveries(&server, &id).await);
    }

    let received = |path: &str| -> Vec<String> {
        let mut ids: Vec<String> = receiver
            .requests(path)
            .iter()
            .map(Received::check_id)
            .collect();
        ids.sort();
        ids
    };
    let sorted = |ids: &[&String]| -> Vec<String> {
        let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(received("/breaking"), sorted(&[&breaking_on_b]));
    assert_eq!(received("/pass"), sorted(&[&pass_on_a]));
    assert_eq!(received("/a"), sorted(&[&pass_on_a]));
    assert_eq!(received("/b"), sorted(&[&warning_on_b, &breaking_on_b]));
    assert_eq!(
        received("/all"),
        sorted(&[&pass_on_a, &warning_on_b, &breaking_on_b])
    );
    // The history agrees: no delivery was even queued for a non-matching webhook.
    assert_eq!(deliveries(&server, &id_of(&breaking_only)).await.len(), 1);
    assert_eq!(deliveries(&server, &id_of(&pass_only)).await.len(), 1);
    assert_eq!(deliveries(&server, &id_of(&on_a)).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_and_deleted_webhooks_get_nothing() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let live = webhook(&server, &receiver.url("/live"), ALL_EVENTS, None).await;
    let paused = webhook(&server, &receiver.url("/paused"), ALL_EVENTS, None).await;
    let deleted = webhook(&server, &receiver.url("/deleted"), ALL_EVENTS, None).await;
    set_active(&server, &id_of(&paused), false).await;
    let gone = server
        .delete(&format!("/api/v1/webhooks/{}", id_of(&deleted)))
        .await
        .assert_status(200);
    assert_eq!(gone["deleted"], true);

    let (_, first) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/live", 1, Duration::from_secs(20)).await;
    wait_delivery(&server, &id_of(&live), "delivered", Duration::from_secs(20)).await;
    assert_eq!(
        receiver.count("/paused"),
        0,
        "a paused webhook gets nothing"
    );
    assert_eq!(
        receiver.count("/deleted"),
        0,
        "a deleted webhook gets nothing"
    );
    assert!(
        deliveries(&server, &id_of(&paused)).await.is_empty(),
        "no delivery is queued for a paused webhook"
    );
    server
        .get(&format!("/api/v1/webhooks/{}/deliveries", id_of(&deleted)))
        .await
        .assert_error(404, "not_found");

    // Resumed, it gets the checks made from then on, not the ones made while paused.
    set_active(&server, &id_of(&paused), true).await;
    let (_, second) = run_check(&server, &contract_id, pass_columns()).await;
    let got = receiver
        .wait_for("/paused", 1, Duration::from_secs(20))
        .await;
    receiver.wait_for("/live", 2, Duration::from_secs(20)).await;
    wait_delivery(
        &server,
        &id_of(&paused),
        "delivered",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].check_id(), second);
    assert_ne!(got[0].check_id(), first);
    assert_eq!(receiver.count("/deleted"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_webhooks_pending_delivery_waits_and_resumes() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[300])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/p"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    // The first attempt fails slowly; the webhook is paused while it is in flight.
    receiver.script(
        "/p",
        vec![Reply::status(500).delayed(Duration::from_millis(800))],
    );
    let (_, check_id) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/p", 1, Duration::from_secs(20)).await;
    set_active(&server, &hook_id, false).await;

    let (recorded, delivery) = poll(
        Duration::from_secs(20),
        || async { deliveries(&server, &hook_id).await.remove(0) },
        |d| d["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(recorded, "the failed attempt is recorded: {delivery}");
    assert_eq!(delivery["status"], "pending", "{delivery}");
    assert_eq!(
        delivery["next_attempt_at"],
        Value::Null,
        "it waits for the webhook: {delivery}"
    );
    assert_eq!(status_codes(&delivery), [json!(500)]);
    // Past when the retry would have been due (twice its delay after the failure), nothing
    // was sent while paused.
    wait_past(last_attempt_end(&delivery) + Duration::from_millis(2 * 300)).await;
    assert_eq!(receiver.count("/p"), 1, "no attempt while paused");

    set_active(&server, &hook_id, true).await;
    let requests = receiver.wait_for("/p", 2, Duration::from_secs(20)).await;
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    assert_eq!(
        requests[0].header("x-driftguard-delivery"),
        requests[1].header("x-driftguard-delivery")
    );
    assert_eq!(requests[1].check_id(), check_id);
    assert_eq!(status_codes(&delivery), [json!(500), json!(200)]);
}

/// Scrapes the metrics listener.
async fn metrics(server: &TestServer) -> String {
    let addr = server.metrics_addr().expect("metrics listener");
    let request = Request::builder()
        .uri(format!("http://{addr}/metrics"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = server.client.request(request).await.expect("scrape");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_counted_by_outcome_in_the_metrics() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg.webhooks.retry_delays = delays(&[200]);
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let ok = id_of(&webhook(&server, &receiver.url("/ok"), ALL_EVENTS, None).await);
    let fail = id_of(&webhook(&server, &receiver.url("/fail"), ALL_EVENTS, None).await);
    let gone = id_of(&webhook(&server, &receiver.url("/gone"), ALL_EVENTS, None).await);
    receiver.set_default("/fail", Reply::status(500));
    receiver.set_default("/gone", Reply::status(410));
    run_check(&server, &contract_id, pass_columns()).await;

    wait_delivery(&server, &ok, "delivered", Duration::from_secs(20)).await;
    wait_delivery(&server, &fail, "abandoned", Duration::from_secs(20)).await;
    let (paused, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &gone),
        |list| list.len() == 1 && list[0]["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(paused, "{list:#?}");

    // One attempt of each outcome: the failure that is retried, and the last one.
    let want = [
        r#"driftguard_webhook_attempts_total{outcome="delivered"} 1"#,
        r#"driftguard_webhook_attempts_total{outcome="failed"} 1"#,
        r#"driftguard_webhook_attempts_total{outcome="abandoned"} 1"#,
        r#"driftguard_webhook_attempts_total{outcome="gone"} 1"#,
    ];
    let (counted, text) = poll(
        Duration::from_secs(20),
        || metrics(&server),
        |text| want.iter().all(|line| text.lines().any(|l| l == *line)),
    )
    .await;
    assert!(counted, "{want:#?}\n{text}");
    assert!(
        text.lines()
            .any(|l| l == "# TYPE driftguard_webhook_attempts counter"),
        "{text}"
    );
    let series = text
        .lines()
        .filter(|l| l.starts_with("driftguard_webhook_attempts_total{"))
        .count();
    assert_eq!(series, 4, "no other outcome: {text}");
    // Nothing is left due: the paused delivery waits for its webhook, outside the queue.
    assert!(
        text.lines()
            .any(|l| l == "driftguard_delivery_queue_depth 0"),
        "{text}"
    );
}
