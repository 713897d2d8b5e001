//! What each chat service accepts of a webhook body, as its documentation states it: the
//! one set of rules both the formats' unit test (`src/webhooks/format/tests.rs`, which
//! includes this file) and the test receiver playing the service apply. Each returns
//! every rule a body breaks, empty when the service would take it.
//!
//! Teams is checked by hand against the Adaptive Card 1.4 schema's documented required
//! fields and types (no schema file is vendored): see [`teams_violations`].

use serde_json::Value;

/// Characters, as the services count them.
fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Slack incoming webhooks (also Mattermost, Rocket.Chat): a non-empty `text`, at most
/// 50 `blocks`, a section's text at most 3,000 characters, a header's at most 150.
pub fn slack_violations(body: &[u8]) -> Vec<String> {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return vec!["not JSON".into()];
    };
    let mut broken = Vec::new();
    if message["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
        broken.push("text: missing or empty (no_text)".into());
    }
    match message["blocks"].as_array() {
        None => broken.push("blocks: not an array".into()),
        Some(blocks) => {
            if blocks.len() > 50 {
                broken.push(format!("blocks: {} > 50", blocks.len()));
            }
            for block in blocks {
                if let Some(text) = block["text"]["text"].as_str() {
                    let max = if block["type"] == "header" { 150 } else { 3000 };
                    if chars(text) > max {
                        broken.push(format!("{} text: {} > {max}", block["type"], chars(text)));
                    }
                }
                for field in block["fields"].as_array().into_iter().flatten() {
                    if field["text"].as_str().is_some_and(|t| chars(t) > 2000) {
                        broken.push("section field: > 2000".into());
                    }
                }
            }
        }
    }
    broken
}

/// Discord's "Execute Webhook": `content` at most 2,000 characters; at most 10 embeds,
/// each with title ≤ 256, description ≤ 4,096, ≤ 25 fields (name ≤ 256 and value ≤
/// 1,024, both non-empty strings), footer ≤ 2,048, author ≤ 256, and at most 6,000
/// characters across the titles, descriptions, fields, footers and authors of all
/// embeds; `color` an integer 0..=0xFFFFFF; a message needs content or an embed.
pub fn discord_violations(body: &[u8]) -> Vec<String> {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return vec!["not JSON".into()];
    };
    let mut broken = Vec::new();
    let mut content = 0;
    limit(
        &mut broken,
        "content",
        &message["content"],
        2000,
        &mut content,
    );
    let embeds = match &message["embeds"] {
        Value::Null => Vec::new(),
        Value::Array(embeds) => embeds.clone(),
        _ => {
            broken.push("embeds: not an array".into());
            Vec::new()
        }
    };
    if content == 0 && embeds.is_empty() {
        broken.push("a message needs content or embeds".into());
    }
    if embeds.len() > 10 {
        broken.push(format!("embeds: {} > 10", embeds.len()));
    }
    let mut total = 0;
    for embed in &embeds {
        limit(&mut broken, "title", &embed["title"], 256, &mut total);
        limit(
            &mut broken,
            "description",
            &embed["description"],
            4096,
            &mut total,
        );
        limit(
            &mut broken,
            "footer.text",
            &embed["footer"]["text"],
            2048,
            &mut total,
        );
        limit(
            &mut broken,
            "author.name",
            &embed["author"]["name"],
            256,
            &mut total,
        );
        if !embed["color"].is_null() && embed["color"].as_u64().is_none_or(|c| c > 0xFF_FF_FF) {
            broken.push("color: not an integer 0..=0xFFFFFF".into());
        }
        let fields = match &embed["fields"] {
            Value::Null => Vec::new(),
            Value::Array(fields) => fields.clone(),
            _ => {
                broken.push("fields: not an array".into());
                Vec::new()
            }
        };
        if fields.len() > 25 {
            broken.push(format!("fields: {} > 25", fields.len()));
        }
        for field in &fields {
            for (key, max) in [("name", 256), ("value", 1024)] {
                if field[key].as_str().is_some_and(|t| t.trim().is_empty()) {
                    broken.push(format!("field {key}: empty"));
                }
                if field[key].is_null() {
                    broken.push(format!("field {key}: missing"));
                }
                limit(
                    &mut broken,
                    &format!("field {key}"),
                    &field[key],
                    max,
                    &mut total,
                );
            }
            if !field["inline"].is_null() && !field["inline"].is_boolean() {
                broken.push("field inline: not a boolean".into());
            }
        }
    }
    if total > 6000 {
        broken.push(format!("embeds: {total} characters in all > 6000"));
    }
    broken
}

