//! `/webhooks`: register, list, get, pause/resume, delete.

use hyper::Uri;
use serde::Deserialize;

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{created, ok, Response};
use super::super::{error::ApiError, AppState};
use super::{not_found, page_response, path_id};
use crate::credentials::generate_webhook_secret;
use crate::drift::Verdict;
use crate::ids::{ContractId, WebhookId};
use crate::store::NewWebhook;
use crate::wire::{DeletedView, DeliveryView, WebhookView};

const MISSING: &str = "no such webhook";
/// Longest accepted webhook URL.
const MAX_URL_LEN: usize = 2048;

#[derive(Deserialize)]
struct CreateWebhook {
    url: String,
    events: Vec<Verdict>,
    #[serde(default)]
    contract_id: Option<String>,
}

/// `POST /api/v1/webhooks`: the secret appears in this answer only.
pub async fn create(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (caller, body): (_, CreateWebhook) = req.json().await?;
    let new = validate_create(body)?;
    let webhook = state.store.create_webhook(caller.account, new).await?;
    Ok(created(&WebhookView::with_secret(&webhook)))
}

/// Parses and validates a `POST /webhooks` (`patch`: `PATCH /webhooks/{id}`) body as the
/// handler does, without a store (for the fuzz targets).
pub(super) fn parse_body(bytes: &[u8], patch: bool) -> Result<(), ApiError> {
    if patch {
        parse_json::<PatchWebhook>(bytes).map(drop)
    } else {
        validate_create(parse_json(bytes)?).map(drop)
    }
}

/// The checks of a create body that need no store; a fresh secret.
fn validate_create(body: CreateWebhook) -> Result<NewWebhook, ApiError> {
    check_url(&body.url)?;
    if body.events.is_empty() {
        return Err(ApiError::Invalid(
            "events: must list at least one of pass, warning, breaking".into(),
        ));
    }
    let mut events = Vec::with_capacity(3);
    for event in body.events {
        if !events.contains(&event) {
            events.push(event);
        }
    }
    let contract_id = match body.contract_id {
        None => None,
        Some(text) => Some(text.parse::<ContractId>().map_err(|_| {
            ApiError::Invalid("contract_id: no such contract in this account".into())
        })?),
    };
    Ok(NewWebhook {
        url: body.url,
        events,
        contract_id,
        secret: generate_webhook_secret(),
    })
}

/// An absolute `https://` URL with a host.
fn check_url(url: &str) -> Result<(), ApiError> {
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
    if uri.host().is_none_or(str::is_empty) {
        return invalid("must name a host");
    }
    Ok(())
}

/// `GET /api/v1/webhooks`, oldest first; never the secret.
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let page = state
        .store
        .list_webhooks(req.caller.account, request)
        .await?;
    Ok(page_response(&req, request, &page, WebhookView::new))
}

/// `GET /api/v1/webhooks/{id}`.
pub async fn get(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let webhook = state
        .store
        .webhook(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&WebhookView::new(&webhook)))
}

#[derive(Deserialize)]
struct PatchWebhook {
    active: bool,
}

/// `PATCH /api/v1/webhooks/{id}` with `{"active": bool}`: pause or resume.
pub async fn patch(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id::<WebhookId>(id, MISSING);
    let (caller, body): (_, PatchWebhook) = req.json().await?;
    let webhook = state
        .store
        .set_webhook_active(caller.account, id?, body.active)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&WebhookView::new(&webhook)))
}

/// `GET /api/v1/webhooks/{id}/deliveries`, newest first.
pub async fn deliveries(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let request = req.page()?;
    let page = state
        .store
        .list_deliveries(req.caller.account, id, request)
        .await
        .map_err(not_found(MISSING))?;
    Ok(page_response(&req, request, &page, DeliveryView::new))
}

/// `DELETE /api/v1/webhooks/{id}`.
pub async fn delete(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let webhook = state
        .store
        .delete_webhook(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&DeletedView::new(webhook.id)))
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_absolute_https_urls_with_a_host() {
        assert!(check_url("https://hooks.example.com/x?y=1").is_ok());
        assert!(check_url("HTTPS://example.com").is_ok());
        assert!(check_url("https://127.0.0.1:8443/hook").is_ok());
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
