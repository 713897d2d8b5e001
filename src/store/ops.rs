//! Transaction bodies. Each function takes an open transaction and does one operation.
//!
//! Invariant: a write op returns a *rejection* (`NotFound`, `Conflict`, `Invalid`,
//! `NoCredits`) only before its first mutation, so the group-commit writer can commit the
//! rest of a batch around it.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::queue::DueEntry;
use super::records::Record;
use super::tables::*;
use super::StoreError;
use crate::clock::{Stamp, UnixMs};
use crate::credentials::{self, Environment, KeyHash};
use crate::drift::{self, Assessment, Column, Rules, Verdict, VersionChanges};
use crate::ids::{AccountId, CheckId, ContractId, KeyId, WebhookId};
use crate::model::{
    Account, ApiKey, Check, Contract, ContractVersion, Delivery, DisabledReason, PreviousSecret,
    VersionEntry, Webhook, WebhookFormat,
};

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
    /// The body's format.
    pub format: WebhookFormat,
}

/// A validated `PATCH` of a webhook: each field given replaces the webhook's.
#[derive(Clone, Debug, Default)]
pub struct WebhookUpdate {
    /// Absolute `https://` URL.
    pub url: Option<String>,
    /// Without duplicates.
    pub events: Option<Vec<Verdict>>,
    /// `Some(None)`: every contract; `Some(Some(id))`: one of the account's contracts.
    pub contract_id: Option<Option<ContractId>>,
    /// The body's format.
    pub format: Option<WebhookFormat>,
    /// Pause (`paused`) or resume (which also clears the failure count).
    pub active: Option<bool>,
}

/// A validated contract update: `None` fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct ContractUpdate {
    /// A new name (must not belong to another of the account's contracts).
    pub name: Option<String>,
    /// A full replacement of the columns.
    pub columns: Option<Vec<Column>>,
    /// A full replacement of the rules.
    pub rules: Option<Rules>,
}

/// What an update did (or, for a dry run, would do).
#[derive(Clone, Debug)]
pub struct Updated {
    /// The contract after the update.
    pub contract: Contract,
    /// What changed; `None` if nothing did (no new version).
    pub changes: Option<VersionChanges>,
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

// ---- contracts ----

/// Creates a contract whose name is new in the account, with its version 1.
pub fn create_contract(
    txn: &WriteTransaction,
    account: AccountId,
    name: String,
    columns: Vec<Column>,
    rules: Rules,
    now: UnixMs,
) -> Result<Contract> {
    let mut names = txn.open_table(CONTRACT_NAMES)?;
    if names.get((account.0, name.as_str()))?.is_some() {
        return Err(name_taken(&name));
    }
    let contract = Contract {
        id: ContractId::generate(now),
        name,
        version: 1,
        columns,
        rules,
        created_at: now,
        updated_at: now,
    };
    names.insert((account.0, contract.name.as_str()), contract.id.raw())?;
    let location = new_location(txn, account, contract.id.raw())?;
    CONTRACTS.write(txn)?.insert(location, &contract)?;
    CONTRACT_VERSIONS
        .write(txn)?
        .insert((contract.id.raw(), 1), &contract.current_version())?;
    Ok(contract)
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("name: a contract named {name:?} already exists"))
}

/// One contract of the account.
pub fn contract(txn: &ReadTransaction, account: AccountId, id: ContractId) -> Result<Contract> {
    owned(txn, CONTRACTS, account, id.raw())
}

/// The account's contract named exactly `name`, if there is one (through the name index).
pub fn contract_by_name(
    txn: &ReadTransaction,
    account: AccountId,
    name: &str,
) -> Result<Option<Contract>> {
    let id = txn
        .open_table(CONTRACT_NAMES)?
        .get((account.0, name))?
        .map(|v| v.value());
    match id {
        Some(id) => owned(txn, CONTRACTS, account, id).map(Some),
        None => Ok(None),
    }
}

