//! The `driftguard` command line: `serve` runs the daemon; `accounts …` and `backup` work
//! through a running daemon's admin socket (or the store, if none runs); `restore`,
//! `check-store` and `compact` need the daemon stopped; `check` and `infer` are the
//! pipeline's commands (logic in `driftguard::cli`).
#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line: its output goes to stdout, its errors (and what fails before logging is set up, here) to stderr"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, reload, Registry};

use driftguard::admin::{self, AdminRequest};
use driftguard::cli;
use driftguard::config::{Config, LogConfig, LogFormat, ENV_LOG};
use driftguard::credentials::Environment;
use driftguard::daemon::Daemon;
use driftguard::operator;
use driftguard::store::{maintenance, DB_FILE};
use driftguard::systemd;

/// The global allocator: mimalloc, on every build. musl's own allocator serialises threads
/// on one lock and ran `POST /check` at ~0.56× the glibc build; glibc's malloc cost ~10 % of
/// the daemon's CPU per check. mimalloc (Microsoft, MIT, small C library built by its crate
/// with the same C compiler as ring) fixes both. See BENCHMARKS.md for the figures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// DriftGuard self-hosted: schema-drift contracts, checks and signed webhooks.
#[derive(Parser)]
#[command(name = "driftguard", version, about)]
struct Cli {
    /// Configuration file (default: $DRIFTGUARD_CONFIG, else ./driftguard.toml if present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    Serve,
    /// Manage accounts (teams), through the running daemon or, if none runs, the store.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Write a consistent snapshot of the store to FILE (while the daemon runs, or not).
    Backup {
        /// Where to write the backup (a redb file).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Replace the store with a backup. The daemon must be stopped.
    Restore {
        /// The backup to restore.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
    /// Check the store's integrity and that every record reads. The daemon must be stopped.
    CheckStore,
    /// Compact the store file. The daemon must be stopped.
    Compact,
    /// Check a schema, sample or CSV file against a contract on a DriftGuard server (for
    /// CI). The key comes from $DRIFTGUARD_KEY. Exit codes: 0 below --fail-on, 1 at or
    /// above it, 2 bad usage or input, 3 server unreachable or an error answer.
    Check(cli::CheckArgs),
    /// Print the columns inferred from sample records or a CSV file (no server needed).
    Infer(cli::InferArgs),
    /// Ask whether a schema could be a contract's next version under its compatibility
    /// mode (or --mode). Exit codes: 0 compatible, 1 not (the violations are printed), 2
    /// bad usage or input, 3 server unreachable or an error answer.
    Compat(cli::CompatArgs),
    /// Make a schema a contract's next version (--create: create the contract); refused,
    /// with exit code 1 and the violations, when its compatibility mode forbids it.
    Push(cli::PushArgs),
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create an account; prints its first live API key on stdout.
    Create {
        /// Unique account name.
        name: String,
        /// Starting balance (default: credits.default_quota).
        #[arg(long)]
        credits: Option<u64>,
    },
    /// List accounts with their balances.
    List,
    /// Set an account's remaining credits.
    SetCredits {
        /// Account name.
        name: String,
        /// New balance.
        credits: u64,
    },
    /// Add an API key to an account (the way back in after revoking every key).
    AddKey {
        /// Account name.
        name: String,
        /// Key environment.
        #[arg(long, value_enum, default_value = "live")]
        environment: KeyEnvironment,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyEnvironment {
    Live,
    Test,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The container's static glibc build must not run where name lookups would load the
    // host's glibc modules (src/name_service.rs): refuse now, not crash on a lookup.
    #[cfg(all(target_env = "gnu", target_feature = "crt-static"))]
    if let Err(why) =
        driftguard::name_service::check(Path::new("/"), driftguard::name_service::LINKED_GLIBC)
    {
        eprintln!("driftguard: {why}");
        return ExitCode::from(2);
    }
    // The pipeline commands need no configuration file, only their flags and environment.
    let cli = match cli.command {
        Command::Infer(args) => return ExitCode::from(driftguard::cli::infer(args)),
        Command::Check(args) => return pipeline("check", cli::check(args, env)),
        Command::Compat(args) => return pipeline("compat", cli::compat(args, env)),
        Command::Push(args) => return pipeline("push", cli::push(args, env)),
        _ => cli,
    };
    let config = match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("driftguard: {e}");
            return ExitCode::from(2);
        }
    };
    let daemon = matches!(cli.command, Command::Serve);
    let log_level = init_logging(&config.log, daemon);
    log_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("driftguard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config, cli.config, log_level).await,
            Command::Accounts(command) => accounts(config, command).await,
            Command::Backup { to } => backup(&config, &to).await,
            Command::Restore { from } => blocking(move || restore(&config, &from)).await,
            Command::CheckStore => blocking(move || check_store(&config)).await,
            Command::Compact => blocking(move || compact(&config)).await,
            // Handled above.
            Command::Check(_) | Command::Infer(_) | Command::Compat(_) | Command::Push(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("driftguard: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Panics go to the log as one error line (text or JSON like every other line) instead of
/// raw text on stderr; the daemon catches them where it can (a request, a store batch, a
/// corrupt store at start) and goes on or stops with its own message. A backtrace is
/// added when `RUST_BACKTRACE` asks for one.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(panic = %info, %backtrace, "a thread panicked");
        } else {
            tracing::error!(panic = %info, "a thread panicked");
        }
    }));
}

/// A pipeline command (`check`, `compat`, `push`) on a small runtime of its own (one
/// request at a time); its future gives the exit code.
fn pipeline(command: &str, run: impl std::future::Future<Output = u8>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("driftguard {command}: cannot start the async runtime: {e}");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    ExitCode::from(runtime.block_on(run))
}

/// The environment, as the pipeline commands read it.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Changes the log level of the running subscriber.
type LogLevelHandle = reload::Handle<LevelFilter, Registry>;

/// Structured logs on stderr, as text or JSON lines. Operator commands log only warnings
/// (their stdout is their output) unless `DRIFTGUARD_LOG` asks for more.
fn init_logging(log: &LogConfig, daemon: bool) -> LogLevelHandle {
    let level = if daemon || std::env::var_os(ENV_LOG).is_some() {
        log.level
    } else {
        LevelFilter::WARN
    };
    let (filter, handle) = reload::Layer::new(level);
    let registry = tracing_subscriber::registry().with(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match log.format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    .with_ansi(ansi),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_target(false),
            )
            .init(),
    }
    handle
}

