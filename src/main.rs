//! The `driftguard` command line: `serve` runs the daemon; `accounts …` are operator
//! commands on a stopped daemon's store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::filter::LevelFilter;

use driftguard::config::Config;
use driftguard::credentials::Environment;
use driftguard::daemon::Daemon;
use driftguard::operator;

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
    /// Manage accounts (teams). The daemon must be stopped.
    #[command(subcommand)]
    Accounts(AccountsCommand),
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
    init_logging(matches!(cli.command, Command::Serve));
    let config = match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("driftguard: {e}");
            return ExitCode::from(2);
        }
    };
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
            Command::Serve => serve(config).await,
            Command::Accounts(command) => accounts(config, command).await,
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

/// Logs go to stderr. `DRIFTGUARD_LOG` sets the level (default `info` for the daemon,
/// `warn` for operator commands so their stdout stays clean).
fn init_logging(daemon: bool) {
    let default = if daemon {
        LevelFilter::INFO
    } else {
        LevelFilter::WARN
    };
    let level = std::env::var("DRIFTGUARD_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(default);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn serve(config: Config) -> Result<(), String> {
    let daemon = Daemon::start(config).await.map_err(|e| e.to_string())?;
    wait_for_stop_signal().await?;
    tracing::info!("stop signal received; draining in-flight requests");
    daemon.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

async fn accounts(config: Config, command: AccountsCommand) -> Result<(), String> {
    let store = operator::open_store(&config).map_err(|e| e.to_string())?;
    let result = match command {
        AccountsCommand::Create { name, credits } => {
            let credits = credits.unwrap_or(config.credits.default_quota);
            operator::create_account(&store, &name, credits)
                .await
                .map(|key| format!("{key}\n"))
        }
        AccountsCommand::List => operator::list_accounts(&store).await,
        AccountsCommand::SetCredits { name, credits } => {
            operator::set_credits(&store, &name, credits).await
        }
        AccountsCommand::AddKey { name, environment } => {
            let environment = match environment {
                KeyEnvironment::Live => Environment::Live,
                KeyEnvironment::Test => Environment::Test,
            };
            operator::add_key(&store, &name, environment)
                .await
                .map(|key| format!("{key}\n"))
        }
    };
    store.close();
    let output = result.map_err(|e| e.to_string())?;
    print!("{output}");
    Ok(())
}
