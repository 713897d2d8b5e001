//! The running daemon: opens the store, bootstraps the first account, binds the listener
//! and serves until told to stop. Used by `driftguard serve` and by the integration tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{
    Config, MetricsConfig, ServerConfig, StorageConfig, WebhooksConfig, ENV_BOOTSTRAP_KEY,
};
use crate::credentials::{self, Environment};
use crate::http::auth::Auth;
use crate::http::request::{BodyLimits, LinkBase};
use crate::http::server::{self, ConnectionLimits, TlsSlot};
use crate::http::{tls, AppState, TenantLimits};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::webhooks::client::{ClientError, WebhookClient};
use crate::webhooks::guard::TargetGuard;
use crate::webhooks::{DeliveryHandle, DeliverySettings, Dispatcher};

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
    /// The operating system's random number generator did not answer (ids, keys and
    /// secrets come from it).
    #[error("the operating system's random number generator (getrandom(2), /dev/urandom) does not answer")]
    Random,
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
    /// Every task below stops accepting or working when this turns true.
    stop: watch::Sender<bool>,
    /// The API listener; ends when no connection is left (drained or aborted).
    server: JoinHandle<()>,
    /// Webhook deliveries; ends after the attempts in flight (briefly).
    dispatcher: JoinHandle<()>,
    /// Writes coalesced key uses every few seconds.
    key_use_flusher: JoinHandle<()>,
    /// Purges checks past `storage.check_retention` (ends at once when it is zero).
    check_purger: JoinHandle<()>,
    /// The admin socket; ends when its commands in progress are done or aborted.
    admin: JoinHandle<()>,
    /// The metrics listener, if `[metrics] listen` is set.
    metrics: Option<JoinHandle<()>>,
    /// What requests share; dropped, after every task ended, before the store closes.
    state: Arc<AppState>,
}

/// A bound listener and the address it got (useful with port 0).
struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
}

/// Everything the daemon listens on, bound before any task starts (so a taken port fails
/// the start, not a task).
struct Listeners {
    api: Bound,
    metrics: Option<Bound>,
    admin: crate::admin::AdminSocket,
}

impl Daemon {
    /// Opens the store, bootstraps it if new, binds the listeners and starts serving.
    pub async fn start(config: Config) -> Result<Daemon, StartError> {
        let store = open_store(&config.storage).await?;
        Daemon::start_with_store(config, store).await
    }

    /// [`Daemon::start`] on a store the caller opened from `config.storage`. The caller may
    /// keep a handle (the tests use one to close the store under a running daemon);
    /// [`Daemon::shutdown`] still closes it.
    pub async fn start_with_store(config: Config, store: Store) -> Result<Daemon, StartError> {
        crate::ids::probe_random().map_err(|_| StartError::Random)?;
        bootstrap(&store, &config).await?;
        let metrics = Metrics::new();
        let guard = Arc::new(TargetGuard::new(
            config.webhooks.deny_targets.clone(),
            config.webhooks.allow_targets.clone(),
        ));
        let dispatcher = build_dispatcher(&config.webhooks, &store, &metrics, guard.clone())?;
        let tls = load_tls(&config.server)?;
        let api = bind_api(&config.server, tls.is_some()).await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let webhooks = WebhookServices {
            deliveries: dispatcher.handle(),
            guard,
        };
        let state = app_state(&config, store, scheme, metrics, webhooks);
        let listeners = Listeners {
            api,
            metrics: bind_metrics(&config.metrics).await?,
            admin: bind_admin(&config.storage.data_dir)?,
        };
        Ok(Daemon::spawn(config, state, tls, dispatcher, listeners))
    }

