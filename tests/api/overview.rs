//! SPEC 6.3's API additions for the console (and every client): `GET /checks` filtered by
//! contract, result and time; `GET /contracts?include=last_check`; `GET /overview`.

use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

/// Runs a check; returns its document.
async fn check(server: &TestServer, key: &str, contract: &str, incoming: Value) -> Value {
    server
        .check(key, contract, incoming)
        .await
        .assert_status(200)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| text(&c["id"]))
        .collect()
}

/// Incoming columns scoring pass (identical), warning (70) and breaking (100) against
/// `users_columns()`.
fn incoming(result: &str) -> Value {
    match result {
        "pass" => users_columns(),
        "warning" => json!([inc("user_id", "integer"), inc("created_at", "string")]),
        _ => json!([inc("created_at", "string")]),
    }
}

#[tokio::test]
async fn checks_filter_by_contract_result_and_time_and_page_with_the_filter() {
    let accounts = two_accounts().await;
    let server = &accounts.server;
    let key = &server.key;
    let users = text(&server.create_contract(key, "users2", users_columns()).await["id"]);
    let orders = text(&server.create_contract(key, "orders", users_columns()).await["id"]);
    let mut made = Vec::new();
    for (contract, result) in [
        (&users, "pass"),
        (&orders, "warning"),
        (&users, "breaking"),
        (&users, "warning"),
        (&orders, "pass"),
        (&users, "warning"),
    ] {
        made.push(check(server, key, contract, incoming(result)).await);
    }
    let newest_first = |pick: &dyn Fn(&Value) -> bool| -> Vec<String> {
        made.iter()
            .rev()
            .filter(|c| pick(c))
            .map(|c| text(&c["id"]))
            .collect()
    };
    let get = |query: String| async move {
        server
            .get(&format!("/api/v1/checks?{query}"))
            .await
            .assert_status(200)
    };
    assert_eq!(
        ids(&get(format!("contract_id={users}")).await),
        newest_first(&|c| c["contract_id"] == users.as_str())
    );
    assert_eq!(
        ids(&get("result=warning".into()).await),
        newest_first(&|c| c["result"] == "warning")
    );
    assert_eq!(
        ids(&get(format!("contract_id={users}&result=warning")).await),
        newest_first(&|c| c["contract_id"] == users.as_str() && c["result"] == "warning")
    );
    // `since` is inclusive: the third check's own time lists it (and every later one
    // made in the same second).
    let since = text(&made[2]["created_at"]);
    let listed = ids(&get(format!("since={since}")).await);
    assert!(listed.contains(&text(&made[2]["id"])), "{listed:?}");
    assert_eq!(listed.first(), Some(&text(&made[5]["id"])));
    assert!(ids(&get("since=2999-01-01T00:00:00Z".into()).await).is_empty());
    // Paging keeps the filter in the `Link`.
    let first = server
        .get(&format!("/api/v1/checks?contract_id={users}&limit=2"))
        .await;
    let link = first.header("link").expect("a next page").to_owned();
    assert!(link.contains(&format!("contract_id={users}")), "{link}");
    let page = first.assert_status(200);
    assert_eq!(len(&page), 2);
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .split_once("/api/v1")
        .unwrap()
        .1
        .to_owned();
    let rest = server
        .get(&format!("/api/v1{next}"))
        .await
        .assert_status(200);
    let mut all = ids(&page);
    all.extend(ids(&rest));
    assert_eq!(all, newest_first(&|c| c["contract_id"] == users.as_str()));

    // Another account's contract, an unknown or malformed id: nothing matches.
    let theirs = text(
        &accounts
            .server
            .create_contract(&accounts.key_b, "b", json!([]))
            .await["id"],
    );
    for contract in [theirs.as_str(), "ctr_unknown", "not-an-id", ""] {
        assert_eq!(
            get(format!("contract_id={contract}")).await,
            json!([]),
            "{contract}"
        );
    }
    // A bad result or since is a 400 naming the parameter.
    for (query, field) in [
        ("result=ok", "result"),
        ("result=Pass", "result"),
        ("since=yesterday", "since"),
        ("since=2026-03-01", "since"),
    ] {
        let error = server
            .get(&format!("/api/v1/checks?{query}"))
            .await
            .assert_error(400, "invalid_request");
        assert!(error.starts_with(field), "{query}: {error}");
    }
}