/// What `update` makes of `current` at `now`, or `Conflict` if its new name belongs to
/// another contract of the account (`names` is the name index). Changes nothing.
fn plan_update(
    names: &impl ReadableTable<(u64, &'static str), u128>,
    account: AccountId,
    current: &Contract,
    update: ContractUpdate,
    now: UnixMs,
) -> Result<Updated> {
    let name = update.name.unwrap_or_else(|| current.name.clone());
    let columns = update.columns.unwrap_or_else(|| current.columns.clone());
    let rules = update.rules.unwrap_or(current.rules);
    if name == current.name
        && drift::same_schema(&current.columns, &current.rules, &columns, &rules)
    {
        return Ok(Updated {
            contract: current.clone(),
            changes: None,
        });
    }
    if name != current.name && names.get((account.0, name.as_str()))?.is_some() {
        return Err(name_taken(&name));
    }
    let version = current.version.checked_add(1).ok_or_else(|| {
        StoreError::Invalid("the contract has reached its last version number".into())
    })?;
    let changes = drift::compare_versions(
        (&current.name, &current.columns, &current.rules),
        (&name, &columns, &rules),
    );
    Ok(Updated {
        contract: Contract {
            name,
            version,
            columns,
            rules,
            updated_at: now,
            ..current.clone()
        },
        changes: Some(changes),
    })
}

/// Applies an update: the contract row, its new version and the name index change
/// together. A body that changes nothing writes nothing.
pub fn update_contract(
    txn: &WriteTransaction,
    account: AccountId,
    id: ContractId,
    update: ContractUpdate,
    now: UnixMs,
) -> Result<Updated> {
    let mut contracts = CONTRACTS.write(txn)?;
    let (location, current) = get_owned(&txn.open_table(IDS)?, &contracts, account, id.raw())?
        .ok_or(StoreError::NotFound)?;
    let mut names = txn.open_table(CONTRACT_NAMES)?;
    let updated = plan_update(&names, account, &current, update, now)?;
    if updated.changes.is_none() {
        return Ok(updated);
    }
    let contract = &updated.contract;
    contracts.insert(location, contract)?;
    CONTRACT_VERSIONS
        .write(txn)?
        .insert((id.raw(), contract.version), &contract.current_version())?;
    if contract.name != current.name {
        names.remove((account.0, current.name.as_str()))?;
        names.insert((account.0, contract.name.as_str()), id.raw())?;
    }
    Ok(updated)
}

/// What [`update_contract`] would do, from a read transaction: a dry run.
pub fn plan_contract_update(
    txn: &ReadTransaction,
    account: AccountId,
    id: ContractId,
    update: ContractUpdate,
    now: UnixMs,
) -> Result<Updated> {
    let current = contract(txn, account, id)?;
    plan_update(
        &txn.open_table(CONTRACT_NAMES)?,
        account,
        &current,
        update,
        now,
    )
}

/// Deletes a contract with its versions, its name and the webhooks scoped to it (with
/// their deliveries, pending or not). Checks made against it stay. Returns the deleted
/// webhooks' ids, oldest first.
pub fn delete_contract(
    txn: &WriteTransaction,
    account: AccountId,
    id: ContractId,
) -> Result<Vec<WebhookId>> {
    let mut contracts = CONTRACTS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, contract) =
        get_owned(&ids, &contracts, account, id.raw())?.ok_or(StoreError::NotFound)?;
    contracts.remove(location)?;
    ids.remove(id.raw())?;
    drop((contracts, ids));
    txn.open_table(CONTRACT_NAMES)?
        .remove((account.0, contract.name.as_str()))?;
    CONTRACT_VERSIONS
        .write(txn)?
        .remove_range((id.raw(), 0)..=(id.raw(), u32::MAX))?;
    let scoped: Vec<WebhookId> = {
        let webhooks = WEBHOOKS.write(txn)?;
        let mut scoped = Vec::new();
        for row in webhooks.range((account.0, 0)..=(account.0, u64::MAX))? {
            let (_, webhook) = row?;
            if webhook.contract_id == Some(id) {
                scoped.push(webhook.id);
            }
        }
        scoped
    };
    for &webhook in &scoped {
        delete_webhook(txn, account, webhook)?;
    }
    Ok(scoped)
}

/// Version `version` of one of the account's contracts.
pub fn contract_version(
    txn: &ReadTransaction,
    account: AccountId,
    id: ContractId,
    version: u32,
) -> Result<ContractVersion> {
    locate(&txn.open_table(IDS)?, account, id.raw())?.ok_or(StoreError::NotFound)?;
    CONTRACT_VERSIONS
        .read(txn)?
        .get((id.raw(), version))?
        .ok_or(StoreError::NotFound)
}

/// Version `version` of one of the account's contracts, with its changes from the one
/// before.
pub fn version_entry(
    txn: &ReadTransaction,
    account: AccountId,
    id: ContractId,
    version: u32,
) -> Result<VersionEntry> {
    let this = contract_version(txn, account, id, version)?;
    let before = match version.checked_sub(1).filter(|&v| v > 0) {
        Some(before) => CONTRACT_VERSIONS.read(txn)?.get((id.raw(), before))?,
        None => None,
    };
    Ok(VersionEntry::new(this, before.as_ref()))
}

