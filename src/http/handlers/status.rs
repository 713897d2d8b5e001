//! `GET /health` (no key) and `GET /usage`.

use hyper::StatusCode;
use serde_json::json;

use super::super::response::{json, ok, Response};
use super::super::{error::ApiError, request::ApiRequest, AppState};
use crate::wire::{OverviewView, UsageView};

/// The crate version, reported by `/health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /api/v1/health`: 200 if the store can be read, else 503 with the reason.
pub async fn health(state: &AppState) -> Response {
    match state.store.health().await {
        Ok(()) => ok(&json!({"status": "ok", "version": VERSION, "storage": "ok"})),
        Err(e) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "unavailable", "version": VERSION, "storage": e.to_string()}),
        ),
    }
}

/// `GET /api/v1/usage`.
pub async fn usage(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let account = state.store.accounts().get(req.caller.account).await?;
    Ok(ok(&UsageView::new(&account)))
}

/// `GET /api/v1/overview`: the console's first page in one answer (SPEC 6.3), from
/// counters kept as checks and deliveries are written.
pub async fn overview(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let overview = state.store.overview(req.caller.account).await?;
    Ok(ok(&OverviewView::new(&overview)))
}
