//! One file per resource. Handlers parse the request, call the store, and render a view;
//! they hold no state and no transaction.

pub mod checks;
pub mod contracts;
pub mod keys;
pub mod status;
pub mod webhooks;

use serde::Serialize;

use super::error::ApiError;
use super::request::ApiRequest;
use super::response::{self, Response};
use super::AppState;
use crate::store::{Page, PageRequest, StoreError};

/// Parses a path id; a malformed one is answered like an unknown one.
fn path_id<Id: std::str::FromStr>(text: &str, what: &'static str) -> Result<Id, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound(what))
}

/// Refuses a schema of more than `limits.max_columns` columns; `field` names the list.
fn check_column_count(state: &AppState, count: usize, field: &str) -> Result<(), ApiError> {
    let max = state.limits.max_columns;
    if count > max {
        return Err(ApiError::Invalid(format!(
            "{field}: {count} columns, more than limits.max_columns ({max})"
        )));
    }
    Ok(())
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
