//! `/webhooks`: register, list, get, update (PATCH), delete; the deliveries history;
//! test deliveries, retry and recover; secret rotation.

use std::time::Duration;

use hyper::Uri;
use serde::{Deserialize, Deserializer};

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{accepted, created, ok, Response};
use super::super::{error::ApiError, AppState};
use super::{not_found, page_response, parse_since, path_id};
use crate::credentials::generate_webhook_secret;
use crate::drift::Verdict;
use crate::filter::{MAX_MIN_SEVERITY, MAX_PATTERNS, MAX_PATTERN_CHARS};
use crate::ids::{ContractId, DeliveryId, WebhookId};
use crate::model::{WebhookFilter, WebhookFormat};
use crate::store::{NewWebhook, WebhookUpdate};
use crate::webhooks::guard::TargetGuard;
use crate::webhooks::TestError;
use crate::wire::{
    DeletedView, DeliveryView, RequeuedView, RotatedSecretView, VerdictDoc, WebhookView,
};

const MISSING: &str = "no such webhook";
/// The 404 of a retry, whether the webhook or the delivery is unknown (one answer, so
/// the route tells nothing about which one exists).
const MISSING_DELIVERY: &str = "no such delivery";
/// Longest accepted webhook URL.
const MAX_URL_LEN: usize = 2048;
/// `grace_seconds` of a rotation: default and most.
const DEFAULT_GRACE_SECONDS: u64 = 86_400;
const MAX_GRACE_SECONDS: u64 = 604_800;

#[derive(Deserialize)]
struct CreateWebhook {
    url: String,
    events: Vec<VerdictDoc>,
    #[serde(default)]
    contract_id: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    filter: Option<FilterDoc>,
    #[serde(default)]
    routing_key: Option<String>,
}

/// A webhook's `filter` as a body gives it; either part may be left out (or `null`).
#[derive(Deserialize)]
struct FilterDoc {
    #[serde(default)]
    min_severity: Option<u8>,
    #[serde(default)]
    contract_names: Option<Vec<String>>,
}

/// Length of a PagerDuty integration (routing) key.
const ROUTING_KEY_LEN: usize = 32;

/// `POST /api/v1/webhooks`: the secret appears in this answer only.
pub async fn create(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (caller, body): (_, CreateWebhook) = req.json().await?;
    let new = body.validate(Some(&state.target_guard))?;
    let webhook = state
        .store
        .webhooks()
        .create(caller.account, new, state.limits.max_webhooks)
        .await?;
    Ok(created(&WebhookView::with_secret(&webhook)))
}

impl CreateWebhook {
    /// The registration this body asks for, validated by [`Fields::validate`] like a
    /// PATCH, with a new secret.
    fn validate(self, guard: Option<&TargetGuard>) -> Result<NewWebhook, ApiError> {
        let checked = Fields {
            url: Some(Some(self.url)),
            events: Some(Some(self.events)),
            contract_id: self.contract_id.map(Some),
            format: self.format.map(Some),
            filter: Some(self.filter),
            routing_key: self.routing_key.map(Some),
            active: None,
        }
        .validate(guard)?;
        Ok(NewWebhook {
            // Both given (serde requires them), so both checked.
            url: checked.url.unwrap_or_default(),
            events: checked.events.unwrap_or_default(),
            contract_id: checked.contract_id.flatten(),
            secret: generate_webhook_secret(),
            format: checked.format.unwrap_or(WebhookFormat::Json),
            filter: checked.filter.flatten(),
            routing_key: checked.routing_key,
        })
    }
}

/// A webhook's fields as a create or PATCH body gives them — the PATCH body itself. Each
/// is absent (`None`) or given, `null` included (`Some(None)`): `null` means every
/// contract for `contract_id` and is refused for the others.
#[derive(Deserialize)]
struct Fields {
    #[serde(default, deserialize_with = "given")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    events: Option<Option<Vec<VerdictDoc>>>,
    #[serde(default, deserialize_with = "given")]
    contract_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    format: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    filter: Option<Option<FilterDoc>>,
    #[serde(default, deserialize_with = "given")]
    routing_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    active: Option<Option<bool>>,
}

