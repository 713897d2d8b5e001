//! SPEC 6.2: compatibility modes, as a schema registry enforces them — the mode on
//! contracts and versions, `409 incompatible` with its violations (also under
//! `?dry_run=true`), `POST /contracts/{id}/compatibility`, transitive modes, and two
//! updates racing on one contract.

use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

/// Creates a contract with `columns` under `mode`; returns its id.
async fn contract(server: &TestServer, name: &str, columns: Value, mode: &str) -> String {
    let body = json!({"name": name, "schema": {"columns": columns}, "compatibility": mode});
    let created = send_json(
        server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await
    .assert_status(201);
    assert_eq!(created["compatibility"], mode);
    text(&created["id"])
}

/// `PUT /contracts/{id}` with `body` (`?dry_run=true` if `dry_run`).
async fn put(server: &TestServer, id: &str, body: Value, dry_run: bool) -> Answer {
    let query = if dry_run { "?dry_run=true" } else { "" };
    let path = format!("/api/v1/contracts/{id}{query}");
    send_json(server, Method::PUT, &path, &server.key, &body).await
}

/// The `(version, column, rule)` of each violation of a `409 incompatible`.
fn violations(answer: &Answer) -> Vec<(u64, String, String)> {
    assert_eq!(
        answer.status.as_u16(),
        409,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let body: Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(body["error"]["code"], "incompatible");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    body["error"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| {
            assert!(v["message"]
                .as_str()
                .is_some_and(|m| m.contains(v["column"].as_str().unwrap_or("?"))));
            (
                v["version"].as_u64().expect("version"),
                text(&v["column"]),
                text(&v["rule"]),
            )
        })
        .collect()
}

/// `(name, type, required)`.
type ColumnSpec<'a> = (&'a str, &'a str, bool);

/// A worked case: the mode, the new columns, the violations expected against version 1
/// as `(column, rule)`.
type Case<'a> = (&'a str, Vec<ColumnSpec<'a>>, Vec<(&'a str, &'a str)>);

fn columns(list: &[ColumnSpec<'_>]) -> Value {
    json!(list
        .iter()
        .map(|(n, t, r)| col(n, t, *r))
        .collect::<Vec<_>>())
}

#[tokio::test]
async fn each_mode_refuses_what_breaks_it_and_lets_the_rest_through() {
    let server = TestServer::start().await;
    let v1 = [
        ("id", "integer", true),
        ("amount", "integer", true),
        ("note", "string", false),
    ];
    // (mode, new columns, the violations expected against version 1: (column, rule)).
    let cases: Vec<Case<'_>> = vec![
        // backward
        (
            "backward",
            vec![v1[0], v1[1], v1[2], ("region", "string", true)],
            vec![("region", "required_column_added")],
        ),
        (
            "backward",
            vec![v1[0], v1[1], v1[2], ("region", "string", false)],
            vec![],
        ),
        (
            "backward",
            vec![v1[0], ("amount", "number", true), v1[2]],
            vec![],
        ),
        ("backward", vec![v1[0], v1[1]], vec![]),
        (
            "backward",
            vec![v1[0], v1[1], ("note", "string", true)],
            vec![("note", "made_required")],
        ),
        (
            "backward",
            vec![v1[0], v1[1], ("note", "boolean", false)],
            vec![("note", "type_changed")],
        ),
        // forward
        (
            "forward",
            vec![v1[1], v1[2]],
            vec![("id", "column_removed")],
        ),
        ("forward", vec![v1[0], v1[1]], vec![]),
        (
            "forward",
            vec![v1[0], v1[1], v1[2], ("region", "string", true)],
            vec![],
        ),
        (
            "forward",
            vec![v1[0], ("amount", "number", true), v1[2]],
            vec![("amount", "type_widened")],
        ),
        (
            "forward",
            vec![("id", "integer", false), v1[1], v1[2]],
            vec![("id", "made_optional")],
        ),
        // full: both, and any type change is refused
        (
            "full",
            vec![v1[0], ("amount", "number", true), v1[2]],
            vec![("amount", "type_widened")],
        ),
        (
            "full",
            vec![v1[0], v1[1], v1[2], ("region", "string", false)],
            vec![],
        ),
        // a rename is the removal and the addition that it is
        (
            "full",
            vec![("user_id", "integer", true), v1[1], v1[2]],
            vec![
                ("id", "column_removed"),
                ("user_id", "required_column_added"),
            ],
        ),
        ("none", vec![("x", "json", true)], vec![]),
    ];
    for (i, (mode, new, expected)) in cases.into_iter().enumerate() {
        let id = contract(&server, &format!("c{i}"), columns(&v1), mode).await;
        let body = json!({"schema": {"columns": columns(&new)}});
        let asked = send_json(
            &server,
            Method::POST,
            &format!("/api/v1/contracts/{id}/compatibility"),
            &server.key,
            &body,
        )
        .await
        .assert_status(200);
        assert_eq!(asked["compatibility"], mode);
        assert_eq!(
            asked["compatible"],
            expected.is_empty(),
            "{mode} {new:?}: {asked}"
        );
        let dry = put(&server, &id, body.clone(), true).await;
        let answer = put(&server, &id, body, false).await;
        if expected.is_empty() {
            assert_eq!(dry.assert_status(200)["version"], 2, "{mode} {new:?}");
            assert_eq!(answer.assert_status(200)["version"], 2, "{mode} {new:?}");
            continue;
        }
        let wanted: Vec<(u64, String, String)> = expected
            .iter()
            .map(|(c, r)| (1, (*c).to_owned(), (*r).to_owned()))
            .collect();
        assert_eq!(violations(&dry), wanted, "{mode} {new:?} (dry run)");
        assert_eq!(violations(&answer), wanted, "{mode} {new:?}");
        let got: Vec<(u64, String, String)> = asked["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .map(|v| {
                (
                    v["version"].as_u64().unwrap(),
                    text(&v["column"]),
                    text(&v["rule"]),
                )
            })
            .collect();
        assert_eq!(got, wanted, "the question answers as the update does");
        // Nothing stored.
        let versions = server
            .get(&format!("/api/v1/contracts/{id}/versions"))
            .await;
        assert_eq!(len(&versions.assert_status(200)), 1, "{mode} {new:?}");
    }
}

#[tokio::test]
async fn loosening_the_mode_in_the_same_put_lets_the_change_through_and_both_show() {
    let server = TestServer::start().await;
    let id = contract(
        &server,
        "orders",
        columns(&[("id", "integer", true)]),
        "backward",
    )
    .await;
    let breaking = json!({"schema": {"columns": columns(&[("id", "integer", true), ("region", "string", true)])}});
    assert_eq!(
        violations(&put(&server, &id, breaking.clone(), false).await).len(),
        1
    );
    // The mode it leaves in force is none: accepted.
    let mut loosened = breaking;
    loosened["compatibility"] = json!("none");
    let v2 = put(&server, &id, loosened, false).await.assert_status(200);
    assert_eq!(
        (v2["version"].as_u64(), v2["compatibility"].as_str()),
        (Some(2), Some("none"))
    );
    let history = server
        .get(&format!("/api/v1/contracts/{id}/versions"))
        .await
        .assert_status(200);
    assert_eq!(history[0]["compatibility"], "none");
    assert_eq!(history[1]["compatibility"], "backward");
    assert_eq!(history[0]["changes"]["added"], json!(["region"]));
    assert_eq!(
        history[0]["changes"]["compatibility_changed"],
        json!({"from": "backward", "to": "none"})
    );
    // Tightening it again is a version of its own (no columns change: nothing judged);
    // the same mode once more changes nothing.
    for _ in 0..2 {
        let tightened = put(
            &server,
            &id,
            json!({"compatibility": "full_transitive"}),
            false,
        )
        .await
        .assert_status(200);
        assert_eq!(tightened["version"], 3);
    }
}

#[tokio::test]
async fn a_transitive_mode_judges_against_every_stored_version() {
    let server = TestServer::start().await;
    let v1 = columns(&[("id", "integer", true), ("x", "number", false)]);
    let v2 = columns(&[("id", "integer", true)]);
    let v3 = columns(&[("id", "integer", true), ("x", "integer", false)]);
    for (mode, expected) in [
        ("backward", vec![]),
        (
            "backward_transitive",
            vec![(1, "x".to_owned(), "type_narrowed".to_owned())],
        ),
    ] {
        let id = contract(&server, mode, v1.clone(), mode).await;
        put(&server, &id, json!({"schema": {"columns": v2}}), false)
            .await
            .assert_status(200);
        // Against version 2, x is a new optional column; against version 1 a narrowing.
        let answer = put(&server, &id, json!({"schema": {"columns": v3}}), false).await;
        if expected.is_empty() {
            answer.assert_status(200);
        } else {
            assert_eq!(violations(&answer), expected);
        }
    }
}

#[tokio::test]
async fn the_compatibility_question_takes_a_mode_and_is_validated_like_an_update() {
    let accounts = two_accounts().await;
    let server = &accounts.server;
    let id = contract(
        server,
        "events",
        columns(&[("id", "integer", true)]),
        "none",
    )
    .await;
    let path = format!("/api/v1/contracts/{id}/compatibility");
    let narrowed = columns(&[("id", "integer", true), ("region", "string", true)]);
    let asked = send_json(
        server,
        Method::POST,
        &path,
        &server.key,
        &json!({"schema": {"columns": narrowed}, "compatibility": "backward"}),
    )
    .await
    .assert_status(200);
    assert_eq!(asked["compatible"], false);
    assert_eq!(asked["compatibility"], "backward");
    assert_eq!(asked["violations"][0]["rule"], "required_column_added");
    let none = send_json(
        server,
        Method::POST,
        &path,
        &server.key,
        &json!({"schema": {"columns": narrowed}}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        none,
        json!({"compatible": true, "compatibility": "none", "violations": []})
    );
    for (body, field) in [
        (
            json!({"schema": {"columns": narrowed}, "compatibility": "Backward"}),
            "compatibility",
        ),
        (
            json!({"schema": {"columns": narrowed}, "compatibility": 3}),
            "compatibility",
        ),
        (
            json!({"schema": {"columns": [{"name": "a", "type": "string"}]}}),
            "schema.columns",
        ),
        (
            json!({"schema": {"columns": [col("a", "string", true), col("a", "integer", true)]}}),
            "schema.columns",
        ),
        (
            json!({"compatibility": "full"}),
            "request body: missing field `schema`",
        ),
    ] {
        let error = send_json(server, Method::POST, &path, &server.key, &body)
            .await
            .assert_error(400, "invalid_request");
        assert!(error.starts_with(field), "{body}: {error}");
    }
    // Create and update refuse an unknown mode alike.
    let bad = json!({"name": "x", "schema": {"columns": []}, "compatibility": "strict"});
    let error = send_json(server, Method::POST, "/api/v1/contracts", &server.key, &bad)
        .await
        .assert_error(400, "invalid_request");
    assert!(error.starts_with("compatibility"), "{error}");
    let error = put(server, &id, json!({"compatibility": "strict"}), false)
        .await
        .assert_error(400, "invalid_request");
    assert!(error.starts_with("compatibility"), "{error}");
    // Another account's contract is not found, like an unknown one.
    let body = json!({"schema": {"columns": []}});
    send_json(server, Method::POST, &path, &accounts.key_b, &body)
        .await
        .assert_error(404, "not_found");
    send_json(
        server,
        Method::POST,
        "/api/v1/contracts/ctr_nope/compatibility",
        &server.key,
        &body,
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_updates_racing_never_both_land_unless_compatible_with_each_other() {
    let server = TestServer::start().await;
    let base = [("id", "integer", true)];
    // Each is compatible with version 1 (a new optional column), not with the other.
    let a = json!({"schema": {"columns": columns(&[base[0], ("note", "string", false)])}});
    let b = json!({"schema": {"columns": columns(&[base[0], ("note", "integer", false)])}});
    for round in 0..20 {
        let id = contract(&server, &format!("race{round}"), columns(&base), "backward").await;
        let (first, second) = tokio::join!(
            put(&server, &id, a.clone(), false),
            put(&server, &id, b.clone(), false)
        );
        let statuses = [first.status.as_u16(), second.status.as_u16()];
        assert!(
            statuses == [200, 409] || statuses == [409, 200],
            "round {round}: {statuses:?}"
        );
        let refused = if statuses[0] == 409 { &first } else { &second };
        assert_eq!(
            violations(refused),
            [(2, "note".to_owned(), "type_changed".to_owned())],
            "judged against the update that landed"
        );
        let history = server
            .get(&format!("/api/v1/contracts/{id}/versions"))
            .await;
        assert_eq!(len(&history.assert_status(200)), 2, "round {round}");
    }
}
