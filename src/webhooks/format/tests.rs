//! Every format rendered for every kind of event, each body checked against its
//! service's rules (`tests/common/services.rs`, shared with the test receiver).

use serde_json::Value;

use super::{render, Event};
use crate::clock::UnixMs;
use crate::drift::{ColumnType, Diff, Rename, TypeChange, Verdict};
use crate::ids::{CheckId, ContractId, WebhookId};
use crate::model::{Check, Webhook, WebhookFormat};
use crate::wire::CheckView;

#[path = "../../../tests/common/services.rs"]
mod services;

pub(super) fn webhook(format: WebhookFormat) -> Webhook {
    Webhook {
        id: WebhookId::from_raw(3),
        url: "https://hooks.example.com/x".into(),
        events: vec![Verdict::Pass, Verdict::Warning, Verdict::Breaking],
        contract_id: None,
        active: true,
        secret: "whsec_FixtureFixtureFixtureFixture2".into(),
        created_at: UnixMs(0),
        format,
        disabled_reason: None,
        consecutive_failures: 0,
        previous_secret: None,
        filter: None,
        routing_key: Some("R0FIXTUREFIXTUREFIXTUREFIXTURE01".into()),
    }
}

fn check(verdict: Verdict, severity: u8, diff: Diff) -> Check {
    Check {
        id: CheckId::from_raw(1 << 100),
        contract_id: ContractId::from_raw(2 << 100),
        contract_version: 1,
        verdict,
        severity,
        diff,
        credits_used: 1,
        created_at: UnixMs(1_772_392_920_000),
    }
}

/// The checks of the table: (name, check, what its messages must show).
fn checks() -> Vec<(&'static str, Check, Vec<String>)> {
    let long = |i: usize| format!("{i:04}{}", "x".repeat(252));
    vec![
        (
            "pass",
            check(Verdict::Pass, 0, Diff::default()),
            vec!["pass".into()],
        ),
        (
            "warning",
            check(
                Verdict::Warning,
                40,
                Diff {
                    added: vec!["nickname".into()],
                    ..Diff::default()
                },
            ),
            vec!["warning".into(), "nickname".into()],
        ),
        (
            "breaking",
            check(
                Verdict::Breaking,
                100,
                Diff {
                    removed: vec!["email".into()],
                    type_changes: vec![TypeChange::new(
                        "age".into(),
                        ColumnType::Integer,
                        ColumnType::String,
                    )],
                    ..Diff::default()
                },
            ),
            vec!["breaking".into(), "email".into(), "integer → string".into()],
        ),
        (
            "rename and ignored",
            check(
                Verdict::Warning,
                30,
                Diff {
                    removed: vec!["user_id".into(), "nickname".into()],
                    added: vec!["userId".into()],
                    renames: vec![Rename {
                        from: "user_id".into(),
                        to: "userId".into(),
                        column_type: ColumnType::Integer,
                    }],
                    ignored: vec!["nickname".into()],
                    ..Diff::default()
                },
            ),
            vec!["user_id → userId".into(), "Ignored (1)".into()],
        ),
        (
            "1,000 removed",
            check(
                Verdict::Breaking,
                100,
                Diff {
                    removed: (0..1000).map(|i| format!("column_{i}")).collect(),
                    ..Diff::default()
                },
            ),
            vec!["Removed (1000)".into(), "…and 980 more".into()],
        ),
        (
            "1,000 removed of 256 characters, and every other kind",
            check(
                Verdict::Breaking,
                100,
                Diff {
                    removed: (0..1000).map(long).collect(),
                    type_changes: (0..1000)
                        .map(|i| TypeChange::new(long(i), ColumnType::Integer, ColumnType::Json))
                        .collect(),
                    added: (1000..2000).map(long).collect(),
                    renames: (0..1000)
                        .map(|i| Rename {
                            from: long(i),
                            to: long(i + 1000),
                            column_type: ColumnType::String,
                        })
                        .collect(),
                    ignored: (0..1000).map(long).collect(),
                },
            ),
            vec!["Removed (1000)".into(), "more".into()],
        ),
    ]
}

/// The rules `format`'s service applies; `None` for json (its receiver is ours).
fn violations(format: WebhookFormat, body: &[u8]) -> Vec<String> {
    match format {
        WebhookFormat::Json => Vec::new(),
        WebhookFormat::Slack => services::slack_violations(body),
        WebhookFormat::Teams => services::teams_violations(body),
        WebhookFormat::Discord => services::discord_violations(body),
        WebhookFormat::PagerDuty => services::pagerduty_violations(body),
    }
}

