//! The HTTPS client for webhook attempts, on the shared [`outbound`](crate::outbound) TLS
//! setup (system roots plus the optional `webhooks.ca_file`): connection reuse per host, no
//! redirects followed, and one deadline for the whole attempt.
//!
//! Under hyper-rustls sits [`GuardedConnector`]: it resolves the host itself, vets every
//! address with the [`TargetGuard`], and connects to a vetted address — so what was
//! checked is what is reached (no DNS rebinding between the two) — while hyper-rustls
//! still verifies the certificate for, and sends SNI of, the URL's host name.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use hyper::Uri;
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::guard::{Blocked, TargetGuard};
use crate::outbound::{self, describe};

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

/// An attempt that got no answer. The tenant sees only the coarse `summary` (in the
/// delivery history); the `detail` — which names addresses, certificates and the causes
/// the OS gave — goes to the operator's log. A finer message would let a tenant map the
/// network behind the daemon (refused here, a plain-HTTP port there, another host's
/// certificate over there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// One of a few fixed phrases: `connection refused`, `tls handshake failed`, …
    pub summary: &'static str,
    /// The full error chain, for the log.
    pub detail: String,
}

impl Failure {
    /// A failure whose summary says it all.
    pub fn plain(summary: &'static str) -> Failure {
        Failure {
            summary,
            detail: summary.to_owned(),
        }
    }
}

/// The client could not be built; the message names the configuration key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

/// Sends webhook attempts. Cheap to share (`Arc` it); the pool is inside.
pub struct WebhookClient {
    http: Client<HttpsConnector<GuardedConnector>, Full<Bytes>>,
    timeout: Duration,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves host names and keeps only the addresses the guard allows; `Blocked` if it
/// allows none of them.
#[derive(Clone)]
pub struct GuardedResolver {
    guard: Arc<TargetGuard>,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut blocked = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match guard.vet(addr.ip()) {
                    Ok(()) => true,
                    Err(b) => {
                        blocked.get_or_insert(b);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), blocked) {
                (true, Some(blocked)) => Err(blocked.into()),
                _ => Ok(allowed.into_iter()),
            }
        })
    }
}

/// The TCP connector under hyper-rustls: a literal IP host is vetted here, a name by
/// [`GuardedResolver`]; either way the connection goes to a vetted address.
#[derive(Clone)]
pub struct GuardedConnector {
    http: HttpConnector<GuardedResolver>,
    guard: Arc<TargetGuard>,
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // `HttpConnector` connects to a literal address without asking the resolver.
        let literal = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if let Some(Err(blocked)) = literal.map(|ip| self.guard.vet(ip)) {
            return Box::pin(async move { Err(blocked.into()) });
        }
        let connecting = self.http.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

impl WebhookClient {
    /// Trusts the system's roots plus the PEM certificates in `ca_file`; connects only
    /// to addresses `guard` allows.
    pub fn new(
        ca_file: Option<&Path>,
        timeout: Duration,
        guard: Arc<TargetGuard>,
    ) -> Result<WebhookClient, ClientError> {
        let tls =
            outbound::client_tls(ca_file, "webhooks.ca_file").map_err(|e| ClientError(e.0))?;
        let mut connector = HttpConnector::new_with_resolver(GuardedResolver {
            guard: guard.clone(),
        });
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(GuardedConnector {
                http: connector,
                guard,
            });
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .build(https);
        Ok(WebhookClient { http, timeout })
    }

    /// POSTs `body` to `url` with `headers`. `Err` is a failed attempt with no answer
    /// (bad URL, refused, TLS failure, timeout).
    pub async fn post(
        &self,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<Answer, Failure> {
        let mut request = Request::builder().method(Method::POST).uri(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).map_err(|e| Failure {
            summary: "invalid url",
            detail: format!("invalid request: {e}"),
        })?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| classify(&e))?;
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
            .unwrap_or_else(|_| {
                Err(Failure {
                    summary: "timed out",
                    detail: format!("no answer within {} ms", self.timeout.as_millis()),
                })
            })
    }
}

/// The summary of an attempt the target guard stopped: it names the setting, so the
/// tenant knows to ask the operator (and the operator which key to look at).
pub const BLOCKED: &str = "blocked by webhooks.deny_targets";

/// Sorts a client error into a coarse summary, keeping the whole chain as detail.
fn classify(e: &(dyn std::error::Error + 'static)) -> Failure {
    let detail = describe(e);
    let mut summary = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let (None, Some(cause)) = (summary, source) {
        summary = summarise(cause);
        source = cause.source();
    }
    let summary = summary.unwrap_or(if detail.contains("dns error") {
        "name resolution failed"
    } else {
        "connection failed"
    });
    Failure { summary, detail }
}

/// The summary one error of a chain gives, if it tells. An `io::Error` wrapping another
/// error hides it from `source()` (which skips to the wrapped error's own source), so the
/// wrapped errors are looked at here.
fn summarise(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if error.downcast_ref::<Blocked>().is_some() {
        return Some(BLOCKED);
    }
    if error.downcast_ref::<rustls::Error>().is_some() {
        return Some("tls handshake failed");
    }
    let io = error.downcast_ref::<std::io::Error>()?;
    if let Some(inner) = io.get_ref() {
        if let Some(summary) = summarise(inner) {
            return Some(summary);
        }
    }
    use std::io::ErrorKind::*;
    match io.kind() {
        ConnectionRefused => Some("connection refused"),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            Some("connection closed by the receiver")
        }
        TimedOut => Some("timed out"),
        HostUnreachable | NetworkUnreachable => Some("host unreachable"),
        InvalidData => Some("tls handshake failed"),
        _ => None,
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
