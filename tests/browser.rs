//! The web console in a real browser (SPEC 6.3): Debian's Chromium, headless, driven
//! through chromedriver (WebDriver, with `fantoccini`) against the in-process daemon on a
//! seeded store. Signs in (a wrong key shows the API's message), renders every view from
//! the seeded data, runs every action, keeps the view across reload and back, renders a
//! contract named like markup as text with no dialog, and checks each view with axe-core
//! (vendored, `tests/fixtures/axe/`; no `serious` or `critical` finding) and the browser's
//! log (no CSP violation, no script error). Screenshots of each view go to
//! `target/console-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (`.ci/run` installs Debian's `chromium` and
//! `chromium-driver`); under `CI=true` their absence fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use common::*;

const TEST: &str = "the_console_works_in_a_real_browser";
/// Every wait of this test ends here at the latest (a deadline, not a sleep).
const DEADLINE: Duration = Duration::from_secs(30);
const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const AXE: &str = include_str!("fixtures/axe/axe.min.js");

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(started.elapsed() < DEADLINE, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// Headless Chromium, as the workplace's machines run it (no sandbox as root, no
/// background networking on a closed network), in a fresh profile.
async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=1280,1000".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), json!({"args": args}));
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

/// Waits for the element `css`.
async fn find(client: &Client, css: &str) -> Element {
    client
        .wait()
        .at_most(DEADLINE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

/// Waits until the element `css`'s text satisfies `done`; returns the text.
async fn text_when(client: &Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if done(&text) {
            return text;
        }
        assert!(started.elapsed() < DEADLINE, "{css}: last text {text:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens `#/…` and waits for its view.
async fn open(client: &Client, base: &str, hash: &str, view: &str) {
    client
        .goto(&format!("{base}/ui/{hash}"))
        .await
        .expect("goto");
    find(client, &format!("[data-test=view-{view}]")).await;
}

/// Runs axe-core on the page; the `serious` and `critical` findings.
async fn axe(client: &Client) -> Vec<String> {
    client.execute(AXE, vec![]).await.expect("inject axe");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done(r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ')')),
               e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe");
    serde_json::from_value(found).expect("a list")
}

/// The browser's log since the last read (chromedriver's `se/log`).
async fn browser_log(client: &Client, driver: &Driver) -> Vec<Value> {
    let session = client.session_id().await.expect("session").expect("an id");
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let request = hyper::Request::post(format!(
        "http://127.0.0.1:{}/session/{session}/se/log",
        driver.port
    ))
    .header("content-type", "application/json")
    .body(http_body_util::Full::new(bytes::Bytes::from(
        r#"{"type":"browser"}"#,
    )))
    .unwrap();
    let answer = http.request(request).await.expect("se/log");
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .unwrap()
        .to_bytes();
    let value: Value = serde_json::from_slice(&body).expect("JSON");
    value["value"].as_array().cloned().unwrap_or_default()
}

/// Screenshots go here, for a reviewer.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// What the test seeds: two contracts (one named like markup), checks of every result, a
/// webhook with an abandoned and a delivered delivery.
struct Seeded {
    users: String,
    webhook: String,
}

async fn seed(server: &TestServer, receiver: &Receiver) -> Seeded {
    let key = &server.key;
    let body = json!({"name": "users", "schema": {"columns": users_columns()}, "compatibility": "backward"});
    let users = server
        .post("/api/v1/contracts", &body)
        .await
        .assert_status(201);
    let users = text(&users["id"]);
    let xss = server.create_contract(key, XSS_NAME, users_columns()).await;
    let hook = server
        .post(
            "/api/v1/webhooks",
            &json!({"url": receiver.url("/hook"), "events": ["pass", "warning", "breaking"]}),
        )
        .await
        .assert_status(201);
    let webhook = text(&hook["id"]);
    // The first delivery is refused (and abandoned: no retries), the rest delivered.
    receiver.script("/hook", vec![Reply::status(500)]);
    let warning =
        json!([{"name": "user_id", "type": "integer"}, {"name": "created_at", "type": "string"}]);
    for (contract, columns) in [
        (&users, warning),
        (&users, users_columns()),
        (
            &text(&xss["id"]),
            json!([{"name": "created_at", "type": "string"}]),
        ),
    ] {
        server
            .check(key, contract, columns)
            .await
            .assert_status(200);
    }
    let started = Instant::now();
    loop {
        let deliveries = server
            .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
            .await
            .assert_status(200);
        let finished = deliveries
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] != "pending")
            .count();
        if finished == 3 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "deliveries: {deliveries}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Seeded { users, webhook }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() {
    if !require_tool(TEST, "chromium", "--version")
        || !require_tool(TEST, "chromedriver", "--version")
    {
        return;
    }
    let started = Instant::now();
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let ca_file = ca.pem_file.clone();
    let mut server = TestServer::start_with(move |cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap();
        cfg.webhooks.ca_file = Some(ca_file);
        cfg.webhooks.allow_targets = vec!["127.0.0.0/8".parse().unwrap()];
        cfg.webhooks.retry_delays = Vec::new();
    })
    .await;
    let seeded = seed(&server, &receiver).await;
    let base = server.base.clone();
    let driver = chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let mut findings: Vec<String> = Vec::new();
    let mut check_view = |what: &str, found: Vec<String>| {
        findings.extend(found.into_iter().map(|f| format!("{what}: {f}")));
    };

    // Sign-in: a wrong key shows the API's own message, then the right one gets in.
    client.goto(&format!("{base}/")).await.unwrap();
    find(&client, "[data-test=view-signin]").await;
    check_view("sign-in", axe(&client).await);
    screenshot(&client, "sign-in").await;
    let wrong = "dg_live_WrongWrongWrongWrongWrongWrong00";
    let api_says = server
        .send(hyper::Method::GET, "/api/v1/overview", Some(wrong), "")
        .await;
    let api_message =
        text(&serde_json::from_slice::<Value>(&api_says.body).unwrap()["error"]["message"]);
    find(&client, "[data-test=key-input]")
        .await
        .send_keys(wrong)
        .await
        .unwrap();
    find(&client, "[data-test=sign-in]")
        .await
        .click()
        .await
        .unwrap();
    let alert = text_when(&client, "[data-test=alert]", |t| !t.is_empty()).await;
    assert!(
        alert.contains(&api_message),
        "{alert:?} shows {api_message:?}"
    );
    find(&client, "[data-test=view-signin]").await;
    let input = find(&client, "[data-test=key-input]").await;
    input.clear().await.unwrap();
    input.send_keys(&server.key).await.unwrap();
    find(&client, "[data-test=sign-in]")
        .await
        .click()
        .await
        .unwrap();

    // Overview: the chart and the counts.
    find(&client, "[data-test=view-overview]").await;
    find(&client, "[data-test=chart]").await;
    let total = text_when(&client, "[data-test=total-checks]", |t| !t.is_empty()).await;
    assert_eq!(total.trim(), "3");
    check_view("overview", axe(&client).await);
    screenshot(&client, "overview").await;

    // Contracts: both, the markup-like name as its characters, no dialog; the filter.
    find(&client, "[data-test=nav-contracts]")
        .await
        .click()
        .await
        .unwrap();
    find(&client, "[data-test=view-contracts]").await;
    let rows = client
        .find_all(Locator::Css("[data-test=contract-row]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let table = find(&client, "[data-test=view-contracts]")
        .await
        .text()
        .await
        .unwrap();
    assert!(table.contains(XSS_NAME), "{table}");
    assert!(client.get_alert_text().await.is_err(), "no dialog opened");
    assert!(
        client.find(Locator::Css("img[src=x]")).await.is_err(),
        "no img element"
    );
    find(&client, "[data-test=contract-filter]")
        .await
        .send_keys("users")
        .await
        .unwrap();
    let started_filter = Instant::now();
    loop {
        let mut shown = 0;
        for row in client
            .find_all(Locator::Css("[data-test=contract-row]"))
            .await
            .unwrap()
        {
            shown += usize::from(row.is_displayed().await.unwrap());
        }
        if shown == 1 {
            break;
        }
        assert!(started_filter.elapsed() < DEADLINE, "{shown} rows shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check_view("contracts", axe(&client).await);
    screenshot(&client, "contracts").await;

    // Contract: columns, versions, checks, and the try box (a refused dry run, the
    // compatibility question). Reload keeps it; back returns to the list.
    open(
        &client,
        &base,
        &format!("#/contracts/{}", seeded.users),
        "contract",
    )
    .await;
    assert!(
        client
            .find_all(Locator::Css("[data-test=column-row]"))
            .await
            .unwrap()
            .len()
            >= 3
    );
    screenshot(&client, "contract").await;
    assert_eq!(
        client
            .find_all(Locator::Css("[data-test=check-row]"))
            .await
            .unwrap()
            .len(),
        2
    );
    let schema = json!({"columns": [{"name": "user_id", "type": "integer", "required": true},
                                    {"name": "region", "type": "string", "required": true}]});
    let try_box = find(&client, "[data-test=try-schema]").await;
    try_box.clear().await.unwrap();
    try_box.send_keys(&schema.to_string()).await.unwrap();
    find(&client, "[data-test=compat]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, "[data-test=try-result]", |t| {
        t.contains("required_column_added")
    })
    .await;
    find(&client, "[data-test=dry-run]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, "[data-test=try-result]", |t| t.contains("region")).await;
    check_view("contract", axe(&client).await);
    screenshot(&client, "contract-try").await;
    client.refresh().await.unwrap();
    find(&client, "[data-test=view-contract]").await;
    client.back().await.unwrap();
    find(&client, "[data-test=view-contracts]").await;

    // Check: its diff.
    let checks = server
        .get(&format!(
            "/api/v1/checks?contract_id={}&result=warning",
            seeded.users
        ))
        .await
        .assert_status(200);
    open(
        &client,
        &base,
        &format!("#/checks/{}", text(&checks[0]["id"])),
        "check",
    )
    .await;
    let removed = text_when(&client, "[data-test=diff-removed]", |t| !t.is_empty()).await;
    assert!(removed.contains("email"), "{removed}");
    let changed = find(&client, "[data-test=diff-type-changes]")
        .await
        .text()
        .await
        .unwrap();
    assert!(changed.contains("created_at"), "{changed}");
    check_view("check", axe(&client).await);
    screenshot(&client, "check").await;

    // Webhooks, and one webhook's log and actions.
    open(&client, &base, "#/webhooks", "webhooks").await;
    assert_eq!(
        client
            .find_all(Locator::Css("[data-test=webhook-row]"))
            .await
            .unwrap()
            .len(),
        1
    );
    // The seeded webhook's last 24 hours: one refused, two delivered.
    let delivered = find(&client, "[data-test=webhook-delivered-24h]").await;
    assert_eq!(delivered.text().await.unwrap(), "2");
    let abandoned = find(&client, "[data-test=webhook-abandoned-24h]").await;
    assert_eq!(abandoned.text().await.unwrap(), "1");
    check_view("webhooks", axe(&client).await);
    screenshot(&client, "webhooks").await;
    open(
        &client,
        &base,
        &format!("#/webhooks/{}", seeded.webhook),
        "webhook",
    )
    .await;
    assert_eq!(
        client
            .find_all(Locator::Css("[data-test=delivery-row]"))
            .await
            .unwrap()
            .len(),
        3
    );
    let last_24h = find(&client, "[data-test=webhook-24h]").await;
    assert_eq!(
        last_24h.text().await.unwrap(),
        "2 delivered, 1 abandoned, 0 pending"
    );
    check_view("webhook", axe(&client).await);
    screenshot(&client, "webhook").await;
    let status = "[data-test=status]";
    find(&client, "[data-test=pause]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, status, |t| t.to_lowercase().contains("pause")).await;
    find(&client, "[data-test=resume]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, status, |t| t.to_lowercase().contains("resum")).await;
    find(&client, "[data-test=send-test]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, status, |t| t.contains("delivered")).await;
    find(&client, "[data-test=retry]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, status, |t| t.contains("queued again")).await;
    let since = find(&client, "[data-test=recover-since]").await;
    since.clear().await.unwrap();
    since.send_keys("2000-01-01T00:00:00Z").await.unwrap();
    find(&client, "[data-test=recover]")
        .await
        .click()
        .await
        .unwrap();
    text_when(&client, status, |t| t.contains("requeued")).await;
    find(&client, "[data-test=rotate]")
        .await
        .click()
        .await
        .unwrap();
    let secret = text_when(&client, "[data-test=secret-once]", |t| {
        t.starts_with("whsec_")
    })
    .await;
    assert_eq!(secret.len(), "whsec_".len() + 32, "{secret}");
    let hook = server
        .get(&format!("/api/v1/webhooks/{}", seeded.webhook))
        .await
        .assert_status(200);
    assert_eq!(hook["active"], true, "paused, then resumed");

    // Keys: create one (shown once), revoke it, delete it.
    open(&client, &base, "#/keys", "keys").await;
    check_view("keys", axe(&client).await);
    find(&client, "[data-test=key-env]")
        .await
        .select_by_value("test")
        .await
        .unwrap();
    find(&client, "[data-test=create-key]")
        .await
        .click()
        .await
        .unwrap();
    let key = text_when(&client, "[data-test=key-once]", |t| {
        t.starts_with("dg_test_")
    })
    .await;
    screenshot(&client, "keys").await;
    let keys = server.get("/api/v1/keys").await.assert_status(200);
    let created = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_preview"] == key[..16])
        .expect("the new key is listed")
        .clone();
    let row = format!("[data-test=key-row][data-id='{}']", text(&created["id"]));
    find(&client, &format!("{row} [data-test=revoke]"))
        .await
        .click()
        .await
        .unwrap();
    find(&client, &format!("{row} [data-test=delete]"))
        .await
        .click()
        .await
        .unwrap();
    let started_delete = Instant::now();
    while client.find(Locator::Css(&row)).await.is_ok() {
        assert!(
            started_delete.elapsed() < DEADLINE,
            "the deleted key's row stays"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server
        .get("/api/v1/keys")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["id"] != created["id"]));

    // Rate limited: at 60 requests a minute with the key's minute spent, the console says
    // it is waiting, waits out `Retry-After` and renders the view.
    server.reload(|cfg| cfg.limits.requests_per_minute = 60.try_into().unwrap());
    let spent = Instant::now();
    while server.get("/api/v1/usage").await.status != 429 {
        assert!(
            spent.elapsed() < DEADLINE,
            "no 429 after a minute's requests"
        );
    }
    client.goto(&format!("{base}/ui/#/webhooks")).await.unwrap();
    text_when(&client, "[data-test=alert]", |t| {
        t.starts_with("Rate limited; retrying in")
    })
    .await;
    find(&client, "[data-test=view-webhooks]").await;
    server.reload(|cfg| cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap());

    // Sign out forgets the key.
    find(&client, "[data-test=sign-out]")
        .await
        .click()
        .await
        .unwrap();
    find(&client, "[data-test=view-signin]").await;
    let kept = client
        .execute("return sessionStorage.getItem('driftguard.key');", vec![])
        .await
        .unwrap();
    assert_eq!(kept, Value::Null);

    // The browser's log: no CSP violation, no script error. (The refused sign-in's 401
    // is a network entry, which is what the test asked for.)
    let log = browser_log(&client, &driver).await;
    let bad: Vec<&Value> = log
        .iter()
        .filter(|e| e["level"] == "SEVERE" && e["source"] != "network")
        .collect();
    assert!(bad.is_empty(), "browser log: {bad:#?}");
    assert!(
        !log.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("Content Security Policy"))),
        "{log:#?}"
    );
    client.close().await.unwrap();
    assert!(findings.is_empty(), "axe: {findings:#?}");
    println!(
        "browser test: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshot_dir().display()
    );
}
