//! The API client of `driftguard check`: the shared [`outbound`](crate::outbound) stack
//! (system roots plus `--ca-file`), plain `http://` allowed, the key in `X-API-Key`, and
//! every non-2xx answer turned into an error that carries the server's message.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::outbound::{self, describe, Schemes};

/// Largest answer read (a check document is a few KiB; a contract list page more).
const MAX_ANSWER: usize = 16 * 1024 * 1024;
/// One deadline per request, connect included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    /// No answer: refused, DNS, TLS, timeout (exit code 3).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An answer other than 2xx (exit code 3), with the server's error message if any.
    #[error("{method} {url} answered {status}: {message}")]
    Status {
        /// The method.
        method: Method,
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// `error.message` of the spec's error body, or the raw body.
        message: String,
        /// The spec's error body (`{"error": {…}}`), when the answer was one.
        body: Option<Value>,
    },
}

impl ApiCallError {
    /// The `error` object of a `409 incompatible` answer (with its `violations`), if this
    /// is one.
    pub fn incompatible(&self) -> Option<&Value> {
        match self {
            ApiCallError::Status {
                status: 409,
                body: Some(body),
                ..
            } if body["error"]["code"] == "incompatible" => Some(&body["error"]),
            _ => None,
        }
    }
}

/// A JSON answer: the exact bytes (for `--format json`) and their parse.
pub struct JsonAnswer {
    /// As received.
    pub bytes: Bytes,
    /// Parsed.
    pub value: Value,
}

/// Talks to one DriftGuard server with one key.
pub struct ApiClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `…/api/v1`, without a trailing slash.
    base: String,
    key: HeaderValue,
}

impl ApiClient {
    /// `root` is the server's root URL (`/api/v1` is added); `ca_file` an extra PEM bundle.
    /// Errors are local (bad URL, bad key text, unreadable CA file): exit code 2.
    pub fn new(root: &str, key: &str, ca_file: Option<&Path>) -> Result<ApiClient, String> {
        let root = root.trim_end_matches('/');
        let uri: Uri = root
            .parse()
            .map_err(|e| format!("--url {root:?}: not a URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "--url {root:?}: must be an http:// or https:// URL with a host"
            ));
        }
        let key = HeaderValue::from_str(key)
            .map_err(|_| "DRIFTGUARD_KEY: not a valid header value".to_owned())?;
        let tls = outbound::client_tls(ca_file, "--ca-file").map_err(|e| e.to_string())?;
        let https = outbound::connector(tls, Schemes::HttpOrHttps, TIMEOUT);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(ApiClient {
            http,
            base: format!("{root}/api/v1"),
            key,
        })
    }

    /// `GET {base}{path}`.
    pub async fn get(&self, path: &str) -> Result<JsonAnswer, ApiCallError> {
        self.call(Method::GET, path, None).await
    }

    /// `POST {base}{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<JsonAnswer, ApiCallError> {
        self.call(Method::POST, path, Some(body.to_string())).await
    }

    /// `PUT {base}{path}` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<JsonAnswer, ApiCallError> {
        self.call(Method::PUT, path, Some(body.to_string())).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<JsonAnswer, ApiCallError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |reason: String| ApiCallError::Unreachable {
            url: url.clone(),
            reason,
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header("x-api-key", self.key.clone())
            .header(
                USER_AGENT,
                concat!("driftguard-cli/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| unreachable(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(describe(&e)))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))??;
        let value = serde_json::from_slice::<Value>(&bytes).ok();
        if !status.is_success() {
            let message = value
                .as_ref()
                .and_then(|v| v["error"]["message"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            return Err(ApiCallError::Status {
                method,
                url,
                status: status.as_u16(),
                message,
                body: value.filter(|v| v["error"].is_object()),
            });
        }
        let value = value.ok_or_else(|| ApiCallError::Status {
            method,
            url: url.clone(),
            status: status.as_u16(),
            message: "the answer is not JSON (is --url a DriftGuard server?)".into(),
            body: None,
        })?;
        Ok(JsonAnswer { bytes, value })
    }
}