/// Counts `value` (a string, or absent) into `total` and checks it is at most `max`
/// characters.
fn limit(broken: &mut Vec<String>, what: &str, value: &Value, max: usize, total: &mut usize) {
    if value.is_null() {
        return;
    }
    match value.as_str() {
        None => broken.push(format!("{what}: not a string")),
        Some(text) => {
            *total += chars(text);
            if chars(text) > max {
                broken.push(format!("{what}: {} > {max}", chars(text)));
            }
        }
    }
}

/// The element types Adaptive Card 1.4's schema allows in a body (`ImplementationsOf.Element`).
const CARD_ELEMENTS: [&str; 15] = [
    "TextBlock",
    "Image",
    "Media",
    "RichTextBlock",
    "Container",
    "ColumnSet",
    "FactSet",
    "ImageSet",
    "ActionSet",
    "Input.Text",
    "Input.Number",
    "Input.Date",
    "Input.Time",
    "Input.Toggle",
    "Input.ChoiceSet",
];

/// A Teams workflow message: `type` "message" and `attachments`, an array whose cards
/// have `contentType` "application/vnd.microsoft.card.adaptive" and `content` an
/// Adaptive Card 1.4, checked against the fields and types the 1.4 schema documents:
/// the card's `type` "AdaptiveCard", `version` a "major.minor" string at most 1.4,
/// `body` an array (`$schema` and `fallbackText` strings when present); each element an
/// object whose `type` is a 1.4 element type and whose `id`, `spacing` and `separator`
/// have the schema's types; `TextBlock` a `text` string (`wrap` a boolean, `size`,
/// `weight` and `color` among the schema's values); `FactSet` a `facts` array of
/// `{title, value}` strings; `Container` an `items` array of elements, checked in turn.
pub fn teams_violations(body: &[u8]) -> Vec<String> {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return vec!["not JSON".into()];
    };
    let mut broken = Vec::new();
    if message["type"] != "message" {
        broken.push("type: not \"message\"".into());
    }
    let Some(attachments) = message["attachments"].as_array().filter(|a| !a.is_empty()) else {
        broken.push("attachments: not a non-empty array".into());
        return broken;
    };
    for attachment in attachments {
        if attachment["contentType"] != "application/vnd.microsoft.card.adaptive" {
            broken.push("attachment contentType: not an adaptive card".into());
        }
        if !(attachment["contentUrl"].is_null() || attachment["contentUrl"].is_string()) {
            broken.push("attachment contentUrl: not null or a string".into());
        }
        card_violations(&attachment["content"], &mut broken);
    }
    broken
}

fn card_violations(card: &Value, broken: &mut Vec<String>) {
    if card["type"] != "AdaptiveCard" {
        broken.push("card type: not \"AdaptiveCard\"".into());
    }
    let version = card["version"].as_str().and_then(|v| {
        let (major, minor) = v.split_once('.')?;
        Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
    });
    match version {
        Some(v) if v <= (1, 4) => {}
        _ => broken.push(format!("card version: {} is not 1.0–1.4", card["version"])),
    }
    for key in ["$schema", "fallbackText"] {
        if !card[key].is_null() && !card[key].is_string() {
            broken.push(format!("card {key}: not a string"));
        }
    }
    match card["body"].as_array() {
        None => broken.push("card body: not an array".into()),
        Some(body) => elements(body, "body", broken),
    }
}

