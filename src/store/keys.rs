//! API keys: stored as SHA-256 hashes with a preview, looked up by hash on every
//! authenticated request (behind the auth layer's cache).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Store, StoreError};
use crate::clock::UnixMs;
use crate::credentials::{self, Environment, KeyHash};
use crate::ids::{AccountId, KeyId};
use crate::model::ApiKey;

type Result<T> = std::result::Result<T, StoreError>;

/// The store's API keys. A borrow of the [`Store`]: get one with [`Store::keys`].
#[derive(Clone, Copy)]
pub struct Keys<'s> {
    store: &'s Store,
}

impl Store {
    /// The API keys of every account.
    pub fn keys(&self) -> Keys<'_> {
        Keys { store: self }
    }
}

impl Keys<'_> {
    /// The key with this hash, active or not.
    pub async fn by_hash(&self, hash: KeyHash) -> Result<Option<ApiKey>> {
        self.store.read(move |txn| key_by_hash(txn, &hash)).await
    }

    /// Creates a key (full text `key`) for the account.
    pub async fn create(&self, account: AccountId, key: String) -> Result<ApiKey> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| insert_key(txn, account, &key, now))
            .await
    }

    /// One page of the account's keys, oldest first.
    pub async fn list(&self, account: AccountId, page: PageRequest) -> Result<Page<ApiKey>> {
        self.store
            .read(move |txn| list(txn, KEYS, account, Order::OldestFirst, page))
            .await
    }

    /// Revokes or re-activates a key, as a caller whose key is of `caller` environment
    /// (a test key may not change a live key: [`StoreError::Forbidden`]).
    pub async fn set_active(
        &self,
        account: AccountId,
        key_id: KeyId,
        active: bool,
        caller: Environment,
    ) -> Result<ApiKey> {
        self.store
            .write(move |txn| set_key_active(txn, account, key_id, active, caller))
            .await
    }

    /// Deletes a revoked key for good (a test key may not delete a live key).
    pub async fn delete(
        &self,
        account: AccountId,
        key_id: KeyId,
        caller: Environment,
    ) -> Result<ApiKey> {
        self.store
            .write(move |txn| delete_key(txn, account, key_id, caller))
            .await
    }

    /// Records when keys were last used (coalesced by the caller).
    pub async fn record_use(&self, uses: Vec<KeyUse>) -> Result<()> {
        self.store
            .write(move |txn| record_key_use(txn, &uses))
            .await
    }
}

/// A key was used at `at`; written in batches by the auth layer.
#[derive(Clone, Copy, Debug)]
pub struct KeyUse {
    /// Owner.
    pub account: AccountId,
    /// Key id.
    pub key_id: KeyId,
    /// When.
    pub at: UnixMs,
}

// ---- transaction bodies ----

pub(super) fn check_new_key(txn: &WriteTransaction, key: &str) -> Result<Environment> {
    let environment = credentials::key_environment(key)
        .ok_or_else(|| StoreError::Invalid("the key is not a well-formed API key".into()))?;
    let hashes = txn.open_table(KEY_HASHES)?;
    if hashes.get(credentials::hash_key(key))?.is_some() {
        return Err(StoreError::Conflict("that key already exists".into()));
    }
    Ok(environment)
}

/// Stores a new active key (given in full; only its hash and preview are kept).
pub fn insert_key(
    txn: &WriteTransaction,
    account: AccountId,
    key: &str,
    now: UnixMs,
) -> Result<ApiKey> {
    let environment = check_new_key(txn, key)?;
    let record = ApiKey {
        id: KeyId::generate(now),
        account,
        hash: credentials::hash_key(key),
        preview: credentials::preview(key),
        environment,
        active: true,
        created_at: now,
        last_used_at: None,
    };
    let location = new_location(txn, account, record.id.raw())?;
    txn.open_table(KEY_HASHES)?.insert(record.hash, location)?;
    KEYS.write(txn)?.insert(location, &record)?;
    Ok(record)
}

/// The key with this hash.
pub fn key_by_hash(txn: &ReadTransaction, hash: &KeyHash) -> Result<Option<ApiKey>> {
    let location = txn.open_table(KEY_HASHES)?.get(hash)?.map(|v| v.value());
    match location {
        Some(location) => KEYS.read(txn)?.get(location),
        None => Ok(None),
    }
}

/// Refuses a test key's change to a live key (before any other check of the key).
fn may_change(key: &ApiKey, caller: Environment) -> Result<()> {
    if key.environment == Environment::Live && caller == Environment::Test {
        return Err(StoreError::Forbidden(
            "a test key may not change a live key; use a live key".into(),
        ));
    }
    Ok(())
}

/// Revokes or activates a key, for a caller whose key is of `caller` environment.
pub fn set_key_active(
    txn: &WriteTransaction,
    account: AccountId,
    key_id: KeyId,
    active: bool,
    caller: Environment,
) -> Result<ApiKey> {
    let mut keys = KEYS.write(txn)?;
    let (location, mut key) = get_owned(&txn.open_table(IDS)?, &keys, account, key_id.raw())?
        .ok_or(StoreError::NotFound)?;
    may_change(&key, caller)?;
    key.active = active;
    keys.insert(location, &key)?;
    Ok(key)
}

/// Deletes a revoked key, for a caller whose key is of `caller` environment.
pub fn delete_key(
    txn: &WriteTransaction,
    account: AccountId,
    key_id: KeyId,
    caller: Environment,
) -> Result<ApiKey> {
    let mut keys = KEYS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, key) =
        get_owned(&ids, &keys, account, key_id.raw())?.ok_or(StoreError::NotFound)?;
    may_change(&key, caller)?;
    if key.active {
        return Err(StoreError::Invalid(
            "the key is active; revoke it before deleting it".into(),
        ));
    }
    keys.remove(location)?;
    ids.remove(key_id.raw())?;
    txn.open_table(KEY_HASHES)?.remove(key.hash)?;
    Ok(key)
}

/// Writes `last_used_at` for keys that still exist (a key may be deleted meanwhile).
pub fn record_key_use(txn: &WriteTransaction, uses: &[KeyUse]) -> Result<()> {
    let mut keys = KEYS.write(txn)?;
    let ids = txn.open_table(IDS)?;
    for used in uses {
        let found = get_owned(&ids, &keys, used.account, used.key_id.raw())?;
        if let Some((location, mut key)) = found {
            if key.last_used_at.is_none_or(|t| t < used.at) {
                key.last_used_at = Some(used.at);
                keys.insert(location, &key)?;
            }
        }
    }
    Ok(())
}
