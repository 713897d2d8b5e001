//! `POST /schemas/convert` (SPEC 6.1): a foreign schema (Avro, JSON Schema, SQL DDL, a
//! Parquet footer, a dbt manifest) in, contract columns and warnings out. Creates nothing,
//! costs no credits, reads no store: parse the body → [`schemas::convert`] → a view.

use base64::Engine;
use serde::Deserialize;

use super::super::request::{parse_json, ApiRequest};
use super::super::response::{ok, Response};
use super::super::{error::ApiError, AppState};
use super::check_column_count;
use crate::schemas::{self, ConvertError, Converted, Format, Nested, Options};
use crate::wire::ConvertedView;

/// The body: `{"format", "source", "table"?, "model"?, "nested"?, "dialect"?}`. `format`
/// and `nested` are read as text so that a wrong one is answered with the names allowed.
#[derive(Deserialize)]
struct ConvertRequest {
    format: String,
    /// The document's text; for `parquet`, the file's bytes (or its tail) in base64.
    source: String,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    nested: Option<String>,
    #[serde(default)]
    dialect: Option<String>,
}

/// A body that passed every check before the conversion itself.
struct Conversion {
    format: Format,
    source: Vec<u8>,
    options: Options,
}

/// `POST /api/v1/schemas/convert`.
pub async fn convert(state: &AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let (_, body): (_, ConvertRequest) = req.json().await?;
    let conversion = validate(body)?;
    // Off the request's task: a body may be as large as `max_body_bytes` (operators raise
    // it for dbt manifests of tens of megabytes), and parsing that is milliseconds to
    // seconds of CPU that would stall every other connection on this worker thread. The
    // hop costs microseconds, and a converter bug would be a 500, not a dropped connection.
    let converted = tokio::task::spawn_blocking(move || run(&conversion))
        .await
        .map_err(|e| ApiError::Internal(format!("schema conversion failed: {e}")))??;
    check_column_count(state.limits.max_columns, converted.columns.len(), "source")?;
    Ok(ok(&ConvertedView::new(&converted)))
}

/// Parses and converts `bytes` as the handler does, on the caller's thread (for the fuzz
/// targets): `Ok` or the `400` it would answer.
pub(super) fn parse_body(bytes: &[u8]) -> Result<(), ApiError> {
    run(&validate(parse_json(bytes)?)?).map(drop)
}

/// The checks of the body that come before converting: the format's and the option's
/// names, and the base64 of a Parquet `source`.
fn validate(body: ConvertRequest) -> Result<Conversion, ApiError> {
    let format = Format::from_name(&body.format).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        ApiError::Invalid(format!(
            "format: must be one of {} (got {:?})",
            names.join(", "),
            body.format
        ))
    })?;
    let nested = match body.nested.as_deref() {
        None => Nested::default(),
        Some(name) => Nested::from_name(name).ok_or_else(|| {
            ApiError::Invalid(format!("nested: must be json or flatten (got {name:?})"))
        })?,
    };
    let source = match format {
        // Parquet is binary; standard base64 (with padding), as `base64 -w0` writes it.
        Format::Parquet => base64::engine::general_purpose::STANDARD
            .decode(body.source.as_bytes())
            .map_err(|e| {
                ApiError::Invalid(format!(
                    "source: not valid base64 (a parquet source is the file's bytes in \
                     standard base64): {e}"
                ))
            })?,
        _ => body.source.into_bytes(),
    };
    Ok(Conversion {
        format,
        source,
        options: Options {
            nested,
            table: body.table,
            dialect: body.dialect,
            model: body.model,
        },
    })
}

/// Converts, answering a converter's error as the `400` that names the input and place.
fn run(conversion: &Conversion) -> Result<Converted, ApiError> {
    schemas::convert(conversion.format, &conversion.source, &conversion.options).map_err(invalid)
}

/// `source: line 3, column 5: …`, `table: several tables …`: the field, then the error.
fn invalid(error: ConvertError) -> ApiError {
    ApiError::Invalid(format!("{}: {error}", error.input.field()))
}
