//! Configuration: `driftguard.toml` plus environment overrides, validated at start-up.
//!
//! Every key has a default, so no file at all is a valid configuration. An unknown key or
//! a bad value is an error that names the key (e.g. `server.listen`) or the variable.
//!
//! Counts that must be at least 1 are `NonZero*` types, so no user of the configuration
//! re-checks them; a 0 in the file is refused while parsing, naming the key.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tracing_subscriber::filter::LevelFilter;

use crate::credentials::{self, Environment};
use crate::webhooks::guard::{self, Cidr};

/// Environment variable: the listen address.
pub const ENV_LISTEN: &str = "DRIFTGUARD_LISTEN";
/// Environment variable: the data directory.
pub const ENV_DATA_DIR: &str = "DRIFTGUARD_DATA_DIR";
/// Environment variable: the first live key of a new store.
pub const ENV_BOOTSTRAP_KEY: &str = "DRIFTGUARD_BOOTSTRAP_KEY";
/// Environment variable: the log level (overrides `log.level`).
pub const ENV_LOG: &str = "DRIFTGUARD_LOG";
/// Environment variable: the configuration file.
pub const ENV_CONFIG: &str = "DRIFTGUARD_CONFIG";
/// The file looked for in the working directory when no path is given.
pub const DEFAULT_CONFIG_FILE: &str = "driftguard.toml";

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[storage]`.
    pub storage: StorageConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[credits]`.
    pub credits: CreditsConfig,
    /// `[webhooks]`.
    pub webhooks: WebhooksConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// From `DRIFTGUARD_BOOTSTRAP_KEY` only (never from the file, never logged).
    #[serde(skip)]
    pub bootstrap_key: Option<BootstrapKey>,
}

/// `[server]`: the listener.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind; `DRIFTGUARD_LISTEN` overrides.
    pub listen: SocketAddr,
    /// PEM certificate chain; with `tls_key`, the API is served over HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Larger request bodies get `413`.
    #[serde(deserialize_with = "at_least_one")]
    pub max_body_bytes: NonZeroU64,
    /// Time a client has to finish a TLS handshake and send a request's headers. On an
    /// HTTP/1.1 keep-alive connection it runs from the end of the previous response, so it
    /// is also how long such a connection may sit idle.
    #[serde(deserialize_with = "duration")]
    pub header_timeout: Duration,
    /// Time a client has to send a request's body.
    #[serde(deserialize_with = "duration")]
    pub body_timeout: Duration,
    /// A connection with no request in flight for this long after its last request is
    /// closed, whatever bytes it sends (an HTTP/2 PING is not a request). Its first
    /// request must come within `header_timeout`, on HTTP/1.1 and HTTP/2 alike.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the kernel's accept queue.
    #[serde(deserialize_with = "at_least_one")]
    pub max_connections: NonZeroUsize,
    /// Connections one client address may hold at once; above it a new connection is
    /// closed unanswered. 0 turns the cap off: behind a reverse proxy every connection
    /// comes from the proxy's address (not `NonZero`, since 0 means off).
    pub max_connections_per_ip: usize,
    /// On shutdown, how long in-flight requests get to finish.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// Serve the web console at `/ui/` (and redirect `/` there); `false` answers 404 there.
    pub console: bool,
    /// The URL clients reach this API at (e.g. behind a TLS-terminating proxy):
    /// `http(s)://host[:port][/prefix]`, kept without a trailing `/`. When set, `Link`
    /// headers point under it instead of at the request's `Host`.
    #[serde(deserialize_with = "public_url")]
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            max_body_bytes: const { NonZeroU64::new(1_048_576).expect("not zero") }, // ok: compile time
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: const { NonZeroUsize::new(1024).expect("not zero") }, // ok: compile time
            max_connections_per_ip: 256,
            shutdown_grace: Duration::from_secs(10),
            console: true,
            public_url: None,
        }
    }
}

/// `[storage]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Holds the redb file and `bootstrap-key`; `DRIFTGUARD_DATA_DIR` overrides.
    pub data_dir: PathBuf,
    /// Most writes committed together (group commit); 1 commits each write on its own.
    #[serde(deserialize_with = "at_least_one")]
    pub max_write_batch: NonZeroUsize,
    /// Checks older than this are purged in the background; zero keeps them forever.
    #[serde(deserialize_with = "duration")]
    pub check_retention: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./driftguard-data"),
            max_write_batch: const { NonZeroUsize::new(512).expect("not zero") }, // ok: compile time
            check_retention: Duration::ZERO,
        }
    }
}

