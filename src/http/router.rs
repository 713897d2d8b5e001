//! From a request to a handler, in the spec's order of checks: unknown route `404` →
//! wrong method `405` → key `401` → rate limit `429` → (in the handler) body `413`/`400`
//! → unknown resource `404` → credits `403`. The web console's paths (`/`, `/ui/…`) go to
//! `console`, which needs no key.

use hyper::body::Incoming;
use hyper::{Method, Request};

use super::error::ApiError;
use super::handlers::{checks, contracts, keys, schemas, status, webhooks};
use super::request::ApiRequest;
use super::response::Response;
use super::AppState;
use super::{console, openapi};

/// The API's endpoints; `&str` parts are path ids, not yet parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Health,
    OpenApi,
    Contracts,
    InferContract,
    Contract(&'a str),
    ContractVersions(&'a str),
    ContractVersion(&'a str, &'a str),
    ContractCompatibility(&'a str),
    Check,
    Checks,
    CheckById(&'a str),
    Usage,
    Overview,
    Keys,
    Key(&'a str),
    RevokeKey(&'a str),
    ActivateKey(&'a str),
    Webhooks,
    Webhook(&'a str),
    WebhookDeliveries(&'a str),
    WebhookTest(&'a str),
    WebhookRecover(&'a str),
    WebhookRotateSecret(&'a str),
    /// `(webhook, delivery)`.
    DeliveryRetry(&'a str, &'a str),
    ConvertSchema,
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Route<'a>> {
        let rest = path.strip_prefix("/api/v1/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(match segments.as_slice() {
            ["health"] => Route::Health,
            ["openapi.json"] => Route::OpenApi,
            ["contracts"] => Route::Contracts,
            ["contracts", "infer"] => Route::InferContract,
            ["contracts", id] => Route::Contract(id),
            ["contracts", id, "versions"] => Route::ContractVersions(id),
            ["contracts", id, "versions", n] => Route::ContractVersion(id, n),
            ["contracts", id, "compatibility"] => Route::ContractCompatibility(id),
            ["check"] => Route::Check,
            ["checks"] => Route::Checks,
            ["checks", id] => Route::CheckById(id),
            ["usage"] => Route::Usage,
            ["overview"] => Route::Overview,
            ["keys"] => Route::Keys,
            ["keys", id] => Route::Key(id),
            ["keys", id, "revoke"] => Route::RevokeKey(id),
            ["keys", id, "activate"] => Route::ActivateKey(id),
            ["webhooks"] => Route::Webhooks,
            ["webhooks", id] => Route::Webhook(id),
            ["webhooks", id, "deliveries"] => Route::WebhookDeliveries(id),
            ["webhooks", id, "test"] => Route::WebhookTest(id),
            ["webhooks", id, "recover"] => Route::WebhookRecover(id),
            ["webhooks", id, "rotate-secret"] => Route::WebhookRotateSecret(id),
            ["webhooks", id, "deliveries", delivery, "retry"] => Route::DeliveryRetry(id, delivery),
            ["schemas", "convert"] => Route::ConvertSchema,
            _ => return None,
        })
    }

    /// The route's pattern, for metrics.
    fn label(self) -> &'static str {
        match self {
            Route::Health => "/api/v1/health",
            Route::OpenApi => "/api/v1/openapi.json",
            Route::Contracts => "/api/v1/contracts",
            Route::InferContract => "/api/v1/contracts/infer",
            Route::Contract(_) => "/api/v1/contracts/{id}",
            Route::ContractVersions(_) => "/api/v1/contracts/{id}/versions",
            Route::ContractVersion(..) => "/api/v1/contracts/{id}/versions/{n}",
            Route::ContractCompatibility(_) => "/api/v1/contracts/{id}/compatibility",
            Route::Check => "/api/v1/check",
            Route::Checks => "/api/v1/checks",
            Route::CheckById(_) => "/api/v1/checks/{id}",
            Route::Usage => "/api/v1/usage",
            Route::Overview => "/api/v1/overview",
            Route::Keys => "/api/v1/keys",
            Route::Key(_) => "/api/v1/keys/{id}",
            Route::RevokeKey(_) => "/api/v1/keys/{id}/revoke",
            Route::ActivateKey(_) => "/api/v1/keys/{id}/activate",
            Route::Webhooks => "/api/v1/webhooks",
            Route::Webhook(_) => "/api/v1/webhooks/{id}",
            Route::WebhookDeliveries(_) => "/api/v1/webhooks/{id}/deliveries",
            Route::WebhookTest(_) => "/api/v1/webhooks/{id}/test",
            Route::WebhookRecover(_) => "/api/v1/webhooks/{id}/recover",
            Route::WebhookRotateSecret(_) => "/api/v1/webhooks/{id}/rotate-secret",
            Route::DeliveryRetry(..) => "/api/v1/webhooks/{id}/deliveries/{dlv}/retry",
            Route::ConvertSchema => "/api/v1/schemas/convert",
        }
    }

    fn methods(self) -> &'static [Method] {
        const GET: &[Method] = &[Method::GET];
        const POST: &[Method] = &[Method::POST];
        const GET_POST: &[Method] = &[Method::GET, Method::POST];
        match self {
            Route::Health
            | Route::ContractVersions(_)
            | Route::ContractVersion(..)
            | Route::OpenApi
            | Route::Checks
            | Route::CheckById(_)
            | Route::Usage
            | Route::Overview
            | Route::WebhookDeliveries(_) => GET,
            Route::InferContract
            | Route::ContractCompatibility(_)
            | Route::Check
            | Route::RevokeKey(_)
            | Route::ActivateKey(_)
            | Route::WebhookTest(_)
            | Route::WebhookRecover(_)
            | Route::WebhookRotateSecret(_)
            | Route::DeliveryRetry(..)
            | Route::ConvertSchema => POST,
            Route::Contracts | Route::Keys | Route::Webhooks => GET_POST,
            Route::Key(_) => &[Method::DELETE],
            Route::Contract(_) => &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE],
            Route::Webhook(_) => &[Method::GET, Method::PATCH, Method::DELETE],
        }
    }
}

/// The pattern (`/api/v1/contracts/{id}`) and methods (without the implied `HEAD`) of
/// the route `path` resolves to, or `None` for an unknown path. Lets tests hold the
/// route table against the OpenAPI document.
pub fn route_of(path: &str) -> Option<(&'static str, &'static [Method])> {
    Route::parse(path).map(|route| (route.label(), route.methods()))
}

/// Answers one request. Never fails: every error becomes the spec's JSON error.
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response {
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    if console::is_console_path(&path) {
        let response = console::serve(state.console, &parts.method, &path);
        let elapsed = started.elapsed().as_secs_f64();
        state
            .metrics
            .observe_request("/ui/", response.status(), elapsed);
        return response;
    }
    let route = Route::parse(&path);
    let response = match dispatch(state, route, parts, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    let label = route.map_or("unmatched", Route::label);
    state
        .metrics
        .observe_request(label, response.status(), started.elapsed().as_secs_f64());
    response
}

async fn dispatch(
    state: &AppState,
    route: Option<Route<'_>>,
    parts: hyper::http::request::Parts,
    body: Incoming,
) -> Result<Response, ApiError> {
    let route = route.ok_or(ApiError::NotFound("no such endpoint"))?;
    // HEAD is answered like GET (hyper leaves the body out), e.g. for load-balancer probes.
    let method = match parts.method {
        Method::HEAD => Method::GET,
        ref other => other.clone(),
    };
    if !route.methods().contains(&method) {
        return Err(ApiError::MethodNotAllowed(route.methods()));
    }
    // The two endpoints anyone may read: no key, no rate limit.
    match route {
        Route::Health => return Ok(status::health(state).await),
        Route::OpenApi => return Ok(openapi::document()),
        _ => {}
    }
    let caller = state.auth.authenticate(&parts.headers).await?;
    state.auth.check_rate(&caller)?;

    let req = ApiRequest::new(caller, parts, body, state.body_limits, state.links.clone());
    match (route, method) {
        (Route::Contracts, Method::GET) => contracts::list(state, req).await,
        (Route::Contracts, _) => contracts::create(state, req).await,
        (Route::InferContract, _) => contracts::infer(state, req).await,
        (Route::Contract(id), Method::GET) => contracts::get(state, req, id).await,
        (Route::Contract(id), Method::DELETE) => contracts::delete(state, req, id).await,
        (Route::Contract(id), _) => contracts::update(state, req, id).await,
        (Route::ContractVersions(id), _) => contracts::versions(state, req, id).await,
        (Route::ContractVersion(id, n), _) => contracts::version(state, req, id, n).await,
        (Route::ContractCompatibility(id), _) => contracts::compatibility(state, req, id).await,
        (Route::Check, _) => checks::run(state, req).await,
        (Route::Checks, _) => checks::list(state, req).await,
        (Route::CheckById(id), _) => checks::get(state, req, id).await,
        (Route::Usage, _) => status::usage(state, req).await,
        (Route::Overview, _) => status::overview(state, req).await,
        (Route::Keys, Method::GET) => keys::list(state, req).await,
        (Route::Keys, _) => keys::create(state, req).await,
        (Route::Key(id), _) => keys::delete(state, req, id).await,
        (Route::RevokeKey(id), _) => keys::set_active(state, req, id, false).await,
        (Route::ActivateKey(id), _) => keys::set_active(state, req, id, true).await,
        (Route::Webhooks, Method::GET) => webhooks::list(state, req).await,
        (Route::Webhooks, _) => webhooks::create(state, req).await,
        (Route::Webhook(id), Method::GET) => webhooks::get(state, req, id).await,
        (Route::Webhook(id), Method::PATCH) => webhooks::patch(state, req, id).await,
        (Route::Webhook(id), _) => webhooks::delete(state, req, id).await,
        (Route::WebhookDeliveries(id), _) => webhooks::deliveries(state, req, id).await,
        (Route::WebhookTest(id), _) => webhooks::test(state, req, id).await,
        (Route::WebhookRecover(id), _) => webhooks::recover(state, req, id).await,
        (Route::WebhookRotateSecret(id), _) => webhooks::rotate_secret(state, req, id).await,
        (Route::DeliveryRetry(id, delivery), _) => webhooks::retry(state, req, id, delivery).await,
        (Route::ConvertSchema, _) => schemas::convert(state, req).await,
        (Route::Health, _) => Ok(status::health(state).await),
        (Route::OpenApi, _) => Ok(openapi::document()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/api/v1/health"), Some(Route::Health));
        assert_eq!(
            Route::parse("/api/v1/contracts/infer"),
            Some(Route::InferContract)
        );
        assert_eq!(
            Route::parse("/api/v1/contracts/ctr_x"),
            Some(Route::Contract("ctr_x"))
        );
        assert_eq!(
            Route::parse("/api/v1/keys/k/revoke"),
            Some(Route::RevokeKey("k"))
        );
        assert_eq!(Route::parse("/api/v1/nope"), None);
        assert_eq!(Route::parse("/api/v2/health"), None);
        assert_eq!(Route::parse("/api/v1/contracts/a/b"), None);
        assert_eq!(
            Route::parse("/api/v1/contracts/c/versions/2"),
            Some(Route::ContractVersion("c", "2"))
        );
        assert_eq!(Route::parse("/"), None);
        assert_eq!(Route::parse("/api/v1/contracts/"), None);
        assert_eq!(Route::parse("/api/v1/keys//revoke"), None);
        assert_eq!(
            Route::parse("/api/v1/webhooks/w/deliveries"),
            Some(Route::WebhookDeliveries("w"))
        );
        assert_eq!(
            Route::parse("/api/v1/webhooks/w/deliveries/d/retry"),
            Some(Route::DeliveryRetry("w", "d"))
        );
        assert_eq!(
            Route::parse("/api/v1/webhooks/w/rotate-secret"),
            Some(Route::WebhookRotateSecret("w"))
        );
        assert_eq!(Route::parse("/api/v1/webhooks/w/deliveries/d"), None);
        assert_eq!(
            Route::parse("/api/v1/schemas/convert"),
            Some(Route::ConvertSchema)
        );
        assert_eq!(Route::parse("/api/v1/schemas"), None);
    }
}