    /// Starts every background task; each gets the stop flag.
    fn spawn(
        config: Config,
        state: Arc<AppState>,
        tls: Option<TlsSlot>,
        dispatcher: Dispatcher,
        listeners: Listeners,
    ) -> Daemon {
        let (stop, stopped) = watch::channel(false);
        let limits = ConnectionLimits {
            header_timeout: config.server.header_timeout,
            idle_timeout: config.server.idle_timeout,
            max_connections: config.server.max_connections,
            max_connections_per_ip: config.server.max_connections_per_ip,
            shutdown_grace: config.server.shutdown_grace,
        };
        let local_addr = listeners.api.addr;
        let server = tokio::spawn(server::serve(
            listeners.api.listener,
            tls.clone(),
            state.clone(),
            limits,
            stopped.clone(),
        ));
        let dispatcher = tokio::spawn(dispatcher.run(stopped.clone()));
        let key_use_flusher = tokio::spawn(flush_key_uses(state.clone(), stopped.clone()));
        let check_purger = tokio::spawn(purge_old_checks(
            state.store.clone(),
            config.storage.check_retention,
            stopped.clone(),
        ));
        let admin = tokio::spawn(crate::admin::serve(
            listeners.admin,
            state.store.clone(),
            config.storage.data_dir.clone(),
            config.server.shutdown_grace,
            stopped.clone(),
        ));
        let metrics_addr = listeners.metrics.as_ref().map(|bound| bound.addr);
        let metrics = listeners.metrics.map(|bound| {
            tokio::spawn(crate::metrics::serve(
                bound.listener,
                state.metrics.clone(),
                state.store.clone(),
                crate::net::Timeouts {
                    first_request: limits.header_timeout,
                    idle: limits.idle_timeout,
                },
                limits.max_connections_per_ip,
                stopped,
            ))
        });
        Daemon {
            local_addr,
            metrics_addr,
            scheme: state.scheme,
            tls,
            config,
            stop,
            server,
            dispatcher,
            key_use_flusher,
            check_purger,
            admin,
            metrics,
            state,
        }
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
    /// certificate files (re-read, so rotation needs no restart). Returns the sections
    /// (e.g. `server.*`) with other changes: those need a restart and keep their running
    /// values. The log level is applied by the caller, which owns the subscriber.
    pub fn reload(&self, new: &Config) -> Vec<&'static str> {
        self.state.auth.set_limits(
            new.limits.requests_per_minute,
            new.limits.key_creations_per_hour,
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
        needs_restart(&self.config, new)
    }

    /// Stops every listener at once, then joins the tasks in an order where nothing runs
    /// against a closed store: the API server (in-flight requests get
    /// `server.shutdown_grace`, then are aborted) → the webhook dispatcher (pending
    /// deliveries stay queued) → the key-use flusher and a last flush → the admin socket →
    /// the metrics listener → closing the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        join("the API server", self.server).await;
        join("the webhook dispatcher", self.dispatcher).await;
        join("the key-use flusher", self.key_use_flusher).await;
        join("the check purger", self.check_purger).await;
        // After the last request: no use is lost.
        self.state.auth.flush().await;
        join("the admin socket", self.admin).await;
        if let Some(metrics) = self.metrics {
            join("the metrics listener", metrics).await;
        }
        let store = self.state.store.clone();
        drop(self.state);
        if let Err(e) = tokio::task::spawn_blocking(move || store.close()).await {
            tracing::error!(error = %e, "closing the store failed");
        }
        tracing::info!("stopped");
    }
}

/// Waits for a background task; a panic is logged, not propagated, so shutdown goes on.
async fn join(task: &'static str, handle: JoinHandle<()>) {
    if let Err(e) = handle.await {
        tracing::error!(task, error = %e, "a background task failed");
    }
}

/// The configuration sections whose change a reload cannot apply. Each section is
/// compared whole, with what a reload does apply taken from `new`, so a new field needs a
/// restart unless it is added here on purpose.
fn needs_restart(running: &Config, new: &Config) -> Vec<&'static str> {
    let mut applied = running.clone();
    applied.limits.requests_per_minute = new.limits.requests_per_minute;
    applied.limits.key_creations_per_hour = new.limits.key_creations_per_hour;
    applied.log.level = new.log.level;
    // New certificate files are read on reload; turning TLS on or off is not.
    if running.server.tls_cert.is_some() && new.server.tls_cert.is_some() {
        applied.server.tls_cert.clone_from(&new.server.tls_cert);
        applied.server.tls_key.clone_from(&new.server.tls_key);
    }
    let sections = [
        ("server.*", applied.server == new.server),
        ("storage.*", applied.storage == new.storage),
        ("limits.*", applied.limits == new.limits),
        ("credits.*", applied.credits == new.credits),
        ("webhooks.*", applied.webhooks == new.webhooks),
        ("log.*", applied.log == new.log),
        ("metrics.*", applied.metrics == new.metrics),
    ];
    sections
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(section, _)| section)
        .collect()
}