/// `[limits]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Per API key, token bucket (GCRA).
    #[serde(deserialize_with = "at_least_one")]
    pub requests_per_minute: NonZeroU32,
    /// Per account.
    #[serde(deserialize_with = "at_least_one")]
    pub key_creations_per_hour: NonZeroU32,
    /// Most columns in a contract or an incoming schema: one tenant's size must not
    /// become every request's cost.
    #[serde(deserialize_with = "at_least_one")]
    pub max_columns: NonZeroUsize,
    /// Most webhooks per account.
    #[serde(deserialize_with = "at_least_one")]
    pub max_webhooks: NonZeroUsize,
    /// Most versions a contract keeps: an update past it prunes the oldest (version
    /// numbers keep counting), so history cannot grow without end.
    #[serde(deserialize_with = "at_least_one")]
    pub max_versions: NonZeroU32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            requests_per_minute: const { NonZeroU32::new(100).expect("not zero") }, // ok: compile time
            key_creations_per_hour: const { NonZeroU32::new(10).expect("not zero") }, // ok: compile time
            max_columns: const { NonZeroUsize::new(1000).expect("not zero") }, // ok: compile time
            max_webhooks: const { NonZeroUsize::new(100).expect("not zero") }, // ok: compile time
            max_versions: const { NonZeroU32::new(1000).expect("not zero") },  // ok: compile time
        }
    }
}

/// `[credits]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreditsConfig {
    /// Starting balance of a new account.
    pub default_quota: u64,
}

impl Default for CreditsConfig {
    fn default() -> Self {
        CreditsConfig {
            default_quota: 1_000_000,
        }
    }
}

/// `[webhooks]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Delay before attempt 2, 3, …; a delivery is abandoned after `1 + len` failures.
    #[serde(deserialize_with = "durations")]
    pub retry_delays: Vec<Duration>,
    /// An attempt that has no 2xx answer within this time fails.
    #[serde(deserialize_with = "duration")]
    pub attempt_timeout: Duration,
    /// Extra trust anchors (PEM) for webhook endpoints.
    pub ca_file: Option<PathBuf>,
    /// Delivered and abandoned deliveries stay in the history this long.
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
    /// Attempts in flight at once, across all webhooks.
    #[serde(deserialize_with = "at_least_one")]
    pub max_in_flight: NonZeroUsize,
    /// Attempts in flight at once to one webhook.
    #[serde(deserialize_with = "at_least_one")]
    pub max_in_flight_per_webhook: NonZeroUsize,
    /// After this many abandoned deliveries in a row a webhook is disabled
    /// (`disabled_reason: "failing"`); 0 never disables one.
    pub disable_after: u32,
    /// Addresses webhooks may not reach (loopback, link-local, "this network")…
    #[serde(deserialize_with = "cidrs")]
    pub deny_targets: Vec<Cidr>,
    /// …unless they are inside one of these.
    #[serde(deserialize_with = "cidrs")]
    pub allow_targets: Vec<Cidr>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            retry_delays: vec![Duration::from_secs(5), Duration::from_secs(25)],
            attempt_timeout: Duration::from_secs(10),
            ca_file: None,
            retention: Duration::from_secs(30 * 24 * 3600),
            max_in_flight: const { NonZeroUsize::new(256).expect("not zero") }, // ok: compile time
            max_in_flight_per_webhook: const { NonZeroUsize::new(32).expect("not zero") }, // ok: compile time
            disable_after: 10,
            deny_targets: guard::default_deny(),
            allow_targets: Vec::new(),
        }
    }
}

/// `[log]`: structured logs on stderr.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`; `DRIFTGUARD_LOG` overrides.
    #[serde(deserialize_with = "log_level")]
    pub level: LevelFilter,
    /// `text` (one human-readable line per event) or `json` (one JSON object per line).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: LevelFilter::INFO,
            format: LogFormat::Text,
        }
    }
}

/// The shape of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[metrics]`: Prometheus metrics on their own listener.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address serving `GET /metrics` (no API key); unset: no metrics listener.
    pub listen: Option<SocketAddr>,
}