/// One page of a contract's versions, newest first; the cursor is a version number.
pub fn list_versions(
    txn: &ReadTransaction,
    account: AccountId,
    id: ContractId,
    request: PageRequest,
) -> Result<Page<VersionEntry>> {
    locate(&txn.open_table(IDS)?, account, id.raw())?.ok_or(StoreError::NotFound)?;
    let versions = CONTRACT_VERSIONS.read(txn)?;
    let before = request
        .cursor
        .map_or(u32::MAX, |c| u32::try_from(c).unwrap_or(u32::MAX));
    // One row more than the page: it tells whether a next page exists, and it is the
    // version the page's last one is compared with.
    let rows: Vec<ContractVersion> = versions
        .range((id.raw(), 0)..(id.raw(), before))?
        .rev()
        .take(request.limit + 1)
        .map(|row| row.map(|(_, version)| version))
        .collect::<Result<_>>()?;
    let more = rows.len() > request.limit;
    let items: Vec<VersionEntry> = rows
        .iter()
        .take(request.limit)
        .enumerate()
        .map(|(i, version)| VersionEntry::new(version.clone(), rows.get(i + 1)))
        .collect();
    let next = items
        .last()
        .filter(|_| more)
        .map(|last| u64::from(last.version.version));
    Ok(Page { items, next })
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

/// A check to store: scored (by the caller, against its cached contract version) and
/// stamped.
#[derive(Clone, Debug)]
pub struct NewCheck {
    /// The owner.
    pub account: AccountId,
    /// One of the account's contracts (checked again here: it may have been deleted).
    pub contract_id: ContractId,
    /// The version it was scored against.
    pub contract_version: u32,
    /// The score and diff.
    pub assessment: Assessment,
    /// Live checks cost a credit; test checks are free.
    pub environment: Environment,
    /// When: `wall` for the record, `steady` for the deliveries' due time.
    pub at: Stamp,
}

/// The bookkeeping of consecutive checks in one write batch (the hot path, on the writer
/// thread). The tables are opened once per pass instead of once per check; each account's
/// row and the store-wide sequence are read once, updated in memory and written back once
/// by [`CheckPass::finish`]; and an account's webhooks are read (and decoded) once.
///
/// Invariant: the writer finishes the pass before any other operation of the batch runs
/// and before it commits (`writer::Batch`), so every operation, and the file, see exactly
/// what they would have seen had each check been written on its own.
pub struct CheckPass<'t> {
    ids: Table<'t, u128, Location>,
    accounts: WriteRecords<'t, u64, Account>,
    checks: WriteRecords<'t, Location, Check>,
    webhooks: WriteRecords<'t, Location, Webhook>,
    deliveries: WriteRecords<'t, (u128, u64), Delivery>,
    due: Table<'t, DueEntry, ()>,
    meta: Table<'t, &'static str, u64>,
    /// The store-wide sequence, kept here for the pass.
    seq: PassSeq,
    /// The rows of the accounts this pass charged, as they are now.
    accounts_touched: HashMap<u64, Account>,
    /// Each account's active webhooks, read at its first check of the pass.
    active_webhooks: HashMap<u64, Vec<Webhook>>,
}

