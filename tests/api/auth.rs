use driftguard::credentials::{generate_key, Environment};
use hyper::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn health_needs_no_key() {
    let server = TestServer::start().await;
    let answer = server.send(Method::GET, "/api/v1/health", None, "").await;
    let body = answer.assert_status(200);
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "storage": "ok"})
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
}

#[tokio::test]
async fn every_endpoint_requires_a_valid_key() {
    let server = TestServer::start().await;
    let unknown_key = format!("dg_live_{}", "A".repeat(32));
    let bearer = format!("Bearer {}", server.key);
    // Well-formed ids that name nothing, and ids that are not even well-formed: the key
    // is checked before the id is looked at.
    let (ctr, chk, key, wh) = (
        dummy_id("ctr_"),
        dummy_id("chk_"),
        dummy_id("key_"),
        dummy_id("wh_"),
    );
    let endpoints: Vec<(Method, String)> = vec![
        (Method::GET, "/api/v1/contracts".into()),
        (Method::POST, "/api/v1/contracts".into()),
        (Method::POST, "/api/v1/contracts/infer".into()),
        (Method::GET, format!("/api/v1/contracts/{ctr}")),
        (Method::GET, "/api/v1/contracts/ctr_x".into()),
        (Method::POST, "/api/v1/check".into()),
        (Method::GET, "/api/v1/checks".into()),
        (Method::GET, format!("/api/v1/checks/{chk}")),
        (Method::GET, "/api/v1/checks/chk_x".into()),
        (Method::GET, "/api/v1/usage".into()),
        (Method::GET, "/api/v1/keys".into()),
        (Method::POST, "/api/v1/keys".into()),
        (Method::POST, format!("/api/v1/keys/{key}/revoke")),
        (Method::POST, format!("/api/v1/keys/{key}/activate")),
        (Method::DELETE, format!("/api/v1/keys/{key}")),
        (Method::POST, "/api/v1/keys/key_x/revoke".into()),
        (Method::POST, "/api/v1/keys/key_x/activate".into()),
        (Method::DELETE, "/api/v1/keys/key_x".into()),
        (Method::GET, "/api/v1/webhooks".into()),
        (Method::POST, "/api/v1/webhooks".into()),
        (Method::GET, format!("/api/v1/webhooks/{wh}")),
        (Method::PATCH, format!("/api/v1/webhooks/{wh}")),
        (Method::DELETE, format!("/api/v1/webhooks/{wh}")),
        (Method::GET, format!("/api/v1/webhooks/{wh}/deliveries")),
        (Method::GET, "/api/v1/webhooks/wh_x".into()),
        (Method::PATCH, "/api/v1/webhooks/wh_x".into()),
        (Method::DELETE, "/api/v1/webhooks/wh_x".into()),
        (Method::GET, "/api/v1/webhooks/wh_x/deliveries".into()),
    ];
    for (method, path) in &endpoints {
        // No key at all: the message tells which header is missing.
        for body in ["{}", r#"{"environment":"test"}"#] {
            let message = server
                .send(method.clone(), path, None, body)
                .await
                .assert_error(401, "unauthorized");
            assert!(
                message.contains("X-API-Key"),
                "{method} {path}: the message tells which header is missing: {message}"
            );
        }
        // Malformed keys (rejected by shape), and a well-formed key nobody has.
        for key in [
            "",
            "nope",
            "dg_live_short",
            "dg_prod_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "dg_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
            unknown_key.as_str(),
        ] {
            server
                .send(method.clone(), path, Some(key), "{}")
                .await
                .assert_error(401, "unauthorized");
        }
        // A valid key in `Authorization: Bearer` is not accepted.
        server
            .send_with(
                method.clone(),
                path,
                None,
                &[("authorization", bearer.as_str())],
                "{}",
            )
            .await
            .assert_error(401, "unauthorized");
    }

    // Unknown route 404 comes before the key; wrong method 405 too, with `Allow`.
    server
        .send(Method::GET, "/api/v1/nope", None, "")
        .await
        .assert_error(404, "not_found");
    let answer = server
        .send(Method::PUT, "/api/v1/contracts", None, "")
        .await;
    answer.assert_error(405, "method_not_allowed");
    let allow = answer.header("allow").expect("Allow header").to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    server
        .send(Method::DELETE, "/api/v1/check", Some(&server.key), "")
        .await
        .assert_error(405, "method_not_allowed");

    // And the real key works.
    server.get("/api/v1/usage").await.assert_status(200);
}

