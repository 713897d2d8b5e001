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
            "format": "json",
            "disabled_reason": null,
            "consecutive_failures": 0,
            "filter": null,
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
            "format": "json",
            "disabled_reason": null,
            "consecutive_failures": 0,
            "filter": null,
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
    // Userinfo would be stored and listed to every key of the account (issue 26): refused
    // on create and on PATCH, naming `url`.
    let kept = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/kept@here", "events": ["breaking"]}),
    )
    .await;
    let kept_path = format!("/api/v1/webhooks/{}", text(&kept["id"]));
    for url in [
        "https://user:secret@hooks.example.com/drift",
        "https://user@hooks.example.com/drift",
        "https://:secret@hooks.example.com/drift",
        "https://user:secret@[::1]:8443/drift",
    ] {
        for (method, path) in [
            (Method::POST, "/api/v1/webhooks"),
            (Method::PATCH, kept_path.as_str()),
        ] {
            let body = json!({"url": url, "events": ["breaking"]});
            let error = send_json(&server, method, path, &server.key, &body)
                .await
                .assert_error(400, "invalid_request");
            assert!(
                error.contains("url") && !error.contains("secret"),
                "{url}: {error}"
            );
        }
    }
    let listed = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&listed), 1, "{listed}");
    assert_eq!(listed[0]["url"], "https://hooks.example.com/kept@here");
    server.delete(&kept_path).await.assert_status(200);
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
        "https://10.0.0.1:8443/hook",
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
            "format": "json",
            "disabled_reason": if active { Value::Null } else { json!("paused") },
            "consecutive_failures": 0,
            "filter": null,
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

    // An empty PATCH changes nothing.
    raw(&server, Method::PATCH, &path, &server.key, "{}")
        .await
        .assert_status(200);
    // Bad bodies are 400 and change nothing.
    for body in [
        "",
        "not json",
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
        raw(
            &server,
            Method::PATCH,
            &other_path,
            &server.key,
            r#"{"active": 1}"#,
        )
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

// ---- SPEC 5.3: format, PATCH of any field, the target guard at create/PATCH, rotation,
// retry and recover (their deliveries end to end are in tests/webhooks.rs) ----

#[tokio::test]
async fn webhook_format_is_json_by_default_or_slack_teams_discord() {
    let server = TestServer::start().await;
    let slack = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.slack.com/services/T/B/x", "events": ["breaking"], "format": "slack"}),
    )
    .await;
    assert_eq!(slack["format"], "slack");
    let id = text(&slack["id"]);
    let got = server
        .get(&format!("/api/v1/webhooks/{id}"))
        .await
        .assert_status(200);
    assert_eq!(got["format"], "slack");
    for format in [json!("xml"), json!("Slack"), json!(5), json!(["json"])] {
        let answer = send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": "https://hooks.example.com/x", "events": ["pass"], "format": format}),
        )
        .await;
        let error = answer.assert_error(400, "invalid_request");
        assert!(error.contains("format"), "{format}: {error}");
        if format.is_string() {
            assert!(
                error.ends_with("is not one of json, slack, teams, discord, pagerduty"),
                "every name: {error}"
            );
        }
    }
    assert_eq!(
        len(&server.get("/api/v1/webhooks").await.assert_status(200)),
        1
    );
    // SPEC 6.4's formats: created, shown, switched by PATCH.
    for format in ["teams", "discord"] {
        let hook = create_webhook(
            &server,
            &server.key,
            json!({"url": "https://hooks.example.com/chat", "events": ["breaking"], "format": format}),
        )
        .await;
        assert_eq!(hook["format"], format);
        let path = format!("/api/v1/webhooks/{}", text(&hook["id"]));
        assert_eq!(server.get(&path).await.assert_status(200)["format"], format);
        let other = if format == "teams" {
            "discord"
        } else {
            "teams"
        };
        let patched = send_json(
            &server,
            Method::PATCH,
            &path,
            &server.key,
            &json!({"format": other}),
        )
        .await
        .assert_status(200);
        assert_eq!(patched["format"], other);
    }
}

