//! Upgrades: a store written by an earlier release must open in this build and read back
//! exactly what that release answered. `tests/fixtures/v1/` holds a store written by the
//! v1 release's own code, and the answers that release gave for it (`expected.json`).
//! Every future format version adds its fixture here.

use crate::common::*;

use serde_json::Value;

const EXPECTED: &str = include_str!("../fixtures/v1/expected.json");

/// What format 2 adds to a check document the v1 release answered: the contract version
/// it ran against (1: the only one there was), the `kind` of each type change, and no
/// renames or ignored columns (a stored check is not re-scored).
fn with_v2_check_fields(check: &mut Value) {
    check["contract_version"] = Value::from(1);
    let diff = &mut check["diff"];
    for change in diff["type_changes"].as_array_mut().expect("type_changes") {
        let kind = match (change["from"].as_str(), change["to"].as_str()) {
            (Some("integer"), Some("number")) | (Some("date"), Some("timestamp")) => "widening",
            (Some("number"), Some("integer")) | (Some("timestamp"), Some("date")) => "narrowing",
            _ => "incompatible",
        };
        change["kind"] = Value::from(kind);
    }
    diff["renames"] = serde_json::json!([]);
    diff["ignored"] = serde_json::json!([]);
}

/// What format 3 adds to a contract (or version) object: compatibility `none`.
fn with_v3_contract_fields(contract: &mut Value) {
    if let Some(object) = contract.as_object_mut() {
        object.insert("compatibility".into(), "none".into());
    }
}

/// What format 3 adds to a version's `changes`: no compatibility change.
fn with_v3_changes(version: &mut Value) {
    with_v3_contract_fields(version);
    if let Some(changes) = version["changes"].as_object_mut() {
        changes.insert("compatibility_changed".into(), Value::Null);
    }
}

/// What this build adds to every delivery a release answered before it: no attempt was
/// dropped (a delivery now keeps its last 20).
fn with_attempts_dropped(expected: &mut Value) {
    for list in expected["deliveries"]
        .as_object_mut()
        .expect("deliveries")
        .values_mut()
    {
        for delivery in list.as_array_mut().expect("array") {
            let object = delivery.as_object_mut().expect("object");
            object.insert("attempts_dropped".into(), 0.into());
        }
    }
}

/// A server on a copy of the store `tests/fixtures/<release>/driftguard.redb`.
async fn started_on(release: &'static str) -> TestServer {
    TestServer::start_with(move |config| {
        // The fixture's finished deliveries are as old as it is: keep them in the history.
        config.webhooks.retention = std::time::Duration::from_secs(100 * 365 * 86_400);
        let data = &config.storage.data_dir;
        std::fs::create_dir_all(data).expect("data dir");
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(release)
            .join("driftguard.redb");
        std::fs::copy(fixture, data.join("driftguard.redb")).expect("copy the fixture");
    })
    .await
}