/// Opens (creating if needed) the store, off the async threads.
async fn open_store(storage: &StorageConfig) -> Result<Store, StartError> {
    warn_if_data_dir_is_shared(&storage.data_dir);
    let (data_dir, max_batch) = (storage.data_dir.clone(), storage.max_write_batch);
    let clock = Clock::system();
    let store = tokio::task::spawn_blocking(move || Store::open_with(&data_dir, max_batch, clock))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))??;
    tracing::info!(path = %store.path().display(), "store open");
    Ok(store)
}

/// Every file the daemon makes in the data directory is 0600, but a directory others may
/// enter still shows them which files exist and lets them wait for a mistake: say so.
fn warn_if_data_dir_is_shared(data_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(data_dir) else {
        return; // created 0700 when the store opens
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            data_dir = %data_dir.display(),
            mode = %format!("{mode:04o}"),
            "the data directory is accessible to other users; its files are private (0600), \
             but restrict it too: chmod 700 {}",
            data_dir.display()
        );
    }
}

/// The webhook dispatcher over `store`'s delivery queue (not yet running).
fn build_dispatcher(
    webhooks: &WebhooksConfig,
    store: &Store,
    metrics: &Arc<Metrics>,
    guard: Arc<TargetGuard>,
) -> Result<Dispatcher, StartError> {
    let client = WebhookClient::new(webhooks.ca_file.as_deref(), webhooks.attempt_timeout, guard)?;
    Ok(Dispatcher::new(
        store.clone(),
        client,
        DeliverySettings {
            retry_delays: webhooks.retry_delays.clone(),
            attempt_timeout: webhooks.attempt_timeout,
            max_in_flight: webhooks.max_in_flight,
            max_in_flight_per_webhook: webhooks.max_in_flight_per_webhook,
            retention: webhooks.retention,
            disable_after: webhooks.disable_after,
        },
        metrics.clone(),
    ))
}

/// The TLS acceptor, if a certificate is configured.
fn load_tls(server: &ServerConfig) -> Result<Option<TlsSlot>, StartError> {
    Ok(match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(RwLock::new(tls::acceptor(cert, key)?))),
        _ => None,
    })
}

/// Binds `server.listen` and says how it serves.
async fn bind_api(server: &ServerConfig, tls: bool) -> Result<Bound, StartError> {
    let bound = bind("server.listen / DRIFTGUARD_LISTEN", server.listen).await?;
    let local_addr = bound.addr;
    if tls {
        tracing::info!(%local_addr, "serving HTTPS (HTTP/2 and HTTP/1.1)");
    } else {
        tracing::warn!(
            %local_addr,
            "serving plain HTTP: no TLS certificate configured (server.tls_cert/tls_key); \
             keep it on a loopback address or behind a TLS-terminating proxy"
        );
    }
    Ok(bound)
}

/// Binds `metrics.listen`, if set.
async fn bind_metrics(metrics: &MetricsConfig) -> Result<Option<Bound>, StartError> {
    let Some(addr) = metrics.listen else {
        return Ok(None);
    };
    let bound = bind("metrics.listen", addr).await?;
    tracing::info!(bound = %bound.addr, "serving metrics at /metrics");
    Ok(Some(bound))
}

