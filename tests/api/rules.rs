//! SPEC §5.2 through the API: rules and `severity_override` on contracts (create and
//! update), and the diff that explains itself (`kind`, `renames`, `ignored`) whatever the
//! rules.

use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

async fn contract_with(server: &TestServer, columns: Value, rules: Value) -> String {
    let body = json!({"name": "c", "schema": {"columns": columns, "rules": rules}});
    let created = send_json(
        server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await
    .assert_status(201);
    text(&created["id"])
}

#[tokio::test]
async fn rules_and_overrides_are_kept_and_shown_only_when_set() {
    let server = roomy_server().await;
    let columns = json!([
        {"name": "a", "type": "string", "required": true, "severity_override": "ignore"},
        {"name": "b", "type": "string", "required": true, "severity_override": null},
    ]);
    let body = json!({"name": "c", "schema": {"columns": columns, "rules": {"allow_type_widening": true}}});
    let created = send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await
    .assert_status(201);
    assert_eq!(
        created["schema"],
        json!({
            "columns": [
                {"name": "a", "type": "string", "required": true, "severity_override": "ignore"},
                {"name": "b", "type": "string", "required": true},
            ],
            "rules": {"allow_additional_columns": false, "treat_renames_as_breaking": true,
                      "allow_type_widening": true}
        })
    );
    let fetched = server
        .get(&format!("/api/v1/contracts/{}", text(&created["id"])))
        .await
        .assert_status(200);
    assert_eq!(fetched, created);
    // Default rules on create: the v1 body exactly.
    let plain = json!({"name": "d", "schema": {"columns": [], "rules": {}}});
    let plain = send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &plain,
    )
    .await
    .assert_status(201);
    assert_eq!(plain["schema"], json!({"columns": []}));
    for bad in [
        json!({"name": "e", "schema": {"columns": [], "rules": []}}),
        json!({"name": "e", "schema": {"columns": [], "rules": {"allow_type_widening": 1}}}),
        json!({"name": "e", "schema": {"columns": [{"name": "a", "type": "string", "required": true, "severity_override": "Ignore"}]}}),
    ] {
        let message = send_json(
            &server,
            Method::POST,
            "/api/v1/contracts",
            &server.key,
            &bad,
        )
        .await
        .assert_error(400, "invalid_request");
        assert!(message.starts_with("schema."), "{message}");
    }
}

#[tokio::test]
async fn the_diff_explains_itself_without_rules() {
    let server = roomy_server().await;
    let id = contract_with(
        &server,
        json!([
            col("user_id", "integer", true),
            col("day", "date", true),
            col("n", "number", true)
        ]),
        json!({}),
    )
    .await;
    let got = check_ok(
        &server,
        &server.key,
        &id,
        json!([
            inc("userId", "integer"),
            inc("day", "timestamp"),
            inc("n", "integer")
        ]),
    )
    .await;
    // v1 score: removed 40 + two type changes 60 + added 5 = 105 → 100.
    assert_eq!(got["severity"], 100);
    assert_eq!(
        got["diff"],
        json!({
            "removed": ["user_id"],
            "type_changes": [
                {"column": "day", "from": "date", "to": "timestamp", "kind": "widening"},
                {"column": "n", "from": "number", "to": "integer", "kind": "narrowing"},
            ],
            "added": ["userId"],
            "renames": [{"from": "user_id", "to": "userId", "type": "integer"}],
            "ignored": []
        })
    );
}

#[tokio::test]
async fn each_rule_changes_only_its_points() {
    let server = roomy_server().await;
    let columns = json!([col("user_id", "integer", true), col("n", "integer", true)]);
    let incoming = json!([
        inc("USER-ID", "integer"),
        inc("n", "number"),
        inc("extra", "json")
    ]);
    // Defaults: 40 + 30 + 5 + 5 = 80.
    let cases = [
        (json!({}), 80, json!([])),
        // Renames still breaking: the new name is just another added column.
        (
            json!({"allow_additional_columns": true}),
            70,
            json!(["USER-ID", "extra"]),
        ),
        (json!({"treat_renames_as_breaking": false}), 45, json!([])),
        (json!({"allow_type_widening": true}), 55, json!([])),
        (
            json!({"allow_additional_columns": true, "treat_renames_as_breaking": false,
                   "allow_type_widening": true}),
            15,
            json!(["extra"]),
        ),
    ];
    for (rules, severity, ignored) in cases {
        let server = &server;
        let body = json!({"schema": {"rules": rules}});
        let id = contract_with(server, columns.clone(), json!({})).await;
        send_json(
            server,
            Method::PUT,
            &format!("/api/v1/contracts/{id}"),
            &server.key,
            &body,
        )
        .await
        .assert_status(200);
        let got = check_ok(server, &server.key, &id, incoming.clone()).await;
        assert_eq!(got["severity"], severity, "{rules}");
        assert_eq!(got["diff"]["ignored"], ignored, "{rules}");
        assert_eq!(
            got["result"],
            if severity < 20 { "pass" } else { "warning" }
        );
        assert_eq!(
            got["diff"]["removed"],
            json!(["user_id"]),
            "the v1 lists stay"
        );
        assert_eq!(got["diff"]["added"], json!(["USER-ID", "extra"]));
        let version = if rules == json!({}) { 1 } else { 2 };
        assert_eq!(got["contract_version"], version, "{{}} changes nothing");
        send_json(
            server,
            Method::DELETE,
            &format!("/api/v1/contracts/{id}"),
            &server.key,
            &json!({}),
        )
        .await
        .assert_status(200);
    }
}

#[tokio::test]
async fn overrides_replace_a_columns_points_and_count_a_rename_once() {
    let server = roomy_server().await;
    let columns = json!([
        {"name": "gone", "type": "string", "required": true, "severity_override": "ignore"},
        {"name": "typed", "type": "string", "required": false, "severity_override": "breaking"},
        {"name": "user_id", "type": "integer", "required": true, "severity_override": "warning"},
    ]);
    let id = contract_with(&server, columns, json!({})).await;
    let got = check_ok(
        &server,
        &server.key,
        &id,
        json!([inc("typed", "json"), inc("userId", "integer")]),
    )
    .await;
    // gone: 0 (ignored); typed: exactly 90; user_id → userId: exactly 20, the new name 0.
    assert_eq!(got["severity"], 100);
    assert_eq!(got["result"], "breaking");
    assert_eq!(got["diff"]["ignored"], json!(["gone"]));
    assert_eq!(
        got["diff"]["renames"],
        json!([{"from": "user_id", "to": "userId", "type": "integer"}])
    );
    let got = check_ok(
        &server,
        &server.key,
        &id,
        json!([inc("typed", "string"), inc("userId", "integer")]),
    )
    .await;
    assert_eq!(
        (got["severity"].clone(), got["result"].clone()),
        (json!(20), json!("warning"))
    );
}