impl Fields {
    /// The one validation of webhook fields, for create and PATCH alike, in field order:
    /// a 400 naming the first bad one. `guard` vets the URL's host (`None`: its shape
    /// only — the fuzz targets). Whether a `contract_id` is one of the account's
    /// contracts is the store's one rule, on both routes too.
    fn validate(self, guard: Option<&TargetGuard>) -> Result<WebhookUpdate, ApiError> {
        let url = not_null("url", self.url)?;
        if let Some(url) = &url {
            let host = url_host(url)?;
            if let Some(guard) = guard {
                guard.check_url_host(&host).map_err(ApiError::Invalid)?;
            }
        }
        Ok(WebhookUpdate {
            url,
            events: not_null("events", self.events)?
                .map(check_events)
                .transpose()?,
            contract_id: self
                .contract_id
                .map(|c| c.map(|t| parse_contract_id(&t)).transpose())
                .transpose()?,
            format: not_null("format", self.format)?
                .map(|f| parse_format(&f))
                .transpose()?,
            filter: self
                .filter
                .map(|f| f.map(check_filter).transpose())
                .transpose()?,
            routing_key: not_null("routing_key", self.routing_key)?
                .map(check_routing_key)
                .transpose()?,
            active: not_null("active", self.active)?,
        })
    }
}

/// Parses and validates a `POST /webhooks` (`patch`: `PATCH /webhooks/{id}`) body as far
/// as the handler does without a store or the target guard (for the fuzz targets).
pub(super) fn parse_body(bytes: &[u8], patch: bool) -> Result<(), ApiError> {
    if patch {
        parse_json::<Fields>(bytes)?.validate(None)?;
    } else {
        parse_json::<CreateWebhook>(bytes)?.validate(None)?;
    }
    Ok(())
}

/// A non-empty list of verdicts, without duplicates, in the order given.
fn check_events(given: Vec<VerdictDoc>) -> Result<Vec<Verdict>, ApiError> {
    if given.is_empty() {
        return Err(ApiError::Invalid(
            "events: must list at least one of pass, warning, breaking".into(),
        ));
    }
    let mut events = Vec::with_capacity(3);
    for event in given.into_iter().map(Verdict::from) {
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(events)
}

/// A filter within its bounds: `min_severity` 0–100, at most 100 name patterns of 1–256
/// characters each.
fn check_filter(doc: FilterDoc) -> Result<WebhookFilter, ApiError> {
    if let Some(min) = doc.min_severity.filter(|&m| m > MAX_MIN_SEVERITY) {
        return Err(ApiError::Invalid(format!(
            "filter.min_severity: {min} is above {MAX_MIN_SEVERITY} (severities are 0–100)"
        )));
    }
    if let Some(patterns) = &doc.contract_names {
        let invalid = |why: String| Err(ApiError::Invalid(format!("filter.contract_names: {why}")));
        if patterns.len() > MAX_PATTERNS {
            return invalid(format!("at most {MAX_PATTERNS} patterns"));
        }
        for (i, pattern) in patterns.iter().enumerate() {
            let chars = pattern.chars().count();
            if chars == 0 || chars > MAX_PATTERN_CHARS {
                return invalid(format!(
                    "pattern {i} must be 1 to {MAX_PATTERN_CHARS} characters"
                ));
            }
        }
    }
    Ok(WebhookFilter {
        min_severity: doc.min_severity,
        contract_names: doc.contract_names,
    })
}

/// A PagerDuty routing key: the 32 letters and digits of an Events API v2 integration.
fn check_routing_key(key: String) -> Result<String, ApiError> {
    if key.len() == ROUTING_KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(key)
    } else {
        Err(ApiError::Invalid(format!(
            "routing_key: must be the {ROUTING_KEY_LEN} letters and digits of a PagerDuty Events API v2 integration key"
        )))
    }
}

/// A contract id; one that cannot be the account's is answered like an unknown one.
fn parse_contract_id(text: &str) -> Result<ContractId, ApiError> {
    text.parse::<ContractId>()
        .map_err(|_| ApiError::Invalid("contract_id: no such contract in this account".into()))
}