#[tokio::test]
async fn malformed_and_unknown_keys_are_401() {
    let server = TestServer::start().await;
    let valid_rest = server.key.strip_prefix("dg_live_").expect("live key");
    let malformed = vec![
        String::new(),
        format!("dg_live_{}", "a".repeat(23)),
        format!("dg_prod_{valid_rest}"),
        format!("DG_LIVE_{valid_rest}"),
        format!("dg_live{valid_rest}"),
        format!("dg_live_{}!", &valid_rest[..31]),
        format!("dg_live_{}.", &valid_rest[..31]),
        format!("dg_live_{}é", &valid_rest[..31]),
        format!("dg_live_{}", "a".repeat(121)),
        format!("dg_test_{}", "A".repeat(121)),
        format!("Bearer {}", server.key),
    ];
    for key in &malformed {
        let answer = server
            .send(Method::GET, "/api/v1/usage", Some(key), "")
            .await;
        answer.assert_error(401, "unauthorized");
    }
    // Well-formed (including both length bounds) but unknown keys.
    let unknown = vec![
        generate_key(Environment::Live),
        generate_key(Environment::Test),
        format!("dg_live_{}", "a".repeat(24)),
        format!("dg_test_{}", "Z-_9".repeat(30)),
        format!("{}x", server.key),
        format!("dg_test_{valid_rest}"),
        server.key.to_uppercase().replace("DG_LIVE_", "dg_live_"),
    ];
    for key in &unknown {
        let answer = server
            .send(Method::GET, "/api/v1/usage", Some(key), "")
            .await;
        answer.assert_error(401, "unauthorized");
    }
    // `Authorization: Bearer <valid key>` is not accepted.
    let bearer = format!("Bearer {}", server.key);
    let answer = server
        .send_with(
            Method::GET,
            "/api/v1/usage",
            None,
            &[("authorization", &bearer)],
            "",
        )
        .await;
    answer.assert_error(401, "unauthorized");
    // The genuine key works throughout.
    server.get("/api/v1/usage").await.assert_status(200);
}

#[tokio::test]
async fn order_of_checks_404_405_401_413_400_404_403() {
    let server =
        TestServer::start_with(|cfg| cfg.server.max_body_bytes = 1024.try_into().unwrap()).await;
    let key = server.key.clone();
    let bad_key = "dg_live_short";
    let big = "x".repeat(2000);

    // Unknown route: 404, whatever the key or method.
    for (method, path, key) in [
        (Method::GET, "/api/v1/nope", None),
        (Method::POST, "/api/v1/nope", Some(bad_key)),
        (Method::GET, "/api/v2/health", None),
        (Method::GET, "/api", None),
        (Method::GET, "/uix", None),
        (Method::DELETE, "/api/v1/contracts/a/b", Some(bad_key)),
        (Method::GET, "/api/v1/nope", Some(key.as_str())),
    ] {
        server
            .send(method, path, key, big.clone())
            .await
            .assert_error(404, "not_found");
    }

    // Wrong method: 405 with Allow, whatever the key.
    for (method, path, key, allow) in [
        (Method::DELETE, "/api/v1/contracts", None, "GET, POST"),
        (Method::PUT, "/api/v1/health", None, "GET"),
        (Method::POST, "/api/v1/usage", Some(bad_key), "GET"),
        (Method::GET, "/api/v1/check", None, "POST"),
        (
            Method::GET,
            "/api/v1/keys/key_x/revoke",
            Some(key.as_str()),
            "POST",
        ),
    ] {
        let answer = server.send(method, path, key, big.clone()).await;
        answer.assert_error(405, "method_not_allowed");
        assert_eq!(answer.header("allow"), Some(allow), "{path}");
    }

    // A bad key is 401 before the body is looked at (too large or not JSON).
    for body in [big.clone(), "not json".to_owned()] {
        server
            .send(Method::POST, "/api/v1/contracts", Some(bad_key), body)
            .await
            .assert_error(401, "unauthorized");
        server
            .send(Method::POST, "/api/v1/contracts", None, "{")
            .await
            .assert_error(401, "unauthorized");
    }

    // 413 before 400: a large body that is not JSON either.
    server
        .send(Method::POST, "/api/v1/contracts", Some(&key), big.clone())
        .await
        .assert_error(413, "payload_too_large");

    // 400 before 404: a bad body naming an unknown contract or webhook.
    let unknown_contract = dummy_id("ctr_");
    server
        .post(
            "/api/v1/check",
            &json!({"contract_id": unknown_contract, "incoming_schema": {"columns": [{"name": "a"}]}}),
        )
        .await
        .assert_error(400, "invalid_request");
    server
        .send(
            Method::PATCH,
            &format!("/api/v1/webhooks/{}", dummy_id("wh_")),
            Some(&key),
            r#"{"active":"yes"}"#,
        )
        .await
        .assert_error(400, "invalid_request");
    server
        .send(
            Method::PATCH,
            &format!("/api/v1/webhooks/{}", dummy_id("wh_")),
            Some(&key),
            r#"{"active":true}"#,
        )
        .await
        .assert_error(404, "not_found");

    // 404 before 403, and 400 before 403, for an account without credits.
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let (server, broke) = server.add_account("broke", 0).await;
    let own = server
        .create_contract(&broke, "mine", users_columns())
        .await;
    let foreign_id = contract["id"].as_str().expect("id");
    server
        .check(&broke, foreign_id, json!([]))
        .await
        .assert_error(404, "not_found");
    server
        .check(&broke, &unknown_contract, json!([]))
        .await
        .assert_error(404, "not_found");
    server
        .send(
            Method::POST,
            "/api/v1/check",
            Some(&broke),
            json!({"contract_id": own["id"], "incoming_schema": {"columns": 7}}).to_string(),
        )
        .await
        .assert_error(400, "invalid_request");
    server
        .check(&broke, own["id"].as_str().expect("id"), json!([]))
        .await
        .assert_error(403, "no_credits");
}