#[test]
fn every_format_renders_every_event_within_its_services_rules() {
    for format in WebhookFormat::ALL {
        let hook = webhook(format);
        for (name, check, shows) in checks() {
            let event = Event::Check {
                check: &check,
                contract_name: Some("users"),
            };
            let body = render(&hook, &event).expect("render");
            assert_eq!(body.content_type, "application/json");
            let broken = violations(format, &body.bytes);
            assert!(broken.is_empty(), "{format:?} {name}: {broken:#?}");
            if format == WebhookFormat::Json {
                let view = serde_json::to_vec(&CheckView::new(&check)).expect("view");
                assert_eq!(body.bytes, view, "json {name} is the check document");
                continue;
            }
            if format == WebhookFormat::PagerDuty {
                let event: Value = serde_json::from_slice(&body.bytes).expect("JSON");
                assert_eq!(event["dedup_key"], check.contract_id.to_string(), "{name}");
                assert_eq!(event["routing_key"], "R0FIXTUREFIXTUREFIXTUREFIXTURE01");
                let (action, severity) = match check.verdict {
                    Verdict::Pass => ("resolve", None),
                    Verdict::Warning => ("trigger", Some("warning")),
                    Verdict::Breaking => ("trigger", Some("critical")),
                };
                assert_eq!(event["event_action"], action, "{name}");
                assert_eq!(event["payload"]["severity"].as_str(), severity, "{name}");
                if check.verdict == Verdict::Pass {
                    continue; // a resolve names the incident, nothing more
                }
                assert!(
                    body.bytes.len() < 100_000,
                    "{name}: {} bytes",
                    body.bytes.len()
                );
            }
            let all = serde_json::from_slice::<Value>(&body.bytes)
                .expect("JSON")
                .to_string();
            for part in shows
                .iter()
                .map(|part| match (format, part.as_str()) {
                    // PagerDuty's details list 100 names, not the chat formats' 20.
                    (WebhookFormat::PagerDuty, "…and 980 more") => "…and 900 more",
                    (_, part) => part,
                })
                .chain(["users", "ctr_", "chk_"])
            {
                assert!(all.contains(part), "{format:?} {name}: {part:?} in {all}");
            }
            if format == WebhookFormat::Discord {
                let m: Value = serde_json::from_slice(&body.bytes).expect("JSON");
                let embed = &m["embeds"][0];
                let mut total = 0;
                for text in [
                    &embed["title"],
                    &embed["description"],
                    &embed["footer"]["text"],
                ]
                .into_iter()
                .chain(
                    embed["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|f| [&f["name"], &f["value"]]),
                ) {
                    total += text.as_str().map_or(0, |t| t.encode_utf16().count());
                }
                assert!(total <= super::discord::MAX_EMBED_CHARS, "{name}: {total}");
            }
            if format == WebhookFormat::Teams {
                assert!(
                    body.bytes.len() <= super::teams::MAX_MESSAGE_BYTES,
                    "{name}: {} bytes",
                    body.bytes.len()
                );
            }
        }
        let ping = render(
            &hook,
            &Event::Ping {
                webhook_id: WebhookId::from_raw(3),
                created_at: UnixMs(0),
            },
        )
        .expect("render");
        let broken = violations(format, &ping.bytes);
        assert!(broken.is_empty(), "{format:?} ping: {broken:#?}");
        let ping = String::from_utf8_lossy(&ping.bytes).into_owned();
        assert!(ping.contains("wh_"), "{format:?} ping: {ping}");
    }
}

#[test]
fn the_rules_catch_what_each_service_refuses() {
    let refused = |rules: fn(&[u8]) -> Vec<String>, body: Value| {
        let broken = rules(body.to_string().as_bytes());
        assert!(!broken.is_empty(), "{body} passed");
    };
    refused(
        services::slack_violations,
        serde_json::json!({"text": "", "blocks": []}),
    );
    refused(
        services::discord_violations,
        serde_json::json!({"content": "x".repeat(2001)}),
    );
    refused(
        services::discord_violations,
        serde_json::json!({"embeds": [{"title": "t", "fields": (0..26).map(|i| serde_json::json!({"name": i.to_string(), "value": "v"})).collect::<Vec<_>>()}]}),
    );
    refused(
        services::discord_violations,
        serde_json::json!({"embeds": [{"description": "d".repeat(4000)}, {"description": "d".repeat(2001)}]}),
    );
    refused(
        services::discord_violations,
        serde_json::json!({"embeds": [{"fields": [{"name": "n", "value": "v".repeat(1025)}]}]}),
    );
    refused(services::discord_violations, serde_json::json!({}));
    let card = |content: Value| serde_json::json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": content}]});
    let good = serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "hi"}]});
    assert!(services::teams_violations(card(good).to_string().as_bytes()).is_empty());
    for bad in [
        serde_json::json!({"type": "AdaptiveCard", "version": "1.5", "body": []}),
        serde_json::json!({"type": "Card", "version": "1.4", "body": []}),
        serde_json::json!({"type": "AdaptiveCard", "version": "1.4"}),
        serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "Table"}]}),
        serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock"}]}),
        serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "FactSet", "facts": [{"title": "t", "value": 1}]}]}),
        serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "Container", "items": [{"type": "TextBlock", "text": 3}]}]}),
        serde_json::json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "Container"}]}),
    ] {
        refused(services::teams_violations, card(bad));
    }
    refused(
        services::teams_violations,
        serde_json::json!({"type": "message"}),
    );
    let key = "R0FIXTUREFIXTUREFIXTUREFIXTURE01";
    let payload =
        serde_json::json!({"summary": "s", "source": "driftguard", "severity": "critical"});
    let good =
        serde_json::json!({"routing_key": key, "event_action": "trigger", "payload": payload});
    assert!(services::pagerduty_violations(good.to_string().as_bytes()).is_empty());
    let with = |field: &str, value: Value| {
        let mut event = good.clone();
        if let Some((outer, inner)) = field.split_once('.') {
            event[outer][inner] = value;
        } else {
            event[field] = value;
        }
        event
    };
    for bad in [
        with("routing_key", Value::Null),
        with("routing_key", "short".into()),
        with("event_action", "open".into()),
        with("dedup_key", "d".repeat(256).into()),
        with("payload", Value::Null),
        with("payload.summary", "".into()),
        with("payload.summary", "s".repeat(1025).into()),
        with("payload.source", Value::Null),
        with("payload.severity", "fatal".into()),
        with("payload.custom_details", "text".into()),
        serde_json::json!({"routing_key": key, "event_action": "resolve"}),
    ] {
        refused(services::pagerduty_violations, bad);
    }
}
