//! `ApiError`: every failure a request can end in, mapped to the spec's JSON error shape
//! `{"error": {"code", "message"}}` in exactly one place ([`ApiError::into_response`]).

use hyper::header::{HeaderValue, ALLOW, RETRY_AFTER};
use hyper::{Method, StatusCode};

use super::response::{json, Response};
use crate::drift::Violation;
use crate::store::{StoreError, Unavailable};
use crate::wire::ViolationView;

/// A request that cannot be answered with success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// 401 `unauthorized`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `forbidden`: this key may not do that (a test key touching a live key).
    #[error("{0}")]
    Forbidden(String),
    /// 403 `no_credits`.
    #[error(
        "the account has no credits left; live checks are refused until an operator adds credits"
    )]
    NoCredits,
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(&'static str),
    /// 405 `method_not_allowed`, with the methods the route does allow.
    #[error("method not allowed; this endpoint allows {}", join_methods(.0))]
    MethodNotAllowed(&'static [Method]),
    /// 408 `request_timeout`: the body did not arrive in time.
    #[error("the request body was not received within {0} seconds")]
    BodyTimeout(u64),
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 409 `incompatible`: the change breaks the contract's compatibility mode; the body
    /// lists every violation.
    #[error("{}", incompatible_message(.0))]
    Incompatible(Vec<Violation>),
    /// 413 `payload_too_large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(u64),
    /// 429 `rate_limited`, with the seconds to wait.
    #[error("{message}; retry after {retry_after} seconds")]
    RateLimited {
        /// What was limited.
        message: &'static str,
        /// Whole seconds, at least 1.
        retry_after: u64,
    },
    /// 500 `internal`; the cause is logged, not shown.
    #[error("internal error")]
    Internal(String),
    /// 503 `storage_unavailable`: nothing was stored; the client may retry.
    #[error("{0}")]
    StorageUnavailable(&'static str),
}

/// The first violation, and how many more there are.
fn incompatible_message(violations: &[Violation]) -> String {
    match violations {
        [] => "the change breaks the contract's compatibility mode".into(),
        [only] => only.message.clone(),
        [first, rest @ ..] => format!("{} (and {} more violations)", first.message, rest.len()),
    }
}

fn join_methods(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NoCredits => (StatusCode::FORBIDDEN, "no_credits"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Incompatible(_) => (StatusCode::CONFLICT, "incompatible"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::StorageUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            }
        }
    }

    /// The JSON error response (with `Allow` or `Retry-After` where they apply).
    pub fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        if let ApiError::Incompatible(violations) = &self {
            body["error"]["violations"] = serde_json::json!(ViolationView::list(violations));
        }
        let mut response = json(status, &body);
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed(methods) => {
                if let Ok(v) = HeaderValue::from_str(&join_methods(methods)) {
                    headers.insert(ALLOW, v);
                }
            }
            ApiError::RateLimited { retry_after, .. } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::BodyTimeout(_) => {
                headers.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found"),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Forbidden(message) => ApiError::Forbidden(message),
            StoreError::Incompatible(violations) => ApiError::Incompatible(violations),
            StoreError::Invalid(message) => ApiError::Invalid(message),
            StoreError::NoCredits => ApiError::NoCredits,
            // A request still running when shutdown closes the store: its write was not
            // made, and a retry (after the restart) will succeed.
            StoreError::Closed => {
                ApiError::StorageUnavailable("the server is shutting down; retry")
            }
            other => match other.unavailable() {
                // The writer logged the detail; the client learns only what to do.
                Some(Unavailable::DiskFull) => ApiError::StorageUnavailable(
                    "the store cannot write: the disk is full; nothing was stored, retry later",
                ),
                Some(Unavailable::Failing) => ApiError::StorageUnavailable(
                    "the store cannot write: the disk is failing; nothing was stored, retry later",
                ),
                None => ApiError::Internal(other.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    /// The status and JSON body `error` answers with.
    async fn answer(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn a_closed_store_is_503_storage_unavailable() {
        let (status, body) = answer(ApiError::from(StoreError::Closed)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "storage_unavailable");
        assert_eq!(
            body["error"]["message"],
            "the server is shutting down; retry"
        );
    }

    #[tokio::test]
    async fn a_full_disk_is_503_storage_unavailable_saying_so() {
        let error = ApiError::from(StoreError::Unavailable(Unavailable::DiskFull));
        let (status, body) = answer(error).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "storage_unavailable");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("disk is full"), "{message}");
    }
}
