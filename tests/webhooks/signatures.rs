//! What a delivery carries: the exact check body, both signatures (DriftGuard's and
//! Standard Webhooks'), its headers, the delivery history, and a rotated secret signing
//! beside the new one during its grace.

use ring::hmac;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_is_signed_and_carries_the_exact_check_body() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/hook"), ALL_EVENTS, None).await;
    let secret = hook["secret"].as_str().expect("secret").to_owned();

    let (answered, check_id) = run_check(&server, &contract_id, warning_columns()).await;
    let request = receiver
        .wait_for("/hook", 1, Duration::from_secs(20))
        .await
        .remove(0);

    // The body is the exact check result: the POST /check answer and GET /checks/{id}.
    let stored = server.get(&format!("/api/v1/checks/{check_id}")).await;
    stored.assert_status(200);
    assert_eq!(request.body, stored.body, "body == GET /checks/{{id}}");
    assert_eq!(request.body, answered, "body == the POST /check answer");
    assert_eq!(request.json()["result"], "warning");

    // X-DriftGuard-Signature: lowercase hex HMAC-SHA256 of the body keyed with the secret.
    let signature = request.header("x-driftguard-signature");
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex: {signature}"
    );
    assert!(verify_driftguard(&secret, &request), "plain HMAC verifies");
    let mut tampered = request.clone();
    tampered.body = Bytes::from([&request.body[..], b" "].concat());
    assert!(
        !verify_driftguard(&secret, &tampered),
        "a changed body fails"
    );
    assert!(
        !verify_driftguard("whsec_wrong", &request),
        "a wrong key fails"
    );

    // Standard Webhooks signature, computed independently.
    assert!(
        verify_standard(&secret, &request),
        "webhook-signature verifies: {:?}",
        request.headers
    );
    assert!(!verify_standard(&secret, &tampered));
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    assert!(
        (timestamp - unix_now()).abs() <= 60,
        "timestamp {timestamp} is now"
    );

    // The other headers.
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(
        request.header("user-agent"),
        format!("DriftGuard-Webhooks/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(request.header("x-driftguard-attempt"), "1");
    let delivery_id = request.header("x-driftguard-delivery");
    assert!(delivery_id.starts_with("dlv_"), "{delivery_id}");
    assert_eq!(request.header("webhook-id"), delivery_id);

    // The history records it.
    let delivery =
        wait_delivery(&server, &id_of(&hook), "delivered", Duration::from_secs(20)).await;
    assert_eq!(delivery["id"], delivery_id);
    assert_eq!(delivery["webhook_id"], hook["id"]);
    assert_eq!(delivery["check_id"], check_id.as_str());
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    assert!(delivery["created_at"].is_string());
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{delivery}");
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["error"], Value::Null);
    assert!(attempts[0]["at"].is_string());
    assert!(attempts[0]["duration_ms"].is_u64());
    assert_eq!(receiver.count("/hook"), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_history_is_newest_first() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/h"), ALL_EVENTS, None).await;
    let mut checks = Vec::new();
    for columns in [pass_columns(), warning_columns(), breaking_columns()] {
        checks.push(run_check(&server, &contract_id, columns).await.1);
    }
    receiver.wait_for("/h", 3, Duration::from_secs(20)).await;
    let hook_id = id_of(&hook);
    let (all_delivered, listed) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list.len() == 3 && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(all_delivered, "{listed:#?}");
    // Deliveries were created in the order of their checks (one each): newest first.
    let created: Vec<String> = checks
        .iter()
        .map(|check| {
            let delivery = listed
                .iter()
                .find(|d| d["check_id"].as_str() == Some(check.as_str()))
                .expect("a delivery per check");
            delivery["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_creation_order(&listed, &created, true);
    // Each check has exactly one delivery, and the receiver saw its id.
    let mut listed_checks: Vec<&str> = listed
        .iter()
        .map(|d| d["check_id"].as_str().expect("check_id"))
        .collect();
    listed_checks.sort_unstable();
    let mut want: Vec<&str> = checks.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(listed_checks, want);
    for request in receiver.requests("/h") {
        let delivery = listed
            .iter()
            .find(|d| d["id"] == request.header("x-driftguard-delivery"))
            .expect("the delivery of a received request is listed");
        assert_eq!(delivery["check_id"], request.check_id().as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_new_one_during_its_grace() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |_| {}).await.add_account("team-b", 10).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/rot"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    let old = hook["secret"].as_str().expect("secret").to_owned();
    let rotate = format!("/api/v1/webhooks/{hook_id}/rotate-secret");
    server
        .send(Method::POST, &rotate, Some(&other_key), "")
        .await
        .assert_error(404, "not_found");

    let rotated = post(&server, &rotate, json!({"grace_seconds": 3600}))
        .await
        .assert_status(200);
    let new = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    run_check(&server, &contract_id, pass_columns()).await;
    let during = receiver
        .wait_for("/rot", 1, Duration::from_secs(20))
        .await
        .remove(0);
    assert!(
        verify_driftguard(&new, &during),
        "X-DriftGuard-Signature: the new secret"
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, old.as_bytes());
    let previous = hex_decode(during.header("x-driftguard-signature-previous"));
    assert!(
        hmac::verify(&key, &during.body, &previous).is_ok(),
        "…-Previous: the old one"
    );
    let signatures: Vec<&str> = during.header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(verify_standard(&new, &during) && verify_standard(&old, &during));

    // A rotation with no grace: the old secrets stop at once.
    let again = post(&server, &rotate, json!({"grace_seconds": 0}))
        .await
        .assert_status(200);
    assert_eq!(again["previous_secret_expires_at"], Value::Null);
    let newest = again["secret"].as_str().expect("secret").to_owned();
    run_check(&server, &contract_id, pass_columns()).await;
    let after = receiver
        .wait_for("/rot", 2, Duration::from_secs(20))
        .await
        .remove(1);
    assert!(after
        .headers
        .get("x-driftguard-signature-previous")
        .is_none());
    assert!(verify_driftguard(&newest, &after));
    assert!(!verify_standard(&new, &after) && !verify_standard(&old, &after));
    assert_eq!(after.header("webhook-signature").split(' ').count(), 1);
    // A test delivery is signed the same way.
    let record = post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(record["status"], "delivered");
    let ping = receiver.requests("/rot").pop().expect("the test");
    assert!(verify_driftguard(&newest, &ping) && verify_standard(&newest, &ping));
}
