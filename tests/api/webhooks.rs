use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn webhook_create_answers_the_exact_shape_with_the_secret_once() {
    let server = TestServer::start().await;
    let answer = send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"url": "https://hooks.example.com/drift?team=data", "events": ["breaking", "warning"]}),
    )
    .await;
    let got = answer.assert_status(201);
    assert_id(&got["id"], "wh_");
    assert_timestamp(&got["created_at"]);
    let secret = text(&got["secret"]);
    assert_prefixed_alnum32(&secret, "whsec_");
    assert_eq!(
        got,
        json!({
            "id": got["id"],
            "url": "https://hooks.example.com/drift?team=data",
            "events": ["breaking", "warning"],
            "contract_id": null,
            "active": true,
            "secret": secret,
            "created_at": got["created_at"],
        })
    );
    // Secrets differ between webhooks.
    let other = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/b", "events": ["pass"], "contract_id": null}),
    )
    .await;
    assert_ne!(other["secret"], got["secret"]);
    assert_prefixed_alnum32(&text(&other["secret"]), "whsec_");
}

#[tokio::test]
async fn webhook_list_and_get_never_show_the_secret() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let first = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let second = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/b", "events": ["warning", "breaking"], "contract_id": users["id"]}),
    )
    .await;
    let without_secret = |w: &Value| -> Value {
        json!({
            "id": w["id"],
            "url": w["url"],
            "events": w["events"],
            "contract_id": w["contract_id"],
            "active": w["active"],
            "created_at": w["created_at"],
        })
    };
    let answer = server.get("/api/v1/webhooks").await;
    let list = answer.assert_status(200);
    let body_text = String::from_utf8_lossy(&answer.body).into_owned();
    for created in [&first, &second] {
        assert!(!body_text.contains(&text(&created["secret"])));
        let found: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["id"] == created["id"])
            .collect();
        assert_eq!(found, [&without_secret(created)]);
        // `GET /webhooks/{id}` (ours) answers the same object.
        let id = text(&created["id"]);
        let one = server.get(&format!("/api/v1/webhooks/{id}")).await;
        assert!(!String::from_utf8_lossy(&one.body).contains("whsec_"));
        assert_eq!(one.assert_status(200), without_secret(created));
    }
    assert_eq!(len(&list), 2);
    assert!(!body_text.contains("whsec_"));
    assert!(!body_text.contains("secret"));
}

#[tokio::test]
async fn webhook_url_must_be_absolute_https_with_a_host() {
    let server = TestServer::start().await;
    for url in [
        json!("http://hooks.example.com/drift"),
        json!("ftp://hooks.example.com/drift"),
        json!("/relative/path"),
        json!("hooks.example.com/drift"),
        json!("https://"),
        json!("https:///x"),
        json!(""),
        json!("not a url"),
        json!(null),
        json!(5),
    ] {
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": url, "events": ["breaking"]}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // Missing url.
    send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"events": ["breaking"]}),
    )
    .await
    .assert_error(400, "invalid_request");
    // Bodies that are not JSON objects.
    for body in ["", "not json", "[]"] {
        raw(&server, Method::POST, "/api/v1/webhooks", &server.key, body)
            .await
            .assert_error(400, "invalid_request");
    }
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([])
    );
    // Good ones: with a port, an IP host, a path and a query.
    for url in [
        "https://hooks.example.com",
        "https://127.0.0.1:8443/hook",
        "https://hooks.example.com/a/b?c=d",
    ] {
        let got = create_webhook(
            &server,
            &server.key,
            json!({"url": url, "events": ["pass"]}),
        )
        .await;
        assert_eq!(got["url"], url);
    }
}

