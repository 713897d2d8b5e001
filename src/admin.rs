//! The local admin channel: a Unix socket, `<data_dir>/admin.sock` (mode 0600), through
//! which operator commands reach a running daemon — so adding a team or taking a backup
//! never needs the service stopped. Without a daemon, the commands open the store
//! themselves. Only the daemon's own user (or root) may talk to it: the socket's mode
//! says so, and each connection's peer credentials are checked too.
//!
//! Protocol: the client sends one JSON [`AdminRequest`] line; the daemon answers one JSON
//! [`AdminResponse`] line, followed, for a backup, by exactly `bytes` bytes of snapshot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::credentials::Environment;
use crate::net;
use crate::operator;
use crate::store::Store;

/// The socket's file name inside `data_dir`.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// Longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;
/// Time a client has to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An operator command sent to the daemon.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum AdminRequest {
    /// A consistent snapshot of the store.
    Backup,
    /// `accounts create`.
    AccountsCreate {
        /// Account name.
        name: String,
        /// Starting balance.
        credits: u64,
    },
    /// `accounts list`.
    AccountsList,
    /// `accounts set-credits`.
    AccountsSetCredits {
        /// Account name.
        name: String,
        /// New balance.
        credits: u64,
    },
    /// `accounts add-key`.
    AccountsAddKey {
        /// Account name.
        name: String,
        /// Key environment.
        environment: Environment,
    },
}

/// The daemon's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdminResponse {
    /// Whether the command succeeded.
    pub ok: bool,
    /// Text for stdout (or the error message).
    pub output: String,
    /// For a backup: the snapshot's length; the bytes follow the line.
    pub bytes: Option<u64>,
}

/// Runs a text command against `store` (shared by the daemon and direct access).
pub async fn run_command(store: &Store, request: &AdminRequest) -> Result<String, String> {
    let result = match request {
        AdminRequest::Backup => return Err("backup is not a text command".into()),
        AdminRequest::AccountsCreate { name, credits } => {
            operator::create_account(store, name, *credits)
                .await
                .map(|key| format!("{key}\n"))
        }
        AdminRequest::AccountsList => operator::list_accounts(store).await,
        AdminRequest::AccountsSetCredits { name, credits } => {
            operator::set_credits(store, name, *credits).await
        }
        AdminRequest::AccountsAddKey { name, environment } => {
            operator::add_key(store, name, *environment)
                .await
                .map(|key| format!("{key}\n"))
        }
    };
    result.map_err(|e| e.to_string())
}

/// The bound admin socket.
pub struct AdminSocket {
    listener: UnixListener,
    /// The daemon's user: the owner of the socket file it just created.
    daemon_uid: u32,
}

/// Binds the admin socket in `data_dir`, replacing a stale one, usable only by us.
///
/// A socket file gets its mode from the umask (0755 under 022), and `chmod` after `bind`
/// would leave a moment in which another user could connect. Setting a tight umask needs
/// `unsafe` (or a new dependency) and changes it for every thread of the process, so the
/// socket is bound inside a fresh 0700 directory nobody else can enter, made 0600 there,
/// and renamed into place: from the moment it has its public name it is 0600.
pub fn bind(data_dir: &Path) -> std::io::Result<AdminSocket> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let path = data_dir.join(ADMIN_SOCKET);
    remove_if_present(&path)?;
    let staging = data_dir.join(STAGING_DIR);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?; // left by a crash during a previous bind
    }
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let staged = staging.join(ADMIN_SOCKET);
    let bound = (|| {
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        let daemon_uid = std::fs::metadata(&staged)?.uid();
        std::fs::rename(&staged, &path)?;
        Ok(AdminSocket {
            listener,
            daemon_uid,
        })
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

/// Where the admin socket is bound before it is renamed into `data_dir`.
const STAGING_DIR: &str = "admin.sock.new";

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether a peer may use the admin socket: the daemon's own user, or root.
fn peer_allowed(stream: &UnixStream, daemon_uid: u32) -> Result<(), String> {
    let uid = stream
        .peer_cred()
        .map_err(|e| format!("cannot read the peer's credentials: {e}"))?
        .uid();
    if uid == daemon_uid || uid == 0 {
        Ok(())
    } else {
        Err(format!(
            "uid {uid} may not use the admin socket (only uid {daemon_uid}, the daemon's user, and root may)"
        ))
    }
}

/// Serves admin requests until `stop` turns true, then removes the socket file and gives
/// commands in progress up to `grace` to finish (what is left is aborted).
pub async fn serve(
    socket: AdminSocket,
    store: Store,
    data_dir: PathBuf,
    grace: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let AdminSocket {
        listener,
        daemon_uid,
    } = socket;
    let accept = || async { listener.accept().await.map(|(stream, _)| stream) };
    let serve = |stream: UnixStream| {
        let (store, data_dir) = (store.clone(), data_dir.clone());
        async move {
            let allowed = peer_allowed(&stream, daemon_uid);
            if let Err(e) = answer(stream, allowed, &store, &data_dir).await {
                tracing::warn!(error = %e, "admin request failed");
            }
        }
    };
    let connections = net::accept_until_stopped("admin", &mut stop, accept, serve).await;
    drop(listener);
    let _ = std::fs::remove_file(data_dir.join(ADMIN_SOCKET));
    let aborted = connections.drain(grace).await;
    if aborted > 0 {
        tracing::warn!(
            aborted,
            "admin commands still running at shutdown were aborted"
        );
    }
}

/// Reads one request and answers it — with a refusal if the peer is not `allowed` (read
/// first, so the client hears the reason instead of a broken pipe).
async fn answer(
    stream: UnixStream,
    allowed: Result<(), String>,
    store: &Store,
    data_dir: &Path,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let reading = reader.read_line(&mut line);
    // A client that connects and says nothing must not hold a task forever.
    tokio::time::timeout(REQUEST_TIMEOUT, reading)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "no admin request within 10 s")
        })??;
    if let Err(refused) = allowed {
        tracing::warn!(reason = %refused, "admin connection refused");
        return send(&mut write, false, refused, None).await;
    }
    let request: AdminRequest = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(e) => return send(&mut write, false, format!("bad admin request: {e}"), None).await,
    };
    tracing::info!(command = ?command_name(&request), "admin command");
    if let AdminRequest::Backup = request {
        let path = data_dir.join(format!("backup-{}.tmp", crate::clock::UnixMs::wall_now().0));
        let result = store.snapshot(path.clone()).await;
        let outcome = match result {
            Ok(rows) => stream_file(&mut write, &path, rows).await,
            Err(e) => send(&mut write, false, e.to_string(), None).await,
        };
        let _ = std::fs::remove_file(&path);
        return outcome;
    }
    match run_command(store, &request).await {
        Ok(output) => send(&mut write, true, output, None).await,
        Err(message) => send(&mut write, false, message, None).await,
    }
}