/// A format by its name; the 400 lists every name, so a typo shows the right one.
fn parse_format(text: &str) -> Result<WebhookFormat, ApiError> {
    WebhookFormat::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = WebhookFormat::ALL.iter().map(|f| f.as_str()).collect();
        ApiError::Invalid(format!(
            "format: {text:?} is not one of {}",
            names.join(", ")
        ))
    })
}

/// The host of an absolute `https://` URL without userinfo (a `user:password@` would be
/// stored and listed to every key of the account).
fn url_host(url: &str) -> Result<String, ApiError> {
    let invalid = |why: &str| Err(ApiError::Invalid(format!("url: {why}")));
    if url.len() > MAX_URL_LEN {
        return invalid("longer than 2048 characters");
    }
    let Ok(uri) = url.parse::<Uri>() else {
        return invalid("not a valid absolute URL");
    };
    if !uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"))
    {
        return invalid("must be an absolute https:// URL");
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return invalid("must not carry a user name or password (user:password@); put credentials in the path or query if the receiver needs them");
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(host.to_owned()),
        _ => invalid("must name a host"),
    }
}

/// `GET /api/v1/webhooks`, oldest first; never the secret.
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let with_deliveries = req.include("deliveries_24h")?;
    let webhooks = state.store.webhooks();
    let page = webhooks.list(req.caller.account, request).await?;
    if !with_deliveries {
        return Ok(page_response(&req, request, &page, WebhookView::new));
    }
    let counts = webhooks.deliveries_24h(req.caller.account).await?;
    Ok(page_response(&req, request, &page, |webhook| {
        let counts = counts.get(&webhook.id).copied().unwrap_or_default();
        WebhookView::new(webhook).with_deliveries_24h(counts)
    }))
}

/// `GET /api/v1/webhooks/{id}`.
pub async fn get(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let with_deliveries = req.include("deliveries_24h")?;
    let webhooks = state.store.webhooks();
    let webhook = webhooks
        .get(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    if !with_deliveries {
        return Ok(ok(&WebhookView::new(&webhook)));
    }
    let counts = webhooks.deliveries_24h(req.caller.account).await?;
    let counts = counts.get(&webhook.id).copied().unwrap_or_default();
    Ok(ok(&WebhookView::new(&webhook).with_deliveries_24h(counts)))
}

/// A field of a PATCH body: absent (`None`), or given — `null` included (`Some(None)`).
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A PATCH field that may be omitted but not `null`.
fn not_null<T>(field: &str, value: Option<Option<T>>) -> Result<Option<T>, ApiError> {
    match value {
        Some(None) => Err(ApiError::Invalid(format!("{field}: must not be null"))),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// `PATCH /api/v1/webhooks/{id}`: any of `url`, `events`, `contract_id` (`null`: every
/// contract), `format`, `filter` (`null`: none), `routing_key`, `active`, validated as on
/// create. The secret never changes here.
pub async fn patch(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id::<WebhookId>(id, MISSING);
    let (caller, body): (_, Fields) = req.json_all_optional().await?;
    let update = body.validate(Some(&state.target_guard))?;
    let webhook = state
        .store
        .webhooks()
        .update(caller.account, id?, update)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&WebhookView::new(&webhook)))
}

/// `POST /api/v1/webhooks/{id}/test`: one signed test delivery now (to a paused webhook
/// too), answered with its record once the single attempt has ended. Any body is
/// ignored.
pub async fn test(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let delivery = state
        .deliveries
        .send_test(req.caller.account, id)
        .await
        .map_err(|e| match e {
            TestError::Busy => ApiError::RateLimited {
                message: "too many webhook attempts in flight; send the test again shortly",
                retry_after: 1,
            },
            TestError::Store(e) => not_found(MISSING)(e),
        })?;
    Ok(ok(&DeliveryView::new(&delivery)))
}

/// `POST /api/v1/webhooks/{id}/deliveries/{dlv}/retry`: queues a delivered or abandoned
/// delivery again (`202`); `409` while it is pending.
pub async fn retry(
    state: &AppState,
    req: ApiRequest,
    id: &str,
    delivery: &str,
) -> Result<Response, ApiError> {
    let id = path_id::<WebhookId>(id, MISSING_DELIVERY)?;
    let delivery = path_id::<DeliveryId>(delivery, MISSING_DELIVERY)?;
    let delivery = state
        .store
        .deliveries()
        .retry(req.caller.account, id, delivery)
        .await
        .map_err(not_found(MISSING_DELIVERY))?;
    Ok(accepted(&DeliveryView::new(&delivery)))
}

#[derive(Deserialize)]
struct Recover {
    since: String,
}

/// `POST /api/v1/webhooks/{id}/recover` with `{"since": RFC 3339}`: queues again every
/// abandoned delivery created at or after `since`; `202 {"requeued": N}`.
pub async fn recover(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id::<WebhookId>(id, MISSING);
    let (caller, body): (_, Recover) = req.json().await?;
    let since = parse_since(&body.since)?;
    let requeued = state
        .store
        .deliveries()
        .recover(caller.account, id?, since)
        .await
        .map_err(not_found(MISSING))?;
    Ok(accepted(&RequeuedView { requeued }))
}

#[derive(Default, Deserialize)]
struct Rotate {
    #[serde(default, deserialize_with = "whole_number")]
    grace_seconds: Option<u64>,
}

/// A non-negative whole number, however JSON writes it: `86400` and `86400.0` are the same
/// number (JSON Schema's `integer` says so too); `null` is the same as leaving it out.
/// Anything else is a 400 naming the field.
fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(f))
            .map(|f| f as u64)
    });
    whole
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("expected a non-negative whole number"))
}

