//! Transaction bodies. Each function takes an open transaction and does one operation.
//!
//! Invariant: a write op returns a *rejection* (`NotFound`, `Conflict`, `Invalid`,
//! `NoCredits`) only before its first mutation, so the group-commit writer can commit the
//! rest of a batch around it.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::codec::FORMAT_VERSION;
use super::tables::{self, *};
use super::StoreError;
use crate::credentials::{self, Environment, KeyHash};
use crate::drift::{Assessment, Column, Verdict};
use crate::ids::new_id;
use crate::model::{Account, AccountId, ApiKey, Check, Contract, Webhook};

/// A key was used at `at` (unix ms); written in batches by the auth layer.
#[derive(Clone, Copy, Debug)]
pub struct KeyUse {
    /// Owner.
    pub account: AccountId,
    /// Key id.
    pub key_id: u128,
    /// Unix milliseconds.
    pub at: i64,
}

/// A validated webhook registration.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    /// Absolute `https://` URL.
    pub url: String,
    /// Without duplicates.
    pub events: Vec<Verdict>,
    /// Must be one of the account's contracts when given.
    pub contract_id: Option<u128>,
    /// `whsec_…`.
    pub secret: String,
}

type Result<T> = std::result::Result<T, StoreError>;

// ---- set-up ----

/// Creates every table and records (or checks) the format version.
pub fn initialise(txn: &WriteTransaction) -> Result<()> {
    super::maintenance::create_tables(txn)?;
    let mut meta = txn.open_table(META)?;
    let found = meta.get(FORMAT_VERSION_KEY)?.map(|v| v.value());
    match found {
        None => {
            meta.insert(FORMAT_VERSION_KEY, FORMAT_VERSION)?;
        }
        Some(v) if v > FORMAT_VERSION => {
            return Err(StoreError::NewerFormat {
                found: v,
                supported: FORMAT_VERSION,
            })
        }
        // Older formats would be migrated here, inside this same transaction.
        Some(_) => {}
    }
    Ok(())
}

/// The stored format version.
pub fn format_version(txn: &ReadTransaction) -> Result<u64> {
    let meta = txn.open_table(META)?;
    let version = meta.get(FORMAT_VERSION_KEY)?.map(|v| v.value());
    version.ok_or_else(|| StoreError::Internal("the store has no format version".into()))
}

// ---- accounts ----

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
    now: i64,
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
    now: i64,
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
        id
    };
    let account = Account {
        id,
        name: name.to_owned(),
        credits_remaining: credits,
        credits_used: 0,
        total_checks: 0,
        created_at: now,
    };
    names.insert(name, id)?;
    drop(names);
    put(&mut txn.open_table(ACCOUNTS)?, id, &account)?;
    let key = insert_key(txn, id, key, now)?;
    Ok((account, key))
}

/// Every account, oldest first.
pub fn list_accounts(txn: &ReadTransaction) -> Result<Vec<Account>> {
    let table = txn.open_table(ACCOUNTS)?;
    let mut accounts = Vec::new();
    for row in table.iter()? {
        let (_, value) = row?;
        accounts.push(super::codec::decode(value.value())?);
    }
    Ok(accounts)
}

/// The account with this name.
pub fn account_by_name(txn: &WriteTransaction, name: &str) -> Result<Account> {
    let id = txn.open_table(ACCOUNT_NAMES)?.get(name)?.map(|v| v.value());
    let id = id.ok_or(StoreError::NotFound)?;
    get(&txn.open_table(ACCOUNTS)?, id)?.ok_or(StoreError::NotFound)
}

/// Sets the remaining credits of the named account.
pub fn set_credits(txn: &WriteTransaction, name: &str, credits: u64) -> Result<Account> {
    let mut account = account_by_name(txn, name)?;
    account.credits_remaining = credits;
    put(&mut txn.open_table(ACCOUNTS)?, account.id, &account)?;
    Ok(account)
}

/// The account's record.
pub fn account(txn: &ReadTransaction, account: AccountId) -> Result<Account> {
    get(&txn.open_table(ACCOUNTS)?, account)?.ok_or(StoreError::NotFound)
}

// ---- keys ----

fn check_new_key(txn: &WriteTransaction, key: &str) -> Result<Environment> {
    let environment = credentials::key_environment(key)
        .ok_or_else(|| StoreError::Invalid("the key is not a well-formed API key".into()))?;
    let hashes = txn.open_table(KEY_HASHES)?;
    if hashes.get(credentials::hash_key(key))?.is_some() {
        return Err(StoreError::Conflict("that key already exists".into()));
    }
    Ok(environment)
}

