//! Every route that names a record by id — in its path, or `contract_id` of a check —
//! answers an unknown id, another account's id and a malformed id with the very same
//! `404 not_found` (status and body), and changes nothing. One table, every route of
//! `src/http/router.rs` with an `{id}`.

use hyper::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

/// A route with an id: how to ask it about `id`.
struct IdRoute {
    method: Method,
    /// The path, with `{id}` standing for the id.
    path: &'static str,
    /// The request body for `id`.
    body: fn(&str) -> String,
    /// The id prefix the route expects.
    prefix: &'static str,
}

impl IdRoute {
    fn new(method: Method, path: &'static str, prefix: &'static str) -> IdRoute {
        let body: fn(&str) -> String = match method {
            Method::POST => |_| "{}".to_owned(),
            Method::PATCH => |_| json!({"active": false}).to_string(),
            _ => |_| String::new(),
        };
        IdRoute {
            method,
            path,
            body,
            prefix,
        }
    }

    async fn ask(&self, server: &TestServer, key: &str, id: &str) -> Answer {
        let path = self.path.replace("{id}", id);
        server
            .send(self.method.clone(), &path, Some(key), (self.body)(id))
            .await
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[tokio::test]
async fn unknown_foreign_and_malformed_ids_are_the_same_404_on_every_route() {
    let accounts = two_accounts().await;
    let (server, key_a, key_b) = (
        &accounts.server,
        accounts.key_a.as_str(),
        accounts.key_b.as_str(),
    );
    let cid = text(&accounts.contract["id"]);
    let chk = text(&accounts.check.json()["id"]);
    let kid = text(&accounts.spare["id"]);
    let revoked_id = text(&accounts.revoked["id"]);
    let wid = text(&accounts.webhook["id"]);
    // A delivery of A's: a test delivery to a second webhook, which the default target
    // guard stops before any connection (`localhost` resolves to loopback).
    let probe = create_webhook(
        server,
        key_a,
        json!({"url": "https://localhost:9/probe", "events": ["pass"]}),
    )
    .await;
    let pid = text(&probe["id"]);
    let tested = send_json(
        server,
        Method::POST,
        &format!("/api/v1/webhooks/{pid}/test"),
        key_a,
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(tested["status"], "abandoned", "{tested}");
    let dlv = text(&tested["id"]);
    let every_real_id = [&cid, &chk, &kid, &revoked_id, &wid, &dlv];
    // The retry route names two ids: one row varies the webhook, one the delivery.
    let retry_by_webhook: &'static str =
        Box::leak(format!("/api/v1/webhooks/{{id}}/deliveries/{dlv}/retry").into_boxed_str());
    let retry_by_delivery: &'static str =
        Box::leak(format!("/api/v1/webhooks/{pid}/deliveries/{{id}}/retry").into_boxed_str());
    let recover = IdRoute {
        body: |_| json!({"since": "2026-01-01T00:00:00Z"}).to_string(),
        ..IdRoute::new(Method::POST, "/api/v1/webhooks/{id}/recover", "wh_")
    };

    let check = IdRoute {
        body: |id| json!({"contract_id": id, "incoming_schema": {"columns": []}}).to_string(),
        ..IdRoute::new(Method::POST, "/api/v1/check", "ctr_")
    };
    let check_version = IdRoute {
        body: |id| {
            json!({"contract_id": id, "contract_version": 1, "incoming_schema": {"columns": []}})
                .to_string()
        },
        ..IdRoute::new(Method::POST, "/api/v1/check", "ctr_")
    };
    // (route, A's real ids it can name)
    let routes: Vec<(IdRoute, Vec<&String>)> = vec![
        (
            IdRoute::new(Method::GET, "/api/v1/contracts/{id}", "ctr_"),
            vec![&cid],
        ),
        (check, vec![&cid]),
        (check_version, vec![&cid]),
        (
            IdRoute {
                body: |_| json!({"name": "renamed"}).to_string(),
                ..IdRoute::new(Method::PUT, "/api/v1/contracts/{id}", "ctr_")
            },
            vec![&cid],
        ),
        (
            IdRoute {
                body: |_| json!({"schema": {"columns": []}}).to_string(),
                ..IdRoute::new(Method::PATCH, "/api/v1/contracts/{id}?dry_run=true", "ctr_")
            },
            vec![&cid],
        ),
        (
            IdRoute::new(Method::DELETE, "/api/v1/contracts/{id}", "ctr_"),
            vec![&cid],
        ),
        (
            IdRoute::new(Method::GET, "/api/v1/contracts/{id}/versions", "ctr_"),
            vec![&cid],
        ),
        (
            IdRoute::new(Method::GET, "/api/v1/contracts/{id}/versions/1", "ctr_"),
            vec![&cid],
        ),
        (
            IdRoute::new(Method::GET, "/api/v1/checks/{id}", "chk_"),
            vec![&chk],
        ),
        (
            IdRoute::new(Method::POST, "/api/v1/keys/{id}/revoke", "key_"),
            vec![&kid, &revoked_id],
        ),
        (
            IdRoute::new(Method::POST, "/api/v1/keys/{id}/activate", "key_"),
            vec![&kid, &revoked_id],
        ),
        (
            IdRoute::new(Method::DELETE, "/api/v1/keys/{id}", "key_"),
            vec![&kid, &revoked_id],
        ),
        (
            IdRoute::new(Method::GET, "/api/v1/webhooks/{id}", "wh_"),
            vec![&wid],
        ),
        (
            IdRoute::new(Method::PATCH, "/api/v1/webhooks/{id}", "wh_"),
            vec![&wid],
        ),
        (
            IdRoute::new(Method::DELETE, "/api/v1/webhooks/{id}", "wh_"),
            vec![&wid],
        ),
        (
            IdRoute::new(Method::GET, "/api/v1/webhooks/{id}/deliveries", "wh_"),
            vec![&wid],
        ),
        (
            IdRoute::new(Method::POST, "/api/v1/webhooks/{id}/test", "wh_"),
            vec![&wid],
        ),
        (recover, vec![&wid]),
        (
            IdRoute::new(Method::POST, "/api/v1/webhooks/{id}/rotate-secret", "wh_"),
            vec![&wid],
        ),
        (
            IdRoute::new(Method::POST, retry_by_webhook, "wh_"),
            vec![&pid],
        ),
        (
            IdRoute::new(Method::POST, retry_by_delivery, "dlv_"),
            vec![&dlv],
        ),
    ];

    for (route, reals) in &routes {
        for &real in reals {
            let name = route.name();
            // The reference: A asks for a well-formed id that names nothing.
            let reference = route.ask(server, key_a, &bogus_id(real)).await;
            reference.assert_error(404, "not_found");

            let rest = real.strip_prefix(route.prefix).expect("prefix");
            let mut cases: Vec<(&str, String)> = vec![
                // Unknown, well-formed.
                (key_a, bogus_id(real)),
                (key_a, dummy_id(route.prefix)),
                (key_b, bogus_id(real)),
                // Another account's.
                (key_b, real.clone()),
                // Malformed: no id, wrong prefix, case, length, alphabet, overflow.
                (key_a, "nope".to_owned()),
                (key_a, route.prefix.to_owned()),
                (key_a, real.to_uppercase()),
                (key_a, format!("{real}0")),
                (key_a, real[..real.len() - 1].to_owned()),
                (key_a, rest.to_owned()),
                (key_a, format!("{}!!!", route.prefix)),
                (key_a, format!("{}z{}", route.prefix, &rest[1..])),
                (key_b, "nope".to_owned()),
            ];
            for prefix in ["ctr_", "chk_", "key_", "wh_", "dlv_"] {
                if prefix != route.prefix {
                    cases.push((key_a, format!("{prefix}{rest}")));
                }
            }
            // A's real ids of other kinds.
            for other in every_real_id {
                if !other.starts_with(route.prefix) {
                    cases.push((key_a, other.clone()));
                }
            }
            if route.path == "/api/v1/check" {
                cases.push((key_a, String::new()));
            }
            for (key, id) in cases {
                let who = if key == key_a { "A" } else { "B" };
                let answer = route.ask(server, key, &id).await;
                assert_eq!(
                    answer.status,
                    reference.status,
                    "{name} as {who} with {id:?}: {}",
                    String::from_utf8_lossy(&answer.body)
                );
                assert_eq!(
                    answer.body, reference.body,
                    "{name} as {who} with {id:?}: same body as an unknown id"
                );
            }
        }
    }

    // None of that stored, paid for or changed anything, for A or for B.
    accounts.assert_a_unchanged().await;
    assert_eq!(usage(server, key_b).await, (10, 0, 0));
    for list in ["contracts", "checks", "webhooks"] {
        assert_eq!(
            get_as(server, &format!("/api/v1/{list}"), key_b)
                .await
                .assert_status(200),
            json!([]),
            "{list}"
        );
    }
}