/// `POST /api/v1/webhooks/{id}/rotate-secret` with optional `{"grace_seconds": N}`: a new
/// secret, shown only here; the old one keeps signing for the grace period.
pub async fn rotate_secret(
    state: &AppState,
    req: ApiRequest,
    id: &str,
) -> Result<Response, ApiError> {
    let id = path_id::<WebhookId>(id, MISSING);
    let (caller, body): (_, Rotate) = req.json_or_default().await?;
    let grace = body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if grace > MAX_GRACE_SECONDS {
        return Err(ApiError::Invalid(format!(
            "grace_seconds: must be an integer from 0 to {MAX_GRACE_SECONDS}"
        )));
    }
    let webhook = state
        .store
        .webhooks()
        .rotate_secret(
            caller.account,
            id?,
            generate_webhook_secret(),
            Duration::from_secs(grace),
        )
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&RotatedSecretView::new(&webhook)))
}

/// `GET /api/v1/webhooks/{id}/deliveries`, newest first.
pub async fn deliveries(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let request = req.page()?;
    let page = state
        .store
        .deliveries()
        .list(req.caller.account, id, request)
        .await
        .map_err(not_found(MISSING))?;
    Ok(page_response(&req, request, &page, DeliveryView::new))
}

/// `DELETE /api/v1/webhooks/{id}`.
pub async fn delete(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let webhook = state
        .store
        .webhooks()
        .delete(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&DeletedView::new(webhook.id)))
}

#[cfg(test)]
mod tests {
    use super::url_host;

    fn check_url(url: &str) -> Result<String, super::ApiError> {
        url_host(url)
    }

    #[test]
    fn only_absolute_https_urls_with_a_host() {
        assert!(check_url("https://hooks.example.com/x?y=1").is_ok());
        assert!(check_url("HTTPS://example.com").is_ok());
        assert!(check_url("https://127.0.0.1:8443/hook").is_ok());
        // The host as the target guard gets it.
        assert_eq!(
            check_url("https://[::1]:9/x").ok().as_deref(),
            Some("[::1]")
        );
        assert_eq!(check_url("https://127.1/x").ok().as_deref(), Some("127.1"));
        for bad in [
            "http://example.com/hook",
            "ftp://example.com/hook",
            "/relative/path",
            "example.com/hook",
            "https://",
            "https:///path",
            "https://:443/path",
            "",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
