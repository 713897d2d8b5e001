//! `/contracts`: create, list (and find by name), get, update (with a dry run), delete,
//! version history, infer.

use serde::Deserialize;
use serde_json::Value;

use super::super::request::{parse_json, ApiRequest, Object};
use super::super::response::{created, ok, Response};
use super::super::{error::ApiError, AppState};
use super::{check_column_count, not_found, page_response, path_id};
use crate::drift::{self, Column, Rules};
use crate::ids::ContractId;
use crate::store::{ContractUpdate, NewContract, Page};
use crate::wire::{
    ColumnDoc, CompatibilityDoc, CompatibilityView, ContractDeletedView, ContractView,
    ContractWithLastCheckView, DryRunView, InferredView, RulesDoc, VersionView,
};

const MISSING: &str = "no such contract";
const MISSING_VERSION: &str = "no such contract version";

#[derive(Deserialize)]
struct CreateContract {
    name: String,
    schema: Schema,
    #[serde(default)]
    compatibility: Option<CompatibilityDoc>,
}

#[derive(Deserialize)]
struct Schema {
    columns: Vec<ColumnDoc>,
    #[serde(default)]
    rules: Option<Object<RulesDoc>>,
}

/// Parsed columns as the drift engine's (their names move).
fn columns_of(docs: Vec<ColumnDoc>) -> Vec<Column> {
    docs.into_iter().map(Column::from).collect()
}

/// Parsed rules as the drift engine's; absent, the defaults.
fn rules_of(doc: Option<Object<RulesDoc>>) -> Option<Rules> {
    doc.map(|Object(r)| r.into())
}

/// `POST /api/v1/contracts`.
pub async fn create(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (caller, body): (_, CreateContract) = req.json().await?;
    let new = validate_create(body, state.limits.max_columns)?;
    let contract = state.store.contracts().create(caller.account, new).await?;
    Ok(created(&ContractView::new(&contract)))
}

/// The one check of a contract's fields that needs no store, for create and update
/// alike (each checks what it was given): a name of 1–256 characters; columns within
/// `limits.max_columns`, with valid, distinct names. A name taken by another contract is
/// the store's rule.
fn validate_fields(
    name: Option<&str>,
    columns: Option<&[Column]>,
    max_columns: usize,
) -> Result<(), ApiError> {
    if let Some(name) = name {
        drift::validate_name(name, "name").map_err(ApiError::Invalid)?;
    }
    if let Some(columns) = columns {
        check_column_count(max_columns, columns.len(), "schema.columns")?;
        drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), "schema.columns")
            .map_err(ApiError::Invalid)?;
    }
    Ok(())
}

/// The checks of a create body that need no store.
fn validate_create(body: CreateContract, max_columns: usize) -> Result<NewContract, ApiError> {
    let columns = columns_of(body.schema.columns);
    validate_fields(Some(&body.name), Some(&columns), max_columns)?;
    Ok(NewContract {
        name: body.name,
        columns,
        rules: rules_of(body.schema.rules).unwrap_or_default(),
        compatibility: body.compatibility.map(Into::into).unwrap_or_default(),
    })
}

/// Parses and validates the body of `POST /contracts` (`infer`: `/contracts/infer`) as
/// the handler does, without a store (for the fuzz targets).
pub(super) fn parse_body(bytes: &[u8], infer: bool) -> Result<(), ApiError> {
    if infer {
        infer_columns(parse_json(bytes)?, usize::MAX).map(drop)
    } else {
        validate_create(parse_json(bytes)?, usize::MAX).map(drop)
    }
}

/// `GET /api/v1/contracts`, oldest first; `?name=NAME` filters to that exact name (0 or 1
/// element, through the name index).
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let include_last_check = req.include("last_check")?;
    let contracts = state.store.contracts();
    let page = match req.query("name") {
        Some(name) => {
            drift::validate_name(&name, "name").map_err(ApiError::Invalid)?;
            let found = contracts.by_name(req.caller.account, name).await?;
            Page {
                items: found.into_iter().collect(),
                next: None,
            }
        }
        None => contracts.list(req.caller.account, request).await?,
    };
    if !include_last_check {
        return Ok(page_response(&req, request, &page, ContractView::new));
    }
    let ids = page.items.iter().map(|c| c.id).collect();
    let last = contracts.last_checks(req.caller.account, ids).await?;
    let page = Page {
        items: page.items.iter().zip(last).collect::<Vec<_>>(),
        next: page.next,
    };
    Ok(page_response(&req, request, &page, |(contract, last)| {
        ContractWithLastCheckView::new(contract, last.as_ref())
    }))
}

/// `GET /api/v1/contracts/{id}`.
pub async fn get(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let contract = state
        .store
        .contracts()
        .get(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&ContractView::new(&contract)))
}

