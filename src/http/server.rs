//! The accept loop and the life of one connection: optional TLS handshake, HTTP/1.1 or
//! HTTP/2 (hyper-util's auto builder), timeouts, and graceful shutdown: drain for at most
//! `server.shutdown_grace`, then abort what is left.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
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
    /// Close a connection with nothing in flight and nothing received for this long.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: NonZeroUsize,
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

    let bound = &listener;
    // A connection waits for a permit before it is accepted: beyond `max_connections`,
    // clients wait in the kernel's accept queue.
    let accept = || {
        let permits = permits.clone();
        async move {
            let permit = permits
                .acquire_owned()
                .await
                .map_err(|_| io::Error::other("the connection semaphore is closed"))?;
            let (stream, peer) = bound.accept().await?;
            Ok((stream, peer, permit))
        }
    };
    let serve = |(stream, peer, permit): (TcpStream, SocketAddr, _)| {
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
            drop(permit);
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
        let activity = Arc::new(Activity::new());
        let stream = Tracked {
            inner: stream,
            activity: activity.clone(),
        };
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

    async fn serve_io<I>(self, io: I, activity: Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let state = self.state;
        let in_flight = activity.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            let guard = in_flight.begin_request();
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
        tokio::pin!(conn);
        // hyper's header timeout does not cover a client that connects and sends nothing,
        // nor an HTTP/2 connection left open; this watchdog does.
        let idle = self.limits.idle_timeout;
        loop {
            tokio::select! {
                result = &mut conn => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = tokio::time::sleep_until(activity.idle_deadline(idle)) => {
                    if activity.is_idle(idle) {
                        tracing::debug!("closing an idle connection");
                        return;
                    }
                }
            }
        }
    }
}

/// What the idle watchdog needs to know about a connection.
struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last byte received.
    last_read_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last_read_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_read_ms.store(ms, Ordering::Relaxed);
    }

    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Instant::now() + idle;
        }
        self.started + Duration::from_millis(self.last_read_ms.load(Ordering::Relaxed)) + idle
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() >= self.idle_deadline(idle)
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that records when bytes arrive.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