#[tokio::test]
async fn contracts_include_their_last_check_on_request() {
    let server = TestServer::start().await;
    let key = &server.key;
    let a = text(&server.create_contract(key, "a", users_columns()).await["id"]);
    let b = text(&server.create_contract(key, "b", users_columns()).await["id"]);
    check(&server, key, &a, incoming("breaking")).await;
    let last = check(&server, key, &a, incoming("warning")).await;
    let plain = server.get("/api/v1/contracts").await.assert_status(200);
    assert!(
        plain[0].get("last_check").is_none(),
        "only on request: {plain}"
    );
    let list = server
        .get("/api/v1/contracts?include=last_check")
        .await
        .assert_status(200);
    assert_eq!(ids(&list), [a.clone(), b]);
    assert_eq!(
        list[0]["last_check"],
        json!({"id": last["id"], "result": "warning", "severity": 70,
               "created_at": last["created_at"]})
    );
    assert_eq!(list[1]["last_check"], Value::Null);
    let mut without = list[0].clone();
    without.as_object_mut().unwrap().remove("last_check");
    assert_eq!(
        without, plain[0],
        "the same contract object, plus last_check"
    );
    let error = server
        .get("/api/v1/contracts?include=everything")
        .await
        .assert_error(400, "invalid_request");
    assert!(error.starts_with("include"), "{error}");
    // A deleted contract's last check goes with it (its checks stay).
    server
        .send(
            Method::DELETE,
            &format!("/api/v1/contracts/{a}"),
            Some(key),
            "",
        )
        .await
        .assert_status(200);
    let overview = server.get("/api/v1/overview").await.assert_status(200);
    assert_eq!(
        overview["contracts"],
        json!({"total": 1, "by_last_result": {"pass": 0, "warning": 0, "breaking": 0, "none": 1}})
    );
    assert_eq!(overview["checks_by_day"][29]["warning"], 1, "history stays");
}

