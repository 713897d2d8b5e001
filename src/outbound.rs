//! The one outbound HTTP(S) stack, shared by webhook delivery and the `driftguard check`
//! client: hyper-rustls (ring) over the system's root certificates plus an optional extra
//! CA bundle (PEM), HTTP/1.1 and HTTP/2 by ALPN.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Which URLs a connector may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schemes {
    /// `https://` only (webhooks: the spec refuses `http` receivers).
    HttpsOnly,
    /// `https://` and plain `http://` (the CLI's default server is `http://127.0.0.1:8080`).
    HttpOrHttps,
}

/// The trust anchors could not be loaded or the TLS configuration built. The message names
/// `setting`, the option the extra CA bundle came from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsSetupError(pub String);

/// A rustls client configuration trusting the system's roots plus the PEM certificates in
/// `ca_file`; errors about the file name `setting` (e.g. `webhooks.ca_file`, `--ca-file`).
pub fn client_tls(
    ca_file: Option<&Path>,
    setting: &str,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let file_error =
            |e: &dyn std::fmt::Display| TlsSetupError(format!("{setting} {}: {e}", path.display()));
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| file_error(&e))?;
        if certs.is_empty() {
            return Err(file_error(&"no certificate found"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| file_error(&e))?;
        }
    }
    if roots.is_empty() {
        tracing::warn!("no trusted root certificates: every TLS connection will fail verification (set {setting})");
    } else {
        tracing::debug!(
            system_roots = added,
            total = roots.len(),
            "trust anchors loaded"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A connector over `tls` with a connect timeout, `TCP_NODELAY`, HTTP/1.1 and HTTP/2.
pub fn connector(
    tls: rustls::ClientConfig,
    schemes: Schemes,
    connect_timeout: Duration,
) -> HttpsConnector<HttpConnector> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
    let builder = match schemes {
        Schemes::HttpsOnly => builder.https_only(),
        Schemes::HttpOrHttps => builder.https_or_http(),
    };
    builder.enable_http1().enable_http2().wrap_connector(tcp)
}

/// The error with its causes, e.g. "client error (Connect): tcp connect error: Connection
/// refused".
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