impl<'t> CheckPass<'t> {
    /// Opens the tables a check writes.
    pub fn open(txn: &'t WriteTransaction) -> Result<CheckPass<'t>> {
        let meta = txn.open_table(META)?;
        let next = meta.get(NEXT_SEQ_KEY)?.map_or(1, |v| v.value());
        Ok(CheckPass {
            ids: txn.open_table(IDS)?,
            accounts: ACCOUNTS.write(txn)?,
            checks: CHECKS.write(txn)?,
            webhooks: WEBHOOKS.write(txn)?,
            deliveries: DELIVERIES.write(txn)?,
            due: txn.open_table(DUE)?,
            meta,
            seq: PassSeq { stored: next, next },
            accounts_touched: HashMap::new(),
            active_webhooks: HashMap::new(),
        })
    }

    /// Stores a check scored against one of the account's contracts, charges the account
    /// and queues the deliveries it triggers (due at `at.steady`). Returns the check and
    /// the number of deliveries queued. A rejection (`NotFound`, `NoCredits`) changes
    /// nothing.
    pub fn record(&mut self, new: NewCheck) -> Result<(Check, usize)> {
        let account_id = new.account;
        let now = new.at.wall;
        locate(&self.ids, account_id, new.contract_id.raw())?.ok_or(StoreError::NotFound)?;
        let cost: u8 = match new.environment {
            Environment::Live => 1,
            Environment::Test => 0,
        };
        let account = match self.accounts_touched.entry(account_id.0) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let row = self.accounts.get(account_id.0)?;
                entry.insert(row.ok_or(StoreError::NotFound)?)
            }
        };
        if cost > 0 && account.credits_remaining == 0 {
            return Err(StoreError::NoCredits);
        }
        account.credits_remaining -= u64::from(cost);
        account.credits_used += u64::from(cost);
        account.total_checks += 1;
        let check = Check {
            id: CheckId::generate(now),
            contract_id: new.contract_id,
            contract_version: new.contract_version,
            verdict: new.assessment.verdict,
            severity: new.assessment.severity,
            diff: new.assessment.diff,
            credits_used: cost,
            created_at: now,
        };
        let location = (account_id.0, self.seq.take());
        self.ids.insert(check.id.raw(), location)?;
        self.checks.insert(location, &check)?;
        // Same transaction: a check that is answered has its deliveries queued.
        let webhooks = match self.active_webhooks.entry(account_id.0) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let rows = self
                    .webhooks
                    .range((account_id.0, 0)..=(account_id.0, u64::MAX))?;
                let mut active = Vec::new();
                for row in rows {
                    let (_, webhook) = row?;
                    if webhook.active {
                        active.push(webhook);
                    }
                }
                entry.insert(active)
            }
        };
        let mut queued = 0;
        for webhook in webhooks.iter() {
            if super::queue::fires_for(webhook, check.verdict, check.contract_id) {
                super::queue::enqueue(
                    &mut self.deliveries,
                    &mut self.due,
                    account_id,
                    webhook,
                    &check,
                    self.seq.take(),
                    new.at.steady,
                )?;
                queued += 1;
            }
        }
        Ok((check, queued))
    }

    /// Writes back the account rows and the sequence, and closes the tables.
    pub fn finish(mut self) -> Result<()> {
        for (id, account) in &self.accounts_touched {
            self.accounts.insert(*id, account)?;
        }
        if self.seq.next != self.seq.stored {
            self.meta.insert(NEXT_SEQ_KEY, self.seq.next)?;
        }
        Ok(())
    }
}

/// The store-wide `seq` (see [`next_seq`]) while a [`CheckPass`] holds it.
struct PassSeq {
    /// What `meta` holds.
    stored: u64,
    /// The next one to hand out.
    next: u64,
}

impl PassSeq {
    fn take(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }
}

/// Deletes up to `max` checks created before `before`, oldest first in each account;
/// returns how many. Their pending deliveries are dropped when next due (the queue finds
/// the check gone); finished ones expire with the delivery history.
pub fn purge_checks(txn: &WriteTransaction, before: UnixMs, max: usize) -> Result<usize> {
    let accounts: Vec<u64> = {
        let accounts = ACCOUNTS.write(txn)?;
        let rows = accounts.all()?;
        rows.map(|row| row.map(|(key, _)| key.value()))
            .collect::<Result<_>>()?
    };
    let mut expired = Vec::new();
    {
        let checks = CHECKS.write(txn)?;
        for account in accounts {
            for row in checks.range((account, 0)..=(account, u64::MAX))? {
                let (key, check) = row?;
                if check.created_at >= before || expired.len() == max {
                    break;
                }
                expired.push((key.value(), check.id));
            }
        }
    }
    let mut checks = CHECKS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    for (location, id) in &expired {
        checks.remove(*location)?;
        ids.remove(id.raw())?;
    }
    Ok(expired.len())
}

/// One stored check of the account.
pub fn check(txn: &ReadTransaction, account: AccountId, id: CheckId) -> Result<Check> {
    owned(txn, CHECKS, account, id.raw())
}

// ---- webhooks ----

/// Registers a webhook after checking that its contract is one of the account's
/// contracts and that the account has fewer than `max_webhooks`.
pub fn create_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    new: NewWebhook,
    max_webhooks: usize,
    now: UnixMs,
) -> Result<Webhook> {
    if let Some(contract_id) = new.contract_id {
        if !is_contract_of(txn, account, contract_id)? {
            return Err(StoreError::Invalid(
                "contract_id: no such contract in this account".into(),
            ));
        }
    }
    let existing = WEBHOOKS
        .write(txn)?
        .range((account.0, 0)..=(account.0, u64::MAX))?
        .take(max_webhooks)
        .count();
    if existing >= max_webhooks {
        return Err(StoreError::Conflict(format!(
            "the account has {existing} webhooks, the most limits.max_webhooks allows; delete one first"
        )));
    }
    let webhook = Webhook {
        id: WebhookId::generate(now),
        url: new.url,
        events: new.events,
        contract_id: new.contract_id,
        active: true,
        secret: new.secret,
        created_at: now,
        format: new.format,
        disabled_reason: None,
        consecutive_failures: 0,
        previous_secret: None,
    };
    let location = new_location(txn, account, webhook.id.raw())?;
    WEBHOOKS.write(txn)?.insert(location, &webhook)?;
    Ok(webhook)
}

