//! The baseline: hyper alone, parsing the same body as `POST /check` and answering a fixed
//! check-shaped document — what the API would cost with free storage and scoring.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::common::TestCert;

#[derive(Deserialize)]
#[allow(dead_code)]
struct CheckRequest {
    contract_id: String,
    incoming_schema: Schema,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Schema {
    columns: Vec<Column>,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    column_type: String,
}

const ANSWER: &str = r#"{"id":"chk_00000000000000000000000000","contract_id":"ctr_00000000000000000000000000","result":"pass","severity":0,"diff":{"removed":[],"type_changes":[],"added":[]},"credits_used":1,"created_at":"2026-01-01T00:00:00Z"}"#;

/// Starts the baseline on its own 2-thread runtime (like the daemon's) and returns its
/// address; over TLS (HTTP/1.1, rustls with ring, as the daemon serves it) with `tls`.
pub async fn start(tls: Option<&TestCert>) -> SocketAddr {
    let acceptor = tls.map(|cert| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_der.clone()).expect("key");
        let chain = vec![rustls::pki_types::CertificateDer::from(
            cert.cert_der.clone(),
        )];
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let _ = tx.send(listener.local_addr().expect("addr"));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        |req: Request<hyper::body::Incoming>| async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let parsed = serde_json::from_slice::<CheckRequest>(&body);
                            let mut response =
                                Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
                            if parsed.is_err() {
                                *response.status_mut() = StatusCode::BAD_REQUEST;
                            }
                            response.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static(
                                    "application/json; charset=utf-8",
                                ),
                            );
                            Ok::<_, Infallible>(response)
                        },
                    );
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
    });
    rx.await.expect("baseline started")
}
