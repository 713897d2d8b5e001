//! `driftguard accounts …`: operator commands that open the store directly. They refuse
//! with a clear message while a daemon holds the store (redb allows one process per file).

use std::fmt::Write as _;

use crate::config::Config;
use crate::credentials::{self, Environment};
use crate::store::{Store, StoreError};

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No account has that name.
    #[error("no account named {0:?} (see `driftguard accounts list`)")]
    UnknownAccount(String),
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

/// Opens the configured store for one command.
pub fn open_store(config: &Config) -> Result<Store, OperatorError> {
    Ok(Store::open(&config.storage.data_dir)?)
}

fn named(name: &str, e: StoreError) -> OperatorError {
    match e {
        StoreError::NotFound => OperatorError::UnknownAccount(name.to_owned()),
        other => other.into(),
    }
}

/// `accounts create NAME [--credits N]`: returns the first live key (printed on stdout).
pub async fn create_account(
    store: &Store,
    name: &str,
    credits: u64,
) -> Result<String, OperatorError> {
    crate::drift::validate_name(name, "account name").map_err(OperatorError::Invalid)?;
    if name.chars().any(char::is_control) {
        return Err(OperatorError::Invalid(
            "account name: must be printable characters".into(),
        ));
    }
    let key = credentials::generate_key(Environment::Live);
    store
        .accounts()
        .create(name.to_owned(), credits, key.clone())
        .await?;
    Ok(key)
}

/// `accounts list`: a table of accounts.
pub async fn list_accounts(store: &Store) -> Result<String, OperatorError> {
    let mut out = format!(
        "{:<24} {:>18} {:>14} {:>14}  {}\n",
        "NAME", "CREDITS_REMAINING", "CREDITS_USED", "TOTAL_CHECKS", "CREATED_AT"
    );
    for a in store.accounts().list().await? {
        let _ = writeln!(
            out,
            "{:<24} {:>18} {:>14} {:>14}  {}",
            a.name,
            a.credits_remaining,
            a.credits_used,
            a.total_checks,
            a.created_at.rfc3339()
        );
    }
    Ok(out)
}

/// `accounts set-credits NAME N`.
pub async fn set_credits(store: &Store, name: &str, credits: u64) -> Result<String, OperatorError> {
    let account = store
        .accounts()
        .set_credits(name.to_owned(), credits)
        .await
        .map_err(|e| named(name, e))?;
    Ok(format!(
        "account {:?} now has {} credits\n",
        account.name, account.credits_remaining
    ))
}

/// `accounts add-key NAME [--environment live|test]`: returns the new key.
pub async fn add_key(
    store: &Store,
    name: &str,
    environment: Environment,
) -> Result<String, OperatorError> {
    let key = credentials::generate_key(environment);
    store
        .accounts()
        .add_key(name.to_owned(), key.clone())
        .await
        .map_err(|e| named(name, e))?;
    Ok(key)
}
