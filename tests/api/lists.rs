//! Lists (§1): every list — contracts, checks, keys, webhooks — is in creation order
//! (checks newest first) and is paged with `?limit`, `?cursor` and `Link: rel="next"`.

use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

/// Makes `n` records on each list; returns `(list path, ids oldest first, newest first?)`.
async fn fill_every_list(server: &TestServer, n: usize) -> Vec<(&'static str, Vec<String>, bool)> {
    let key = server.key.clone();
    let mut contracts = Vec::new();
    for i in 0..n {
        let c = server
            .create_contract(&key, &format!("c{i}"), users_columns())
            .await;
        contracts.push(text(&c["id"]));
    }
    let mut checks = Vec::new();
    for _ in 0..n {
        let c = check_ok(server, &key, &contracts[0], json!([])).await;
        checks.push(text(&c["id"]));
    }
    // The bootstrap key comes first.
    let mut keys = ids(&server.get("/api/v1/keys").await.assert_status(200));
    assert_eq!(keys.len(), 1);
    for i in 1..n {
        let environment = if i % 2 == 0 { "live" } else { "test" };
        let k = send_json(
            server,
            Method::POST,
            "/api/v1/keys",
            &key,
            &json!({"environment": environment}),
        )
        .await
        .assert_status(201);
        keys.push(text(&k["id"]));
    }
    let mut webhooks = Vec::new();
    for i in 0..n {
        let w = create_webhook(
            server,
            &key,
            json!({"url": format!("https://hooks.example.com/{i}"), "events": ["pass"]}),
        )
        .await;
        webhooks.push(text(&w["id"]));
    }
    vec![
        ("/api/v1/contracts", contracts, false),
        ("/api/v1/checks", checks, true),
        ("/api/v1/keys", keys, false),
        ("/api/v1/webhooks", webhooks, false),
    ]
}

#[tokio::test]
async fn every_list_is_in_creation_order_and_pages_follow_link_headers() {
    const N: usize = 8;
    let server = roomy_server().await;
    for (path, created, newest_first) in fill_every_list(&server, N).await {
        // The whole list, one page, no Link.
        let full = server.get(path).await;
        let full_list = full.assert_status(200);
        assert_creation_order(full_list.as_array().expect("array"), &created, newest_first);
        assert_eq!(full.header("link"), None, "{path}: one page only");

        // Every page size, walked to the end by following Link: the pages join to the
        // full list, each record exactly once, in order; no empty trailing page.
        for (limit, sizes) in [
            (1, vec![1; N]),
            (2, vec![2, 2, 2, 2]),
            (3, vec![3, 3, 2]),
            (N, vec![N]),
            (1000, vec![N]),
        ] {
            let first = format!("{path}?limit={limit}");
            let pages = all_pages(&server, &first).await;
            let got: Vec<usize> = pages.iter().map(len).collect();
            assert_eq!(got, sizes, "{first}: page sizes");
            let joined = concat(&pages);
            assert_eq!(ids(&joined), ids(&full_list), "{first}: pages = full list");
            assert_creation_order(joined.as_array().expect("array"), &created, newest_first);
            // The Link keeps the limit and adds the cursor.
            if limit < N {
                let answer = server.get(&first).await;
                let next = next_page(&answer, &server.base).expect("Link");
                assert!(
                    next.starts_with(&format!("{path}?limit={limit}&cursor=")),
                    "{next}"
                );
                let link = answer.header("link").expect("Link");
                assert!(
                    link.starts_with(&format!("<{}{path}?", server.base)),
                    "{link}"
                );
                assert!(link.ends_with(">; rel=\"next\""), "{link}");
            }
        }
    }
}

#[tokio::test]
async fn bad_paging_parameters_are_400() {
    let server = TestServer::start().await;
    server
        .create_contract(&server.key.clone(), "c", users_columns())
        .await;
    for query in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-1",
        "limit=",
        "limit=1.5",
        "cursor=garbage",
        "cursor=nope",
        "cursor=",
        "cursor=ctr_!",
        "cursor=chk_00000000000000000000000000",
    ] {
        for list in ["contracts", "checks", "keys", "webhooks"] {
            let answer = server.get(&format!("/api/v1/{list}?{query}")).await;
            let message = answer.assert_error(400, "invalid_request");
            let field = query.split('=').next().expect("name");
            assert!(message.contains(field), "{list}?{query}: {message}");
        }
    }
    for query in ["limit=1", "limit=1000", "limit=2&unknown=1"] {
        for list in ["contracts", "checks", "keys", "webhooks"] {
            let answer = server.get(&format!("/api/v1/{list}?{query}")).await;
            let body: Value = answer.assert_status(200);
            assert!(body.is_array(), "{list}?{query}: {body}");
        }
    }
}

/// `Link` URLs do not downgrade or echo what they cannot vouch for (issue 26): with
/// `server.public_url` they point under it (path prefix kept); without it they use the
/// scheme the daemon serves and a `Host` that is a valid `host[:port]`, else a relative URL.
#[tokio::test]
async fn next_page_links_use_the_public_url_or_a_valid_host_or_are_relative() {
    let link_of = |answer: &Answer| {
        let link = answer.header("link").expect("Link").to_owned();
        let url = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .expect("<url>; rel=\"next\"");
        url.to_owned()
    };
    let seeded = |server: TestServer| async move {
        for name in ["a", "b"] {
            let key = server.key.clone();
            server.create_contract(&key, name, users_columns()).await;
        }
        server
    };
    let page = "/api/v1/contracts?limit=1";
    async fn get_with_host(server: &TestServer, host: &str) -> Answer {
        let page = "/api/v1/contracts?limit=1";
        server
            .send_with(Method::GET, page, Some(&server.key), &[("host", host)], "")
            .await
    }

    let server = seeded(TestServer::start().await).await;
    let link = link_of(&get_with_host(&server, "drift.example.com:8080").await);
    assert!(
        link.starts_with("http://drift.example.com:8080/api/v1/contracts?limit=1&cursor="),
        "{link}"
    );
    for bad in [
        "evil.example.com/path",
        "user:pw@evil.example.com",
        "a b",
        "evil.example.com?x",
    ] {
        let answer = get_with_host(&server, bad).await;
        if answer.status == 400 {
            continue; // hyper refused the header itself: nothing to echo either way
        }
        let link = link_of(&answer);
        assert!(
            link.starts_with("/api/v1/contracts?limit=1&cursor="),
            "{bad}: {link}"
        );
    }

    let server = seeded(TestServer::start_tls().await).await;
    let link = link_of(&server.get(page).await);
    assert!(link.starts_with("https://"), "{link}");

    let server = seeded(
        TestServer::start_with(|config| {
            config.server.public_url = Some("https://drift.example.com/dg".into());
        })
        .await,
    )
    .await;
    let link = link_of(&get_with_host(&server, "internal:8080").await);
    assert!(
        link.starts_with("https://drift.example.com/dg/api/v1/contracts?limit=1&cursor="),
        "{link}"
    );
}