#[tokio::test]
async fn the_overview_counts_an_accounts_checks_contracts_webhooks_and_deliveries() {
    let accounts = two_accounts().await;
    let server = &accounts.server;
    let key = &server.key;
    let before = server.get("/api/v1/overview").await.assert_status(200);
    let days = before["checks_by_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = &days[29]["date"];
    let now = time::OffsetDateTime::now_utc();
    // Today last (or just past midnight, yesterday still), one day apart, oldest first.
    let today_text = today.as_str().unwrap();
    assert!(
        [now.date(), (now - time::Duration::minutes(5)).date()]
            .iter()
            .any(|d| d.to_string() == today_text),
        "{today_text}"
    );
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");

    let c = text(&server.create_contract(key, "c", users_columns()).await["id"]);
    let d = text(&server.create_contract(key, "d", users_columns()).await["id"]);
    server.create_contract(key, "e", users_columns()).await;
    let hook = create_webhook(
        server,
        key,
        json!({"url": "https://hooks.example.com/all", "events": ["pass", "warning", "breaking"]}),
    )
    .await;
    let paused = create_webhook(
        server,
        key,
        json!({"url": "https://hooks.example.com/p", "events": ["breaking"], "contract_id": d}),
    )
    .await;
    send_json(
        server,
        Method::PATCH,
        &format!("/api/v1/webhooks/{}", text(&paused["id"])),
        key,
        &json!({"active": false}),
    )
    .await
    .assert_status(200);
    let test_key = server.new_key(key, "test").await;
    check(server, key, &c, incoming("pass")).await;
    check(server, &test_key, &c, incoming("breaking")).await;
    check(server, key, &d, incoming("warning")).await;
    assert_eq!(hook["active"], true);

    let overview = server.get("/api/v1/overview").await.assert_status(200);
    assert_eq!(
        overview["usage"],
        server.get("/api/v1/usage").await.assert_status(200)
    );
    // What the three checks, three contracts and two webhooks added (the account held
    // one record of each kind before).
    let delta = |path: &[&str]| {
        let at = |v: &Value| path.iter().fold(v.clone(), |v, k| v[*k].clone());
        at(&overview).as_u64().unwrap() - at(&before).as_u64().unwrap()
    };
    let today: Vec<u64> = ["pass", "warning", "breaking"]
        .iter()
        .map(|k| {
            overview["checks_by_day"][29][k].as_u64().unwrap()
                - before["checks_by_day"][29][k].as_u64().unwrap()
        })
        .collect();
    assert_eq!(today, [1, 1, 1]);
    assert_eq!(delta(&["contracts", "total"]), 3);
    assert_eq!(delta(&["contracts", "by_last_result", "warning"]), 1);
    assert_eq!(delta(&["contracts", "by_last_result", "breaking"]), 1);
    assert_eq!(delta(&["contracts", "by_last_result", "none"]), 1);
    assert_eq!(delta(&["contracts", "by_last_result", "pass"]), 0);
    assert_eq!(delta(&["webhooks", "total"]), 2);
    assert_eq!(delta(&["webhooks", "active"]), 1);
    assert_eq!(delta(&["webhooks", "paused"]), 1);
    // Three checks, each to the active webhook (the paused one gets nothing; the seeded
    // webhook may be scoped elsewhere): deliveries made in the last 24 hours, wherever
    // their attempts are.
    let made: u64 = ["delivered", "abandoned", "pending"]
        .iter()
        .map(|k| delta(&["deliveries_24h", k]))
        .sum();
    assert!(made >= 3, "{}", overview["deliveries_24h"]);
    // Per webhook, on request: the same deliveries, split by webhook (a delivery may move
    // from pending to finished between the two reads; its webhook's total stays).
    let total = |counts: &Value| -> u64 {
        ["delivered", "abandoned", "pending"]
            .iter()
            .map(|k| counts[k].as_u64().unwrap())
            .sum()
    };
    let listed = server
        .get("/api/v1/webhooks?include=deliveries_24h")
        .await
        .assert_status(200);
    let per_webhook: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| total(&w["deliveries_24h"]))
        .collect();
    assert_eq!(
        per_webhook.iter().sum::<u64>(),
        total(&overview["deliveries_24h"]),
        "{listed}"
    );
    let of = |id: &Value| format!("/api/v1/webhooks/{}?include=deliveries_24h", text(id));
    let one = server.get(&of(&hook["id"])).await.assert_status(200);
    assert_eq!(total(&one["deliveries_24h"]), 3, "{one}");
    let none = server.get(&of(&paused["id"])).await.assert_status(200);
    assert_eq!(
        none["deliveries_24h"],
        json!({"delivered": 0, "abandoned": 0, "pending": 0})
    );
    // Without `include`, no counts; an unknown one is a 400; another account's webhook a 404.
    let plain = server.get("/api/v1/webhooks").await.assert_status(200);
    assert!(plain[0].get("deliveries_24h").is_none(), "{plain}");
    let path = "/api/v1/webhooks?include=deliveries";
    server.get(path).await.assert_error(400, "invalid_request");
    get_as(server, &of(&hook["id"]), &accounts.key_b)
        .await
        .assert_error(404, "not_found");
    // The other account sees only its own (nothing).
    let theirs = get_as(server, "/api/v1/overview", &accounts.key_b)
        .await
        .assert_status(200);
    assert_eq!(theirs["contracts"]["total"], 0);
    assert_eq!(
        theirs["deliveries_24h"],
        json!({"delivered": 0, "abandoned": 0, "pending": 0})
    );
    let sum: u64 = theirs["checks_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["pass"].as_u64().unwrap()
                + d["warning"].as_u64().unwrap()
                + d["breaking"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(sum, 0);
}