fn elements(items: &[Value], at: &str, broken: &mut Vec<String>) {
    for (i, element) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(kind) = element["type"].as_str() else {
            broken.push(format!("{at}: no type"));
            continue;
        };
        if !CARD_ELEMENTS.contains(&kind) {
            broken.push(format!("{at}: {kind} is not an Adaptive Card 1.4 element"));
        }
        let one_of = |key: &str, values: &[&str], broken: &mut Vec<String>| {
            if !element[key].is_null()
                && !element[key].as_str().is_some_and(|v| values.contains(&v))
            {
                broken.push(format!(
                    "{at}.{key}: {} is not one of {values:?}",
                    element[key]
                ));
            }
        };
        if !element["id"].is_null() && !element["id"].is_string() {
            broken.push(format!("{at}.id: not a string"));
        }
        if !element["separator"].is_null() && !element["separator"].is_boolean() {
            broken.push(format!("{at}.separator: not a boolean"));
        }
        one_of(
            "spacing",
            &[
                "default",
                "none",
                "small",
                "medium",
                "large",
                "extraLarge",
                "padding",
            ],
            broken,
        );
        match kind {
            "TextBlock" => {
                if !element["text"].is_string() {
                    broken.push(format!("{at}.text: not a string"));
                }
                if !element["wrap"].is_null() && !element["wrap"].is_boolean() {
                    broken.push(format!("{at}.wrap: not a boolean"));
                }
                let case_free = |key: &str, values: &[&str], broken: &mut Vec<String>| {
                    if let Some(v) = element[key].as_str() {
                        if !values.iter().any(|x| x.eq_ignore_ascii_case(v)) {
                            broken.push(format!("{at}.{key}: {v} is not one of {values:?}"));
                        }
                    } else if !element[key].is_null() {
                        broken.push(format!("{at}.{key}: not a string"));
                    }
                };
                case_free(
                    "size",
                    &["default", "small", "medium", "large", "extraLarge"],
                    broken,
                );
                case_free("weight", &["default", "lighter", "bolder"], broken);
                case_free(
                    "color",
                    &[
                        "default",
                        "dark",
                        "light",
                        "accent",
                        "good",
                        "warning",
                        "attention",
                    ],
                    broken,
                );
            }
            "FactSet" => match element["facts"].as_array() {
                None => broken.push(format!("{at}.facts: not an array")),
                Some(facts) => {
                    for fact in facts {
                        if !fact["title"].is_string() || !fact["value"].is_string() {
                            broken.push(format!(
                                "{at}.facts: {fact} is not {{title, value}} strings"
                            ));
                        }
                    }
                }
            },
            "Container" => match element["items"].as_array() {
                None => broken.push(format!("{at}.items: not an array")),
                Some(items) => elements(items, &format!("{at}.items"), broken),
            },
            _ => {}
        }
    }
}

/// PagerDuty Events API v2 (`POST /v2/enqueue`): a JSON object with a `routing_key` of 32
/// characters, an `event_action` among `trigger`, `acknowledge`, `resolve`, and a
/// `dedup_key` (a string of at most 255 characters) — required to acknowledge or resolve.
/// A `trigger` needs a `payload` with a non-empty `summary` of at most 1,024 characters,
/// a non-empty `source`, and a `severity` among `critical`, `error`, `warning`, `info`;
/// `timestamp` when given is a string, `custom_details` an object. The whole event is at
/// most 512 KB.
pub fn pagerduty_violations(body: &[u8]) -> Vec<String> {
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        return vec!["not JSON".into()];
    };
    let mut broken = Vec::new();
    if body.len() > 512 * 1024 {
        broken.push(format!("event: {} bytes > 512 KB", body.len()));
    }
    if event["routing_key"].as_str().is_none_or(|k| k.len() != 32) {
        broken.push("routing_key: missing or not 32 characters".into());
    }
    let action = event["event_action"].as_str();
    if !matches!(action, Some("trigger" | "acknowledge" | "resolve")) {
        broken.push(format!(
            "event_action: {} is not trigger, acknowledge or resolve",
            event["event_action"]
        ));
    }
    match &event["dedup_key"] {
        Value::Null if action != Some("trigger") => {
            broken.push("dedup_key: required to acknowledge or resolve".into())
        }
        Value::Null => {}
        Value::String(key) if chars(key) <= 255 => {}
        other => broken.push(format!("dedup_key: {other} is not a string of at most 255")),
    }
    if action == Some("trigger") {
        let payload = &event["payload"];
        match payload["summary"].as_str() {
            Some(s) if !s.is_empty() && chars(s) <= 1024 => {}
            _ => broken.push("payload.summary: missing, empty or over 1,024 characters".into()),
        }
        if payload["source"].as_str().is_none_or(str::is_empty) {
            broken.push("payload.source: missing or empty".into());
        }
        if !matches!(
            payload["severity"].as_str(),
            Some("critical" | "error" | "warning" | "info")
        ) {
            broken.push(format!(
                "payload.severity: {} is not critical, error, warning or info",
                payload["severity"]
            ));
        }
        if !(payload["timestamp"].is_null() || payload["timestamp"].is_string()) {
            broken.push("payload.timestamp: not a string".into());
        }
        if !(payload["custom_details"].is_null() || payload["custom_details"].is_object()) {
            broken.push("payload.custom_details: not an object".into());
        }
    }
    broken
}
