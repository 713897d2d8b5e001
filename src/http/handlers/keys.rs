//! `/keys`: list, create, revoke, activate, delete.

use serde::Deserialize;

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{created, ok, Response};
use super::super::{error::ApiError, AppState};
use super::{not_found, page_response, path_id};
use crate::credentials::{generate_key, Environment};
use crate::wire::{DeletedView, KeyStateView, KeyView, NewKeyView};

const MISSING: &str = "no such key";

/// `GET /api/v1/keys`, oldest first; never the full key.
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let page = state.store.keys().list(req.caller.account, request).await?;
    Ok(page_response(&req, request, &page, |k| {
        KeyView::new(k, state.auth.last_used_at(k))
    }))
}

#[derive(Deserialize)]
struct CreateKey {
    environment: Environment,
}

/// Parses a `POST /keys` body as the handler does (for the fuzz targets).
pub(super) fn parse_body(bytes: &[u8]) -> Result<(), ApiError> {
    parse_json::<CreateKey>(bytes).map(drop)
}

/// `POST /api/v1/keys`: the full key appears in this answer only.
pub async fn create(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (caller, body): (_, CreateKey) = req.json().await?;
    // Before the creation limit: a refused request must not use up a creation.
    if body.environment == Environment::Live && caller.environment == Environment::Test {
        return Err(ApiError::Forbidden(
            "environment: a test key may not create a live key; use a live key".into(),
        ));
    }
    state.auth.check_key_creation(caller.account)?;
    let key = generate_key(body.environment);
    let record = state
        .store
        .keys()
        .create(caller.account, key.clone())
        .await?;
    Ok(created(&NewKeyView::new(&record, &key)))
}

/// `POST /api/v1/keys/{id}/revoke` and `/activate`.
pub async fn set_active(
    state: &AppState,
    req: ApiRequest,
    id: &str,
    active: bool,
) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let key = state
        .store
        .keys()
        .set_active(req.caller.account, id, active, req.caller.environment)
        .await
        .map_err(not_found(MISSING))?;
    state.auth.forget(&key);
    Ok(ok(&KeyStateView::new(&key)))
}

/// `DELETE /api/v1/keys/{id}`: only a revoked key can be deleted.
pub async fn delete(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let key = state
        .store
        .keys()
        .delete(req.caller.account, id, req.caller.environment)
        .await
        .map_err(not_found(MISSING))?;
    state.auth.forget(&key);
    Ok(ok(&DeletedView::new(key.id)))
}