#[derive(Deserialize)]
struct UpdateContract {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Object<UpdateSchema>>,
    #[serde(default)]
    compatibility: Option<CompatibilityDoc>,
}

#[derive(Deserialize)]
struct UpdateSchema {
    #[serde(default)]
    columns: Option<Vec<ColumnDoc>>,
    #[serde(default)]
    rules: Option<Object<RulesDoc>>,
}

/// `PUT` and `PATCH /api/v1/contracts/{id}` (same meaning): a partial update, a new
/// version if anything changed — `409 incompatible` if it changes the columns in a way
/// the mode it leaves in force refuses; `?dry_run=true` answers what it would become (or
/// the same `409`), with its `changes`, and stores nothing.
pub async fn update(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id::<ContractId>(id, MISSING);
    let dry_run = match req.query("dry_run").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::Invalid("dry_run: must be true or false".into())),
    };
    let (caller, body): (_, UpdateContract) = req.json().await?;
    let (columns, rules) = match body.schema {
        Some(Object(schema)) => (schema.columns.map(columns_of), rules_of(schema.rules)),
        None => (None, None),
    };
    validate_fields(
        body.name.as_deref(),
        columns.as_deref(),
        state.limits.max_columns,
    )?;
    let update = ContractUpdate {
        name: body.name,
        columns,
        rules,
        compatibility: body.compatibility.map(Into::into),
    };
    let updated = state
        .store
        .contracts()
        .update(
            caller.account,
            id?,
            update,
            dry_run,
            state.limits.max_versions,
        )
        .await
        .map_err(not_found(MISSING))?;
    if dry_run {
        Ok(ok(&DryRunView::new(
            &updated.contract,
            updated.changes.as_ref(),
        )))
    } else {
        Ok(ok(&ContractView::new(&updated.contract)))
    }
}

#[derive(Deserialize)]
struct CompatibilityRequest {
    schema: CompatibilitySchema,
    #[serde(default)]
    compatibility: Option<CompatibilityDoc>,
}

#[derive(Deserialize)]
struct CompatibilitySchema {
    columns: Vec<ColumnDoc>,
}

/// `POST /api/v1/contracts/{id}/compatibility`: whether `schema` could be the contract's
/// next version under its mode (or the one given) — the question of an update, without
/// the update. Stores nothing, costs nothing.
pub async fn compatibility(
    state: &AppState,
    req: ApiRequest,
    id: &str,
) -> Result<Response, ApiError> {
    let id = path_id::<ContractId>(id, MISSING);
    let (caller, body): (_, CompatibilityRequest) = req.json().await?;
    let columns = columns_of(body.schema.columns);
    validate_fields(None, Some(&columns), state.limits.max_columns)?;
    let (mode, violations) = state
        .store
        .contracts()
        .judge(
            caller.account,
            id?,
            columns,
            body.compatibility.map(Into::into),
        )
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&CompatibilityView::new(mode, &violations)))
}

/// `DELETE /api/v1/contracts/{id}`: the contract, its versions and its scoped webhooks.
pub async fn delete(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let webhooks = state
        .store
        .contracts()
        .delete(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&ContractDeletedView::new(id, &webhooks)))
}

/// `GET /api/v1/contracts/{id}/versions`, newest first.
pub async fn versions(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING)?;
    let request = req.page()?;
    let page = state
        .store
        .contracts()
        .versions(req.caller.account, id, request)
        .await
        .map_err(not_found(MISSING))?;
    Ok(page_response(&req, request, &page, VersionView::new))
}

/// `GET /api/v1/contracts/{id}/versions/{n}`.
pub async fn version(
    state: &AppState,
    req: ApiRequest,
    id: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let id = path_id(id, MISSING_VERSION)?;
    // Like a malformed id, a version that is not a positive integer names nothing.
    let version = version
        .parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or(ApiError::NotFound(MISSING_VERSION))?;
    let entry = state
        .store
        .contracts()
        .version(req.caller.account, id, version)
        .await
        .map_err(not_found(MISSING_VERSION))?;
    Ok(ok(&VersionView::new(&entry)))
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
pub async fn infer(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (_, body): (_, InferRequest) = req.json().await?;
    let columns = infer_columns(body, state.limits.max_columns)?;
    Ok(ok(&InferredView::new(&columns)))
}

/// The columns an infer body asks for, or the 400 that names its field.
fn infer_columns(body: InferRequest, max_columns: usize) -> Result<Vec<Column>, ApiError> {
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
    check_column_count(max_columns, columns.len(), field)?;
    drift::validate_column_names(columns.iter().map(|c| c.name.as_str()), field)
        .map_err(ApiError::Invalid)?;
    Ok(columns)
}