/// The bootstrap key; its `Debug` never shows the key.
#[derive(Clone)]
pub struct BootstrapKey(pub String);

impl std::fmt::Debug for BootstrapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapKey({}…)", credentials::preview(&self.0))
    }
}

/// A configuration that cannot be used; the message names the key or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file has an unknown key, a bad value or bad TOML.
    #[error("configuration file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A value that parsed but cannot work.
    #[error("configuration key {key}: {message}")]
    Value {
        /// E.g. `limits.requests_per_minute`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An environment variable with a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Finds and loads the configuration: `explicit` (from `--config`), else
    /// `DRIFTGUARD_CONFIG`, else `./driftguard.toml` if present, else the defaults; then
    /// applies the environment overrides and validates. `env` reads a variable (tests pass
    /// their own).
    pub fn load(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => match env(ENV_CONFIG).filter(|v| !v.is_empty()) {
                Some(p) => Some(PathBuf::from(p)),
                None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
            },
        };
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Config::from_toml(&text)
                    .map_err(|message| ConfigError::Invalid { path, message })?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; the error names the offending key path.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| e.to_string())?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_owned();
            if path == "." {
                message
            } else {
                format!("{path}: {message}")
            }
        })
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(listen) = env(ENV_LISTEN) {
            self.server.listen = listen.parse().map_err(|_| ConfigError::Env {
                var: ENV_LISTEN,
                message: format!("{listen:?} is not an address like 127.0.0.1:8080"),
            })?;
        }
        if let Some(dir) = env(ENV_DATA_DIR) {
            if dir.is_empty() {
                return Err(ConfigError::Env {
                    var: ENV_DATA_DIR,
                    message: "must not be empty".into(),
                });
            }
            self.storage.data_dir = PathBuf::from(dir);
        }
        if let Some(level) = env(ENV_LOG).filter(|v| !v.is_empty()) {
            self.log.level = parse_level(&level).map_err(|message| ConfigError::Env {
                var: ENV_LOG,
                message,
            })?;
        }
        if let Some(key) = env(ENV_BOOTSTRAP_KEY) {
            if credentials::key_environment(&key) != Some(Environment::Live) {
                return Err(ConfigError::Env {
                    var: ENV_BOOTSTRAP_KEY,
                    message: "must be a well-formed live key: dg_live_ followed by 24 to 120 characters of A-Z a-z 0-9 _ -".into(),
                });
            }
            self.bootstrap_key = Some(BootstrapKey(key));
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let value = |key, message: &str| ConfigError::Value {
            key,
            message: message.to_owned(),
        };
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) => {
                return Err(value(
                    "server.tls_key",
                    "required when server.tls_cert is set",
                ))
            }
            (None, Some(_)) => {
                return Err(value(
                    "server.tls_cert",
                    "required when server.tls_key is set",
                ))
            }
            _ => {}
        }
        for (key, d) in [
            ("server.header_timeout", self.server.header_timeout),
            ("server.body_timeout", self.server.body_timeout),
            ("server.idle_timeout", self.server.idle_timeout),
            ("webhooks.attempt_timeout", self.webhooks.attempt_timeout),
        ] {
            if d.is_zero() {
                return Err(value(key, "must be longer than zero"));
            }
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(value("storage.data_dir", "must not be empty"));
        }
        Ok(())
    }
}

/// A count the configuration requires to be at least 1, read as its plain integer.
trait AtLeastOne: Sized {
    /// The integer in the file.
    type Plain: for<'de> Deserialize<'de>;
    /// `None` for 0.
    fn from_plain(plain: Self::Plain) -> Option<Self>;
}

macro_rules! at_least_one_for {
    ($($nonzero:ty: $plain:ty),*) => {$(
        impl AtLeastOne for $nonzero {
            type Plain = $plain;
            fn from_plain(plain: $plain) -> Option<Self> {
                <$nonzero>::new(plain)
            }
        }
    )*};
}
at_least_one_for!(NonZeroU32: u32, NonZeroU64: u64, NonZeroUsize: usize);

/// Reads a count, refusing 0 with the same words for every key (the path names the key).
fn at_least_one<'de, D: Deserializer<'de>, N: AtLeastOne>(d: D) -> Result<N, D::Error> {
    N::from_plain(N::Plain::deserialize(d)?)
        .ok_or_else(|| serde::de::Error::custom("must be at least 1"))
}

