//! `GET /api/v1/openapi.json` (SPEC 5.5): served without a key, identical to the committed
//! `docs/openapi.json`, and in step with the router's route table.

use std::collections::{BTreeMap, BTreeSet};

use hyper::Method;
use serde_json::Value;

use crate::common::*;

const DOCUMENT: &str = include_str!("../../docs/openapi.json");
/// The router's source: its `label()` match names every route's pattern exactly once.
const ROUTER: &str = include_str!("../../src/http/router.rs");

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON")
}

/// `{pattern → methods}` of the document.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let doc = document();
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("path item")
                .keys()
                .filter(|k| {
                    ["get", "put", "post", "delete", "patch", "head", "options"]
                        .contains(&k.as_str())
                })
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// A concrete path for a pattern (`{id}` → `x1`).
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| if s.starts_with('{') { "x1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// `{pattern → methods}` of the router, from every pattern its `label()` names.
fn routed() -> BTreeMap<String, BTreeSet<String>> {
    let label = &ROUTER[ROUTER.find("fn label(self)").expect("Route::label")..];
    let label = &label[..label.find("\n    }\n").expect("end of label")];
    let patterns: Vec<&str> = label
        .split('"')
        .filter(|s| s.starts_with("/api/v1/"))
        .collect();
    assert!(patterns.len() > 10, "read the route table: {patterns:?}");
    patterns
        .into_iter()
        .map(|pattern| {
            let (label, methods) = driftguard::http::router::route_of(&concrete(pattern))
                .unwrap_or_else(|| panic!("{pattern} does not route"));
            assert_eq!(label, pattern, "a concrete {pattern} routes to itself");
            let methods = methods.iter().map(|m| m.as_str().to_owned()).collect();
            (pattern.to_owned(), methods)
        })
        .collect()
}

#[test]
fn every_routed_operation_is_documented_and_every_documented_one_is_routed() {
    let documented = documented();
    let routed = routed();
    // Strict: a route or method the document does not describe fails.
    for (path, methods) in &routed {
        let described = documented
            .get(path)
            .unwrap_or_else(|| panic!("{path} is routed but not documented"));
        for method in methods {
            assert!(
                described.contains(method),
                "{method} {path} is routed but not documented"
            );
        }
    }
    // Strict the other way too: every documented operation is routed.
    for (path, methods) in &documented {
        for method in methods {
            assert!(
                routed.get(path).is_some_and(|m| m.contains(method)),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

#[test]
fn the_document_is_openapi_3_1_with_full_paths_errors_and_resolvable_refs() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "full paths: {path}");
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            let public = path.ends_with("/health") || path.ends_with("/openapi.json");
            if !public {
                for code in ["401", "429", "500", "503"] {
                    assert!(
                        responses.contains_key(code),
                        "{method} {path} documents {code}"
                    );
                }
            }
            if operation.get("requestBody").is_some() {
                for code in ["400", "413"] {
                    assert!(
                        responses.contains_key(code),
                        "{method} {path} documents {code}"
                    );
                }
            }
            if path.contains('{') {
                assert!(
                    responses.contains_key("404"),
                    "{method} {path} documents 404"
                );
            }
            assert!(operation["operationId"].is_string(), "{method} {path}");
        }
    }
    // Every $ref resolves inside the document.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let pointer = r.strip_prefix('#').expect("local ref");
        assert!(doc.pointer(pointer).is_some(), "{r} resolves");
    }
}

#[tokio::test]
async fn openapi_json_is_served_without_a_key_and_is_the_committed_file() {
    let server = TestServer::start().await;
    let answer = server
        .send(Method::GET, "/api/v1/openapi.json", None, "")
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(&answer.body[..], DOCUMENT.as_bytes());
    // Only GET (and HEAD).
    server
        .send(Method::POST, "/api/v1/openapi.json", None, "{}")
        .await
        .assert_error(405, "method_not_allowed");
    let head = server
        .send(Method::HEAD, "/api/v1/openapi.json", None, "")
        .await;
    assert_eq!(head.status, 200);
}
