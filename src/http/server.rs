//! The accept loop and the life of one connection: optional TLS handshake, HTTP/1.1 or
//! HTTP/2 (hyper-util's auto builder), timeouts, and graceful shutdown: drain for at most
//! `server.shutdown_grace`, then abort what is left.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::{router, AppState};
use crate::net;

/// The TLS configuration connections are accepted with; replaced on reload.
pub type TlsSlot = Arc<std::sync::RwLock<TlsAcceptor>>;

/// Connection-level limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Time to complete a TLS handshake and each request's headers.
    pub header_timeout: Duration,
    /// Close a connection with no request in flight for this long after its last request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: NonZeroUsize,
    /// Connections one client address may hold at once; 0: no cap.
    pub max_connections_per_ip: usize,
    /// Time in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
}

/// Serves until `stop` turns true, then drains in-flight requests for at most the grace
/// period and aborts the connections still open. Returns when no connection task is left,
/// so nothing uses the store after it.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsSlot>,
    state: Arc<AppState>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections.get()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());

    let per_ip = net::PerIpLimit::new(limits.max_connections_per_ip);
    let bound = &listener;
    let accept = || net::accept_capped(bound, &permits, &per_ip, "api");
    let serve = |(stream, peer, permit, ip_slot): (TcpStream, SocketAddr, _, _)| {
        let _ = stream.set_nodelay(true);
        // Each connection takes the configuration current when it arrives.
        let tls = tls.as_ref().map(|slot| crate::sync::read(slot).clone());
        let connection = Connection {
            builder: builder.clone(),
            state: state.clone(),
            watcher: graceful.watcher(),
            limits,
        };
        async move {
            connection.run(stream, tls).await;
            drop((permit, ip_slot));
            tracing::trace!(%peer, "connection closed");
        }
    };
    let connections = net::accept_until_stopped("api", &mut stop, accept, serve).await;
    // New connections are refused from here on.
    drop(listener);
    // Ask every connection to finish its requests in flight and close (hyper's graceful
    // shutdown); whatever is still open when the grace period ends is aborted.
    let ((), aborted) = tokio::join!(
        graceful.shutdown(),
        connections.drain(limits.shutdown_grace)
    );
    if aborted == 0 {
        tracing::debug!("all connections drained");
    } else {
        tracing::warn!(
            aborted,
            "shutdown grace period over; closed the remaining connections"
        );
    }
}

struct Connection {
    builder: auto::Builder<TokioExecutor>,
    state: Arc<AppState>,
    watcher: Watcher,
    limits: ConnectionLimits,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        // The clock starts at accept: the handshake counts toward the first request.
        let activity = net::Activity::new();
        match tls {
            None => self.serve_io(stream, activity).await,
            Some(acceptor) => {
                match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls_stream)) => self.serve_io(tls_stream, activity).await,
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            }
        }
    }

    async fn serve_io<I>(self, io: I, activity: Arc<net::Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let state = self.state;
        let requests = activity.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            let guard = requests.begin_request();
            async move {
                let response = router::handle(&state, req).await;
                drop(guard);
                Ok::<_, Infallible>(response)
            }
        });
        let conn = self.watcher.watch(
            self.builder
                .serve_connection(TokioIo::new(io), service)
                .into_owned(),
        );
        let timeouts = net::Timeouts {
            first_request: self.limits.header_timeout,
            idle: self.limits.idle_timeout,
        };
        net::watch_idle(conn, &activity, timeouts).await;
    }
}