#[tokio::test]
async fn webhook_patch_changes_any_subset_validated_as_on_create() {
    let (server, other_key) = roomy_server().await.add_account("team-b", 10).await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/webhooks/{id}");
    let patch = |body: Value| {
        let (server, path) = (&server, &path);
        async move { send_json(server, Method::PATCH, path, &server.key, &body).await }
    };

    let changed = patch(json!({
        "url": "https://hooks.example.com/b",
        "events": ["pass", "warning", "pass"],
        "contract_id": users["id"],
        "format": "slack",
    }))
    .await
    .assert_status(200);
    assert_eq!(
        changed,
        json!({
            "id": id,
            "url": "https://hooks.example.com/b",
            "events": ["pass", "warning"],
            "contract_id": users["id"],
            "active": true,
            "created_at": created["created_at"],
            "format": "slack",
            "disabled_reason": null,
            "consecutive_failures": 0,
            "filter": null,
        })
    );
    assert_eq!(server.get(&path).await.assert_status(200), changed);
    // One field at a time; `contract_id: null` means every contract again.
    let one = patch(json!({"contract_id": null})).await.assert_status(200);
    assert_eq!(one["contract_id"], Value::Null);
    assert_eq!(one["format"], "slack", "the rest stays");
    let one = patch(json!({"format": "json"})).await.assert_status(200);
    assert_eq!(one["format"], "json");
    assert_eq!(one["url"], "https://hooks.example.com/b");
    let now = server.get(&path).await.assert_status(200);

    // Each invalid field is a 400 naming it, and changes nothing.
    let foreign = server
        .create_contract(&other_key, "theirs", users_columns())
        .await;
    for (body, field) in [
        (json!({"url": "http://hooks.example.com/x"}), "url"),
        (json!({"url": "https://"}), "url"),
        (json!({"url": 5}), "url"),
        (json!({"url": null}), "url"),
        (json!({"url": "https://127.0.0.1/x"}), "url"),
        (json!({"events": []}), "events"),
        (json!({"events": ["fail"]}), "events"),
        (json!({"events": null}), "events"),
        (json!({"contract_id": "ctr_nope"}), "contract_id"),
        (
            json!({"contract_id": bogus_id(&text(&users["id"]))}),
            "contract_id",
        ),
        (json!({"contract_id": foreign["id"]}), "contract_id"),
        (json!({"contract_id": 7}), "contract_id"),
        (json!({"format": "xml"}), "format"),
        (json!({"format": null}), "format"),
        (json!({"active": "yes"}), "active"),
        (json!({"active": null}), "active"),
        // Valid fields beside an invalid one are not applied either.
        (
            json!({"url": "https://hooks.example.com/c", "events": []}),
            "events",
        ),
    ] {
        let error = patch(body.clone())
            .await
            .assert_error(400, "invalid_request");
        assert!(error.contains(field), "{body}: {error}");
    }
    assert_eq!(server.get(&path).await.assert_status(200), now);
    // The secret is never part of a PATCH answer (and never changes: see rotate-secret).
    let answer = patch(json!({"secret": "whsec_mine"})).await;
    assert!(!String::from_utf8_lossy(&answer.body).contains("whsec_"));
    assert_eq!(answer.assert_status(200), now);
}

/// Literal forms of denied addresses a URL parser accepts.
const DENIED_HOSTS: &[&str] = &[
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f.1",
    "0177.0.0.1",
    "127.0.0.1.",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[0:0:0:0:0:0:0:1]",
    "[::]",
    "[::127.0.0.1]",
    "[2002:7f00:1::1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::169.254.169.254]",
    "169.254.169.254",
    "[fe80::1]",
    "0.0.0.0",
    "0",
];

#[tokio::test]
async fn literal_denied_addresses_are_400_at_create_and_patch() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}", text(&created["id"]));
    for host in DENIED_HOSTS {
        let url = format!("https://{host}:8443/hook");
        let body = json!({"url": url, "events": ["pass"]});
        let error = send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &body,
        )
        .await
        .assert_error(400, "invalid_request");
        assert!(
            error.starts_with("url:") && error.contains("webhooks.deny_targets"),
            "{url}: {error}"
        );
        send_json(
            &server,
            Method::PATCH,
            &path,
            &server.key,
            &json!({"url": url}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // A host a URL parser refuses is not a URL.
    for host in ["256.0.0.1", "1.2.3.4.5", "%31%32%37.0.0.1"] {
        let body = json!({"url": format!("https://{host}/x"), "events": ["pass"]});
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &body,
        )
        .await
        .assert_error(400, "invalid_request");
    }
    assert_eq!(
        len(&server.get("/api/v1/webhooks").await.assert_status(200)),
        1
    );
    assert_eq!(
        server.get(&path).await.assert_status(200)["url"],
        "https://hooks.example.com/a"
    );
    // Private ranges are allowed by default: on-prem receivers live there. Names are
    // vetted when they are resolved, at delivery.
    for url in [
        "https://10.1.2.3/x",
        "https://172.16.0.1/x",
        "https://192.168.1.10:8443/x",
        "https://[fd00::1]/x",
        "https://localhost/x",
    ] {
        create_webhook(
            &server,
            &server.key,
            json!({"url": url, "events": ["pass"]}),
        )
        .await;
    }
}

