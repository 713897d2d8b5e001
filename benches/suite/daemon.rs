//! The daemon under load: one configuration per row group ([`Setup`]), the process
//! started and stopped with the tests' process harness ([`Daemon`]), and what is read off
//! it — CPU time, RSS, file sizes and metrics; and the same load over HTTP or HTTPS
//! ([`Protocol`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::common::{
    client, client_with, driftguard_bin, send_signal, Api, HttpClient, Serving, TestCert, BIN,
};
use crate::load::{columns_json, post_args, run_oha, Load};
use crate::Bench;

/// How long a daemon may take to become healthy or to stop (a million pending
/// deliveries make start-up slow).
const PATIENCE: Duration = Duration::from_secs(120);

/// One daemon configuration: its port, data directory and config file.
pub struct Setup {
    /// The port it listens on.
    pub port: u16,
    /// Its data directory (the HTTP and TLS runs share one store).
    pub data_dir: PathBuf,
    config_file: PathBuf,
    dir: PathBuf,
    log: PathBuf,
}

impl Setup {
    /// `name`'s configuration, delivering to the receiver whose CA is `ca_file`.
    pub fn new(dir: &Path, name: &str, ca_file: &Path, tls: Option<&TestCert>) -> Setup {
        Setup::with(dir, name, ca_file, tls, "")
    }