async fn serve(
    config: Config,
    config_path: Option<PathBuf>,
    log_level: LogLevelHandle,
) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let daemon = Daemon::start(config).await.map_err(|e| e.to_string())?;
    // The listener is bound and the store is open.
    systemd::notify("READY=1\nSTATUS=serving");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                systemd::notify("RELOADING=1");
                reload(&daemon, config_path.as_deref(), &log_level);
                systemd::notify("READY=1\nSTATUS=serving");
            }
        }
    }
    tracing::info!("stop signal received; draining in-flight requests");
    systemd::notify("STOPPING=1");
    daemon.shutdown().await;
    Ok(())
}

/// SIGHUP: re-reads the configuration and applies what is safe to change while running.
fn reload(daemon: &Daemon, config_path: Option<&Path>, log_level: &LogLevelHandle) {
    let config = match Config::load(config_path, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "reload failed; the running configuration stays");
            return;
        }
    };
    if let Err(e) = log_level.modify(|level| *level = config.log.level) {
        tracing::warn!(error = %e, "cannot change the log level");
    }
    let needs_restart = daemon.reload(&config);
    if needs_restart.is_empty() {
        tracing::info!("configuration reloaded");
    } else {
        tracing::warn!(
            keys = %needs_restart.join(", "),
            "configuration reloaded; these changes need a restart and were not applied"
        );
    }
}

async fn accounts(config: Config, command: AccountsCommand) -> Result<(), String> {
    let request = match command {
        AccountsCommand::Create { name, credits } => AdminRequest::AccountsCreate {
            name,
            credits: credits.unwrap_or(config.credits.default_quota),
        },
        AccountsCommand::List => AdminRequest::AccountsList,
        AccountsCommand::SetCredits { name, credits } => {
            AdminRequest::AccountsSetCredits { name, credits }
        }
        AccountsCommand::AddKey { name, environment } => AdminRequest::AccountsAddKey {
            name,
            environment: match environment {
                KeyEnvironment::Live => Environment::Live,
                KeyEnvironment::Test => Environment::Test,
            },
        },
    };
    // A running daemon answers on its admin socket; otherwise open the store directly.
    let output = match admin::call(&config.storage.data_dir, &request, None).await? {
        Some(output) => output,
        None => {
            let store = operator::open_store(&config).map_err(|e| e.to_string())?;
            let result = admin::run_command(&store, &request).await;
            blocking(move || {
                store.close();
                Ok(())
            })
            .await?;
            result?
        }
    };
    print!("{output}");
    Ok(())
}

async fn backup(config: &Config, to: &Path) -> Result<(), String> {
    if to.exists() {
        return Err(format!("{} exists; choose a new file", to.display()));
    }
    let summary =
        match admin::call(&config.storage.data_dir, &AdminRequest::Backup, Some(to)).await? {
            Some(summary) => summary,
            None => {
                // No daemon: snapshot the store directly.
                let store = operator::open_store(config).map_err(|e| e.to_string())?;
                let rows = store
                    .snapshot(to.to_path_buf())
                    .await
                    .map_err(|e| e.to_string());
                blocking(move || {
                    store.close();
                    Ok(())
                })
                .await?;
                format!("snapshot of {} rows\n", rows?)
            }
        };
    eprint!("driftguard: backup written to {}: {summary}", to.display());
    Ok(())
}

fn restore(config: &Config, from: &Path) -> Result<(), String> {
    let kept = maintenance::restore(from, &config.storage.data_dir).map_err(|e| e.to_string())?;
    println!(
        "restored {} into {}",
        from.display(),
        config.storage.data_dir.display()
    );
    if let Some(kept) = kept {
        println!("the previous store is kept as {}", kept.display());
    }
    Ok(())
}

fn check_store(config: &Config) -> Result<(), String> {
    let path = config.storage.data_dir.join(DB_FILE);
    let file = path.display().to_string();
    let named = |e: String| {
        if e.contains(&file) {
            e
        } else {
            format!("{file}: {e}")
        }
    };
    // redb can panic on a corrupt file instead of returning an error: name the file either way.
    let report = std::panic::catch_unwind(|| maintenance::verify(&path))
        .map_err(|_| named("the store is corrupt and cannot be read; restore a backup".into()))?
        .map_err(|e| named(e.to_string()))?;
    println!(
        "{}: ok (format version {}, {} records)",
        path.display(),
        report.format_version,
        report.records
    );
    Ok(())
}

fn compact(config: &Config) -> Result<(), String> {
    let path = config.storage.data_dir.join(DB_FILE);
    let (before, after) = maintenance::compact(&path).map_err(|e| e.to_string())?;
    println!("{}: {before} bytes → {after} bytes", path.display());
    Ok(())
}

/// Runs blocking store work off the async threads.
async fn blocking<F>(work: F) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())?
}