/// Whether `id` names one of the account's contracts. The id's prefix only says what the
/// caller meant: the `ids` table holds every kind of record, so the location must also be
/// a row of `contracts` (`ctr_` + a check's id body is not a contract).
pub fn is_contract_of(txn: &WriteTransaction, account: AccountId, id: ContractId) -> Result<bool> {
    match locate(&txn.open_table(IDS)?, account, id.raw())? {
        Some(location) => Ok(CONTRACTS.write(txn)?.get(location)?.is_some()),
        None => Ok(false),
    }
}

/// One webhook of the account.
pub fn webhook(txn: &ReadTransaction, account: AccountId, id: WebhookId) -> Result<Webhook> {
    owned(txn, WEBHOOKS, account, id.raw())
}

/// Applies a `PATCH` to a webhook. Pausing takes its pending deliveries out of the queue
/// (`disabled_reason: "paused"`); resuming puts them back, due at `due`, and clears the
/// disabled reason and the failure count. Returns the webhook and whether deliveries
/// became due.
pub fn update_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
    update: WebhookUpdate,
    due: UnixMs,
) -> Result<(Webhook, bool)> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let ids = txn.open_table(IDS)?;
    let (location, mut webhook) =
        get_owned(&ids, &webhooks, account, id.raw())?.ok_or(StoreError::NotFound)?;
    if let Some(Some(contract_id)) = update.contract_id {
        if locate(&ids, account, contract_id.raw())?.is_none() {
            return Err(StoreError::Invalid(
                "contract_id: no such contract in this account".into(),
            ));
        }
    }
    drop(ids);
    let before = webhook.clone();
    if let Some(url) = update.url {
        webhook.url = url;
    }
    if let Some(events) = update.events {
        webhook.events = events;
    }
    if let Some(contract_id) = update.contract_id {
        webhook.contract_id = contract_id;
    }
    if let Some(format) = update.format {
        webhook.format = format;
    }
    let was_active = webhook.active;
    match update.active {
        Some(true) => {
            webhook.active = true;
            webhook.disabled_reason = None;
            webhook.consecutive_failures = 0;
        }
        Some(false) => {
            webhook.active = false;
            webhook.disabled_reason = Some(DisabledReason::Paused);
        }
        None => {}
    }
    if webhook != before {
        webhooks.insert(location, &webhook)?;
    }
    drop(webhooks);
    let mut resumed = false;
    if webhook.active != was_active {
        let changed = super::queue::set_paused(txn, id, !webhook.active, due)?;
        resumed = webhook.active && changed > 0;
    }
    Ok((webhook, resumed))
}

/// Replaces a webhook's secret with `secret`. The old one keeps signing (as the previous
/// secret) until `now + grace`; with no grace it is dropped at once. Only one previous
/// secret is kept: an earlier one is replaced.
pub fn rotate_secret(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
    secret: String,
    grace: std::time::Duration,
    now: UnixMs,
) -> Result<Webhook> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let (location, mut webhook) = get_owned(&txn.open_table(IDS)?, &webhooks, account, id.raw())?
        .ok_or(StoreError::NotFound)?;
    let old = std::mem::replace(&mut webhook.secret, secret);
    webhook.previous_secret = (!grace.is_zero()).then(|| PreviousSecret {
        secret: old,
        expires_at: now + grace,
    });
    webhooks.insert(location, &webhook)?;
    Ok(webhook)
}

/// Drops previous secrets whose grace period ended by `now`, in every account. Returns
/// how many.
pub fn drop_expired_secrets(txn: &WriteTransaction, now: UnixMs) -> Result<usize> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let expired: Vec<(Location, Webhook)> = {
        let mut expired = Vec::new();
        for row in webhooks.all()? {
            let (key, webhook) = row?;
            if webhook
                .previous_secret
                .as_ref()
                .is_some_and(|p| p.expires_at <= now)
            {
                expired.push((key.value(), webhook));
            }
        }
        expired
    };
    for (location, mut webhook) in expired.iter().cloned() {
        webhook.previous_secret = None;
        webhooks.insert(location, &webhook)?;
    }
    Ok(expired.len())
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
