//! What one account can see of another's records, and name in a request body. (Another
//! account's ids in paths are in `not_found`, with every route.)

use hyper::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn other_accounts_records_are_invisible_and_unchanged() {
    let accounts = two_accounts().await;
    let (server, key_b) = (&accounts.server, accounts.key_b.as_str());
    let cid = text(&accounts.contract["id"]);

    // A webhook naming another account's contract is a 400, like an unknown contract
    // (status and body identical).
    let body = |contract_id: &str| json!({"url": "https://hooks.example.com/b", "events": ["pass"], "contract_id": contract_id});
    let foreign = send_json(server, Method::POST, "/api/v1/webhooks", key_b, &body(&cid)).await;
    foreign.assert_error(400, "invalid_request");
    let missing = send_json(
        server,
        Method::POST,
        "/api/v1/webhooks",
        key_b,
        &body(&bogus_id(&cid)),
    )
    .await;
    assert_eq!(foreign.status, missing.status);
    assert_eq!(
        foreign.body, missing.body,
        "POST webhook with a foreign contract_id"
    );

    // Account B sees none of A's records, and may reuse A's contract name.
    for list in ["contracts", "checks", "webhooks"] {
        assert_eq!(
            get_as(server, &format!("/api/v1/{list}"), key_b)
                .await
                .assert_status(200),
            json!([]),
            "{list}"
        );
    }
    let b_keys = get_as(server, "/api/v1/keys", key_b)
        .await
        .assert_status(200);
    assert_eq!(len(&b_keys), 1);
    assert_eq!(b_keys[0]["key_preview"], json!(&key_b[..16]));
    assert_eq!(usage(server, key_b).await, (10, 0, 0));
    server.create_contract(key_b, "users", json!([])).await;

    // Nothing of A's changed.
    accounts.assert_a_unchanged().await;
}

/// Check ids carry their number in their account (format 5), so each account's first
/// check has the same number: another account's id still reads as unknown, because its
/// random bits are not those of the caller's check with that number.
#[tokio::test]
async fn another_accounts_check_with_the_same_number_is_not_found() {
    let accounts = two_accounts().await;
    let (server, key_b) = (&accounts.server, accounts.key_b.as_str());
    let a_check = text(&accounts.check.json()["id"]);
    let b_contract = server
        .create_contract(key_b, "users", users_columns())
        .await;
    let b_check = server
        .check(key_b, &text(&b_contract["id"]), users_columns())
        .await;
    let b_check = text(&b_check.assert_status(200)["id"]);
    // Same number (the 13 characters after the prefix), different random bits.
    assert_eq!(a_check[..17], b_check[..17], "{a_check} {b_check}");
    assert_ne!(a_check, b_check);

    let path = |id: &str| format!("/api/v1/checks/{id}");
    get_as(server, &path(&a_check), key_b)
        .await
        .assert_error(404, "not_found");
    get_as(server, &path(&b_check), &accounts.key_a)
        .await
        .assert_error(404, "not_found");
    // B's own check, one random character off: unknown too.
    let last = if b_check.ends_with('0') { "1" } else { "0" };
    let guess = format!("{}{last}", &b_check[..b_check.len() - 1]);
    get_as(server, &path(&guess), key_b)
        .await
        .assert_error(404, "not_found");
    let own = get_as(server, &path(&b_check), key_b)
        .await
        .assert_status(200);
    assert_eq!(own["id"], b_check.as_str());
    accounts.assert_a_unchanged().await;
}
