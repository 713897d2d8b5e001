//! What the API tests share beyond `tests/common`: shape assertions for the spec's
//! documents, and small request helpers.

use hyper::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::common::*;

/// A server whose per-key request limit is out of the way (for tests that send many
/// requests with one key; the limit itself is tested in `auth::rate_limit_is_per_key_and_only_counts_authenticated_requests`).
pub async fn roomy_server() -> TestServer {
    TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 100_000.try_into().unwrap();
        cfg.limits.key_creations_per_hour = 1_000.try_into().unwrap();
    })
    .await
}

/// Sends a raw (possibly invalid) body with `key`.
pub async fn raw(server: &TestServer, method: Method, path: &str, key: &str, body: &str) -> Answer {
    server.send(method, path, Some(key), body.to_owned()).await
}

/// Sends `body` as JSON with `key`.
pub async fn send_json(
    server: &TestServer,
    method: Method,
    path: &str,
    key: &str,
    body: &Value,
) -> Answer {
    server.send(method, path, Some(key), body.to_string()).await
}

/// `GET` with `key`.
pub async fn get_as(server: &TestServer, path: &str, key: &str) -> Answer {
    server.send(Method::GET, path, Some(key), "").await
}

/// An RFC 3339 UTC timestamp with a `Z` suffix, close to now.
#[track_caller]
pub fn assert_timestamp(value: &Value) {
    let s = text(value);
    assert!(s.ends_with('Z'), "timestamp must end with Z: {s}");
    let t = OffsetDateTime::parse(&s, &Rfc3339)
        .unwrap_or_else(|e| panic!("not an RFC 3339 timestamp ({e}): {s}"));
    assert_eq!(t.offset(), time::UtcOffset::UTC, "{s}");
    let drift = (OffsetDateTime::now_utc() - t).abs();
    assert!(
        drift < time::Duration::minutes(10),
        "timestamp {s} is not close to now"
    );
}

/// An id with the type prefix and an opaque, URL-safe remainder.
#[track_caller]
pub fn assert_id(value: &Value, prefix: &str) -> String {
    let id = text(value);
    let rest = id
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("id {id} must start with {prefix}"));
    // At least 96 random bits need at least 16 characters of a 64-letter alphabet.
    assert!(rest.len() >= 16, "id {id} is too short to be unguessable");
    assert!(
        rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        "id {id} has unexpected characters"
    );
    id
}

/// `prefix` followed by exactly 32 ASCII alphanumerics.
#[track_caller]
pub fn assert_prefixed_alnum32(value: &str, prefix: &str) {
    let rest = value
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{value} must start with {prefix}"));
    assert_eq!(rest.len(), 32, "{value}");
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{value}");
}

/// The usage counters, as `(credits_remaining, credits_used, total_checks)`.
pub async fn usage(server: &TestServer, key: &str) -> (u64, u64, u64) {
    let body = get_as(server, "/api/v1/usage", key)
        .await
        .assert_status(200);
    let object = body.as_object().expect("usage object");
    assert_eq!(object.len(), 3, "usage has exactly three fields: {body}");
    let n = |name: &str| {
        body[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} must be an integer: {body}"))
    };
    (n("credits_remaining"), n("credits_used"), n("total_checks"))
}

pub fn col(name: &str, column_type: &str, required: bool) -> Value {
    json!({"name": name, "type": column_type, "required": required})
}

pub fn inc(name: &str, column_type: &str) -> Value {
    json!({"name": name, "type": column_type})
}

/// A v1 diff as SPEC §3 writes it, with what §5.2 adds whatever the rules: the `kind` of
/// each type change, and (unless given) no renames and no ignored columns.
pub fn v2_diff(mut diff: Value) -> Value {
    for change in diff["type_changes"].as_array_mut().expect("type_changes") {
        if change.get("kind").is_none() {
            let kind = match (change["from"].as_str(), change["to"].as_str()) {
                (Some("integer"), Some("number")) | (Some("date"), Some("timestamp")) => "widening",
                (Some("number"), Some("integer")) | (Some("timestamp"), Some("date")) => {
                    "narrowing"
                }
                _ => "incompatible",
            };
            change["kind"] = json!(kind);
        }
    }
    for list in ["renames", "ignored"] {
        if diff.get(list).is_none() {
            diff[list] = json!([]);
        }
    }
    diff
}