/// Registers a new record's public id and returns its key `(account, seq)`.
fn new_location(txn: &WriteTransaction, account: AccountId, id: u128) -> Result<(u64, u64)> {
    let location = (account, next_seq(txn)?);
    txn.open_table(IDS)?.insert(id, location)?;
    Ok(location)
}

/// Stores a new active key (given in full; only its hash and preview are kept).
pub fn insert_key(
    txn: &WriteTransaction,
    account: AccountId,
    key: &str,
    now: i64,
) -> Result<ApiKey> {
    let environment = check_new_key(txn, key)?;
    let record = ApiKey {
        id: new_id(now),
        account,
        hash: credentials::hash_key(key),
        preview: credentials::preview(key),
        environment,
        active: true,
        created_at: now,
        last_used_at: None,
    };
    let location = new_location(txn, account, record.id)?;
    txn.open_table(KEY_HASHES)?.insert(record.hash, location)?;
    put(&mut txn.open_table(KEYS)?, location, &record)?;
    Ok(record)
}

/// The key with this hash.
pub fn key_by_hash(txn: &ReadTransaction, hash: &KeyHash) -> Result<Option<ApiKey>> {
    let location = txn.open_table(KEY_HASHES)?.get(hash)?.map(|v| v.value());
    match location {
        Some(location) => get(&txn.open_table(KEYS)?, location),
        None => Ok(None),
    }
}

/// Revokes or activates a key.
pub fn set_key_active(
    txn: &WriteTransaction,
    account: AccountId,
    key_id: u128,
    active: bool,
) -> Result<ApiKey> {
    let mut keys = txn.open_table(KEYS)?;
    let (location, mut key): (_, ApiKey) =
        get_owned(&txn.open_table(IDS)?, &keys, account, key_id)?.ok_or(StoreError::NotFound)?;
    key.active = active;
    put(&mut keys, location, &key)?;
    Ok(key)
}

/// Deletes a revoked key.
pub fn delete_key(txn: &WriteTransaction, account: AccountId, key_id: u128) -> Result<ApiKey> {
    let mut keys = txn.open_table(KEYS)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, key): (_, ApiKey) =
        get_owned(&ids, &keys, account, key_id)?.ok_or(StoreError::NotFound)?;
    if key.active {
        return Err(StoreError::Invalid(
            "the key is active; revoke it before deleting it".into(),
        ));
    }
    keys.remove(location)?;
    ids.remove(key_id)?;
    txn.open_table(KEY_HASHES)?.remove(key.hash)?;
    Ok(key)
}

/// Writes `last_used_at` for keys that still exist (a key may be deleted meanwhile).
pub fn record_key_use(txn: &WriteTransaction, uses: &[KeyUse]) -> Result<()> {
    let mut keys = txn.open_table(KEYS)?;
    let ids = txn.open_table(IDS)?;
    for used in uses {
        let found: Option<(_, ApiKey)> = get_owned(&ids, &keys, used.account, used.key_id)?;
        if let Some((location, mut key)) = found {
            if key.last_used_at.is_none_or(|t| t < used.at) {
                key.last_used_at = Some(used.at);
                put(&mut keys, location, &key)?;
            }
        }
    }
    Ok(())
}

// ---- contracts ----

/// Creates a contract whose name is new in the account.
pub fn create_contract(
    txn: &WriteTransaction,
    account: AccountId,
    name: String,
    columns: Vec<Column>,
    now: i64,
) -> Result<Contract> {
    let mut names = txn.open_table(CONTRACT_NAMES)?;
    if names.get((account, name.as_str()))?.is_some() {
        return Err(StoreError::Conflict(format!(
            "name: a contract named {name:?} already exists"
        )));
    }
    let contract = Contract {
        id: new_id(now),
        name,
        version: 1,
        columns,
        created_at: now,
        updated_at: now,
    };
    names.insert((account, contract.name.as_str()), contract.id)?;
    let location = new_location(txn, account, contract.id)?;
    put(&mut txn.open_table(CONTRACTS)?, location, &contract)?;
    Ok(contract)
}

/// One contract of the account.
pub fn contract(txn: &ReadTransaction, account: AccountId, id: u128) -> Result<Contract> {
    owned(txn, CONTRACTS, account, id)
}

/// One page of the account's records in `table` (keys, contracts, checks, webhooks).
pub fn list<T: serde::de::DeserializeOwned>(
    txn: &ReadTransaction,
    table: redb::TableDefinition<(u64, u64), &'static [u8]>,
    account: AccountId,
    order: Order,
    request: PageRequest,
) -> Result<Page<T>> {
    tables::page(&txn.open_table(table)?, account, order, request)
}

