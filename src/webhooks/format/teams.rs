//! `"format": "teams"`: a Microsoft Teams workflow message ("Post to a channel when a
//! webhook request is received"): `{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}]}`,
//! the card an Adaptive Card 1.4 of `TextBlock`, `FactSet` and `Container` elements.
//!
//! Teams refuses messages over about 28 KB. Each column list is cut with "…and N more"
//! at [`MAX_LISTED`] names or [`MAX_LIST_BYTES`] bytes of JSON, names at 256 characters,
//! so that a whole message stays under [`MAX_MESSAGE_BYTES`] whatever the diff.

use serde_json::{json, Value};

use super::text::{self, cut};
use super::{Event, Format};
use crate::drift::Verdict;
use crate::ids::WebhookId;
use crate::model::{Check, Webhook};

/// A Teams workflow message.
pub struct Teams;

impl Format for Teams {
    const CONTENT_TYPE: &'static str = "application/json";

    fn render(_webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Vec<u8>> {
        super::chat_body(
            event,
            |check, contract_name| message(check_card(check, contract_name)),
            |webhook_id| message(ping_card(webhook_id)),
        )
    }
}

/// Most column names listed per kind of change.
pub const MAX_LISTED: usize = 20;
/// Most bytes one list's text takes in the JSON body.
pub const MAX_LIST_BYTES: usize = 2_400;
/// The bound every message stays under (Teams allows about 28 KB): five lists, the
/// contract's name twice at 256 characters, the fallback, and the frame.
pub const MAX_MESSAGE_BYTES: usize = 20_000;
/// Most characters of the card's `fallbackText`.
const MAX_FALLBACK_CHARS: usize = 500;
/// The card version: what Teams renders everywhere (1.5 features are not used).
pub const CARD_VERSION: &str = "1.4";

/// The workflow message carrying `card`.
fn message(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// An Adaptive Card with `body`; `fallback` is what clients that cannot render it show.
fn card(fallback: String, body: Vec<Value>) -> Value {
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": fallback,
        "body": body,
    })
}

/// The card of a check result: a headline coloured by verdict, the facts, one container
/// per kind of change.
pub fn check_card(check: &Check, contract_name: Option<&str>) -> Value {
    let color = match check.verdict {
        Verdict::Pass => "Good",
        Verdict::Warning => "Warning",
        Verdict::Breaking => "Attention",
    };
    let headline = cut(&text::headline(check, contract_name), text::MAX_NAME + 32);
    let mut body = vec![
        json!({"type": "TextBlock", "text": headline, "size": "Medium", "weight": "Bolder", "color": color, "wrap": true}),
        json!({"type": "FactSet", "facts": [
            {"title": "Result", "value": format!("{}, severity {}/100", check.verdict.as_str(), check.severity)},
            {"title": "Contract", "value": text::contract(check, contract_name)},
            {"title": "Check", "value": check.id.to_string()},
            {"title": "Time", "value": check.created_at.rfc3339()},
        ]}),
    ];
    let changes = text::changes(check);
    if changes.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "No changed columns.", "wrap": true}));
    }
    for (what, names) in changes {
        let list = text::fit(
            &names,
            MAX_LISTED,
            MAX_LIST_BYTES,
            |name| format!("- {name}"),
            json_bytes,
        );
        body.push(json!({"type": "Container", "separator": true, "items": [
            {"type": "TextBlock", "text": text::title(what, names.len()), "weight": "Bolder", "wrap": true},
            {"type": "TextBlock", "text": list, "wrap": true},
        ]}));
    }
    card(
        cut(&text::summary(check, contract_name), MAX_FALLBACK_CHARS),
        body,
    )
}

/// The card of a test delivery.
pub fn ping_card(webhook_id: WebhookId) -> Value {
    let text =
        format!("DriftGuard test delivery for webhook {webhook_id}: this channel receives its check results.");
    card(
        text.clone(),
        vec![
            json!({"type": "TextBlock", "text": "DriftGuard test delivery", "size": "Medium", "weight": "Bolder", "wrap": true}),
            json!({"type": "TextBlock", "text": text, "wrap": true}),
        ],
    )
}

/// The bytes `line` takes in a JSON string (escapes included): what Teams's size limit
/// counts.
fn json_bytes(line: &str) -> usize {
    serde_json::to_string(line).map_or(line.len() * 6, |s| s.len() - 2)
}