/// The exact check document the spec describes (against version 1 of the contract, the
/// diff completed by [`v2_diff`]), with the server-made fields taken from `got` (after
/// checking their shape).
#[track_caller]
pub fn expected_check(
    got: &Value,
    contract_id: &str,
    result: &str,
    severity: u64,
    diff: Value,
    credits_used: u64,
) -> Value {
    assert_id(&got["id"], "chk_");
    assert_timestamp(&got["created_at"]);
    json!({
        "id": got["id"],
        "contract_id": contract_id,
        "contract_version": 1,
        "result": result,
        "severity": severity,
        "diff": v2_diff(diff),
        "credits_used": credits_used,
        "created_at": got["created_at"],
    })
}

/// Runs a check with `key` and returns the 200 body.
pub async fn check_ok(server: &TestServer, key: &str, contract_id: &str, columns: Value) -> Value {
    server
        .check(key, contract_id, columns)
        .await
        .assert_status(200)
}

/// Registers a webhook and returns the 201 body.
pub async fn create_webhook(server: &TestServer, key: &str, body: Value) -> Value {
    send_json(server, Method::POST, "/api/v1/webhooks", key, &body)
        .await
        .assert_status(201)
}

/// Account A (the `default` account, `server.key`) with one record of each kind, and a
/// second account B with nothing: for the tests of what one account can do to another's.
pub struct TwoAccounts {
    pub server: TestServer,
    pub key_a: String,
    pub key_b: String,
    /// A's `users` contract.
    pub contract: Value,
    /// A's live check against it (the POST answer, for byte comparisons).
    pub check: Answer,
    /// A's active test key (the 201 body, with the full key).
    pub spare: Value,
    /// A's revoked live key (the 201 body): with it, DELETE would otherwise be allowed.
    pub revoked: Value,
    /// A's webhook, scoped to the contract.
    pub webhook: Value,
}

pub async fn two_accounts() -> TwoAccounts {
    let server = roomy_server().await;
    let key_a = server.key.clone();
    let contract = server
        .create_contract(&key_a, "users", users_columns())
        .await;
    let cid = text(&contract["id"]);
    let check = server.check(&key_a, &cid, users_columns()).await;
    check.assert_status(200);
    let new_key = |environment: &'static str| {
        let (server, key_a) = (&server, &key_a);
        async move {
            send_json(
                server,
                Method::POST,
                "/api/v1/keys",
                key_a,
                &json!({"environment": environment}),
            )
            .await
            .assert_status(201)
        }
    };
    let spare = new_key("test").await;
    let revoked = new_key("live").await;
    server
        .post(
            &format!("/api/v1/keys/{}/revoke", text(&revoked["id"])),
            &json!({}),
        )
        .await
        .assert_status(200);
    let webhook = create_webhook(
        &server,
        &key_a,
        json!({"url": "https://hooks.example.com/a", "events": ["breaking"], "contract_id": cid}),
    )
    .await;
    let (server, key_b) = server.add_account("team-b", 10).await;
    TwoAccounts {
        server,
        key_a,
        key_b,
        contract,
        check,
        spare,
        revoked,
        webhook,
    }
}

impl TwoAccounts {
    /// Asserts that nothing of A's changed: every record is there, as it was.
    pub async fn assert_a_unchanged(&self) {
        let server = &self.server;
        let cid = text(&self.contract["id"]);
        assert_eq!(
            server
                .get(&format!("/api/v1/contracts/{cid}"))
                .await
                .assert_status(200),
            self.contract
        );
        let chk = text(&self.check.json()["id"]);
        let fetched = server.get(&format!("/api/v1/checks/{chk}")).await;
        fetched.assert_status(200);
        assert_eq!(fetched.body, self.check.body, "A's check");
        assert_eq!(
            ids(&server.get("/api/v1/checks").await.assert_status(200)),
            [chk],
            "no check was stored for A"
        );
        get_as(server, "/api/v1/usage", &text(&self.spare["key"]))
            .await
            .assert_status(200);
        let a_keys = server.get("/api/v1/keys").await.assert_status(200);
        assert_eq!(len(&a_keys), 3);
        let revoked_listed = a_keys
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == self.revoked["id"])
            .expect("A's revoked key still exists")
            .clone();
        assert_eq!(revoked_listed["is_active"], false);
        let wid = text(&self.webhook["id"]);
        let wh = server
            .get(&format!("/api/v1/webhooks/{wid}"))
            .await
            .assert_status(200);
        assert_eq!(wh["active"], true);
        assert_eq!(usage(server, &self.key_a).await, (999_999, 1, 1));
        let a_contracts = server.get("/api/v1/contracts").await.assert_status(200);
        assert_eq!(ids(&a_contracts), [cid]);
    }
}