#[tokio::test]
async fn webhook_events_are_validated_and_deduplicated() {
    let server = TestServer::start().await;
    for events in [
        json!([]),
        json!(["fail"]),
        json!(["Breaking"]),
        json!(["pass", "error"]),
        json!(["pass", 1]),
        json!("pass"),
        json!(null),
        json!({"pass": true}),
    ] {
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": "https://hooks.example.com/x", "events": events}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // Missing events.
    send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"url": "https://hooks.example.com/x"}),
    )
    .await
    .assert_error(400, "invalid_request");

    // Duplicates are dropped (first occurrence kept).
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["pass", "warning", "pass", "breaking", "warning"]}),
    )
    .await;
    assert_eq!(got["events"], json!(["pass", "warning", "breaking"]));
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/y", "events": ["breaking", "breaking"]}),
    )
    .await;
    assert_eq!(got["events"], json!(["breaking"]));
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&list), 2);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == got["id"])
        .unwrap()
        .clone();
    assert_eq!(listed["events"], json!(["breaking"]));
}

#[tokio::test]
async fn webhook_contract_id_rules() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let check = check_ok(&server, &server.key, &cid, users_columns()).await;
    for contract_id in [
        json!(bogus_id(&cid)),
        json!("nope"),
        json!(""),
        json!(cid.to_uppercase()),
        check["id"].clone(),
        json!(5),
        json!(["x"]),
    ] {
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": "https://hooks.example.com/x", "events": ["pass"], "contract_id": contract_id}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // Null or absent: all contracts.
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"], "contract_id": null}),
    )
    .await;
    assert_eq!(got["contract_id"], Value::Null);
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/b", "events": ["pass"]}),
    )
    .await;
    assert_eq!(got["contract_id"], Value::Null);
    assert!(got.as_object().unwrap().contains_key("contract_id"));
    // One of the account's contracts.
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/c", "events": ["pass"], "contract_id": cid}),
    )
    .await;
    assert_eq!(got["contract_id"], json!(cid));
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&list), 3);
}

#[tokio::test]
async fn webhook_patch_pauses_and_resumes() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/webhooks/{id}");
    let expect = |active: bool| {
        json!({
            "id": created["id"],
            "url": created["url"],
            "events": created["events"],
            "contract_id": null,
            "active": active,
            "created_at": created["created_at"],
        })
    };

    let paused = send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"active": false}),
    )
    .await;
    assert!(!String::from_utf8_lossy(&paused.body).contains("whsec_"));
    assert_eq!(paused.assert_status(200), expect(false));
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([expect(false)])
    );
    assert_eq!(server.get(&path).await.assert_status(200), expect(false));

    let resumed = send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"active": true, "ignored": 1}),
    )
    .await
    .assert_status(200);
    assert_eq!(resumed, expect(true));
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([expect(true)])
    );

    // Bad bodies are 400 and change nothing.
    for body in [
        "",
        "not json",
        "{}",
        "[]",
        r#"{"active": "false"}"#,
        r#"{"active": 0}"#,
        r#"{"active": null}"#,
    ] {
        raw(&server, Method::PATCH, &path, &server.key, body)
            .await
            .assert_error(400, "invalid_request");
    }
    assert_eq!(server.get(&path).await.assert_status(200), expect(true));

    // For an unknown or malformed id a bad body still comes first (400); the 404 itself
    // is tested for every route in `not_found`.
    for other in [bogus_id(&id), "nope".to_owned()] {
        let other_path = format!("/api/v1/webhooks/{other}");
        raw(&server, Method::PATCH, &other_path, &server.key, "{}")
            .await
            .assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn webhook_delete() {
    let server = TestServer::start().await;
    let kept = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/kept", "events": ["pass"]}),
    )
    .await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/webhooks/{id}");
    let deleted = server.delete(&path).await.assert_status(200);
    assert_eq!(deleted, json!({"id": id, "deleted": true}));

    server.get(&path).await.assert_error(404, "not_found");
    server.delete(&path).await.assert_error(404, "not_found");
    send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"active": true}),
    )
    .await
    .assert_error(404, "not_found");
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(ids(&list), [text(&kept["id"])]);
}

#[tokio::test]
async fn webhook_deliveries_endpoint_exists() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let list = server
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .assert_status(200);
    assert_eq!(list, json!([]));
    // A deleted webhook's history is gone with it.
    server
        .delete(&format!("/api/v1/webhooks/{id}"))
        .await
        .assert_status(200);
    server
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .assert_error(404, "not_found");
    server
        .send(
            Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries"),
            None,
            "",
        )
        .await
        .assert_error(401, "unauthorized");
}
