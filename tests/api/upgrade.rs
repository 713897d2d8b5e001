//! Upgrades: a store written by an earlier release must open in this build and read back
//! exactly what that release answered. `tests/fixtures/v1/` holds a store written by the
//! v1 release's own code, and the answers that release gave for it (`expected.json`).
//! Every future format version adds its fixture here.

use crate::common::*;

use serde_json::Value;

const EXPECTED: &str = include_str!("../fixtures/v1/expected.json");

async fn started_on_the_v1_fixture() -> (TestServer, Value) {
    let mut expected: Value = serde_json::from_str(EXPECTED).expect("expected.json");
    // What version 2 adds to webhook objects: a v1 webhook is a json webhook that has
    // not failed; an inactive one reads as paused.
    for webhook in expected["webhooks"].as_array_mut().expect("webhooks") {
        let active = webhook["active"].as_bool().expect("active");
        let object = webhook.as_object_mut().expect("object");
        object.insert("format".into(), "json".into());
        let reason = if active { Value::Null } else { "paused".into() };
        object.insert("disabled_reason".into(), reason);
        object.insert("consecutive_failures".into(), 0.into());
    }
    let server = TestServer::start_with(|config| {
        // The fixture's finished deliveries are from 2026-03: keep them in the history.
        config.webhooks.retention = std::time::Duration::from_secs(100 * 365 * 86_400);
        let data = &config.storage.data_dir;
        std::fs::create_dir_all(data).expect("data dir");
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/v1/driftguard.redb"
            ),
            data.join("driftguard.redb"),
        )
        .expect("copy the fixture");
    })
    .await;
    (server, expected)
}

async fn get(server: &TestServer, key: &str, path: &str) -> Value {
    server
        .send(hyper::Method::GET, path, Some(key), bytes::Bytes::new())
        .await
        .assert_status(200)
}

#[tokio::test]
async fn a_v1_store_opens_and_reads_back_what_v1_answered() {
    let (server, expected) = started_on_the_v1_fixture().await;
    let key = expected["live_key"].as_str().expect("live key");

    for list in ["contracts", "checks", "webhooks"] {
        let answer = get(&server, key, &format!("/api/v1/{list}")).await;
        assert_eq!(answer, expected[list], "GET /{list}");
    }
    assert_eq!(get(&server, key, "/api/v1/usage").await, expected["usage"]);
    for (webhook, deliveries) in expected["deliveries"].as_object().expect("deliveries") {
        let path = format!("/api/v1/webhooks/{webhook}/deliveries");
        assert_eq!(&get(&server, key, &path).await, deliveries, "{path}");
    }
    // Keys: identical, but for the key this test uses (its use is recorded now).
    let mut keys = get(&server, key, "/api/v1/keys").await;
    let mut wanted = expected["keys"].clone();
    for list in [&mut keys, &mut wanted] {
        list[0]["last_used_at"] = Value::Null;
    }
    assert_eq!(keys, wanted);
    for check in expected["checks"].as_array().expect("checks") {
        let path = format!("/api/v1/checks/{}", check["id"].as_str().expect("id"));
        assert_eq!(&get(&server, key, &path).await, check, "{path}");
    }
}

#[tokio::test]
async fn a_v1_store_takes_new_writes_and_keeps_its_accounts_apart() {
    let (server, expected) = started_on_the_v1_fixture().await;
    let key = expected["live_key"].as_str().expect("live key");
    let contract = expected["contracts"][1]["id"]
        .as_str()
        .expect("contract id");

    let check = server.check(key, contract, serde_json::json!([])).await;
    let check = check.assert_status(200);
    assert_eq!(check["result"], "pass");
    let usage = get(&server, key, "/api/v1/usage").await;
    assert_eq!(
        usage["total_checks"],
        expected["usage"]["total_checks"]
            .as_u64()
            .map(|n| n + 1)
            .expect("n")
    );
    assert_eq!(
        get(&server, key, "/api/v1/contracts").await,
        expected["contracts"]
    );

    // The other account's key works and sees none of the default account's records.
    let other = expected["other_key"].as_str().expect("other key");
    assert_eq!(
        get(&server, other, "/api/v1/contracts").await,
        serde_json::json!([])
    );
    let path = format!("/api/v1/contracts/{contract}");
    server
        .send(hyper::Method::GET, &path, Some(other), bytes::Bytes::new())
        .await
        .assert_error(404, "not_found");
    // The test key still answers, and the store still verifies.
    let test = expected["test_key"].as_str().expect("test key");
    get(&server, test, "/api/v1/keys").await;
}
