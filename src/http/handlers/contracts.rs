//! `/contracts`: create, list, get, infer.

use serde::Deserialize;
use serde_json::Value;

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{self, created, ok, Response};
use super::super::{error::ApiError, AppState};
use super::{not_found, page_response, path_id};
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
    let body = validate_create(body)?;
    let columns = body.schema.columns;
    let contract = state
        .store
        .create_contract(caller.account, body.name, columns)
        .await?;
    Ok(created(&ContractView::new(&contract)))
}

/// The checks of a create body that need no store.
fn validate_create(body: CreateContract) -> Result<CreateContract, ApiError> {
    drift::validate_name(&body.name, "name").map_err(ApiError::Invalid)?;
    drift::validate_column_names(
        body.schema.columns.iter().map(|c| c.name.as_str()),
        "schema.columns",
    )
    .map_err(ApiError::Invalid)?;
    Ok(body)
}

/// Parses and validates the body of `POST /contracts` (`infer`: `/contracts/infer`) as
/// the handler does, without a store (for the fuzz targets).
pub(super) fn parse_body(bytes: &[u8], infer: bool) -> Result<(), ApiError> {
    if infer {
        infer_columns(parse_json(bytes)?).map(drop)
    } else {
        validate_create(parse_json(bytes)?).map(drop)
    }
}

/// `GET /api/v1/contracts`, oldest first; `?name=NAME` filters to that exact name (0 or 1
/// element, through the name index).
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    if let Some(name) = req.query_param("name") {
        drift::validate_name(&name, "name").map_err(ApiError::Invalid)?;
        let found = state
            .store
            .contract_by_name(req.caller.account, name)
            .await?;
        let views: Vec<ContractView> = found.iter().map(ContractView::new).collect();
        return Ok(response::list(&views, None));
    }
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

/// `{"sample": {…}}` (one record) or `{"samples": [{…}, …]}` (1–1000 records). A field
/// given as `null` is present (and wrong), not absent.
#[derive(Deserialize)]
struct InferRequest {
    #[serde(default, deserialize_with = "present")]
    sample: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    samples: Option<Value>,
}

/// `Some` for any value of a field that is there, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `POST /api/v1/contracts/infer`: creates nothing, costs nothing.
pub async fn infer(_state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (_, body): (_, InferRequest) = req.json().await?;
    let columns = infer_columns(body)?;
    Ok(ok(&InferredView { columns: &columns }))
}

/// The columns an infer body asks for, or the 400 that names its field.
fn infer_columns(body: InferRequest) -> Result<Vec<Column>, ApiError> {
    let (columns, field) = match (body.sample, body.samples) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid(
                "sample, samples: give one of them, not both".into(),
            ))
        }
        (Some(Value::Object(sample)), None) => (drift::infer_columns(&sample), "sample"),
        (Some(_), None) => {
            return Err(ApiError::Invalid(
                "sample: must be a JSON object (one record)".into(),
            ))
        }
        (None, Some(Value::Array(samples))) => {
            if samples.is_empty() || samples.len() > drift::MAX_SAMPLES {
                return Err(ApiError::Invalid(format!(
                    "samples: must hold 1 to {} records (got {})",
                    drift::MAX_SAMPLES,
                    samples.len()
                )));
            }
            let records = samples
                .into_iter()
                .enumerate()
                .map(|(i, record)| match record {
                    Value::Object(map) => Ok(map),
                    _ => Err(ApiError::Invalid(format!(
                        "samples[{i}]: must be a JSON object (one record)"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            (drift::infer_samples(&records), "samples")
        }
        (None, Some(_)) => {
            return Err(ApiError::Invalid(format!(
                "samples: must be an array of 1 to {} records",
                drift::MAX_SAMPLES
            )))
        }
        (None, None) => {
            return Err(ApiError::Invalid(
                "sample: missing field (or give samples: [records])".into(),
            ))
        }
    };
    drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), field)
        .map_err(ApiError::Invalid)?;
    Ok(columns)
}
