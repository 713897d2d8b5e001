//! The `driftguard` binary as a process, for the tests and the benchmarks that need the
//! real thing (signals, strace, a crash, the static build): a clean command, a free port,
//! a log file, readiness polled on the health endpoint with a deadline, and SIGTERM,
//! SIGKILL and restart helpers. A process still running when a test panics is killed, and
//! its log is printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use serde_json::Value;

use super::{free_port, HttpClient};

/// The binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_driftguard");

/// How long a process may take to become ready, or to exit once told to.
pub const PROCESS_DEADLINE: Duration = Duration::from_secs(20);

/// The binary to run as the daemon: `DRIFTGUARD_BIN` when set (CI points it at the static
/// release build the packaging makes), else [`BIN`].
pub fn daemon_binary() -> PathBuf {
    std::env::var_os("DRIFTGUARD_BIN").map_or_else(|| PathBuf::from(BIN), PathBuf::from)
}

/// The `DRIFTGUARD_*` variables a test must not inherit from the developer's shell.
pub const DRIFTGUARD_VARS: [&str; 5] = [
    "DRIFTGUARD_LISTEN",
    "DRIFTGUARD_DATA_DIR",
    "DRIFTGUARD_BOOTSTRAP_KEY",
    "DRIFTGUARD_CONFIG",
    "DRIFTGUARD_LOG",
];

/// `driftguard` in `dir`, with no `DRIFTGUARD_*` variable inherited and no stdin.
pub fn driftguard(dir: &Path) -> Command {
    driftguard_bin(Path::new(BIN), dir)
}

/// [`driftguard`] for another build of the binary (the static one, a baseline).
pub fn driftguard_bin(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).stdin(Stdio::null());
    for var in DRIFTGUARD_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a command that must finish on its own within [`PROCESS_DEADLINE`].
pub fn run(cmd: Command) -> Output {
    run_within(cmd, PROCESS_DEADLINE)
}

/// Runs a command that must finish on its own within `deadline`; its output, piped.
pub fn run_within(mut cmd: Command, deadline: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn driftguard");
    let end = Instant::now() + deadline;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > end {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "driftguard did not exit within {deadline:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A command's stdout, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's stderr, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Sends `signal` (e.g. `-TERM`) to process `pid` with `kill`.
pub fn send_signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill {signal} {pid}");
}

/// A running `driftguard serve` (or a tool wrapping it, such as strace) with its stderr in
/// a log file; killed (SIGKILL) when dropped, its log printed if the test is failing.
pub struct Serving {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serving {
    /// Spawns `cmd serve` listening on a free loopback port (`DRIFTGUARD_LISTEN`).
    pub fn start(mut cmd: Command, log: PathBuf) -> Serving {
        let port = free_port();
        cmd.arg("serve")
            .env("DRIFTGUARD_LISTEN", format!("127.0.0.1:{port}"));
        Serving::spawn(cmd, port, log)
    }

    /// Spawns `cmd` as it is (e.g. `serve --config FILE`), which listens on `port`.
    pub fn spawn(mut cmd: Command, port: u16, log: PathBuf) -> Serving {
        let file = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn driftguard serve");
        Serving { child, port, log }
    }

    /// The process id (of the wrapper, if one was spawned).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The plain-HTTP base URL, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `path` on [`Serving::base`].
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the health endpoint until it answers 200, within [`PROCESS_DEADLINE`];
    /// panics with the log if the process exits first or the deadline passes.
    pub async fn wait_ready(&mut self, client: &HttpClient) {
        let base = self.base();
        self.wait_ready_on(client, &base, PROCESS_DEADLINE, Duration::from_millis(20))
            .await;
    }

    /// [`Serving::wait_ready`] on `base` (e.g. `https://localhost:PORT`), within
    /// `deadline`, polling `every` (the start-up benchmark times this).
    pub async fn wait_ready_on(
        &mut self,
        client: &HttpClient,
        base: &str,
        deadline: Duration,
        every: Duration,
    ) {
        let end = Instant::now() + deadline;
        let url = format!("{base}/api/v1/health");
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("serve exited early ({status}): {}", self.log());
            }
            if let Ok((200, _)) = call(client, Method::GET, &url, None, "").await {
                return;
            }
            assert!(
                Instant::now() < end,
                "serve did not become healthy within {deadline:?}: {}",
                self.log()
            );
            tokio::time::sleep(every).await;
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM").await
    }

    /// Sends `signal` (e.g. `-INT`) and waits for the exit.
    pub async fn signal(&mut self, signal: &str) -> ExitStatus {
        send_signal(self.pid(), signal);
        self.wait_exit(PROCESS_DEADLINE).await
    }

    /// Waits for the exit, which must come within `deadline`.
    pub async fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < end,
                "serve did not exit within {deadline:?}: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- log of the driftguard process ({}):\n{}",
                self.log.display(),
                self.log()
            );
        }
    }
}

/// One exchange with a daemon: `(status, body)`, or why there was none within 30 s.
pub async fn exchange(
    client: &HttpClient,
    method: Method,
    url: &str,
    key: Option<&str>,
    body: Bytes,
) -> Result<(u16, Bytes), String> {
    let mut builder = Request::builder().method(method).uri(url);
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    let request = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
    let answer = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes))
    };
    tokio::time::timeout(Duration::from_secs(30), answer)
        .await
        .map_err(|_| "timeout".to_owned())?
}

/// One request to a spawned daemon: `(status, JSON body or Null)`.
pub async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    key: Option<&str>,
    body: &str,
) -> Result<(u16, Value), String> {
    let (status, bytes) = exchange(client, method, url, key, Bytes::from(body.to_owned())).await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Talks to a daemon process with one key; `None` when there is no answer.
#[derive(Clone)]
pub struct Api {
    /// E.g. `http://127.0.0.1:PORT`.
    pub base: String,
    /// Sent as `X-API-Key`.
    pub key: String,
    /// The client it sends with.
    pub client: HttpClient,
}

impl Api {
    /// An API client for `base` with `key`.
    pub fn new(base: String, key: &str, client: HttpClient) -> Api {
        Api {
            base,
            key: key.to_owned(),
            client,
        }
    }

    /// Sends `body` (JSON) to `path`; `(status, body)`, or `None` without an answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<(u16, Bytes)> {
        let body = Bytes::from(body.map(|b| b.to_string()).unwrap_or_default());
        let url = format!("{}{path}", self.base);
        exchange(&self.client, method, &url, Some(&self.key), body)
            .await
            .ok()
    }

    /// Sends and asserts the answer's status; its JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let (got, body) = self
            .send(method, path, body)
            .await
            .unwrap_or_else(|| panic!("{path}: no answer"));
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("JSON")
    }
}
