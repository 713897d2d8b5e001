//! Accounts: the tenants, their credits and counters. Created by operators (`accounts …`
//! commands, the first start's bootstrap), read by every request's usage.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::keys::{check_new_key, insert_key};
use super::tables::*;
use super::{Store, StoreError};
use crate::clock::UnixMs;
use crate::ids::AccountId;
use crate::model::{Account, ApiKey};

type Result<T> = std::result::Result<T, StoreError>;

/// The store's accounts. A borrow of the [`Store`]: get one with [`Store::accounts`].
#[derive(Clone, Copy)]
pub struct Accounts<'s> {
    store: &'s Store,
}

impl Store {
    /// The accounts: bootstrap, operators' commands, balances.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { store: self }
    }
}

impl Accounts<'_> {
    /// True until the first start has created the `default` account.
    pub async fn needs_bootstrap(&self) -> Result<bool> {
        self.store.read(needs_bootstrap).await
    }

    /// Creates the `default` account with `key` unless the store is already bootstrapped
    /// (then `None`).
    pub async fn bootstrap(&self, credits: u64, key: String) -> Result<Option<Account>> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| bootstrap(txn, credits, &key, now))
            .await
    }

    /// Creates an account with `credits` and its first key (`key` is the full key text).
    pub async fn create(
        &self,
        name: String,
        credits: u64,
        key: String,
    ) -> Result<(Account, ApiKey)> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| create_account(txn, &name, credits, &key, now))
            .await
    }

    /// Every account, in creation order.
    pub async fn list(&self) -> Result<Vec<Account>> {
        self.store.read(list_accounts).await
    }

    /// Sets the named account's remaining credits.
    pub async fn set_credits(&self, name: String, credits: u64) -> Result<Account> {
        self.store
            .write(move |txn| set_credits(txn, &name, credits))
            .await
    }

    /// Adds a key (full text `key`) to the named account.
    pub async fn add_key(&self, name: String, key: String) -> Result<ApiKey> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| {
                let account = account_by_name(txn, &name)?;
                insert_key(txn, account.id, &key, now)
            })
            .await
    }

    /// The account's balance and counters.
    pub async fn get(&self, account: AccountId) -> Result<Account> {
        self.store
            .read(move |txn| self::account(txn, account))
            .await
    }
}

// ---- transaction bodies ----

/// True until the first start has created the `default` account.
pub fn needs_bootstrap(txn: &ReadTransaction) -> Result<bool> {
    Ok(txn.open_table(META)?.get(BOOTSTRAPPED_KEY)?.is_none())
}

/// The first start: creates the `default` account with `key` (unless an operator already
/// made one) and marks the store bootstrapped. `None` if it already was.
pub fn bootstrap(
    txn: &WriteTransaction,
    credits: u64,
    key: &str,
    now: UnixMs,
) -> Result<Option<Account>> {
    if txn.open_table(META)?.get(BOOTSTRAPPED_KEY)?.is_some() {
        return Ok(None);
    }
    let exists = txn
        .open_table(ACCOUNT_NAMES)?
        .get(DEFAULT_ACCOUNT)?
        .is_some();
    let created = if exists {
        None
    } else {
        Some(create_account(txn, DEFAULT_ACCOUNT, credits, key, now)?.0)
    };
    txn.open_table(META)?.insert(BOOTSTRAPPED_KEY, 1)?;
    Ok(created)
}

/// The account the first start creates.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Creates an account and its first key.
pub fn create_account(
    txn: &WriteTransaction,
    name: &str,
    credits: u64,
    key: &str,
    now: UnixMs,
) -> Result<(Account, ApiKey)> {
    let mut names = txn.open_table(ACCOUNT_NAMES)?;
    if names.get(name)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "an account named {name:?} exists"
        )));
    }
    check_new_key(txn, key)?;
    let id = {
        let mut meta = txn.open_table(META)?;
        let id = meta.get(NEXT_ACCOUNT_KEY)?.map_or(1, |v| v.value());
        meta.insert(NEXT_ACCOUNT_KEY, id + 1)?;
        AccountId(id)
    };
    let account = Account {
        id,
        name: name.to_owned(),
        credits_remaining: credits,
        credits_used: 0,
        total_checks: 0,
        created_at: now,
    };
    names.insert(name, id.0)?;
    drop(names);
    ACCOUNTS.write(txn)?.insert(id.0, &account)?;
    let key = insert_key(txn, id, key, now)?;
    Ok((account, key))
}

/// Every account, oldest first.
pub fn list_accounts(txn: &ReadTransaction) -> Result<Vec<Account>> {
    let accounts = ACCOUNTS.read(txn)?;
    let rows = accounts.all()?;
    rows.map(|row| row.map(|(_, account)| account)).collect()
}

/// The account with this name.
pub fn account_by_name(txn: &WriteTransaction, name: &str) -> Result<Account> {
    let id = txn.open_table(ACCOUNT_NAMES)?.get(name)?.map(|v| v.value());
    let id = id.ok_or(StoreError::NotFound)?;
    ACCOUNTS.write(txn)?.get(id)?.ok_or(StoreError::NotFound)
}

/// Sets the remaining credits of the named account.
pub fn set_credits(txn: &WriteTransaction, name: &str, credits: u64) -> Result<Account> {
    let mut account = account_by_name(txn, name)?;
    account.credits_remaining = credits;
    ACCOUNTS.write(txn)?.insert(account.id.0, &account)?;
    Ok(account)
}

/// The account's record.
pub fn account(txn: &ReadTransaction, account: AccountId) -> Result<Account> {
    ACCOUNTS
        .read(txn)?
        .get(account.0)?
        .ok_or(StoreError::NotFound)
}
