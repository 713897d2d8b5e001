//! The running daemon: opens the store, bootstraps the first account, binds the listener
//! and serves until told to stop. Used by `driftguard serve` and by the integration tests.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{Config, ENV_BOOTSTRAP_KEY};
use crate::credentials::{self, Environment};
use crate::http::auth::Auth;
use crate::http::request::BodyLimits;
use crate::http::server::{self, ConnectionLimits, TlsSlot};
use crate::http::{tls, AppState};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::webhooks::client::{ClientError, WebhookClient};
use crate::webhooks::{DeliverySettings, Dispatcher};

/// Where a generated first key is written, inside `data_dir`.
pub const BOOTSTRAP_KEY_FILE: &str = "bootstrap-key";

/// How often coalesced key uses are written.
const KEY_USE_FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or bootstrapped.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        /// The configuration key that named the address.
        key: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The webhook client could not be built (e.g. a bad `webhooks.ca_file`).
    #[error(transparent)]
    Webhooks(#[from] ClientError),
    /// The admin socket could not be created.
    #[error("cannot create the admin socket {path}: {source}")]
    Admin {
        /// The socket file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bootstrap key file could not be written.
    #[error("cannot write the bootstrap key file {path}: {source}")]
    BootstrapFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A running daemon. Dropping it without [`Daemon::shutdown`] aborts nothing in flight;
/// call `shutdown` for a clean stop.
pub struct Daemon {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    scheme: &'static str,
    /// The live TLS configuration; SIGHUP swaps in freshly read certificate files.
    tls: Option<TlsSlot>,
    /// The configuration it started with (to tell what a reload cannot change).
    config: Config,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    dispatcher: JoinHandle<()>,
    key_use_flusher: JoinHandle<()>,
    state: Arc<AppState>,
}

impl Daemon {
    /// Opens the store, bootstraps it if new, binds the listener and starts serving.
    pub async fn start(config: Config) -> Result<Daemon, StartError> {
        let (data_dir, max_batch) = (
            config.storage.data_dir.clone(),
            config.storage.max_write_batch,
        );
        let clock = Clock::system();
        let store =
            tokio::task::spawn_blocking(move || Store::open_with(&data_dir, max_batch, clock))
                .await
                .map_err(|e| StoreError::Internal(e.to_string()))??;
        tracing::info!(path = %store.path().display(), "store open");
        bootstrap(&store, &config).await?;

        let metrics = Metrics::new();
        let client = WebhookClient::new(
            config.webhooks.ca_file.as_deref(),
            config.webhooks.attempt_timeout,
        )?;
        let dispatcher = Dispatcher::new(
            store.clone(),
            client,
            DeliverySettings {
                retry_delays: config.webhooks.retry_delays.clone(),
                attempt_timeout: config.webhooks.attempt_timeout,
                max_in_flight: config.webhooks.max_in_flight,
                max_in_flight_per_webhook: config.webhooks.max_in_flight_per_webhook,
                retention: config.webhooks.retention,
            },
            metrics.clone(),
        );
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(RwLock::new(tls::acceptor(cert, key)?))),
            _ => None,
        };
        let addr = config.server.listen;
        let api_bind = |source| StartError::Bind {
            key: "server.listen / DRIFTGUARD_LISTEN",
            addr,
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(api_bind)?;
        let local_addr = listener.local_addr().map_err(api_bind)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        if tls.is_some() {
            tracing::info!(%local_addr, "serving HTTPS (HTTP/2 and HTTP/1.1)");
        } else {
            tracing::warn!(
                %local_addr,
                "serving plain HTTP: no TLS certificate configured (server.tls_cert/tls_key); \
                 keep it on a loopback address or behind a TLS-terminating proxy"
            );
        }

        let state = Arc::new(AppState {
            store: store.clone(),
            auth: Auth::new(
                store,
                NonZeroU32::new(config.limits.requests_per_minute).unwrap_or(NonZeroU32::MIN),
                NonZeroU32::new(config.limits.key_creations_per_hour).unwrap_or(NonZeroU32::MIN),
            ),
            body_limits: BodyLimits {
                max_bytes: config.server.max_body_bytes,
                timeout: config.server.body_timeout,
            },
            scheme,
            metrics: metrics.clone(),
        });
        let limits = ConnectionLimits {
            header_timeout: config.server.header_timeout,
            idle_timeout: config.server.idle_timeout,
            max_connections: config.server.max_connections,
            shutdown_grace: config.server.shutdown_grace,
        };
        let (stop, stopped) = watch::channel(false);
        let metrics_addr = match config.metrics.listen {
            Some(addr) => {
                let metrics_bind = |source| StartError::Bind {
                    key: "metrics.listen",
                    addr,
                    source,
                };
                let listener = TcpListener::bind(addr).await.map_err(metrics_bind)?;
                let bound = listener.local_addr().map_err(metrics_bind)?;
                tracing::info!(%bound, "serving metrics at /metrics");
                tokio::spawn(crate::metrics::serve(
                    listener,
                    metrics,
                    state.store.clone(),
                    stopped.clone(),
                ));
                Some(bound)
            }
            None => None,
        };
        let admin =
            crate::admin::bind(&config.storage.data_dir).map_err(|source| StartError::Admin {
                path: config.storage.data_dir.join(crate::admin::ADMIN_SOCKET),
                source,
            })?;
        tokio::spawn(crate::admin::serve(
            admin,
            state.store.clone(),
            config.storage.data_dir.clone(),
            stopped.clone(),
        ));
        let server = tokio::spawn(server::serve(
            listener,
            tls.clone(),
            state.clone(),
            limits,
            stopped.clone(),
        ));
        let dispatcher = tokio::spawn(dispatcher.run(stopped.clone()));
        let key_use_flusher = tokio::spawn(flush_key_uses(state.clone(), stopped));
        Ok(Daemon {
            local_addr,
            metrics_addr,
            scheme,
            tls,
            config,
            stop,
            server,
            dispatcher,
            key_use_flusher,
            state,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The metrics listener's address, if `[metrics] listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Applies what can change while running (SIGHUP): rate limits and the TLS
    /// certificate files (re-read, so rotation needs no restart). Returns the keys whose
    /// new values need a restart (they keep their running values). The log level is
    /// applied by the caller, which owns the subscriber.
    pub fn reload(&self, new: &Config) -> Vec<&'static str> {
        self.state.auth.set_limits(
            NonZeroU32::new(new.limits.requests_per_minute).unwrap_or(NonZeroU32::MIN),
            NonZeroU32::new(new.limits.key_creations_per_hour).unwrap_or(NonZeroU32::MIN),
        );
        if let (Some(slot), Some(cert), Some(key)) =
            (&self.tls, &new.server.tls_cert, &new.server.tls_key)
        {
            match tls::acceptor(cert, key) {
                Ok(acceptor) => {
                    *crate::sync::write(slot) = acceptor;
                    tracing::info!("TLS certificate reloaded");
                }
                Err(e) => tracing::error!(error = %e, "keeping the current TLS certificate"),
            }
        }
        let old = &self.config;
        let mut needs_restart = Vec::new();
        let mut differs = |key, changed: bool| {
            if changed {
                needs_restart.push(key);
            }
        };
        differs("server.listen", old.server.listen != new.server.listen);
        differs(
            "server.tls_cert/server.tls_key (turning TLS on or off)",
            old.server.tls_cert.is_some() != new.server.tls_cert.is_some(),
        );
        differs(
            "server.max_body_bytes",
            old.server.max_body_bytes != new.server.max_body_bytes,
        );
        differs(
            "server timeouts and max_connections",
            (
                old.server.header_timeout,
                old.server.body_timeout,
                old.server.idle_timeout,
                old.server.max_connections,
                old.server.shutdown_grace,
            ) != (
                new.server.header_timeout,
                new.server.body_timeout,
                new.server.idle_timeout,
                new.server.max_connections,
                new.server.shutdown_grace,
            ),
        );
        differs(
            "storage.*",
            (&old.storage.data_dir, old.storage.max_write_batch)
                != (&new.storage.data_dir, new.storage.max_write_batch),
        );
        differs(
            "credits.default_quota",
            old.credits.default_quota != new.credits.default_quota,
        );
        differs(
            "webhooks.*",
            (
                &old.webhooks.retry_delays,
                old.webhooks.attempt_timeout,
                &old.webhooks.ca_file,
                old.webhooks.retention,
                old.webhooks.max_in_flight,
                old.webhooks.max_in_flight_per_webhook,
            ) != (
                &new.webhooks.retry_delays,
                new.webhooks.attempt_timeout,
                &new.webhooks.ca_file,
                new.webhooks.retention,
                new.webhooks.max_in_flight,
                new.webhooks.max_in_flight_per_webhook,
            ),
        );
        differs("log.format", old.log.format != new.log.format);
        differs("metrics.listen", old.metrics.listen != new.metrics.listen);
        needs_restart
    }

    /// Stops accepting, drains in-flight requests (bounded by `server.shutdown_grace`),
    /// lets webhook attempts in flight finish (briefly), writes pending key uses and
    /// closes the store. Pending deliveries stay queued for the next start.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.server.await {
            tracing::error!(error = %e, "the server task failed");
        }
        // Pending deliveries stay queued; attempts in flight get a short grace period.
        if let Err(e) = self.dispatcher.await {
            tracing::error!(error = %e, "the webhook dispatcher failed");
        }
        let _ = self.key_use_flusher.await;
        self.state.auth.flush().await;
        let store = self.state.store.clone();
        drop(self.state);
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        tracing::info!("stopped");
    }
}

async fn flush_key_uses(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(KEY_USE_FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = crate::sync::stopped(&mut stopped) => return,
            _ = tick.tick() => state.auth.flush().await,
        }
    }
}