fn log_level<'de, D: Deserializer<'de>>(d: D) -> Result<LevelFilter, D::Error> {
    let text = String::deserialize(d)?;
    parse_level(&text).map_err(serde::de::Error::custom)
}

/// Parses `error`, `warn`, `info`, `debug`, `trace` (or `off`).
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    text.parse::<LevelFilter>()
        .map_err(|_| format!("{text:?} is not one of error, warn, info, debug, trace, off"))
}

/// Reads `"250ms"`, `"5s"`, `"2m"`… (humantime syntax).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// An absolute `http(s)://` URL with a host, no user name or password, query or
/// fragment; kept without its trailing `/`.
fn public_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    let bad = |why: &str| serde::de::Error::custom(format!("{text:?} {why}"));
    let uri: hyper::Uri = text
        .parse()
        .map_err(|_| bad("is not an absolute URL like \"https://drift.example.com\""))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must start with https:// or http://"));
    }
    match uri.authority() {
        Some(a) if a.as_str().contains('@') => {
            return Err(bad("must not carry a user name or password"))
        }
        Some(a) if !a.host().is_empty() => {}
        _ => return Err(bad("must name a host")),
    }
    if uri.query().is_some() || text.contains('#') {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(Some(text.trim_end_matches('/').to_owned()))
}

fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|t| parse_duration(t).map_err(serde::de::Error::custom))
        .collect()
}

