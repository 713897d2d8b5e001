//! One file per resource. Handlers parse the request, call the store, and render a view;
//! they hold no state and no transaction.

pub mod checks;
pub mod contracts;
pub mod keys;
pub mod schemas;
pub mod status;
pub mod webhooks;

use serde::Serialize;

use super::error::ApiError;
use super::request::ApiRequest;
use super::response::{self, Response};
use crate::store::{Page, PageRequest, StoreError};

/// The request bodies the API parses, by endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `POST /contracts`.
    CreateContract,
    /// `POST /contracts/infer`.
    Infer,
    /// `POST /check`.
    Check,
    /// `POST /webhooks`.
    CreateWebhook,
    /// `PATCH /webhooks/{id}`.
    PatchWebhook,
    /// `POST /keys`.
    CreateKey,
    /// `POST /schemas/convert` (the conversion included: it reads no store).
    ConvertSchema,
}

impl Body {
    /// Every body kind.
    pub const ALL: [Body; 7] = [
        Body::CreateContract,
        Body::Infer,
        Body::Check,
        Body::CreateWebhook,
        Body::PatchWebhook,
        Body::CreateKey,
        Body::ConvertSchema,
    ];
}

/// Parses and validates `bytes` as the handler of `body` does before it reaches the store:
/// `Ok` or the `400`/`404` it would answer — never a panic. The fuzz targets call this.
pub fn parse_body(body: Body, bytes: &[u8]) -> Result<(), ApiError> {
    match body {
        Body::CreateContract => contracts::parse_body(bytes, false),
        Body::Infer => contracts::parse_body(bytes, true),
        Body::Check => checks::parse_body(bytes),
        Body::CreateWebhook => webhooks::parse_body(bytes, false),
        Body::PatchWebhook => webhooks::parse_body(bytes, true),
        Body::CreateKey => keys::parse_body(bytes),
        Body::ConvertSchema => schemas::parse_body(bytes),
    }
}

/// Parses a path id; a malformed one is answered like an unknown one.
fn path_id<Id: std::str::FromStr>(text: &str, what: &'static str) -> Result<Id, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound(what))
}

/// Refuses a schema of more than `max` columns (`limits.max_columns`); `field` names the
/// list.
fn check_column_count(max: usize, count: usize, field: &str) -> Result<(), ApiError> {
    if count > max {
        return Err(ApiError::Invalid(format!(
            "{field}: {count} columns, more than limits.max_columns ({max})"
        )));
    }
    Ok(())
}

/// `since`, a body field or a query parameter: an RFC 3339 time, else a 400 naming it.
fn parse_since(text: &str) -> Result<crate::clock::UnixMs, ApiError> {
    crate::clock::UnixMs::parse_rfc3339(text).ok_or_else(|| {
        ApiError::Invalid("since: must be an RFC 3339 time like 2026-03-01T19:22:00Z".into())
    })
}

/// Maps the store's `NotFound` to a 404 that says what was not found.
fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

/// Renders one page of a list, announcing the next page in a `Link` header.
fn page_response<'a, T, V: Serialize>(
    req: &ApiRequest,
    request: PageRequest,
    page: &'a Page<T>,
    view: impl Fn(&'a T) -> V,
) -> Response {
    let next = page.next.map(|cursor| req.next_page_url(request, cursor));
    let views: Vec<V> = page.items.iter().map(view).collect();
    response::list(&views, next)
}