/// On the first start only: creates the `default` account and its first live key, from
/// `DRIFTGUARD_BOOTSTRAP_KEY` or freshly generated and written to `<data_dir>/bootstrap-key`.
async fn bootstrap(store: &Store, config: &Config) -> Result<(), StartError> {
    if !store.needs_bootstrap().await? {
        if config.bootstrap_key.is_some() {
            tracing::info!("the store already has accounts; {ENV_BOOTSTRAP_KEY} is ignored");
        }
        return Ok(());
    }
    let (key, file) = match &config.bootstrap_key {
        Some(given) => (given.0.clone(), None),
        None => {
            let key = credentials::generate_key(Environment::Live);
            let path = config.storage.data_dir.join(BOOTSTRAP_KEY_FILE);
            // Written before the commit: if the commit fails, the next start overwrites it.
            write_secret_file(&path, &key).map_err(|source| StartError::BootstrapFile {
                path: path.clone(),
                source,
            })?;
            (key, Some(path))
        }
    };
    let preview = credentials::preview(&key);
    let created = store.bootstrap(config.credits.default_quota, key).await?;
    match (created, file) {
        (None, file) => {
            if let Some(path) = file {
                let _ = std::fs::remove_file(path); // its key was never stored
            }
            tracing::info!("first start: an operator already created the account `default`");
        }
        (Some(_), Some(path)) => tracing::info!(
            key_preview = %preview,
            file = %path.display(),
            "first start: created account `default`; its API key is in the file"
        ),
        (Some(_), None) => tracing::info!(
            key_preview = %preview,
            "first start: created account `default` with the key from {ENV_BOOTSTRAP_KEY}"
        ),
    }
    Ok(())
}

/// Writes `secret` to a file only the owner can read (mode 0600).
fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