/// Binds a TCP address; the error names the configuration key.
async fn bind(key: &'static str, addr: SocketAddr) -> Result<Bound, StartError> {
    let failed = |source| StartError::Bind { key, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok(Bound { listener, addr })
}

/// Creates the admin socket in `data_dir`.
fn bind_admin(data_dir: &Path) -> Result<crate::admin::AdminSocket, StartError> {
    crate::admin::bind(data_dir).map_err(|source| StartError::Admin {
        path: data_dir.join(crate::admin::ADMIN_SOCKET),
        source,
    })
}

/// What the webhook handlers need besides the store.
struct WebhookServices {
    deliveries: DeliveryHandle,
    guard: Arc<TargetGuard>,
}

/// What every request shares.
fn app_state(
    config: &Config,
    store: Store,
    scheme: &'static str,
    metrics: Arc<Metrics>,
    webhooks: WebhookServices,
) -> Arc<AppState> {
    Arc::new(AppState {
        store: store.clone(),
        auth: Auth::new(
            store,
            config.limits.requests_per_minute,
            config.limits.key_creations_per_hour,
        ),
        body_limits: BodyLimits {
            max_bytes: config.server.max_body_bytes.get(),
            timeout: config.server.body_timeout,
        },
        limits: TenantLimits {
            max_columns: config.limits.max_columns.get(),
            max_webhooks: config.limits.max_webhooks.get(),
            max_versions: config.limits.max_versions.get(),
        },
        scheme,
        links: match &config.server.public_url {
            Some(url) => LinkBase::Public(url.as_str().into()),
            None => LinkBase::Served(scheme),
        },
        metrics,
        deliveries: webhooks.deliveries,
        target_guard: webhooks.guard,
        console: config.server.console,
    })
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

/// Deletes checks older than `retention` (zero: keep them forever), in small batches so a
/// large purge never holds the writer for long, every tenth of the retention (at least
/// every second, at most every hour).
async fn purge_old_checks(store: Store, retention: Duration, mut stopped: watch::Receiver<bool>) {
    const BATCH: usize = 1000;
    if retention.is_zero() {
        return;
    }
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = crate::sync::stopped(&mut stopped) => return,
            _ = tick.tick() => {}
        }
        let before = store.clock().now() - retention;
        loop {
            match store.checks().purge(before, BATCH).await {
                Ok(n) if n == BATCH => continue,
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(purged = n, "checks past storage.check_retention purged");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot purge old checks; trying again later");
                    break;
                }
            }
        }
    }
}

/// On the first start only: creates the `default` account and its first live key, from
/// `DRIFTGUARD_BOOTSTRAP_KEY` or freshly generated and written to `<data_dir>/bootstrap-key`.
async fn bootstrap(store: &Store, config: &Config) -> Result<(), StartError> {
    if !store.accounts().needs_bootstrap().await? {
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
    let created = store
        .accounts()
        .bootstrap(config.credits.default_quota, key)
        .await?;
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

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use tracing_subscriber::filter::LevelFilter;

    use super::*;

    #[test]
    fn a_reload_names_only_the_sections_it_cannot_apply() {
        let mut running = Config::default();
        running.server.tls_cert = Some("/tls/cert.pem".into());
        running.server.tls_key = Some("/tls/key.pem".into());

        // Rate limits, the log level and new certificate paths are applied.
        let mut new = running.clone();
        new.limits.requests_per_minute = NonZeroU32::MIN;
        new.limits.key_creations_per_hour = NonZeroU32::MIN;
        new.log.level = LevelFilter::TRACE;
        new.server.tls_cert = Some("/rotated/cert.pem".into());
        new.server.tls_key = Some("/rotated/key.pem".into());
        assert_eq!(needs_restart(&running, &new), Vec::<&str>::new());

        // Anything else is named by its section, whatever the field.
        new.server.shutdown_grace = Duration::from_secs(99);
        new.webhooks.retention = Duration::from_secs(1);
        new.log.format = crate::config::LogFormat::Json;
        assert_eq!(
            needs_restart(&running, &new),
            ["server.*", "webhooks.*", "log.*"]
        );

        // The target guard and auto-disable are read at start: a restart applies them.
        for change in [
            |c: &mut Config| c.webhooks.allow_targets = crate::webhooks::guard::default_deny(),
            |c: &mut Config| c.webhooks.deny_targets.clear(),
            |c: &mut Config| c.webhooks.disable_after = 0,
        ] {
            let mut new = running.clone();
            change(&mut new);
            assert_eq!(needs_restart(&running, &new), ["webhooks.*"]);
        }

        // Turning TLS off is a restart, not a certificate reload.
        let mut plain = running.clone();
        plain.server.tls_cert = None;
        plain.server.tls_key = None;
        assert_eq!(needs_restart(&running, &plain), ["server.*"]);
        assert_eq!(needs_restart(&plain, &running), ["server.*"]);
    }
}
