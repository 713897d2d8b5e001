//! `/contracts`: create, list, get, infer.

use serde::Deserialize;
use serde_json::Value;

use super::super::response::{created, ok, Response};
use super::super::{error::ApiError, request::ApiRequest, AppState};
use super::{check_column_count, not_found, page_response, path_id};
use crate::drift::{self, Column};
use crate::wire::{ContractView, InferredView};

#[derive(Deserialize)]
struct CreateContract {
    name: String,
    schema: Schema,
}

#[derive(Deserialize)]
struct Schema {
    columns: Vec<Column>,
}

/// `POST /api/v1/contracts`.
pub async fn create(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (caller, body): (_, CreateContract) = req.json().await?;
    drift::validate_name(&body.name, "name").map_err(ApiError::Invalid)?;
    let columns = body.schema.columns;
    check_column_count(state, columns.len(), "schema.columns")?;
    drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), "schema.columns")
        .map_err(ApiError::Invalid)?;
    let contract = state
        .store
        .create_contract(caller.account, body.name, columns)
        .await?;
    Ok(created(&ContractView::new(&contract)))
}

/// `GET /api/v1/contracts`, oldest first.
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let page = state
        .store
        .list_contracts(req.caller.account, request)
        .await?;
    Ok(page_response(&req, request, &page, ContractView::new))
}

/// `GET /api/v1/contracts/{id}`.
pub async fn get(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    const MISSING: &str = "no such contract";
    let id = path_id(id, MISSING)?;
    let contract = state
        .store
        .contract(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&ContractView::new(&contract)))
}

#[derive(Deserialize)]
struct InferRequest {
    sample: Value,
}

/// `POST /api/v1/contracts/infer`: creates nothing, costs nothing.
pub async fn infer(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (_, body): (_, InferRequest) = req.json().await?;
    let Value::Object(sample) = &body.sample else {
        return Err(ApiError::Invalid(
            "sample: must be a JSON object (one record)".into(),
        ));
    };
    let columns = drift::infer_columns(sample);
    check_column_count(state, columns.len(), "sample")?;
    drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), "sample")
        .map_err(ApiError::Invalid)?;
    Ok(ok(&InferredView { columns: &columns }))
}