#[tokio::test]
async fn rate_limit_comes_before_body_checks() {
    let server = TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 1.try_into().unwrap();
        cfg.server.max_body_bytes = 1024.try_into().unwrap();
    })
    .await;
    server.get("/api/v1/usage").await.assert_status(200);
    let big = "x".repeat(2000);
    for body in [big.clone(), "not json".to_owned(), contract_body("fine")] {
        let answer = server
            .send(Method::POST, "/api/v1/contracts", Some(&server.key), body)
            .await;
        answer.assert_error(429, "rate_limited");
    }
    // 404, 405 and 401 still come first.
    server
        .send(Method::GET, "/api/v1/nope", Some(&server.key), big.clone())
        .await
        .assert_error(404, "not_found");
    server
        .send(Method::PUT, "/api/v1/contracts", Some(&server.key), big)
        .await
        .assert_error(405, "method_not_allowed");
    server
        .send(Method::GET, "/api/v1/usage", Some("dg_live_x"), "")
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn rate_limit_is_per_key_and_only_counts_authenticated_requests() {
    let server =
        TestServer::start_with(|cfg| cfg.limits.requests_per_minute = 3.try_into().unwrap()).await;
    // A second key of the same account (this costs the first key a token, so restart to
    // start from full buckets: limiter state is in memory).
    let second = server.new_key(&server.key.clone(), "live").await;
    let server = server.restart().await;
    let key = server.key.clone();

    // None of these may consume the key's tokens.
    for _ in 0..4 {
        server
            .send(Method::GET, "/api/v1/nope", Some(&key), "")
            .await
            .assert_error(404, "not_found");
        server
            .send(Method::DELETE, "/api/v1/usage", Some(&key), "")
            .await
            .assert_error(405, "method_not_allowed");
        server
            .send(Method::GET, "/api/v1/health", Some(&key), "")
            .await
            .assert_status(200);
        server
            .send(Method::GET, "/api/v1/usage", None, "")
            .await
            .assert_error(401, "unauthorized");
        server
            .send(Method::GET, "/api/v1/usage", Some("dg_live_nope"), "")
            .await
            .assert_error(401, "unauthorized");
        server
            .send(
                Method::GET,
                "/api/v1/usage",
                Some(&generate_key(Environment::Live)),
                "",
            )
            .await
            .assert_error(401, "unauthorized");
    }

    // Every authenticated request counts, whatever the endpoint.
    server.get("/api/v1/usage").await.assert_status(200);
    server.get("/api/v1/contracts").await.assert_status(200);
    server.get("/api/v1/usage").await.assert_status(200);
    for _ in 0..2 {
        let limited = server.get("/api/v1/usage").await;
        limited.assert_error(429, "rate_limited");
        let retry_after: u64 = limited
            .header("retry-after")
            .expect("Retry-After header")
            .parse()
            .expect("Retry-After in whole seconds");
        // 3 per minute refills one token every 20 s.
        assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    }
    // 404, 405 and health are still answered for the limited key.
    server
        .send(Method::GET, "/api/v1/nope", Some(&key), "")
        .await
        .assert_error(404, "not_found");
    server
        .send(Method::GET, "/api/v1/health", Some(&key), "")
        .await
        .assert_status(200);

    // The other key of the same account has its own bucket (a key creation counts too).
    server.new_key(&second, "test").await;
    for _ in 0..2 {
        server
            .send(Method::GET, "/api/v1/usage", Some(&second), "")
            .await
            .assert_status(200);
    }
    server
        .send(Method::GET, "/api/v1/usage", Some(&second), "")
        .await
        .assert_error(429, "rate_limited");
    // Health never counts, with or without a key.
    server
        .send(Method::GET, "/api/v1/health", None, "")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn empty_path_segments_are_unknown_routes() {
    let server = TestServer::start().await;
    for (method, path) in [
        (Method::GET, "/api/v1/health/"),
        (Method::GET, "/api/v1/contracts/"),
        (Method::GET, "/api/v1/checks/"),
        (Method::GET, "/api/v1/webhooks/"),
        (Method::DELETE, "/api/v1/keys/"),
        (Method::POST, "/api/v1/keys//revoke"),
    ] {
        server
            .send(method, path, None, "")
            .await
            .assert_error(404, "not_found");
    }
}
