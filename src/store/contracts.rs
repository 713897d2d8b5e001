//! Contracts and their versions. A version never changes once made: an update adds one
//! (contract row, version row and name index in one transaction) and replaces the
//! cache's current entry whole; checks score against those immutable cached versions
//! ([`Contracts::scoring_version`]).

use std::sync::Arc;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::webhooks::delete_webhook;
use super::{Store, StoreError};
use crate::clock::UnixMs;
use crate::drift::{self, Column, Compatibility, Rules, VersionChanges, Violation};
use crate::ids::{AccountId, ContractId, WebhookId};
use crate::model::{Contract, ContractVersion, LastCheck, VersionEntry};

type Result<T> = std::result::Result<T, StoreError>;

/// The store's contracts. A borrow of the [`Store`]: get one with [`Store::contracts`].
#[derive(Clone, Copy)]
pub struct Contracts<'s> {
    store: &'s Store,
}

impl Store {
    /// The contracts of every account, and their versions.
    pub fn contracts(&self) -> Contracts<'_> {
        Contracts { store: self }
    }
}

impl Contracts<'_> {
    /// Creates a contract (version 1); [`StoreError::Conflict`] if the name is taken in
    /// the account.
    pub async fn create(&self, account: AccountId, new: NewContract) -> Result<Contract> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| create_contract(txn, account, new, now))
            .await
    }

    /// Which of `schema`'s changes from the contract's stored versions `mode` (else the
    /// contract's own mode) refuses — the question of an update, without the update.
    /// Returns the mode applied and the violations.
    pub async fn judge(
        &self,
        account: AccountId,
        id: ContractId,
        schema: Vec<Column>,
        mode: Option<Compatibility>,
    ) -> Result<(Compatibility, Vec<Violation>)> {
        self.store
            .read(move |txn| {
                let current = contract(txn, account, id)?;
                let mode = mode.unwrap_or(current.compatibility);
                let versions = CONTRACT_VERSIONS.read(txn)?;
                let violations = judge_update(&versions, &current, mode, &schema)?;
                Ok((mode, violations))
            })
            .await
    }

    /// One contract of the account.
    pub async fn get(&self, account: AccountId, id: ContractId) -> Result<Contract> {
        self.store.read(move |txn| contract(txn, account, id)).await
    }

    /// The account's contract with exactly this name, if any.
    pub async fn by_name(&self, account: AccountId, name: String) -> Result<Option<Contract>> {
        self.store
            .read(move |txn| contract_by_name(txn, account, &name))
            .await
    }

    /// The latest check of each of the account's `contracts` (`None`: never checked, or
    /// not the account's).
    pub async fn last_checks(
        &self,
        account: AccountId,
        contracts: Vec<ContractId>,
    ) -> Result<Vec<Option<LastCheck>>> {
        self.store
            .read(move |txn| {
                let raw: Vec<u128> = contracts.iter().map(|c| c.raw()).collect();
                super::stats::last_checks(txn, account, &raw)
            })
            .await
    }

    /// One page of the account's contracts, oldest first.
    pub async fn list(&self, account: AccountId, page: PageRequest) -> Result<Page<Contract>> {
        self.store
            .read(move |txn| list(txn, CONTRACTS, account, Order::OldestFirst, page))
            .await
    }

    /// Updates a contract: a new version if anything changed, nothing otherwise. A dry
    /// run answers the same from a read and writes nothing. Checks that start after this
    /// returns score against the new version.
    pub async fn update(
        &self,
        account: AccountId,
        id: ContractId,
        update: ContractUpdate,
        dry_run: bool,
        max_versions: u32,
    ) -> Result<Updated> {
        let now = self.store.clock().now();
        if dry_run {
            return self
                .store
                .read(move |txn| plan_contract_update(txn, account, id, update, now))
                .await;
        }
        let updated = self
            .store
            .write(move |txn| update_contract(txn, account, id, update, now, max_versions))
            .await?;
        if updated.changes.is_some() {
            let current = Arc::new(updated.contract.current_version());
            let cache = &self.store.shared.contracts;
            cache.offer_current(account, id, current);
            cache.forget_versions_before(account, id, oldest_kept(&updated, max_versions));
        }
        Ok(updated)
    }

    /// Deletes a contract, its versions and the webhooks scoped to it (returned).
    pub async fn delete(&self, account: AccountId, id: ContractId) -> Result<Vec<WebhookId>> {
        let deleted = self
            .store
            .write(move |txn| delete_contract(txn, account, id))
            .await?;
        self.store.shared.contracts.remove_contract(account, id);
        Ok(deleted)
    }

    /// One page of a contract's versions, newest first, each with its changes.
    pub async fn versions(
        &self,
        account: AccountId,
        id: ContractId,
        page: PageRequest,
    ) -> Result<Page<VersionEntry>> {
        self.store
            .read(move |txn| list_versions(txn, account, id, page))
            .await
    }

    /// One version of a contract, with its changes.
    pub async fn version(
        &self,
        account: AccountId,
        id: ContractId,
        version: u32,
    ) -> Result<VersionEntry> {
        self.store
            .read(move |txn| version_entry(txn, account, id, version))
            .await
    }

    /// The version a check scores against, from the cache (read once from the store on a
    /// miss): the contract's current version, or the one asked for.
    pub(super) async fn scoring_version(
        &self,
        account: AccountId,
        id: ContractId,
        version: Option<u32>,
    ) -> Result<Arc<ContractVersion>> {
        let cache = &self.store.shared.contracts;
        if let Some(cached) = cache.get(account, id, version) {
            return Ok(cached);
        }
        match version {
            None => {
                let current = Arc::new(self.get(account, id).await?.current_version());
                cache.offer_current(account, id, current.clone());
                Ok(current)
            }
            Some(n) => {
                let entry = self
                    .store
                    .read(move |txn| contract_version(txn, account, id, n))
                    .await?;
                let entry = Arc::new(entry);
                cache.insert_version(account, id, entry.clone());
                Ok(entry)
            }
        }
    }
}

