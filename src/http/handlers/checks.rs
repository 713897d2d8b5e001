//! `POST /check` and `/checks`.

use serde::Deserialize;

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{ok, Response};
use super::super::{error::ApiError, AppState};
use super::{not_found, page_response, path_id};
use crate::drift::{self, IncomingColumn};
use crate::ids::ContractId;
use crate::wire::CheckView;

#[derive(Deserialize)]
struct CheckRequest {
    contract_id: String,
    incoming_schema: IncomingSchema,
}

#[derive(Deserialize)]
struct IncomingSchema {
    columns: Vec<IncomingColumn>,
}

/// The checks of a check body that need no store: the contract id (a malformed one is a
/// 404, like an unknown one) and the incoming columns.
fn validate(body: CheckRequest) -> Result<(ContractId, Vec<IncomingColumn>), ApiError> {
    const MISSING: &str = "no such contract";
    let columns = body.incoming_schema.columns;
    drift::validate_column_names(
        columns.iter().map(|c| c.name.as_str()),
        "incoming_schema.columns",
    )
    .map_err(ApiError::Invalid)?;
    Ok((path_id(&body.contract_id, MISSING)?, columns))
}

/// Parses and validates a `POST /check` body as the handler does, without a store (for the
/// fuzz targets).
pub(super) fn parse_body(bytes: &[u8]) -> Result<(), ApiError> {
    validate(parse_json(bytes)?).map(drop)
}

/// `POST /api/v1/check`: score the incoming schema, store the result, answer it.
pub async fn run(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    const MISSING: &str = "no such contract";
    let (caller, body): (_, CheckRequest) = req.json().await?;
    let (contract_id, columns) = validate(body)?;
    let check = state
        .store
        .run_check(caller.account, contract_id, columns, caller.environment)
        .await
        .map_err(not_found(MISSING))?;
    state.metrics.count_check(check.verdict.as_str());
    Ok(ok(&CheckView::new(&check)))
}

/// `GET /api/v1/checks/{id}`: the stored result, identical to the original answer.
pub async fn get(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    const MISSING: &str = "no such check";
    let id = path_id(id, MISSING)?;
    let check = state
        .store
        .check(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&CheckView::new(&check)))
}

/// `GET /api/v1/checks`, newest first.
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let page = state.store.list_checks(req.caller.account, request).await?;
    Ok(page_response(&req, request, &page, CheckView::new))
}
