//! SPEC 6.3's web console over HTTP (what a browser gets; `tests/browser.rs` drives a
//! real one): `/` redirects to `/ui/`, the page and its hashed assets with their cache
//! policies, the security headers on every `/ui` answer, no key needed, and
//! `server.console = false`.

use hyper::Method;

use crate::common::*;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn assert_secured(answer: &Answer, what: &str) {
    assert_eq!(
        answer.header("content-security-policy"),
        Some(CSP),
        "{what}"
    );
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        answer.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
}

#[tokio::test]
async fn the_console_is_served_with_its_headers_and_cacheable_assets() {
    let server = TestServer::start().await;
    let root = server.send(Method::GET, "/", None, "").await;
    assert_eq!(root.status.as_u16(), 302);
    assert_eq!(root.header("location"), Some("/ui/"));
    let bare = server.send(Method::GET, "/ui", None, "").await;
    assert_eq!(bare.header("location"), Some("/ui/"));

    let page = server.send(Method::GET, "/ui/", None, "").await;
    assert_eq!(page.status.as_u16(), 200);
    assert_secured(&page, "the page");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let html = String::from_utf8_lossy(&page.body).into_owned();
    // Every asset the page names is served, immutable, with its type and the headers.
    let assets: Vec<String> = html
        .split("./assets/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{html}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{html}");
    for asset in &assets {
        let answer = server
            .send(Method::GET, &format!("/ui/assets/{asset}"), None, "")
            .await;
        assert_eq!(answer.status.as_u16(), 200, "{asset}");
        assert_secured(&answer, asset);
        assert_eq!(
            answer.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{asset}"
        );
        let kind = answer.header("content-type").unwrap();
        assert!(
            kind.starts_with(if asset.ends_with(".js") {
                "text/javascript"
            } else {
                "text/css"
            }),
            "{asset}: {kind}"
        );
    }
    // Anything else under /ui is a 404 in the API's shape, still with the headers.
    for path in [
        "/ui/assets/app.js",
        "/ui/assets/../index.html",
        "/ui/contracts",
        "/ui/assets/",
    ] {
        let answer = server.send(Method::GET, path, None, "").await;
        assert_secured(&answer, path);
        answer.assert_error(404, "not_found");
    }
    let post = server.send(Method::POST, "/ui/", None, "").await;
    assert_secured(&post, "POST");
    post.assert_error(405, "method_not_allowed");
    // HEAD answers like GET, without a body.
    let head = server.send(Method::HEAD, "/ui/", None, "").await;
    assert_eq!(head.status.as_u16(), 200);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn server_console_false_turns_it_off() {
    let server = TestServer::start_with(|config| config.server.console = false).await;
    for path in ["/", "/ui", "/ui/", "/ui/assets/x.js"] {
        server
            .send(Method::GET, path, None, "")
            .await
            .assert_error(404, "not_found");
    }
    // The API is unaffected.
    server.get("/api/v1/overview").await.assert_status(200);
}
