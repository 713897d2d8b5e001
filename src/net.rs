//! What every listener shares (the API, the metrics listener, the admin socket): one
//! accept loop that stops on the daemon's stop flag and backs off on accept errors, and
//! the set of connection tasks it started, so shutdown can drain them and abort what is
//! left — no connection outlives its listener's task. The two TCP listeners also share
//! their caps (connections at once, per client address) and the watchdog that closes a
//! connection that goes too long without a request.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::sync::{lock, stopped};

/// Pause after a failed accept (e.g. EMFILE: out of file descriptors) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The tasks serving one listener's connections.
#[derive(Default)]
pub struct Connections {
    /// A `JoinSet`, not detached tasks: shutdown must be able to wait for them and abort them.
    tasks: JoinSet<()>,
}

impl Connections {
    /// Serves one connection on its own task.
    pub fn spawn<F>(&mut self, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // A finished task keeps its slot until joined; reap them here so the set stays as
        // large as the open connections, not as the connections ever served.
        while let Some(finished) = self.tasks.try_join_next() {
            log_panic(finished);
        }
        self.tasks.spawn(connection);
    }

    /// Waits up to `grace` for every connection to end, then aborts the rest and waits for
    /// them to unwind. Returns how many were aborted.
    pub async fn drain(mut self, grace: Duration) -> usize {
        let all_ended = async {
            while let Some(ended) = self.tasks.join_next().await {
                log_panic(ended);
            }
        };
        if tokio::time::timeout(grace, all_ended).await.is_ok() {
            return 0;
        }
        let aborted = self.tasks.len();
        self.tasks.shutdown().await;
        aborted
    }
}

fn log_panic(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended {
        if e.is_panic() {
            tracing::error!(error = %e, "a connection task panicked");
        }
    }
}

/// Accepts connections until `stop` turns true and serves each on a task of the returned
/// [`Connections`], which the caller then drains. `accept` waits for the next connection
/// (and may wait for room first, e.g. a connection permit); `serve` turns it into the task
/// that serves it. `listener` names the listener in logs.
pub async fn accept_until_stopped<C, A, S>(
    listener: &'static str,
    stop: &mut watch::Receiver<bool>,
    mut accept: impl FnMut() -> A,
    mut serve: impl FnMut(C) -> S,
) -> Connections
where
    A: Future<Output = io::Result<C>>,
    S: Future<Output = ()> + Send + 'static,
{
    let mut connections = Connections::default();
    loop {
        let accepted = tokio::select! {
            _ = stopped(stop) => return connections,
            accepted = accept() => accepted,
        };
        match accepted {
            Ok(connection) => connections.spawn(serve(connection)),
            Err(e) => {
                tracing::warn!(listener, error = %e, "accept failed");
                tokio::select! {
                    _ = stopped(stop) => return connections,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}

/// How long a connection may go without a request (the API and metrics listeners).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From accepting a connection to its first request's headers (TLS handshake
    /// included), on HTTP/1.1 and HTTP/2 alike.
    pub first_request: Duration,
    /// From the end of the last request, with none in flight, to closing the connection.
    /// Only requests count: bytes (an HTTP/2 PING, a stray newline) do not keep it open.
    pub idle: Duration,
}

/// What the idle watchdog knows about one connection: when requests began and ended.
pub struct Activity {
    started: Instant,
    /// Milliseconds after `started` at which the last request ended; `u64::MAX` until the
    /// first request has begun.
    last_request_end_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Wakes the watchdog when a request begins or ends: the deadline moved.
    changed: Notify,
}

const NO_REQUEST_YET: u64 = u64::MAX;

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            last_request_end_ms: AtomicU64::new(NO_REQUEST_YET),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
        })
    }

    /// Counts a request as in flight until the guard is dropped.
    pub fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        // A request has begun: from now on the idle limit applies, not the first-request one.
        let _ = self.last_request_end_ms.compare_exchange(
            NO_REQUEST_YET,
            self.elapsed_ms(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        self.changed.notify_one();
        RequestGuard(self.clone())
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// When the connection is to be closed if nothing changes; `None` while a request is
    /// in flight.
    fn deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(match self.last_request_end_ms.load(Ordering::SeqCst) {
            NO_REQUEST_YET => self.started + timeouts.first_request,
            ms => self.started + Duration::from_millis(ms) + timeouts.idle,
        })
    }
}

/// A request in flight on a connection; its end restarts the idle clock.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0
            .last_request_end_ms
            .store(self.0.elapsed_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

/// Drives `connection` until it ends, or closes it (by dropping it) once `activity` says
/// it went too long without a request. hyper's own header timeout covers HTTP/1.1 only,
/// and neither protocol's timers cover a client that keeps a connection busy with bytes
/// that are not requests; this does.
pub async fn watch_idle<F, E>(connection: F, activity: &Activity, timeouts: Timeouts)
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(connection);
    loop {
        // While a request is in flight there is no deadline; its end wakes us.
        let deadline = activity
            .deadline(timeouts)
            .unwrap_or_else(|| Instant::now() + timeouts.idle.max(timeouts.first_request));
        tokio::select! {
            result = &mut connection => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {
                if activity.deadline(timeouts).is_some_and(|at| Instant::now() >= at) {
                    tracing::debug!("closing a connection without a request in time");
                    return;
                }
            }
        }
    }
}

/// `server.max_connections_per_ip`: connections one client address may hold at once.
pub struct PerIpLimit {
    /// 0 turns the cap off (behind a proxy every client has the proxy's address).
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIpLimit {
    /// A cap of `max` connections per address (0: no cap).
    pub fn new(max: usize) -> Arc<PerIpLimit> {
        Arc::new(PerIpLimit {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Admits one more connection from `ip`, or `None` if it already holds `max`.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if self.max == 0 {
            return Some(IpSlot(None));
        }
        // An IPv4 client on a dual-stack socket is the same client as over IPv4.
        let ip = ip.to_canonical();
        let mut open = lock(&self.open);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot(Some((self.clone(), ip))))
    }
}

/// One admitted connection of a client address; released when dropped.
pub struct IpSlot(Option<(Arc<PerIpLimit>, IpAddr)>);

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Some((limit, ip)) = self.0.take() {
            let mut open = lock(&limit.open);
            if let Some(count) = open.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

/// Accepts the next TCP connection that fits both caps: waits for one of `permits` (the
/// listener's `max_connections`; beyond it clients wait in the kernel's accept queue),
/// then closes, unanswered, a connection whose address already holds its share.
pub async fn accept_capped(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    per_ip: &Arc<PerIpLimit>,
    name: &'static str,
) -> io::Result<(TcpStream, SocketAddr, OwnedSemaphorePermit, IpSlot)> {
    loop {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("the connection semaphore is closed"))?;
        let (stream, peer) = listener.accept().await?;
        match per_ip.admit(peer.ip()) {
            Some(slot) => return Ok((stream, peer, permit, slot)),
            None => {
                tracing::debug!(listener = name, %peer, "too many connections from one address; closed");
                drop(stream);
            }
        }
    }
}
