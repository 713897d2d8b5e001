//! `"format": "slack"`: Slack messages (also accepted by Mattermost and Rocket.Chat incoming webhooks): a
//! one-line `text` — what notifications and clients without Block Kit show, and what
//! those receivers require (`400 no_text` without it) — and Block Kit `blocks`.
//!
//! Slack's limits shape them: at most 50 blocks (these have at most 8), a header's text
//! at most 150 characters, a section's text at most 3000. Column lists are cut with
//! "…and N more" to stay well inside them whatever the diff.

use serde_json::{json, Value};

use super::text::{self, cut};
use super::{Event, Format};
use crate::ids::WebhookId;
use crate::model::{Check, Webhook};

/// A Slack message.
pub struct Slack;

impl Format for Slack {
    const CONTENT_TYPE: &'static str = "application/json";

    fn render(_webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Vec<u8>> {
        super::chat_body(event, check_message, ping_message)
    }
}

/// Most column names listed per kind of change in the blocks.
pub const MAX_LISTED: usize = 20;
/// Most characters of one section's text (Slack allows 3000).
pub const MAX_SECTION_CHARS: usize = 2900;
/// Most characters of a header's text (Slack allows 150).
const MAX_HEADER_CHARS: usize = 150;

/// The message for a check result.
pub fn check_message(check: &Check, contract_name: Option<&str>) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&text::headline(check, contract_name), MAX_HEADER_CHARS)}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Result*\n{}, severity {}/100", check.verdict.as_str(), check.severity)},
            {"type": "mrkdwn", "text": cut(&format!("*Contract*\n{}`{}`", contract_name.map(|n| format!("{} ", escape(n))).unwrap_or_default(), check.contract_id), 2000)},
        ]}),
    ];
    for (what, names) in text::changes(check) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": column_list(what, &names)}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Check `{}` · {}", check.id, check.created_at.rfc3339())}]}));
    json!({"text": text::summary(check, contract_name), "blocks": blocks})
}

/// The message of a test delivery.
pub fn ping_message(webhook_id: WebhookId) -> Value {
    let text = format!("DriftGuard test delivery for webhook {webhook_id}: this channel receives its check results.");
    json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": format!("*DriftGuard test delivery* for webhook `{webhook_id}`: this channel receives its check results.")}}],
    })
}

/// A section's text: a title and one bullet per column, cut with "…and N more" at
/// [`MAX_LISTED`] names or [`MAX_SECTION_CHARS`] characters.
fn column_list(what: &str, names: &[String]) -> String {
    let title = format!("*{}*", text::title(what, names.len()));
    let budget = MAX_SECTION_CHARS - text::chars(&title) - 1;
    let lines = text::fit(
        names,
        MAX_LISTED,
        budget,
        |name| format!("• `{}`", escape(name)),
        text::chars,
    );
    format!("{title}\n{lines}")
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` (they start entities and links).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixMs;
    use crate::drift::{ColumnType, Diff, TypeChange, Verdict};
    use crate::ids::{CheckId, ContractId};

    fn check(removed: usize, retyped: usize, added: usize, name_len: usize) -> Check {
        let name = |kind: &str, i: usize| format!("{kind}_{i}_{}", "x".repeat(name_len));
        Check {
            id: CheckId::from_raw(1 << 100),
            contract_id: ContractId::from_raw(2 << 100),
            contract_version: 1,
            verdict: Verdict::Breaking,
            severity: 100,
            diff: Diff {
                removed: (0..removed).map(|i| name("gone", i)).collect(),
                type_changes: (0..retyped)
                    .map(|i| {
                        TypeChange::new(name("typed", i), ColumnType::Integer, ColumnType::String)
                    })
                    .collect(),
                added: (0..added).map(|i| name("new", i)).collect(),
                renames: Vec::new(),
                ignored: Vec::new(),
            },
            credits_used: 1,
            created_at: UnixMs(1_772_392_920_000),
        }
    }

    fn message(check: &Check) -> Value {
        let event = Event::Check {
            check,
            contract_name: Some("users"),
        };
        let bytes = Slack::render(
            &crate::webhooks::format::tests::webhook(crate::model::WebhookFormat::Slack),
            &event,
        )
        .expect("render");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[test]
    fn a_slack_message_has_text_and_blocks_with_every_change() {
        let m = message(&check(1, 1, 1, 0));
        let text = m["text"].as_str().expect("text");
        assert!(!text.contains('\n'), "one line: {text}");
        for part in [
            "breaking",
            "severity 100",
            "users",
            "ctr_",
            "gone_0_",
            "typed_0_",
            "integer → string",
            "new_0_",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let blocks = m["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks.len(), 6, "{m:#}");
        let all = m.to_string();
        assert!(
            all.contains("*Removed (1)*")
                && all.contains("*Type changed (1)*")
                && all.contains("*Added (1)*"),
            "{all}"
        );
    }

    #[test]
    fn huge_diffs_stay_under_slacks_limits() {
        for (n, len) in [(25, 0), (5000, 250), (12, 250)] {
            let m = message(&check(n, n, n, len));
            let blocks = m["blocks"].as_array().expect("blocks");
            assert!(blocks.len() <= 50);
            for block in blocks {
                if let Some(text) = block["text"]["text"].as_str() {
                    assert!(text.chars().count() <= 3000, "{}", text.len());
                }
                if block["type"] == "header" {
                    assert!(
                        block["text"]["text"]
                            .as_str()
                            .expect("text")
                            .chars()
                            .count()
                            <= 150
                    );
                }
            }
            let all = m.to_string();
            assert!(all.contains("more"), "lists are cut: {n} × {len}");
            assert!(m["text"].as_str().expect("text").chars().count() < 3000);
        }
        // The cut says how many are left out.
        let m = message(&check(25, 0, 0, 0));
        assert!(m.to_string().contains("…and 5 more"), "{m:#}");
    }

    #[test]
    fn a_pass_has_a_text_too_and_names_are_escaped() {
        let mut c = check(0, 0, 0, 0);
        c.verdict = Verdict::Pass;
        c.severity = 0;
        let event = Event::Check {
            check: &c,
            contract_name: Some("<b>&co"),
        };
        let bytes = Slack::render(
            &crate::webhooks::format::tests::webhook(crate::model::WebhookFormat::Slack),
            &event,
        )
        .expect("render");
        let m: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert!(m["text"].as_str().expect("text").contains("pass"));
        assert!(m.to_string().contains("&lt;b&gt;&amp;co"), "{m}");
        let ping: Value = serde_json::from_slice(
            &Slack::render(
                &crate::webhooks::format::tests::webhook(crate::model::WebhookFormat::Slack),
                &Event::Ping {
                    webhook_id: WebhookId::from_raw(3),
                    created_at: UnixMs(0),
                },
            )
            .expect("render"),
        )
        .expect("JSON");
        assert!(!ping["text"].as_str().expect("text").is_empty());
        assert!(ping["blocks"].is_array());
    }
}