#[tokio::test]
async fn allow_targets_lets_a_denied_literal_address_through() {
    let server = TestServer::start_with(|cfg| {
        cfg.webhooks.allow_targets = vec!["127.0.0.0/8".parse().expect("a CIDR")];
    })
    .await;
    for host in ["127.0.0.1", "127.1", "[::ffff:127.0.0.1]"] {
        let url = format!("https://{host}/x");
        create_webhook(
            &server,
            &server.key,
            json!({"url": url, "events": ["pass"]}),
        )
        .await;
    }
    // `::1` is not inside the allowed range.
    send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"url": "https://[::1]/x", "events": ["pass"]}),
    )
    .await
    .assert_error(400, "invalid_request");
}

/// The previous secret of a rotation stays valid for the default grace period, a day.
fn assert_expires_in_a_day(rotated: &Value) {
    let expires = time::OffsetDateTime::parse(
        &text(&rotated["previous_secret_expires_at"]),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let in_a_day = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    assert!(
        (expires - in_a_day).abs() < time::Duration::minutes(5),
        "{expires}"
    );
}

#[tokio::test]
async fn rotate_secret_answers_the_new_secret_and_the_grace() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/webhooks/{id}/rotate-secret");

    // No body: the default grace of a day.
    let rotated = raw(&server, Method::POST, &path, &server.key, "")
        .await
        .assert_status(200);
    let keys: Vec<&String> = rotated.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["id", "secret", "previous_secret_expires_at"]);
    assert_eq!(rotated["id"], id.as_str());
    let secret = text(&rotated["secret"]);
    assert_prefixed_alnum32(&secret, "whsec_");
    assert_ne!(rotated["secret"], created["secret"]);
    assert_expires_in_a_day(&rotated);

    let rotated = send_json(
        &server,
        Method::POST,
        &path,
        &server.key,
        &json!({"grace_seconds": 604800}),
    )
    .await
    .assert_status(200);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let rotated = send_json(
        &server,
        Method::POST,
        &path,
        &server.key,
        &json!({"grace_seconds": 0}),
    )
    .await
    .assert_status(200);
    assert_eq!(rotated["previous_secret_expires_at"], Value::Null);
    assert_ne!(text(&rotated["secret"]), secret);
    // `null` is the default grace period, as leaving it out is (issue 26).
    let rotated = send_json(
        &server,
        Method::POST,
        &path,
        &server.key,
        &json!({"grace_seconds": null}),
    )
    .await
    .assert_status(200);
    assert_expires_in_a_day(&rotated);

    for body in [
        json!({"grace_seconds": 604801}),
        json!({"grace_seconds": -1}),
        json!({"grace_seconds": "60"}),
        json!({"grace_seconds": 1.5}),
    ] {
        let error = send_json(&server, Method::POST, &path, &server.key, &body)
            .await
            .assert_error(400, "invalid_request");
        assert!(error.contains("grace_seconds"), "{body}: {error}");
    }
    raw(&server, Method::POST, &path, &server.key, "[]")
        .await
        .assert_error(400, "invalid_request");
    // The secret shows nowhere else.
    let listed = server.get("/api/v1/webhooks").await;
    assert!(!String::from_utf8_lossy(&listed.body).contains("whsec_"));
}

#[tokio::test]
async fn recover_and_retry_validate_before_they_look() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let id = text(&created["id"]);
    let recover = format!("/api/v1/webhooks/{id}/recover");
    for body in [
        "",
        "{}",
        r#"{"since": "yesterday"}"#,
        r#"{"since": 5}"#,
        r#"{"since": "2026-03-01"}"#,
    ] {
        let error = raw(&server, Method::POST, &recover, &server.key, body)
            .await
            .assert_error(400, "invalid_request");
        assert!(
            body.is_empty() || error.contains("since"),
            "{body}: {error}"
        );
    }
    // Nothing abandoned yet: nothing to re-queue. Any offset is accepted.
    for since in [
        "2026-03-01T19:22:00Z",
        "2026-03-01T20:22:00+01:00",
        "1970-01-01T00:00:00.5Z",
    ] {
        let answer = send_json(
            &server,
            Method::POST,
            &recover,
            &server.key,
            &json!({"since": since}),
        )
        .await;
        assert_eq!(answer.status, 202, "{since}");
        assert_eq!(answer.json(), json!({"requeued": 0}));
    }
    // A bad body comes before an unknown webhook (400 before 404).
    raw(
        &server,
        Method::POST,
        &format!("/api/v1/webhooks/{}/recover", bogus_id(&id)),
        &server.key,
        "{}",
    )
    .await
    .assert_error(400, "invalid_request");
    // Retry of an unknown delivery.
    let retry = format!("/api/v1/webhooks/{id}/deliveries/dlv_00000000000000000000000000/retry");
    raw(&server, Method::POST, &retry, &server.key, "")
        .await
        .assert_error(404, "not_found");
    // The new routes take POST only.
    for path in [
        format!("/api/v1/webhooks/{id}/test"),
        recover.clone(),
        format!("/api/v1/webhooks/{id}/rotate-secret"),
        retry.clone(),
    ] {
        let answer = server.send(Method::GET, &path, Some(&server.key), "").await;
        answer.assert_error(405, "method_not_allowed");
    }
}