fn command_name(request: &AdminRequest) -> &'static str {
    match request {
        AdminRequest::Backup => "backup",
        AdminRequest::AccountsCreate { .. } => "accounts create",
        AdminRequest::AccountsList => "accounts list",
        AdminRequest::AccountsSetCredits { .. } => "accounts set-credits",
        AdminRequest::AccountsAddKey { .. } => "accounts add-key",
    }
}

async fn stream_file(
    write: &mut (impl AsyncWriteExt + Unpin),
    path: &Path,
    rows: u64,
) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    send(write, true, format!("snapshot of {rows} rows\n"), Some(len)).await?;
    tokio::io::copy(&mut file, write).await?;
    write.flush().await
}

async fn send(
    write: &mut (impl AsyncWriteExt + Unpin),
    ok: bool,
    output: String,
    bytes: Option<u64>,
) -> std::io::Result<()> {
    let mut line =
        serde_json::to_vec(&AdminResponse { ok, output, bytes }).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await
}

/// Sends `request` to the daemon serving `data_dir`. `Ok(None)` when no daemon listens
/// (the caller then opens the store itself). For a backup, the snapshot is written to
/// `backup_to`.
pub async fn call(
    data_dir: &Path,
    request: &AdminRequest,
    backup_to: Option<&Path>,
) -> Result<Option<String>, String> {
    let path = data_dir.join(ADMIN_SOCKET);
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(format!(
                "cannot reach the daemon at {}: {e}",
                path.display()
            ))
        }
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    line.push(b'\n');
    write.write_all(&line).await.map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(read);
    let mut answer = String::new();
    reader
        .read_line(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let response: AdminResponse = serde_json::from_str(&answer)
        .map_err(|e| format!("unexpected answer from the daemon: {e}"))?;
    if !response.ok {
        return Err(response.output);
    }
    if let (Some(len), Some(target)) = (response.bytes, backup_to) {
        receive_file(&mut reader, len, target).await?;
    }
    Ok(Some(response.output))
}

/// Writes exactly `len` bytes from `reader` to `target` (via a temporary file, fsynced,
/// then renamed, so a partial backup never has the final name).
async fn receive_file(
    reader: &mut (impl AsyncReadExt + Unpin),
    len: u64,
    target: &Path,
) -> Result<(), String> {
    let partial = target.with_extension("partial");
    // A backup holds key hashes and webhook secrets: owner-only, like the store.
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .await
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    let copied = tokio::io::copy(&mut reader.take(len), &mut file)
        .await
        .map_err(|e| e.to_string())?;
    if copied != len {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(format!(
            "the backup stream ended after {copied} of {len} bytes"
        ));
    }
    file.sync_all().await.map_err(|e| e.to_string())?;
    tokio::fs::rename(&partial, target)
        .await
        .map_err(|e| format!("{}: {e}", target.display()))
}
