//! The HTTPS client for webhook attempts, on the shared [`outbound`](crate::outbound)
//! stack (system roots plus the optional `webhooks.ca_file`): connection reuse per host, no
//! redirects followed, and one deadline for the whole attempt.

use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::outbound::{self, describe, Schemes};

/// Most response body read (then dropped) so the connection can be reused.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The receiver's answer to one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, in seconds or as an HTTP date, if present and valid.
    pub retry_after: Option<Duration>,
}

/// The client could not be built; the message names the configuration key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

/// Sends webhook attempts. Cheap to share (`Arc` it); the pool is inside.
pub struct WebhookClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl WebhookClient {
    /// Trusts the system's roots plus the PEM certificates in `ca_file` (the shared
    /// [`outbound`](crate::outbound) stack), `https://` only.
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<WebhookClient, ClientError> {
        let tls = outbound::client_tls(ca_file, "webhooks.ca_file")
            .map_err(|e| ClientError(e.to_string()))?;
        let https = outbound::connector(tls, Schemes::HttpsOnly, timeout);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .build(https);
        Ok(WebhookClient { http, timeout })
    }

    /// POSTs `body` to `url` with `headers`. `Err` is a failed attempt with no answer
    /// (bad URL, refused, TLS failure, timeout), described for the delivery history.
    pub async fn post(
        &self,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut request = Request::builder().method(Method::POST).uri(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("invalid request: {e}"))?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            // Read (a bounded amount of) the body so the connection goes back to the pool.
            let _ = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
                .collect()
                .await;
            Ok(Answer {
                status,
                retry_after,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {} ms", self.timeout.as_millis())))
    }
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP date>`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(600));
        let parsed = parse_retry_after(&future).expect("a valid date");
        assert!(parsed > Duration::from_secs(590) && parsed <= Duration::from_secs(600));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }
}