/// `grace_seconds` is a whole number however JSON writes it (`60` or `60.0`, as JSON
/// Schema's `integer` allows); a fraction, a negative number or a string is a 400.
#[tokio::test]
async fn rotate_secret_takes_a_whole_number_of_seconds_written_either_way() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}/rotate-secret", text(&created["id"]));
    for body in [r#"{"grace_seconds": 60}"#, r#"{"grace_seconds": 60.0}"#] {
        raw(&server, Method::POST, &path, &server.key, body)
            .await
            .assert_status(200);
    }
    for body in [
        r#"{"grace_seconds": 60.5}"#,
        r#"{"grace_seconds": -1}"#,
        r#"{"grace_seconds": "60"}"#,
        r#"{"grace_seconds": 604801}"#,
    ] {
        let message = raw(&server, Method::POST, &path, &server.key, body)
            .await
            .assert_error(400, "invalid_request");
        assert!(message.contains("grace_seconds"), "{body}: {message}");
    }
}

/// SPEC 6.4: `filter` and `routing_key` are validated on create and on PATCH alike — a
/// `400` naming the field, and nothing stored or changed.
#[tokio::test]
async fn webhook_filter_and_routing_key_are_validated_on_create_and_patch() {
    let server = TestServer::start().await;
    let hook = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}", text(&hook["id"]));
    let too_many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let key = "R0FIXTUREFIXTUREFIXTUREFIXTURE01";
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"filter": {"min_severity": 101}}),
            "filter.min_severity",
        ),
        (
            json!({"filter": {"min_severity": -1}}),
            "filter.min_severity",
        ),
        (
            json!({"filter": {"min_severity": 50.5}}),
            "filter.min_severity",
        ),
        (
            json!({"filter": {"min_severity": "50"}}),
            "filter.min_severity",
        ),
        (
            json!({"filter": {"contract_names": "orders_*"}}),
            "filter.contract_names",
        ),
        (
            json!({"filter": {"contract_names": [""]}}),
            "filter.contract_names",
        ),
        (
            json!({"filter": {"contract_names": ["x".repeat(257)]}}),
            "filter.contract_names",
        ),
        (
            json!({"filter": {"contract_names": too_many}}),
            "filter.contract_names",
        ),
        (
            json!({"filter": {"contract_names": [3]}}),
            "filter.contract_names",
        ),
        (json!({"filter": "severe"}), "filter"),
        (json!({"format": "pagerduty"}), "routing_key"),
        (
            json!({"format": "pagerduty", "routing_key": "short"}),
            "routing_key",
        ),
        (
            json!({"format": "pagerduty", "routing_key": format!("{}!", &key[..31])}),
            "routing_key",
        ),
        (
            json!({"format": "pagerduty", "routing_key": null}),
            "routing_key",
        ),
        (json!({"routing_key": key}), "routing_key"),
    ];
    for (fields, field) in bad {
        let mut create = json!({"url": "https://hooks.example.com/b", "events": ["pass"]});
        for (name, value) in fields.as_object().expect("object") {
            create[name] = value.clone();
        }
        let answer = send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &create,
        )
        .await;
        let error = answer.assert_error(400, "invalid_request");
        assert!(error.starts_with(field), "create {fields}: {error}");
        let answer = send_json(&server, Method::PATCH, &path, &server.key, &fields).await;
        let error = answer.assert_error(400, "invalid_request");
        assert!(error.starts_with(field), "patch {fields}: {error}");
    }
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&list), 1, "nothing created");
    assert_eq!(list[0]["filter"], Value::Null, "nothing changed");
    assert_eq!(list[0]["format"], "json");

    // Within the bounds: shown as given (an omitted part is null); the key never is.
    let patched = send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"filter": {"contract_names": ["orders_*", "*"]}, "format": "pagerduty", "routing_key": key}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        patched["filter"],
        json!({"min_severity": null, "contract_names": ["orders_*", "*"]})
    );
    assert_eq!(patched["format"], "pagerduty");
    let listed = server.get("/api/v1/webhooks").await;
    assert!(!String::from_utf8_lossy(&listed.body).contains(key));
    assert!(!patched.to_string().contains(key));
    // A key may be replaced; a PATCH of other fields keeps it.
    let other_key = "R1FIXTUREFIXTUREFIXTUREFIXTURE02";
    send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"routing_key": other_key}),
    )
    .await
    .assert_status(200);
    send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"filter": {"min_severity": 0}}),
    )
    .await
    .assert_status(200);
}