async fn started_on_the_v1_fixture() -> (TestServer, Value) {
    let mut expected: Value = serde_json::from_str(EXPECTED).expect("expected.json");
    for contract in expected["contracts"].as_array_mut().expect("contracts") {
        with_v3_contract_fields(contract);
    }
    for check in expected["checks"].as_array_mut().expect("checks") {
        with_v2_check_fields(check);
    }
    // What version 2 adds to webhook objects: a v1 webhook is a json webhook that has
    // not failed; an inactive one reads as paused.
    for webhook in expected["webhooks"].as_array_mut().expect("webhooks") {
        let active = webhook["active"].as_bool().expect("active");
        let object = webhook.as_object_mut().expect("object");
        object.insert("format".into(), "json".into());
        let reason = if active { Value::Null } else { "paused".into() };
        object.insert("disabled_reason".into(), reason);
        object.insert("consecutive_failures".into(), 0.into());
        // And format 3: no filter.
        object.insert("filter".into(), Value::Null);
    }
    with_attempts_dropped(&mut expected);
    (started_on("v1").await, expected)
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
    // The migration to format 2 gave every contract its history: version 1, made when
    // the contract was.
    for contract in expected["contracts"].as_array().expect("contracts") {
        let path = format!(
            "/api/v1/contracts/{}/versions",
            contract["id"].as_str().expect("id")
        );
        let version_1 = serde_json::json!({
            "version": 1,
            "name": contract["name"],
            "schema": contract["schema"],
            "compatibility": "none",
            "created_at": contract["created_at"],
            "changes": null,
        });
        assert_eq!(
            get(&server, key, &path).await,
            serde_json::json!([version_1.clone()])
        );
        assert_eq!(get(&server, key, &format!("{path}/1")).await, version_1);
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
    // A migrated contract takes updates: version 2, and checks against either version.
    let path = format!("/api/v1/contracts/{contract}");
    let updated = server
        .send(
            hyper::Method::PATCH,
            &path,
            Some(key),
            r#"{"name": "renamed"}"#,
        )
        .await
        .assert_status(200);
    assert_eq!(updated["version"], 2);
    let check = server.check(key, contract, serde_json::json!([])).await;
    assert_eq!(check.assert_status(200)["contract_version"], 2);

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

const EXPECTED_V2: &str = include_str!("../fixtures/v2/expected.json");

/// A store written by the last format-2 release (`tests/fixtures/v2/make.sh`), opened by
/// this build.
async fn started_on_the_v2_fixture() -> (TestServer, Value) {
    let mut expected: Value = serde_json::from_str(EXPECTED_V2).expect("v2 expected.json");
    for contract in expected["contracts"].as_array_mut().expect("contracts") {
        with_v3_contract_fields(contract);
    }
    for versions in expected["versions"]
        .as_object_mut()
        .expect("versions")
        .values_mut()
    {
        for version in versions.as_array_mut().expect("array") {
            with_v3_changes(version);
        }
    }
    // What format 3 adds to webhook objects: no filter.
    for webhook in expected["webhooks"].as_array_mut().expect("webhooks") {
        let object = webhook.as_object_mut().expect("object");
        object.insert("filter".into(), Value::Null);
    }
    with_attempts_dropped(&mut expected);
    (started_on("v2").await, expected)
}

#[tokio::test]
async fn a_v2_store_opens_and_keeps_every_version_webhook_and_delivery() {
    let (server, expected) = started_on_the_v2_fixture().await;
    assert_reads_as_recorded(&server, &expected).await;
}

/// Every list, version, delivery history, check, key and the usage of a fixture store
/// read back as its release answered them (`expected`, made by its `make.sh`).
async fn assert_reads_as_recorded(server: &TestServer, expected: &Value) {
    let key = expected["live_key"].as_str().expect("live key");
    for list in ["contracts", "checks", "webhooks"] {
        let answer = get(server, key, &format!("/api/v1/{list}")).await;
        assert_eq!(answer, expected[list], "GET /{list}");
    }
    assert_eq!(get(server, key, "/api/v1/usage").await, expected["usage"]);
    for (contract, versions) in expected["versions"].as_object().expect("versions") {
        let path = format!("/api/v1/contracts/{contract}/versions");
        assert_eq!(&get(server, key, &path).await, versions, "{path}");
        for version in versions.as_array().expect("array") {
            let path = format!("{path}/{}", version["version"]);
            assert_eq!(&get(server, key, &path).await, version, "{path}");
        }
    }
    for (webhook, deliveries) in expected["deliveries"].as_object().expect("deliveries") {
        let path = format!("/api/v1/webhooks/{webhook}/deliveries");
        assert_eq!(&get(server, key, &path).await, deliveries, "{path}");
    }
    for check in expected["checks"].as_array().expect("checks") {
        let path = format!("/api/v1/checks/{}", check["id"].as_str().expect("id"));
        assert_eq!(&get(server, key, &path).await, check, "{path}");
    }
    let mut keys = get(server, key, "/api/v1/keys").await;
    let mut wanted = expected["keys"].clone();
    for list in [&mut keys, &mut wanted] {
        list[0]["last_used_at"] = Value::Null;
    }
    assert_eq!(keys, wanted);
    let other = expected["other_key"].as_str().expect("other key");
    assert_eq!(
        get(server, other, "/api/v1/contracts").await,
        serde_json::json!([])
    );
}

const EXPECTED_V3: &str = include_str!("../fixtures/v3/expected.json");

/// A store written by the last format-3 release (`tests/fixtures/v3/make.sh`) opens in
/// this build, reads back as that release answered, and gets per-webhook delivery
/// counters counted from its deliveries (format 4).
#[tokio::test]
async fn a_v3_store_opens_reads_back_and_counts_deliveries_per_webhook() {
    let mut expected: Value = serde_json::from_str(EXPECTED_V3).expect("v3 expected.json");
    with_attempts_dropped(&mut expected);
    // Nothing in the fixture may come due while it ages (an attempt would change what it
    // reads back): every pending delivery belongs to a paused webhook.
    for webhook in expected["webhooks"].as_array().expect("webhooks") {
        let deliveries = &expected["deliveries"][webhook["id"].as_str().expect("id")];
        let pending = deliveries.as_array().expect("array").iter();
        let pending = pending.filter(|d| d["status"] == "pending").count();
        assert!(
            pending == 0 || webhook["active"] == false,
            "make.sh left {pending} due: {webhook}"
        );
    }
    let mut server = started_on("v3").await;
    assert_reads_as_recorded(&server, &expected).await;
    let key = expected["live_key"].as_str().expect("live key");
    let path = "/api/v1/contracts?include=last_check";
    assert_eq!(
        get(&server, key, path).await,
        expected["contracts_with_last_check"]
    );
    // The overview, but for its windows of time (the fixture ages).
    let overview = get(&server, key, "/api/v1/overview").await;
    for part in ["usage", "contracts", "webhooks"] {
        assert_eq!(overview[part], expected["overview"][part], "{part}");
    }

    // Each webhook's deliveries of the last 24 hours are the recorded ones made in the
    // last 24 hourly buckets (all of them on the day the fixture was made, none a day
    // later). The recorded lists are whole: they add up to what the release counted.
    let recorded = expected["deliveries"].as_object().expect("deliveries");
    let count = |list: &Value, status: Option<&str>| {
        list.as_array()
            .expect("array")
            .iter()
            .filter(|d| status.is_none_or(|s| d["status"] == s))
            .count() as u64
    };
    let total: u64 = recorded.values().map(|list| count(list, None)).sum();
    let counted = &expected["overview"]["deliveries_24h"];
    let made: u64 = ["delivered", "abandoned", "pending"]
        .iter()
        .map(|k| counted[k].as_u64().expect("count"))
        .sum();
    assert_eq!(total, made, "a recorded delivery list is cut short");
    let hour = |at: &Value| {
        let at = driftguard::clock::UnixMs::parse_rfc3339(at.as_str().expect("time"));
        at.expect("rfc3339").0 / 3_600_000
    };
    let now = driftguard::clock::UnixMs::wall_now().0 / 3_600_000;
    let listed = get(&server, key, "/api/v1/webhooks?include=deliveries_24h").await;
    for webhook in listed.as_array().expect("webhooks") {
        let id = webhook["id"].as_str().expect("id");
        let recent: Vec<Value> = recorded[id]
            .as_array()
            .expect("array")
            .iter()
            .filter(|d| now - hour(&d["created_at"]) < 24)
            .cloned()
            .collect();
        let recent = Value::Array(recent);
        let wanted = serde_json::json!({
            "delivered": count(&recent, Some("delivered")),
            "abandoned": count(&recent, Some("abandoned")),
            "pending": count(&recent, Some("pending")),
        });
        assert_eq!(webhook["deliveries_24h"], wanted, "{id}");
    }
    // Every counter row matches the deliveries it counts, whatever their age.
    server.stop().await;
    let file = server.config.storage.data_dir.join("driftguard.redb");
    let report = driftguard::store::maintenance::verify(&file).expect("check-store passes");
    assert_eq!(report.format_version, driftguard::store::FORMAT_VERSION);
}

const EXPECTED_V4: &str = include_str!("../fixtures/v4/expected.json");

/// A store written by the last format-4 release (`tests/fixtures/v4/make.sh`) opens in
/// this build and reads back as that release answered: its checks keep their ids (found
/// through the `ids` index), while a check made after the upgrade gets an id that carries
/// its number in the account (format 5) — sorted after the old ones, found without an
/// index, named by its deliveries and its contract's last check, and unknown to another
/// account's key or with one random character changed.
#[tokio::test]
async fn a_v4_store_keeps_its_check_ids_and_new_checks_carry_their_number() {
    let expected: Value = serde_json::from_str(EXPECTED_V4).expect("v4 expected.json");
    let mut server = started_on("v4").await;
    assert_reads_as_recorded(&server, &expected).await;
    let key = expected["live_key"].as_str().expect("live key");
    let with_last = "/api/v1/contracts?include=last_check";
    assert_eq!(
        get(&server, key, with_last).await,
        expected["contracts_with_last_check"]
    );

    let contract = |name: &str| {
        let contracts = expected["contracts"].as_array().expect("contracts");
        let found = contracts.iter().find(|c| c["name"] == name).expect(name);
        found["id"].as_str().expect("id").to_owned()
    };
    let users = contract("users");
    let columns = serde_json::json!([{"name": "user_id", "type": "integer"}]);
    let answer = server.check(key, &users, columns).await.assert_status(200);
    let id = answer["id"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), "chk_".len() + 33, "{id}");
    let old: Vec<&str> = expected["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert!(old
        .iter()
        .all(|old| old.len() == "chk_".len() + 26 && *old < id.as_str()));

    let stored = get(&server, key, &format!("/api/v1/checks/{id}")).await;
    assert_eq!(stored["id"], answer["id"]);
    assert_eq!(stored["result"], "warning");
    let listed = get(&server, key, "/api/v1/checks").await;
    let listed = listed.as_array().expect("checks");
    assert_eq!(listed[0], stored);
    assert_eq!(Value::Array(listed[1..].to_vec()), expected["checks"]);
    let last = get(&server, key, with_last).await;
    let last = last.as_array().expect("contracts").iter();
    let last = last
        .clone()
        .find(|c| c["id"] == users.as_str())
        .expect("users");
    assert_eq!(last["last_check"]["id"], answer["id"]);

    // The slack webhook (warnings of `users`) got a delivery naming it.
    let webhooks = expected["webhooks"].as_array().expect("webhooks");
    let slack = webhooks
        .iter()
        .find(|w| w["format"] == "slack")
        .expect("slack");
    let path = format!(
        "/api/v1/webhooks/{}/deliveries",
        slack["id"].as_str().expect("id")
    );
    assert_eq!(get(&server, key, &path).await[0]["check_id"], answer["id"]);

    let other = expected["other_key"].as_str().expect("other key");
    let path = format!("/api/v1/checks/{id}");
    let answer = server.send(hyper::Method::GET, &path, Some(other), bytes::Bytes::new());
    answer.await.assert_status(404);
    let last_char = if id.ends_with('0') { "1" } else { "0" };
    let guessed = format!("/api/v1/checks/{}{last_char}", &id[..id.len() - 1]);
    let answer = server.send(hyper::Method::GET, &guessed, Some(key), bytes::Bytes::new());
    answer.await.assert_status(404);

    server.stop().await;
    let file = server.config.storage.data_dir.join("driftguard.redb");
    let report = driftguard::store::maintenance::verify(&file).expect("check-store passes");
    assert_eq!(report.format_version, driftguard::store::FORMAT_VERSION);
}

#[tokio::test]
async fn a_v2_webhook_takes_a_filter_and_becomes_a_pagerduty_one() {
    let (server, expected) = started_on_the_v2_fixture().await;
    let key = expected["live_key"].as_str().expect("live key");
    let webhook = expected["webhooks"][1]["id"].as_str().expect("id");
    let path = format!("/api/v1/webhooks/{webhook}");
    let body = serde_json::json!({
        "format": "pagerduty",
        "routing_key": "R0FIXTUREFIXTUREFIXTUREFIXTURE01",
        "filter": {"min_severity": 50},
    });
    let patched = server
        .send(hyper::Method::PATCH, &path, Some(key), body.to_string())
        .await
        .assert_status(200);
    assert_eq!(patched["format"], "pagerduty");
    assert_eq!(
        patched["filter"],
        serde_json::json!({"min_severity": 50, "contract_names": null})
    );
    assert!(!patched.to_string().contains("R0FIXTURE"));
    // The pending delivery of the paused webhook is still there, and still waits.
    let paused = expected["webhooks"][0]["id"].as_str().expect("id");
    let deliveries = get(
        &server,
        key,
        &format!("/api/v1/webhooks/{paused}/deliveries"),
    )
    .await;
    assert_eq!(deliveries[0]["status"], "pending");
    assert_eq!(deliveries[0]["next_attempt_at"], Value::Null);
}

/// The migration to format 3 fills the overview's counters and each contract's last check
/// from what the format-2 store holds.
#[tokio::test]
async fn a_v2_store_gets_its_overview_counters_and_last_checks() {
    let (server, expected) = started_on_the_v2_fixture().await;
    let key = expected["live_key"].as_str().expect("live key");
    let checks = expected["checks"].as_array().expect("checks");
    // Newest first: the first check of each contract is its last one.
    let mut last: std::collections::HashMap<String, &Value> = std::collections::HashMap::new();
    for check in checks {
        last.entry(check["contract_id"].as_str().unwrap().to_owned())
            .or_insert(check);
    }
    let contracts = get(&server, key, "/api/v1/contracts?include=last_check").await;
    for contract in contracts.as_array().expect("contracts") {
        let found = last.get(contract["id"].as_str().unwrap());
        let wanted = found.map_or(Value::Null, |c| {
            serde_json::json!({"id": c["id"], "result": c["result"], "severity": c["severity"],
                               "created_at": c["created_at"]})
        });
        assert_eq!(contract["last_check"], wanted, "{}", contract["name"]);
    }
    let overview = get(&server, key, "/api/v1/overview").await;
    assert_eq!(overview["usage"], expected["usage"]);
    assert_eq!(overview["contracts"]["total"], 3);
    let mut by_result = serde_json::json!({"pass": 0, "warning": 0, "breaking": 0, "none": 0});
    for contract in contracts.as_array().unwrap() {
        let result = contract["last_check"]["result"].as_str().unwrap_or("none");
        by_result[result] = (by_result[result].as_u64().unwrap() + 1).into();
    }
    assert_eq!(overview["contracts"]["by_last_result"], by_result);
    // The chart counts every fixture check on its day, if that day is among the last 30.
    for day in overview["checks_by_day"].as_array().unwrap() {
        let date = day["date"].as_str().unwrap();
        for result in ["pass", "warning", "breaking"] {
            let made = checks
                .iter()
                .filter(|c| {
                    c["created_at"].as_str().unwrap().starts_with(date) && c["result"] == result
                })
                .count() as u64;
            assert_eq!(day[result].as_u64(), Some(made), "{date} {result}");
        }
    }
    // The checks of one contract, by the new index.
    let (contract, _) = last.iter().next().unwrap();
    let listed = get(
        &server,
        key,
        &format!("/api/v1/checks?contract_id={contract}"),
    )
    .await;
    let wanted: Vec<&Value> = checks
        .iter()
        .filter(|c| c["contract_id"] == contract.as_str())
        .collect();
    assert_eq!(
        listed.as_array().unwrap().iter().collect::<Vec<_>>(),
        wanted
    );
}