/// A validated contract to create.
#[derive(Clone, Debug, Default)]
pub struct NewContract {
    /// New in the account.
    pub name: String,
    /// Version 1's columns.
    pub columns: Vec<Column>,
    /// How changes score.
    pub rules: Rules,
    /// Which column changes later updates may make.
    pub compatibility: Compatibility,
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
    /// A new compatibility mode: the one the update's columns are judged under.
    pub compatibility: Option<Compatibility>,
}

/// What an update did (or, for a dry run, would do).
#[derive(Clone, Debug)]
pub struct Updated {
    /// The contract after the update.
    pub contract: Contract,
    /// What changed; `None` if nothing did (no new version).
    pub changes: Option<VersionChanges>,
}

// ---- transaction bodies ----

/// Creates a contract whose name is new in the account, with its version 1.
pub fn create_contract(
    txn: &WriteTransaction,
    account: AccountId,
    new: NewContract,
    now: UnixMs,
) -> Result<Contract> {
    let mut names = txn.open_table(CONTRACT_NAMES)?;
    if names.get((account.0, new.name.as_str()))?.is_some() {
        return Err(name_taken(&new.name));
    }
    let contract = Contract {
        id: ContractId::generate(now),
        name: new.name,
        version: 1,
        columns: new.columns,
        rules: new.rules,
        compatibility: new.compatibility,
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

/// What `update` makes of `current` at `now`: `Conflict` if its new name belongs to
/// another contract of the account (`names` is the name index), `Incompatible` if it
/// changes the columns in a way the mode it leaves in force refuses (judged against the
/// stored `versions`). Changes nothing.
fn plan_update(
    names: &impl ReadableTable<(u64, &'static str), u128>,
    versions: &RecordTable<(u128, u32), impl VersionRows, ContractVersion>,
    account: AccountId,
    current: &Contract,
    update: ContractUpdate,
    now: UnixMs,
) -> Result<Updated> {
    let name = update.name.unwrap_or_else(|| current.name.clone());
    let columns = update.columns.unwrap_or_else(|| current.columns.clone());
    let rules = update.rules.unwrap_or(current.rules);
    let compatibility = update.compatibility.unwrap_or(current.compatibility);
    if name == current.name
        && compatibility == current.compatibility
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
        (
            &current.name,
            &current.columns,
            &current.rules,
            current.compatibility,
        ),
        (&name, &columns, &rules, compatibility),
    );
    let columns_changed = !(changes.added.is_empty()
        && changes.removed.is_empty()
        && changes.type_changes.is_empty()
        && changes.required_changes.is_empty());
    if columns_changed {
        let violations = judge_update(versions, current, compatibility, &columns)?;
        if !violations.is_empty() {
            return Err(StoreError::Incompatible(violations));
        }
    }
    Ok(Updated {
        contract: Contract {
            name,
            version,
            columns,
            rules,
            compatibility,
            updated_at: now,
            ..current.clone()
        },
        changes: Some(changes),
    })
}

/// A versions table, read or written.
trait VersionRows: ReadableTable<(u128, u32), &'static [u8]> {}
impl<T: ReadableTable<(u128, u32), &'static [u8]>> VersionRows for T {}

/// Which changes from `current`'s stored versions to `columns` `mode` refuses: against
/// the current version, or every stored one for a transitive mode (read here, in the
/// caller's transaction, so no update can slip between the judgement and the write).
fn judge_update(
    versions: &RecordTable<(u128, u32), impl VersionRows, ContractVersion>,
    current: &Contract,
    mode: Compatibility,
    columns: &[Column],
) -> Result<Vec<Violation>> {
    if mode == Compatibility::None {
        return Ok(Vec::new());
    }
    if !mode.is_transitive() {
        let latest = [(current.version, current.columns.as_slice())];
        return Ok(drift::judge(mode, &latest, columns));
    }
    let id = current.id.raw();
    let stored: Vec<ContractVersion> = versions
        .range((id, 0)..=(id, u32::MAX))?
        .map(|row| row.map(|(_, version)| version))
        .collect::<Result<_>>()?;
    let history: Vec<(u32, &[Column])> = stored
        .iter()
        .map(|v| (v.version, v.columns.as_slice()))
        .collect();
    Ok(drift::judge(mode, &history, columns))
}

/// Applies an update: the contract row, its new version and the name index change
/// together. A body that changes nothing writes nothing.
pub fn update_contract(
    txn: &WriteTransaction,
    account: AccountId,
    id: ContractId,
    update: ContractUpdate,
    now: UnixMs,
    max_versions: u32,
) -> Result<Updated> {
    let mut contracts = CONTRACTS.write(txn)?;
    let (location, current) = get_owned(&txn.open_table(IDS)?, &contracts, account, id.raw())?
        .ok_or(StoreError::NotFound)?;
    let mut names = txn.open_table(CONTRACT_NAMES)?;
    let mut versions = CONTRACT_VERSIONS.write(txn)?;
    let updated = plan_update(&names, &versions, account, &current, update, now)?;
    if updated.changes.is_none() {
        return Ok(updated);
    }
    let contract = &updated.contract;
    contracts.insert(location, contract)?;
    versions.insert((id.raw(), contract.version), &contract.current_version())?;
    // History is bounded: the oldest versions go (numbers keep counting).
    versions.remove_range((id.raw(), 0)..(id.raw(), oldest_kept(&updated, max_versions)))?;
    if contract.name != current.name {
        names.remove((account.0, current.name.as_str()))?;
        names.insert((account.0, contract.name.as_str()), id.raw())?;
    }
    Ok(updated)
}

/// The oldest version an update keeps, when a contract keeps at most `max_versions`.
fn oldest_kept(updated: &Updated, max_versions: u32) -> u32 {
    (updated.contract.version + 1).saturating_sub(max_versions.max(1))
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
        &CONTRACT_VERSIONS.read(txn)?,
        account,
        &current,
        update,
        now,
    )
}

/// Deletes a contract with its versions, its name, its PagerDuty incidents and the
/// webhooks scoped to it (with their deliveries, pending or not). Checks made against it stay. Returns the deleted
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
    // Its checks stay; what indexes and counts them by contract goes.
    txn.open_table(LAST_CHECKS)?.remove(location)?;
    txn.open_table(CHECKS_BY_CONTRACT)?
        .retain_in((id.raw(), 0)..=(id.raw(), u64::MAX), |_, _| false)?;
    txn.open_table(CONTRACT_NAMES)?
        .remove((account.0, contract.name.as_str()))?;
    CONTRACT_VERSIONS
        .write(txn)?
        .remove_range((id.raw(), 0)..=(id.raw(), u32::MAX))?;
    let (scoped, unscoped): (Vec<WebhookId>, Vec<WebhookId>) = {
        let webhooks = WEBHOOKS.write(txn)?;
        let mut scoped = Vec::new();
        let mut unscoped = Vec::new();
        for row in webhooks.range((account.0, 0)..=(account.0, u64::MAX))? {
            let (_, webhook) = row?;
            match webhook.contract_id {
                Some(c) if c == id => scoped.push(webhook.id),
                Some(_) => {}
                None => unscoped.push(webhook.id),
            }
        }
        (scoped, unscoped)
    };
    // The incidents the contract had with the webhooks that stay are forgotten, not
    // resolved (a scoped webhook's go with it).
    let mut incidents = txn.open_table(INCIDENTS)?;
    for webhook in unscoped {
        incidents.remove((webhook.raw(), id.raw()))?;
    }
    drop(incidents);
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
    // The page ends at `limit` versions or [`PAGE_BYTES`] of them, whichever comes first.
    // One row more than the page: it tells whether a next page exists, and it is the
    // version the page's last one is compared with.
    let mut rows: Vec<ContractVersion> = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    for row in versions
        .range_sized((id.raw(), 0)..(id.raw(), before))?
        .rev()
    {
        let (version, size) = row?;
        more = rows.len() == request.limit || bytes >= PAGE_BYTES;
        rows.push(version);
        if more {
            break;
        }
        bytes += size;
    }
    let items: Vec<VersionEntry> = rows
        .iter()
        .take(rows.len() - usize::from(more))
        .enumerate()
        .map(|(i, version)| VersionEntry::new(version.clone(), rows.get(i + 1)))
        .collect();
    let next = items
        .last()
        .filter(|_| more)
        .map(|last| u64::from(last.version.version));
    Ok(Page { items, next })
}
