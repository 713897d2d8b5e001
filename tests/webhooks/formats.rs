//! SPEC 5.3 and 6.4 body formats: Slack messages (what Slack accepts, huge diffs within
//! its limits, the Slack test delivery); Teams and Discord messages, each delivered to a
//! receiver playing the service (`Receiver::like_teams`, `like_discord`), which refuses
//! what the service refuses.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_format_is_a_message_slack_accepts_and_json_is_refused_there() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_slack("/slack");
    receiver.like_slack("/raw");
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let slack = webhook_as(&server, &receiver.url("/slack"), "slack").await;
    assert_eq!(slack["format"], "slack");
    let secret = slack["secret"].as_str().expect("secret").to_owned();
    // What the hosted guide does: the raw check JSON to a Slack URL.
    let raw = webhook(&server, &receiver.url("/raw"), ALL_EVENTS, None).await;
    assert_eq!(raw["format"], "json");

    let (_, check_id) = run_check(&server, &contract_id, warning_columns()).await;
    let delivered = wait_delivery(
        &server,
        &id_of(&slack),
        "delivered",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(status_codes(&delivered), [json!(200)]);
    let refused = wait_delivery(&server, &id_of(&raw), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(
        status_codes(&refused),
        [json!(400)],
        "Slack answers no_text"
    );

    let request = receiver.requests("/slack").remove(0);
    let message = request.json();
    let text = message["text"].as_str().expect("text");
    for part in [
        "warning",
        "severity 70",
        "users",
        contract_id.as_str(),
        "email",
        "created_at",
    ] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }
    assert!(!text.contains('\n'), "one line: {text}");
    let blocks = message["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    let all = message.to_string();
    assert!(
        all.contains("*Removed (1)*") && all.contains("*Type changed (1)*"),
        "{all}"
    );
    assert!(all.contains(&check_id), "the check id: {all}");
    // Both signatures, whatever the format.
    assert!(verify_driftguard(&secret, &request));
    assert!(verify_standard(&secret, &request));
    assert_eq!(request.header("content-type"), "application/json");

    // PATCH switches the raw webhook to Slack: the next check gets through.
    assert_eq!(
        patch(&server, &id_of(&raw), json!({"format": "slack"})).await["format"],
        "slack"
    );
    run_check(&server, &contract_id, breaking_columns()).await;
    let raw_id = id_of(&raw);
    let (got, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &raw_id),
        |list| list.len() == 2 && list[0]["status"] == "delivered",
    )
    .await;
    assert!(got, "{list:#?}");
    let last = receiver.requests("/raw").pop().expect("a request");
    assert!(last.json()["text"]
        .as_str()
        .expect("text")
        .contains("breaking"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_message_of_a_huge_diff_stays_within_slacks_limits() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_slack("/big");
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let columns: Vec<Value> = (0..400)
        .map(|i| json!({"name": format!("column_with_a_long_name_{i:04}_{}", "x".repeat(40)), "type": "string", "required": true}))
        .collect();
    let contract = server
        .create_contract(&server.key, "wide", json!(columns))
        .await;
    let hook = webhook_as(&server, &receiver.url("/big"), "slack").await;
    // Every column removed, 400 added.
    let incoming: Vec<Value> = (0..400)
        .map(|i| json!({"name": format!("other_{i:04}_{}", "y".repeat(60)), "type": "integer"}))
        .collect();
    run_check(&server, &id_of(&contract), json!(incoming)).await;
    wait_delivery(&server, &id_of(&hook), "delivered", Duration::from_secs(20)).await;
    let message = receiver.requests("/big").remove(0).json();
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50);
    for block in blocks {
        if let Some(text) = block["text"]["text"].as_str() {
            assert!(text.chars().count() <= 3000, "{}", text.chars().count());
        }
    }
    let all = message.to_string();
    assert!(
        all.contains("*Removed (400)*") && all.contains("…and 380 more"),
        "{all}"
    );
    assert!(message["text"]
        .as_str()
        .expect("text")
        .contains("and 395 more"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_test_delivery_is_a_slack_message() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_slack("/s");
    let server = start(&ca, |_| {}).await;
    let hook = webhook_as(&server, &receiver.url("/s"), "slack").await;
    let record = post(
        &server,
        &format!("/api/v1/webhooks/{}/test", id_of(&hook)),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(status_codes(&record), [json!(200)], "{record}");
    let message = receiver.requests("/s").remove(0).json();
    assert!(message["text"]
        .as_str()
        .expect("text")
        .contains(&id_of(&hook)));
}

/// A chat format end to end: `format`'s webhook gets a check its service accepts
/// (answered `success`) with both signatures; the raw check document, which the service
/// refuses, is a failed delivery there; PATCH switches that webhook to `format` and the
/// next check gets through; a test delivery is accepted too.
async fn a_chat_format_is_delivered_and_accepted(
    format: &str,
    like: fn(&Receiver, &str),
    success: u16,
) {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    like(&receiver, "/chat");
    like(&receiver, "/raw");
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let chat = webhook_as(&server, &receiver.url("/chat"), format).await;
    assert_eq!(chat["format"], format);
    assert_eq!(get_webhook(&server, &id_of(&chat)).await["format"], format);
    let secret = chat["secret"].as_str().expect("secret").to_owned();
    let raw = webhook(&server, &receiver.url("/raw"), ALL_EVENTS, None).await;

    let (_, check_id) = run_check(&server, &contract_id, warning_columns()).await;
    let delivered =
        wait_delivery(&server, &id_of(&chat), "delivered", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&delivered), [json!(success)], "{delivered}");
    let refused = wait_delivery(&server, &id_of(&raw), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(
        status_codes(&refused),
        [json!(400)],
        "the service refuses the check document"
    );

    let request = receiver.requests("/chat").remove(0);
    assert!(verify_driftguard(&secret, &request));
    assert!(verify_standard(&secret, &request));
    assert_eq!(request.header("content-type"), "application/json");
    let all = request.json().to_string();
    for part in [
        "warning",
        "users",
        contract_id.as_str(),
        check_id.as_str(),
        "email",
    ] {
        assert!(all.contains(part), "{part:?} in {all}");
    }

    assert_eq!(
        patch(&server, &id_of(&raw), json!({"format": format})).await["format"],
        format
    );
    run_check(&server, &contract_id, breaking_columns()).await;
    let raw_id = id_of(&raw);
    let (got, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &raw_id),
        |list| list.len() == 2 && list[0]["status"] == "delivered",
    )
    .await;
    assert!(got, "{list:#?}");

    let record = post(
        &server,
        &format!("/api/v1/webhooks/{}/test", id_of(&chat)),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(status_codes(&record), [json!(success)], "{record}");
    let ping = receiver.requests("/chat").pop().expect("the test delivery");
    assert!(String::from_utf8_lossy(&ping.body).contains(&id_of(&chat)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_format_is_an_adaptive_card_teams_accepts() {
    a_chat_format_is_delivered_and_accepted("teams", Receiver::like_teams, 202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_format_is_a_message_discord_accepts() {
    a_chat_format_is_delivered_and_accepted("discord", Receiver::like_discord, 204).await;
}