/// Reads a list of CIDR ranges; a bad entry is refused (the path names the key).
fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cidr>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|t| t.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like \"250ms\", \"5s\" or \"2m\" ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::from_toml("").expect("empty is valid");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.storage.data_dir, PathBuf::from("./driftguard-data"));
        assert_eq!(c.server.max_body_bytes.get(), 1_048_576);
        assert_eq!(c.limits.requests_per_minute.get(), 100);
        assert_eq!(c.limits.key_creations_per_hour.get(), 10);
        assert_eq!(c.credits.default_quota, 1_000_000);
        assert_eq!(
            c.webhooks.retry_delays,
            [Duration::from_secs(5), Duration::from_secs(25)]
        );
        assert_eq!(c.webhooks.attempt_timeout, Duration::from_secs(10));
        assert_eq!(c.webhooks.disable_after, 10);
        let deny: Vec<String> = c
            .webhooks
            .deny_targets
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            deny,
            [
                "127.0.0.0/8",
                "::1/128",
                "::/128",
                "169.254.0.0/16",
                "fe80::/10",
                "0.0.0.0/8"
            ]
        );
        assert!(c.webhooks.allow_targets.is_empty());
    }

    #[test]
    fn a_bad_target_range_is_named() {
        let err = Config::from_toml("[webhooks]\ndeny_targets = [\"10.0.0.0/8\", \"nope\"]\n")
            .unwrap_err();
        assert!(err.starts_with("webhooks.deny_targets"), "{err}");
        assert!(err.contains("nope"), "{err}");
        let err = Config::from_toml("[webhooks]\nallow_targets = [\"127.0.0.1/8\"]\n").unwrap_err();
        assert!(err.starts_with("webhooks.allow_targets"), "{err}");
        let c = Config::from_toml(
            "[webhooks]\nallow_targets = [\"127.0.0.0/8\", \"::1\"]\ndisable_after = 0\n",
        )
        .expect("valid");
        assert_eq!(c.webhooks.allow_targets.len(), 2);
        assert_eq!(c.webhooks.disable_after, 0);
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../driftguard.toml.example");
        let c = Config::from_toml(text).expect("example parses");
        assert!(
            c.server.tls_cert.is_none(),
            "the example must run without TLS files"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_toml("[server]\nlisten_addr = \"0.0.0.0:1\"\n").unwrap_err();
        assert!(err.contains("server.listen_addr"), "{err}");
        let err = Config::from_toml("[servr]\n").unwrap_err();
        assert!(err.contains("servr"), "{err}");
    }

    #[test]
    fn public_url_is_an_http_url_with_a_host_and_nothing_secret() {
        let url = |text: &str| Config::from_toml(&format!("[server]\npublic_url = {text:?}\n"));
        for (given, kept) in [
            ("https://drift.example.com/", "https://drift.example.com"),
            ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
            (
                "https://example.com/driftguard/",
                "https://example.com/driftguard",
            ),
        ] {
            let config = url(given).unwrap();
            assert_eq!(config.server.public_url.as_deref(), Some(kept));
        }
        for bad in [
            "drift.example.com",
            "ftp://drift.example.com",
            "https://user:pw@drift.example.com",
            "https://drift.example.com/?a=1",
            "https://drift.example.com/#top",
            "/relative",
            "",
        ] {
            let err = url(bad).unwrap_err();
            assert!(err.contains("server.public_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_toml("[webhooks]\nretry_delays = [\"5s\", \"soon\"]\n").unwrap_err();
        assert!(err.contains("webhooks.retry_delays"), "{err}");
        let err = Config::from_toml("[server]\nlisten = \"nowhere\"\n").unwrap_err();
        assert!(err.contains("server.listen"), "{err}");
        let err = Config::from_toml("[limits]\nrequests_per_minute = -1\n").unwrap_err();
        assert!(err.contains("limits.requests_per_minute"), "{err}");
        // A zero count cannot even be represented; the parse refuses it, naming the key.
        let err = Config::from_toml("[limits]\nrequests_per_minute = 0\n").unwrap_err();
        assert!(err.contains("limits.requests_per_minute"), "{err}");
        let mut c = Config::default();
        c.server.tls_cert = Some("/x".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("server.tls_key"));
    }

    #[test]
    fn zero_counts_are_refused_naming_the_key() {
        for (section, key) in [
            ("server", "max_body_bytes"),
            ("server", "max_connections"),
            ("storage", "max_write_batch"),
            ("limits", "requests_per_minute"),
            ("limits", "key_creations_per_hour"),
            ("limits", "max_versions"),
            ("webhooks", "max_in_flight"),
            ("webhooks", "max_in_flight_per_webhook"),
        ] {
            let err = Config::from_toml(&format!("[{section}]\n{key} = 0\n")).unwrap_err();
            assert_eq!(err, format!("{section}.{key}: must be at least 1"));
            let one = Config::from_toml(&format!("[{section}]\n{key} = 1\n"));
            assert!(one.is_ok(), "{section}.{key} = 1: {one:?}");
        }
    }

    #[test]
    fn durations_use_the_documented_syntax() {
        let c = Config::from_toml(
            "[webhooks]\nretry_delays = [\"250ms\", \"2m\"]\nattempt_timeout = \"3s\"\n",
        )
        .expect("valid");
        assert_eq!(
            c.webhooks.retry_delays,
            [Duration::from_millis(250), Duration::from_secs(120)]
        );
        assert_eq!(c.webhooks.attempt_timeout, Duration::from_secs(3));
    }

    #[test]
    fn environment_overrides() {
        let key = "dg_live_abcdefghijklmnopqrstuvwxyz012345";
        let env = |name: &str| match name {
            ENV_LISTEN => Some("0.0.0.0:9999".to_owned()),
            ENV_DATA_DIR => Some("/data".to_owned()),
            ENV_BOOTSTRAP_KEY => Some(key.to_owned()),
            _ => None,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Config::load(Some(&write(&dir, "")), env).expect("valid");
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:9999");
        assert_eq!(c.storage.data_dir, PathBuf::from("/data"));
        assert_eq!(c.bootstrap_key.as_ref().map(|k| k.0.as_str()), Some(key));
        assert!(
            !format!("{c:?}").contains(key),
            "Debug must not show the key"
        );

        let bad_key = |name: &str| {
            (name == ENV_BOOTSTRAP_KEY)
                .then(|| "dg_test_abcdefghijklmnopqrstuvwxyz012345".to_owned())
        };
        let err = Config::load(Some(&write(&dir, "")), bad_key).unwrap_err();
        assert!(err.to_string().contains(ENV_BOOTSTRAP_KEY), "{err}");
        let bad_listen = |name: &str| (name == ENV_LISTEN).then(|| "localhost".to_owned());
        let err = Config::load(Some(&write(&dir, "")), bad_listen).unwrap_err();
        assert!(err.to_string().contains(ENV_LISTEN), "{err}");
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let err =
            Config::load(Some(Path::new("/nonexistent/driftguard.toml")), no_env).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("driftguard.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}
