use hyper::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn keys_list_shape_never_shows_the_full_key() {
    let server = TestServer::start().await;
    let new = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &server.key,
        &json!({"environment": "test"}),
    )
    .await
    .assert_status(201);
    let test_key = text(&new["key"]);

    let answer = server.get("/api/v1/keys").await;
    let list = answer.assert_status(200);
    let body_text = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(!body_text.contains(&server.key), "full key in list output");
    assert!(!body_text.contains(&test_key), "full key in list output");
    assert!(!body_text.contains(&server.key[16..]), "key tail in list");
    assert!(!body_text.contains(&test_key[16..]), "key tail in list");
    assert_eq!(len(&list), 2);

    let bootstrap = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["environment"] == "live")
        .expect("the bootstrap key")
        .clone();
    assert_id(&bootstrap["id"], "key_");
    assert_timestamp(&bootstrap["created_at"]);
    // It has been used (by this very request, at least).
    assert_timestamp(&bootstrap["last_used_at"]);
    assert_eq!(
        bootstrap,
        json!({
            "id": bootstrap["id"],
            "key_preview": &server.key[..16],
            "environment": "live",
            "is_active": true,
            "created_at": bootstrap["created_at"],
            "last_used_at": bootstrap["last_used_at"],
        })
    );

    let listed_test = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == new["id"])
        .expect("the new key is listed")
        .clone();
    assert_eq!(
        listed_test,
        json!({
            "id": new["id"],
            "key_preview": &test_key[..16],
            "environment": "test",
            "is_active": true,
            "created_at": new["created_at"],
            "last_used_at": null,
        })
    );
    assert_eq!(text(&listed_test["key_preview"]).chars().count(), 16);
}

#[tokio::test]
async fn keys_create_live_and_test() {
    let server = TestServer::start().await;
    for environment in ["live", "test"] {
        let answer = send_json(
            &server,
            Method::POST,
            "/api/v1/keys",
            &server.key,
            &json!({"environment": environment, "unknown_field": 1}),
        )
        .await;
        let got = answer.assert_status(201);
        assert_id(&got["id"], "key_");
        assert_timestamp(&got["created_at"]);
        let key = text(&got["key"]);
        assert_prefixed_alnum32(&key, &format!("dg_{environment}_"));
        assert_eq!(
            got,
            json!({
                "id": got["id"],
                "key": key,
                "key_preview": &key[..16],
                "environment": environment,
                "is_active": true,
                "created_at": got["created_at"],
            })
        );
        // The new key works and belongs to the caller's account.
        let contract = server
            .create_contract(&key, &format!("made-with-{environment}"), json!([]))
            .await;
        let id = text(&contract["id"]);
        server
            .get(&format!("/api/v1/contracts/{id}"))
            .await
            .assert_status(200);
        assert_eq!(
            usage(&server, &key).await,
            usage(&server, &server.key).await
        );
        // The full key is never shown again.
        let keys = server.get("/api/v1/keys").await;
        assert!(!String::from_utf8_lossy(&keys.body).contains(&key));
    }
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 3);
}

#[tokio::test]
async fn keys_environment_must_be_live_or_test() {
    let server = TestServer::start().await;
    for body in [
        "",
        "not json",
        "{}",
        "[]",
        r#"{"environment": "prod"}"#,
        r#"{"environment": "Live"}"#,
        r#"{"environment": "TEST"}"#,
        r#"{"environment": ""}"#,
        r#"{"environment": null}"#,
        r#"{"environment": 1}"#,
        r#"{"environment": ["live"]}"#,
    ] {
        raw(&server, Method::POST, "/api/v1/keys", &server.key, body)
            .await
            .assert_error(400, "invalid_request");
    }
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 1, "no key was created");
}

#[tokio::test]
async fn keys_revoke_activate_delete_lifecycle() {
    let server = TestServer::start().await;
    let created = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &server.key,
        &json!({"environment": "test"}),
    )
    .await
    .assert_status(201);
    let id = text(&created["id"]);
    let key = text(&created["key"]);
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_status(200);

    // An active key cannot be deleted.
    server
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .assert_error(400, "invalid_request");
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_status(200);

    // Revoke: the key answers 401 from then on.
    let revoked = server
        .post(&format!("/api/v1/keys/{id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(
        revoked,
        json!({"id": id, "is_active": false, "environment": "test", "key_preview": &key[..16]})
    );
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_error(401, "unauthorized");
    server
        .check(&key, "ctr_x", json!([]))
        .await
        .assert_error(401, "unauthorized");
    let list = server.get("/api/v1/keys").await.assert_status(200);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == json!(id))
        .expect("a revoked key is still listed")
        .clone();
    assert_eq!(listed["is_active"], false);

    // Activate: it works again.
    let activated = send_json(
        &server,
        Method::POST,
        &format!("/api/v1/keys/{id}/activate"),
        &server.key,
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        activated,
        json!({"id": id, "is_active": true, "environment": "test", "key_preview": &key[..16]})
    );
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_status(200);

    // Revoke again, then delete.
    server
        .post(&format!("/api/v1/keys/{id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    let deleted = server
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .assert_status(200);
    assert_eq!(deleted, json!({"id": id, "deleted": true}));
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_error(401, "unauthorized");

    // Gone for good.
    for path in [
        format!("/api/v1/keys/{id}/revoke"),
        format!("/api/v1/keys/{id}/activate"),
    ] {
        server
            .post(&path, &json!({}))
            .await
            .assert_error(404, "not_found");
    }
    server
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .assert_error(404, "not_found");
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_error(401, "unauthorized");
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 1);
    assert!(!ids(&list).contains(&id));

    // Revoking the key one is calling with works, and locks that key out.
    let own_id = ids(&server.get("/api/v1/keys").await.assert_status(200))[0].clone();
    server
        .post(&format!("/api/v1/keys/{own_id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    server
        .get("/api/v1/usage")
        .await
        .assert_error(401, "unauthorized");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let mut server = TestServer::start().await;
    let live = server.new_key(&server.key, "live").await;
    let test = server.new_key(&server.key, "test").await;
    get_as(&server, "/api/v1/usage", &test)
        .await
        .assert_status(200);
    server.stop().await;
    let files = files_under(server.dir.path());
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).expect("read file");
        for key in [&server.key, &live, &test] {
            // The part after the 16-character preview must appear nowhere.
            let secret = &key.as_bytes()[16..];
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a full API key",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn keys_creation_is_rate_limited_per_account() {
    let server =
        TestServer::start_with(|cfg| cfg.limits.key_creations_per_hour = 2.try_into().unwrap())
            .await;
    server.new_key(&server.key, "test").await;
    server.new_key(&server.key, "live").await;
    let answer = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &server.key,
        &json!({"environment": "test"}),
    )
    .await;
    answer.assert_error(429, "rate_limited");
    let retry: u64 = answer
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in whole seconds");
    // Two per hour: the next one within 30 minutes.
    assert!((1..=1800).contains(&retry), "Retry-After {retry}");
    // No key was made, and other endpoints are not affected.
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 3);
    server.get("/api/v1/usage").await.assert_status(200);
}
