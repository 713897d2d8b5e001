//! What every listener shares (the API, the metrics listener, the admin socket): one
//! accept loop that stops on the daemon's stop flag and backs off on accept errors, and
//! the set of connection tasks it started, so shutdown can drain them and abort what is
//! left — no connection outlives its listener's task.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::sync::stopped;

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
