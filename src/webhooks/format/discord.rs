//! `"format": "discord"`: a Discord webhook message (`POST /api/webhooks/{id}/{token}`):
//! the one-line summary as `content` and one embed coloured by verdict, with a field per
//! kind of change. Mentions are off (`allowed_mentions`), so a column named `@everyone`
//! pings no one.
//!
//! Discord's limits shape it (counted here in UTF-16 units, never fewer than its
//! characters): `content` 2,000, title 256, description 4,096, 25 fields, a field's
//! name 256 and value 1,024, footer 2,048, and 6,000 across an embed's texts. This
//! message has at most 5 fields, each value at most [`MAX_FIELD_CHARS`], so it stays
//! under [`MAX_EMBED_CHARS`] in all whatever the diff.

use serde_json::{json, Value};

use super::text::{self, cut};
use super::{Event, Format};
use crate::drift::Verdict;
use crate::ids::WebhookId;
use crate::model::{Check, Webhook};

/// A Discord message.
pub struct Discord;

impl Format for Discord {
    const CONTENT_TYPE: &'static str = "application/json";

    fn render(_webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Vec<u8>> {
        super::chat_body(event, check_message, ping_message)
    }
}

/// Most column names listed per kind of change.
pub const MAX_LISTED: usize = 20;
/// Most characters of a field's value (Discord allows 1,024).
pub const MAX_FIELD_CHARS: usize = 900;
/// The bound an embed's texts stay under in all (Discord allows 6,000): a title of 256,
/// a description of at most 500 (the name's escapes included), five fields of at most
/// 930, a footer of at most 80.
pub const MAX_EMBED_CHARS: usize = 5_500;
/// Most characters of `content` (Discord allows 2,000).
const MAX_CONTENT_CHARS: usize = 1_900;
/// Most characters of the title (Discord allows 256).
const MAX_TITLE_CHARS: usize = 256;
/// Longest contract name the description shows.
const MAX_NAME_IN_DESCRIPTION: usize = 200;

/// Embed colours: green, amber, red; Discord's blurple for a test.
const PASS_COLOR: u32 = 0x2E_CC_71;
const WARNING_COLOR: u32 = 0xE6_7E_22;
const BREAKING_COLOR: u32 = 0xE7_4C_3C;
const PING_COLOR: u32 = 0x58_65_F2;

/// The message for a check result.
pub fn check_message(check: &Check, contract_name: Option<&str>) -> Value {
    let color = match check.verdict {
        Verdict::Pass => PASS_COLOR,
        Verdict::Warning => WARNING_COLOR,
        Verdict::Breaking => BREAKING_COLOR,
    };
    let contract = match contract_name {
        Some(name) => format!(
            "{} (`{}`)",
            plain(&cut(name, MAX_NAME_IN_DESCRIPTION)),
            check.contract_id
        ),
        None => format!("`{}`", check.contract_id),
    };
    let description = format!(
        "**Result:** {}, severity {}/100\n**Contract:** {contract}",
        check.verdict.as_str(),
        check.severity
    );
    let changes = text::changes(check);
    let fields: Vec<Value> = changes
        .iter()
        .map(|(what, names)| {
            json!({
                "name": text::title(what, names.len()),
                "value": text::fit(names, MAX_LISTED, MAX_FIELD_CHARS, |n| format!("`{}`", n.replace('`', "'")), utf16),
                "inline": false,
            })
        })
        .collect();
    let description = if fields.is_empty() {
        format!("{description}\nNo changed columns.")
    } else {
        description
    };
    json!({
        "content": cut(&text::summary(check, contract_name), MAX_CONTENT_CHARS),
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": cut(&text::headline(check, contract_name), MAX_TITLE_CHARS),
            "description": description,
            "color": color,
            "fields": fields,
            "footer": {"text": format!("Check {}", check.id)},
            "timestamp": check.created_at.rfc3339(),
        }],
    })
}

/// The message of a test delivery.
pub fn ping_message(webhook_id: WebhookId) -> Value {
    json!({
        "content": format!("DriftGuard test delivery for webhook {webhook_id}: this channel receives its check results."),
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": "DriftGuard test delivery",
            "description": format!("Webhook `{webhook_id}` is set up: check results of its contracts arrive here."),
            "color": PING_COLOR,
            "fields": [],
        }],
    })
}

/// A name with Discord's markdown characters escaped, so it reads as written.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// UTF-16 units: never fewer than the characters Discord counts.
fn utf16(text: &str) -> usize {
    text.encode_utf16().count()
}