    /// `storage` is extra `[storage]` lines (e.g. `max_write_batch = 1`).
    pub fn with(
        dir: &Path,
        name: &str,
        ca_file: &Path,
        tls: Option<&TestCert>,
        storage: &str,
    ) -> Setup {
        let port = crate::common::free_port();
        // The HTTP and TLS runs share one store; the idle and console runs, and each build
        // of the side-by-side rounds, have their own.
        let data_dir = match name {
            "console" => dir.join(format!("{name}-data")),
            _ if name.starts_with("side-") || name.starts_with("idle-") => {
                dir.join(format!("{name}-data"))
            }
            _ => dir.join("data"),
        };
        let tls_lines = tls
            .map(|c| {
                format!(
                    "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
                    c.cert_file.display(),
                    c.key_file.display()
                )
            })
            .unwrap_or_default();
        let config_file = dir.join(format!("{name}.toml"));
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{tls_lines}[storage]\ndata_dir = \"{}\"\n{storage}[limits]\nrequests_per_minute = 1000000000\n[credits]\ndefault_quota = 1000000000000\n[webhooks]\nca_file = \"{}\"\nretry_delays = [\"1s\"]\nallow_targets = [\"127.0.0.0/8\"]\n",
            data_dir.display(),
            ca_file.display()
        );
        std::fs::write(&config_file, text).expect("write config");
        Setup {
            port,
            data_dir,
            config_file,
            dir: dir.to_path_buf(),
            log: dir.join(format!("{name}.log")),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A running daemon (the tests' [`Serving`]), logging errors only.
pub struct Daemon(Serving);

impl Daemon {
    /// Starts the binary Cargo built on `setup` and waits until it is healthy.
    pub async fn start(setup: &Setup, key: &str) -> Daemon {
        Daemon::start_bin(Path::new(BIN), setup, key).await
    }

    /// Starts `bin` on `setup` and waits until it is healthy.
    pub async fn start_bin(bin: &Path, setup: &Setup, key: &str) -> Daemon {
        let daemon = Daemon::spawn(bin, setup, key);
        daemon.ready(&client(None), &setup.base()).await
    }

    /// Starts the binary Cargo built on `setup`, not waiting.
    pub fn spawn(bin: &Path, setup: &Setup, key: &str) -> Daemon {
        let mut cmd = driftguard_bin(bin, &setup.dir);
        cmd.args(["serve", "--config"])
            .arg(&setup.config_file)
            .env("DRIFTGUARD_BOOTSTRAP_KEY", key)
            .env("DRIFTGUARD_LOG", "error");
        Daemon(Serving::spawn(cmd, setup.port, setup.log.clone()))
    }

    /// Waits until it answers health on `base` with `client` (polled every 2 ms: the
    /// start-up row times this).
    pub async fn ready(mut self, client: &HttpClient, base: &str) -> Daemon {
        self.0
            .wait_ready_on(client, base, PATIENCE, Duration::from_millis(2))
            .await;
        self
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// Runs a load and returns it with the daemon's CPU time per answered request, in µs.
    pub fn measure(&self, load: impl FnOnce() -> Load) -> (Load, f64) {
        let before = cpu_seconds(self.pid());
        let run = load();
        let cpu_us = (cpu_seconds(self.pid()) - before) * 1e6 / run.ok.max(1.0);
        (run, cpu_us)
    }

    /// SIGTERM, then waits for the exit; prints what it logged (errors only).
    pub async fn stop(mut self) {
        send_signal(self.pid(), "-TERM");
        self.0.wait_exit(PATIENCE).await;
        eprint!("{}", self.0.log());
    }
}

/// The median (NaN of nothing).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n.is_multiple_of(2) => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        n => v[n / 2],
    }
}

/// User + system CPU time of a process so far, in seconds (from /proc/<pid>/stat).
pub fn cpu_seconds(pid: u32) -> f64 {
    let ticks = clock_ticks();
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start at field 3.
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let utime: f64 = rest.get(11)?.parse().ok()?;
            let stime: f64 = rest.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(f64::NAN)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// `delivery_queue_depth` from the daemon's metrics listener.
pub async fn queue_depth(port: u16) -> f64 {
    metric(port, "driftguard_delivery_queue_depth").await
}

/// Commits so far that took over 12.8 ms (a histogram bucket bound), from the metrics.
pub async fn slow_commits(port: u16) -> f64 {
    let all = metric(port, "driftguard_store_commit_duration_seconds_count").await;
    let fast = metric(
        port,
        r#"driftguard_store_commit_duration_seconds_bucket{le="0.0128"}"#,
    )
    .await;
    all - fast
}

/// One series' value from the daemon's metrics listener (NaN if it cannot be read).
async fn metric(port: u16, series: &str) -> f64 {
    let client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let Ok(uri) = format!("http://127.0.0.1:{port}/metrics").parse::<hyper::Uri>() else {
        return f64::NAN;
    };
    let Ok(response) = client.get(uri).await else {
        return f64::NAN;
    };
    let Ok(body) = response.into_body().collect().await else {
        return f64::NAN;
    };
    let prefix = format!("{series} ");
    String::from_utf8_lossy(&body.to_bytes())
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Resident set size of a process, in KiB (from /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// A file's size, in MiB.
pub fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

/// One protocol of the rounds.
#[derive(Clone, Copy, PartialEq)]
pub enum Protocol {
    /// Plain HTTP on 127.0.0.1.
    Http,
    /// HTTPS (HTTP/1.1) on `localhost`, with the bench certificate.
    Https,
}

impl Protocol {
    /// As the rows name it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
        }
    }
}

/// A client for `protocol` (trusting the bench certificate over HTTPS).
fn client_for(b: &Bench, protocol: Protocol) -> HttpClient {
    match protocol {
        Protocol::Http => client(None),
        Protocol::Https => client_with(Some(&b.cert.cert_der), false),
    }
}

/// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
pub fn base(protocol: Protocol, port: u16) -> String {
    match protocol {
        Protocol::Http => format!("http://127.0.0.1:{port}"),
        Protocol::Https => format!("https://localhost:{port}"),
    }
}

/// One load run of `body` to `url` (trusting the bench certificate over HTTPS).
pub fn load(b: &Bench, protocol: Protocol, url: &str, key: &str, body: &str) -> Load {
    let mut args = post_args(url, key, body, &b.seconds);
    if protocol == Protocol::Https {
        let cert = b.cert.cert_file.display().to_string();
        args.splice(0..0, ["--cacert".to_owned(), cert]);
    }
    run_oha(&args)
}

/// Starts `bin` on `setup` and waits until it answers.
pub async fn start(b: &Bench, bin: &Path, setup: &Setup, protocol: Protocol) -> Daemon {
    match protocol {
        Protocol::Http => Daemon::start_bin(bin, setup, &b.key).await,
        Protocol::Https => {
            Daemon::spawn(bin, setup, &b.key)
                .ready(&client_for(b, protocol), &base(protocol, setup.port))
                .await
        }
    }
}

/// Creates a benchmark contract named `name` in `setup`'s store with `bin` (started and
/// stopped for it); its id.
pub async fn contract(
    b: &Bench,
    bin: &Path,
    setup: &Setup,
    protocol: Protocol,
    name: &str,
) -> String {
    let daemon = start(b, bin, setup, protocol).await;
    let api = Api::new(base(protocol, setup.port), &b.key, client_for(b, protocol));
    let body = json!({"name": name, "schema": {"columns": columns_json()}});
    let contract = api
        .json(Method::POST, "/api/v1/contracts", Some(body), 201)
        .await;
    daemon.stop().await;
    contract["id"].as_str().expect("contract id").to_owned()
}