/// Reads one record of the account by public id, from a read transaction.
fn owned<T: serde::de::DeserializeOwned>(
    txn: &ReadTransaction,
    table: redb::TableDefinition<(u64, u64), &'static [u8]>,
    account: AccountId,
    id: u128,
) -> Result<T> {
    let found = get_owned(&txn.open_table(IDS)?, &txn.open_table(table)?, account, id)?;
    found.map(|(_, record)| record).ok_or(StoreError::NotFound)
}

// ---- checks ----

/// Stores a check scored against one of the account's contracts, updates the account's
/// counters and queues the deliveries it triggers — all in the caller's transaction.
/// Returns the check and the number of deliveries queued.
pub fn record_check(
    txn: &WriteTransaction,
    account_id: AccountId,
    contract_id: u128,
    assessment: Assessment,
    environment: Environment,
    now: i64,
) -> Result<(Check, usize)> {
    // The hot path (it runs on the one writer thread): each table is opened once, and the
    // contract is only located, not read — the caller scored against its cached copy.
    let mut ids = txn.open_table(IDS)?;
    locate(&ids, account_id, contract_id)?.ok_or(StoreError::NotFound)?;
    let mut accounts = txn.open_table(ACCOUNTS)?;
    let mut account: Account = get(&accounts, account_id)?.ok_or(StoreError::NotFound)?;
    let cost: u8 = match environment {
        Environment::Live => 1,
        Environment::Test => 0,
    };
    if cost > 0 && account.credits_remaining == 0 {
        return Err(StoreError::NoCredits);
    }
    let check = Check {
        id: new_id(now),
        contract_id,
        verdict: assessment.verdict,
        severity: assessment.severity,
        diff: assessment.diff,
        credits_used: cost,
        created_at: now,
    };
    account.credits_remaining -= u64::from(cost);
    account.credits_used += u64::from(cost);
    account.total_checks += 1;
    put(&mut accounts, account_id, &account)?;
    let mut meta = txn.open_table(META)?;
    let location = (account_id, take_seq(&mut meta)?);
    ids.insert(check.id, location)?;
    put(&mut txn.open_table(CHECKS)?, location, &check)?;
    // Same transaction: a check that is answered has its deliveries queued.
    let queued = super::queue::enqueue(txn, &mut meta, account_id, &check, now)?;
    Ok((check, queued))
}

/// One stored check of the account.
pub fn check(txn: &ReadTransaction, account: AccountId, id: u128) -> Result<Check> {
    owned(txn, CHECKS, account, id)
}

// ---- webhooks ----

/// Registers a webhook after checking that its contract belongs to the account.
pub fn create_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    new: NewWebhook,
    now: i64,
) -> Result<Webhook> {
    if let Some(contract_id) = new.contract_id {
        if locate(&txn.open_table(IDS)?, account, contract_id)?.is_none() {
            return Err(StoreError::Invalid(
                "contract_id: no such contract in this account".into(),
            ));
        }
    }
    let webhook = Webhook {
        id: new_id(now),
        url: new.url,
        events: new.events,
        contract_id: new.contract_id,
        active: true,
        secret: new.secret,
        created_at: now,
    };
    let location = new_location(txn, account, webhook.id)?;
    put(&mut txn.open_table(WEBHOOKS)?, location, &webhook)?;
    Ok(webhook)
}

/// One webhook of the account.
pub fn webhook(txn: &ReadTransaction, account: AccountId, id: u128) -> Result<Webhook> {
    owned(txn, WEBHOOKS, account, id)
}

/// Pauses or resumes a webhook with its pending deliveries.
pub fn set_webhook_active(
    txn: &WriteTransaction,
    account: AccountId,
    id: u128,
    active: bool,
    now: i64,
) -> Result<Webhook> {
    let mut webhooks = txn.open_table(WEBHOOKS)?;
    let (location, mut webhook): (_, Webhook) =
        get_owned(&txn.open_table(IDS)?, &webhooks, account, id)?.ok_or(StoreError::NotFound)?;
    if webhook.active != active {
        webhook.active = active;
        put(&mut webhooks, location, &webhook)?;
        super::queue::set_paused(txn, id, !active, now)?;
    }
    Ok(webhook)
}

/// Deletes a webhook.
pub fn delete_webhook(txn: &WriteTransaction, account: AccountId, id: u128) -> Result<Webhook> {
    let mut webhooks = txn.open_table(WEBHOOKS)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, webhook): (_, Webhook) =
        get_owned(&ids, &webhooks, account, id)?.ok_or(StoreError::NotFound)?;
    webhooks.remove(location)?;
    ids.remove(id)?;
    // Deliveries stop at once: their due entries go in this same transaction.
    super::queue::remove_all(txn, id)?;
    Ok(webhook)
}
