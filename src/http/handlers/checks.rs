//! `POST /check` and `/checks` (filtered by contract, result and time: SPEC 6.3).

use serde::Deserialize;

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{ok, Response};
use super::super::{error::ApiError, AppState};
use super::{check_column_count, not_found, page_response, parse_since, path_id};
use crate::drift::{self, IncomingColumn, Verdict};
use crate::ids::ContractId;
use crate::store::{CheckFilter, Page};
use crate::wire::{CheckView, IncomingColumnDoc};

#[derive(Deserialize)]
struct CheckRequest {
    contract_id: String,
    incoming_schema: IncomingSchema,
    /// An older version to check against; the current one when absent.
    #[serde(default)]
    contract_version: Option<u32>,
}

#[derive(Deserialize)]
struct IncomingSchema {
    columns: Vec<IncomingColumnDoc>,
}

/// A check body that passed every check that needs no store.
struct ValidCheck {
    contract_id: ContractId,
    contract_version: Option<u32>,
    columns: Vec<IncomingColumn>,
    /// What a 404 says: the contract, or the contract or its version.
    missing: &'static str,
}

/// The checks of a check body that need no store: the column count (`max_columns`) and
/// names, and the contract id (a malformed one is a 404, like an unknown one).
fn validate(body: CheckRequest, max_columns: usize) -> Result<ValidCheck, ApiError> {
    let missing = match body.contract_version {
        None => "no such contract",
        Some(_) => "no such contract or contract version",
    };
    // The names move; nothing is parsed twice.
    let columns: Vec<IncomingColumn> = body
        .incoming_schema
        .columns
        .into_iter()
        .map(IncomingColumn::from)
        .collect();
    check_column_count(max_columns, columns.len(), "incoming_schema.columns")?;
    drift::validate_column_names(
        columns.iter().map(|c| c.name.as_str()),
        "incoming_schema.columns",
    )
    .map_err(ApiError::Invalid)?;
    Ok(ValidCheck {
        contract_id: path_id(&body.contract_id, missing)?,
        contract_version: body.contract_version,
        columns,
        missing,
    })
}

/// Parses and validates a `POST /check` body as the handler does, without a store (for the
/// fuzz targets).
pub(super) fn parse_body(bytes: &[u8]) -> Result<(), ApiError> {
    validate(parse_json(bytes)?, usize::MAX).map(drop)
}

/// `POST /api/v1/check`: score the incoming schema, store the result, answer it.
pub async fn run(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (caller, body): (_, CheckRequest) = req.json().await?;
    let valid = validate(body, state.limits.max_columns)?;
    let check = state
        .store
        .checks()
        .run(
            caller.account,
            valid.contract_id,
            valid.contract_version,
            valid.columns,
            caller.environment,
        )
        .await
        .map_err(not_found(valid.missing))?;
    state.metrics.count_check(check.verdict.as_str());
    Ok(ok(&CheckView::new(&check)))
}

/// `GET /api/v1/checks/{id}`: the stored result, identical to the original answer.
pub async fn get(state: &AppState, req: ApiRequest, id: &str) -> Result<Response, ApiError> {
    const MISSING: &str = "no such check";
    let id = path_id(id, MISSING)?;
    let check = state
        .store
        .checks()
        .get(req.caller.account, id)
        .await
        .map_err(not_found(MISSING))?;
    Ok(ok(&CheckView::new(&check)))
}

/// `GET /api/v1/checks`, newest first.
pub async fn list(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = req.page()?;
    let checks = state.store.checks();
    let page = match list_filter(&req)? {
        None => checks.list(req.caller.account, request).await?,
        Some(None) => Page {
            items: Vec::new(),
            next: None,
        },
        Some(Some(filter)) => {
            checks
                .list_filtered(req.caller.account, filter, request)
                .await?
        }
    };
    Ok(page_response(&req, request, &page, CheckView::new))
}

/// The filter of `GET /checks` (`?contract_id=`, `?result=`, `?since=`): `None` without
/// one; `Some(None)` for a `contract_id` that cannot name a contract (it filters like
/// an unknown one: nothing matches).
fn list_filter(req: &ApiRequest) -> Result<Option<Option<CheckFilter>>, ApiError> {
    let contract = req.query("contract_id");
    let verdict = req.query("result");
    let since = req.query("since");
    if contract.is_none() && verdict.is_none() && since.is_none() {
        return Ok(None);
    }
    let verdict = verdict
        .map(|v| {
            Verdict::from_name(&v).ok_or_else(|| {
                ApiError::Invalid("result: must be pass, warning or breaking".into())
            })
        })
        .transpose()?;
    let since = since.as_deref().map(parse_since).transpose()?;
    let contract = match contract {
        None => None,
        Some(text) => match text.parse::<ContractId>() {
            Ok(id) => Some(id),
            Err(_) => return Ok(Some(None)),
        },
    };
    Ok(Some(Some(CheckFilter {
        contract,
        verdict,
        since,
    })))
}
