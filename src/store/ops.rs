//! Transaction bodies. Each function takes an open transaction and does one operation.
//!
//! Invariant: a write op returns a *rejection* (`NotFound`, `Conflict`, `Invalid`,
//! `NoCredits`) only before its first mutation, so the group-commit writer can commit the
//! rest of a batch around it.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::records::Record;
use super::tables::*;
use super::StoreError;
use crate::clock::{Stamp, UnixMs};
use crate::credentials::{self, Environment, KeyHash};
use crate::drift::{Assessment, Column, Verdict};
use crate::ids::{AccountId, CheckId, ContractId, KeyId, WebhookId};
use crate::model::{Account, ApiKey, Check, Contract, Webhook};

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

/// A validated webhook registration.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    /// Absolute `https://` URL.
    pub url: String,
    /// Without duplicates.
    pub events: Vec<Verdict>,
    /// Must be one of the account's contracts when given.
    pub contract_id: Option<ContractId>,
    /// `whsec_…`.
    pub secret: String,
}

type Result<T> = std::result::Result<T, StoreError>;

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

/// Registers a new record's public id (raw) and returns its key `(account, seq)`.
fn new_location(txn: &WriteTransaction, account: AccountId, id: u128) -> Result<Location> {
    let location = (account.0, next_seq(txn)?);
    txn.open_table(IDS)?.insert(id, location)?;
    Ok(location)
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

/// Revokes or activates a key.
pub fn set_key_active(
    txn: &WriteTransaction,
    account: AccountId,
    key_id: KeyId,
    active: bool,
) -> Result<ApiKey> {
    let mut keys = KEYS.write(txn)?;
    let (location, mut key) = get_owned(&txn.open_table(IDS)?, &keys, account, key_id.raw())?
        .ok_or(StoreError::NotFound)?;
    key.active = active;
    keys.insert(location, &key)?;
    Ok(key)
}

/// Deletes a revoked key.
pub fn delete_key(txn: &WriteTransaction, account: AccountId, key_id: KeyId) -> Result<ApiKey> {
    let mut keys = KEYS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, key) =
        get_owned(&ids, &keys, account, key_id.raw())?.ok_or(StoreError::NotFound)?;
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

// ---- contracts ----

/// Creates a contract whose name is new in the account.
pub fn create_contract(
    txn: &WriteTransaction,
    account: AccountId,
    name: String,
    columns: Vec<Column>,
    now: UnixMs,
) -> Result<Contract> {
    let mut names = txn.open_table(CONTRACT_NAMES)?;
    if names.get((account.0, name.as_str()))?.is_some() {
        return Err(StoreError::Conflict(format!(
            "name: a contract named {name:?} already exists"
        )));
    }
    let contract = Contract {
        id: ContractId::generate(now),
        name,
        version: 1,
        columns,
        created_at: now,
        updated_at: now,
    };
    names.insert((account.0, contract.name.as_str()), contract.id.raw())?;
    let location = new_location(txn, account, contract.id.raw())?;
    CONTRACTS.write(txn)?.insert(location, &contract)?;
    Ok(contract)
}

/// One contract of the account.
pub fn contract(txn: &ReadTransaction, account: AccountId, id: ContractId) -> Result<Contract> {
    owned(txn, CONTRACTS, account, id.raw())
}

/// The account's contract named `name`, if any (through the `contract_names` index).
pub fn contract_by_name(
    txn: &ReadTransaction,
    account: AccountId,
    name: &str,
) -> Result<Option<Contract>> {
    let Some(id) = txn
        .open_table(CONTRACT_NAMES)?
        .get((account.0, name))?
        .map(|id| id.value())
    else {
        return Ok(None);
    };
    match owned(txn, CONTRACTS, account, id) {
        Ok(contract) => Ok(Some(contract)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One page of the account's records in `table` (keys, contracts, checks, webhooks).
pub fn list<T: Record>(
    txn: &ReadTransaction,
    table: Records<(u64, u64), T>,
    account: AccountId,
    order: Order,
    request: PageRequest,
) -> Result<Page<T>> {
    table.read(txn)?.page(account.0, order, request)
}

/// Reads one record of the account by public id (raw), from a read transaction.
fn owned<T: Record>(
    txn: &ReadTransaction,
    table: Records<(u64, u64), T>,
    account: AccountId,
    id: u128,
) -> Result<T> {
    let found = get_owned(&txn.open_table(IDS)?, &table.read(txn)?, account, id)?;
    found.map(|(_, record)| record).ok_or(StoreError::NotFound)
}

// ---- checks ----

/// Stores a check scored against one of the account's contracts, updates the account's
/// counters and queues the deliveries it triggers (due at `at.steady`) — all in the
/// caller's transaction. Returns the check and the number of deliveries queued.
pub fn record_check(
    txn: &WriteTransaction,
    account_id: AccountId,
    contract_id: ContractId,
    assessment: Assessment,
    environment: Environment,
    at: Stamp,
) -> Result<(Check, usize)> {
    let now = at.wall;
    // The hot path (it runs on the one writer thread): each table is opened once, and the
    // contract is only located, not read — the caller scored against its cached copy.
    let mut ids = txn.open_table(IDS)?;
    locate(&ids, account_id, contract_id.raw())?.ok_or(StoreError::NotFound)?;
    let mut accounts = ACCOUNTS.write(txn)?;
    let mut account = accounts.get(account_id.0)?.ok_or(StoreError::NotFound)?;
    let cost: u8 = match environment {
        Environment::Live => 1,
        Environment::Test => 0,
    };
    if cost > 0 && account.credits_remaining == 0 {
        return Err(StoreError::NoCredits);
    }
    let check = Check {
        id: CheckId::generate(now),
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
    accounts.insert(account_id.0, &account)?;
    let mut meta = txn.open_table(META)?;
    let location = (account_id.0, take_seq(&mut meta)?);
    ids.insert(check.id.raw(), location)?;
    CHECKS.write(txn)?.insert(location, &check)?;
    // Same transaction: a check that is answered has its deliveries queued.
    let queued = super::queue::enqueue(txn, &mut meta, account_id, &check, at.steady)?;
    Ok((check, queued))
}

/// One stored check of the account.
pub fn check(txn: &ReadTransaction, account: AccountId, id: CheckId) -> Result<Check> {
    owned(txn, CHECKS, account, id.raw())
}

// ---- webhooks ----

/// Registers a webhook after checking that its contract belongs to the account.
pub fn create_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    new: NewWebhook,
    now: UnixMs,
) -> Result<Webhook> {
    if let Some(contract_id) = new.contract_id {
        if locate(&txn.open_table(IDS)?, account, contract_id.raw())?.is_none() {
            return Err(StoreError::Invalid(
                "contract_id: no such contract in this account".into(),
            ));
        }
    }
    let webhook = Webhook {
        id: WebhookId::generate(now),
        url: new.url,
        events: new.events,
        contract_id: new.contract_id,
        active: true,
        secret: new.secret,
        created_at: now,
    };
    let location = new_location(txn, account, webhook.id.raw())?;
    WEBHOOKS.write(txn)?.insert(location, &webhook)?;
    Ok(webhook)
}

/// One webhook of the account.
pub fn webhook(txn: &ReadTransaction, account: AccountId, id: WebhookId) -> Result<Webhook> {
    owned(txn, WEBHOOKS, account, id.raw())
}

/// Pauses or resumes a webhook with its pending deliveries (resumed ones are due at
/// `due`). Returns the webhook and whether deliveries became due.
pub fn set_webhook_active(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
    active: bool,
    due: UnixMs,
) -> Result<(Webhook, bool)> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let (location, mut webhook) = get_owned(&txn.open_table(IDS)?, &webhooks, account, id.raw())?
        .ok_or(StoreError::NotFound)?;
    let mut resumed = false;
    if webhook.active != active {
        webhook.active = active;
        webhooks.insert(location, &webhook)?;
        resumed = super::queue::set_paused(txn, id, !active, due)? > 0 && active;
    }
    Ok((webhook, resumed))
}

/// Deletes a webhook.
pub fn delete_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
) -> Result<Webhook> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, webhook) =
        get_owned(&ids, &webhooks, account, id.raw())?.ok_or(StoreError::NotFound)?;
    webhooks.remove(location)?;
    ids.remove(id.raw())?;
    // Deliveries stop at once: their due entries go in this same transaction.
    super::queue::remove_all(txn, id)?;
    Ok(webhook)
}
