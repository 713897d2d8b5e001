mod common;
use common::*;

#[tokio::test]
async fn health_over_http_and_https() {
    let plain = TestServer::start().await;
    plain.get("/api/v1/health").await.assert_status(200);
    let tls = TestServer::start_tls().await;
    let body = tls.get("/api/v1/health").await.assert_status(200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_second_account_is_isolated() {
    let server = TestServer::start().await;
    let contract = server
        .create_contract(&server.key.clone(), "users", users_columns())
        .await;
    let (server, other) = server.add_account("team-b", 10).await;
    let id = contract["id"].as_str().unwrap();
    let answer = server
        .send(
            hyper::Method::GET,
            &format!("/api/v1/contracts/{id}"),
            Some(&other),
            bytes::Bytes::new(),
        )
        .await;
    answer.assert_error(404, "not_found");
    server
        .get(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_status(200);
}
