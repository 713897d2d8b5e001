//! Checks: the hot path. Scoring runs on the caller's task against a cached contract
//! version; the bookkeeping (credits, the check row, its deliveries) goes to the writer,
//! where consecutive checks of a batch share one [`CheckPass`].

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::queue::{DueEntry, Send};
use super::records::Record;
use super::stats;
use super::tables::*;
use super::{Store, StoreError};
use crate::clock::{Stamp, UnixMs};
use crate::credentials::Environment;
use crate::drift::{Assessment, IncomingColumn, Verdict};
use crate::ids::{AccountId, CheckId, ContractId};
use crate::model::{Account, Check, Contract, Delivery, Webhook, WebhookFormat};

type Result<T> = std::result::Result<T, StoreError>;

/// The store's checks. A borrow of the [`Store`]: get one with [`Store::checks`].
#[derive(Clone, Copy)]
pub struct Checks<'s> {
    store: &'s Store,
}

impl Store {
    /// The checks of every account.
    pub fn checks(&self) -> Checks<'_> {
        Checks { store: self }
    }
}

impl Checks<'_> {
    /// Checks `incoming` against the contract — its current version, or `version` — and
    /// stores the result together with the account's counters and the deliveries it
    /// triggers, in one transaction. Returns the check; the dispatcher is signalled if
    /// deliveries were queued.
    ///
    /// The scoring runs here, on the caller's task, against a cached (immutable) version:
    /// only the bookkeeping goes through the (serial) writer, which checks that the
    /// contract still exists.
    pub async fn run(
        &self,
        account: AccountId,
        contract_id: ContractId,
        version: Option<u32>,
        incoming: Vec<IncomingColumn>,
        environment: Environment,
    ) -> Result<Check> {
        let scored = self
            .store
            .contracts()
            .scoring_version(account, contract_id, version)
            .await?;
        let assessment = crate::drift::assess(&scored.columns, &scored.rules, &incoming);
        let new = NewCheck {
            account,
            contract_id,
            contract_version: scored.version,
            assessment,
            environment,
            at: self.store.clock().stamp(),
        };
        let (check, queued) = self
            .store
            .write_in_batch(move |batch| batch.checks()?.record(new))
            .await?;
        if queued > 0 {
            self.store.signal_due();
        }
        Ok(check)
    }

    /// One stored check of the account.
    pub async fn get(&self, account: AccountId, id: CheckId) -> Result<Check> {
        self.store.read(move |txn| check(txn, account, id)).await
    }

    /// One page of the account's checks, newest first.
    pub async fn list(&self, account: AccountId, page: PageRequest) -> Result<Page<Check>> {
        self.store
            .read(move |txn| list(txn, CHECKS, account, Order::NewestFirst, page))
            .await
    }

    /// One page of the account's checks that pass `filter`, newest first. A page also
    /// ends after [`MAX_SCANNED`] checks were looked at (announcing the next one), so a
    /// filter that matches rarely costs each request a bounded read.
    pub async fn list_filtered(
        &self,
        account: AccountId,
        filter: CheckFilter,
        page: PageRequest,
    ) -> Result<Page<Check>> {
        self.store
            .read(move |txn| list_filtered(txn, account, filter, page))
            .await
    }

    /// Deletes up to `max` checks created before `before` (`storage.check_retention`);
    /// returns how many.
    pub async fn purge(&self, before: UnixMs, max: usize) -> Result<usize> {
        self.store
            .write(move |txn| purge_checks(txn, before, max))
            .await
    }
}

/// What `GET /checks` filters on; each part optional, combined with AND.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckFilter {
    /// Checks of this contract only (another account's, or a deleted one, matches none).
    pub contract: Option<ContractId>,
    /// Checks with this result only.
    pub verdict: Option<Verdict>,
    /// Checks created at or after this.
    pub since: Option<UnixMs>,
}

/// The most checks one page of a filtered list looks at.
pub const MAX_SCANNED: usize = 10_000;
/// Checks are listed by `seq` (commit order), not by their wall-clock `created_at`: a
/// `since` filter stops reading once it meets a check this much older than `since`, so a
/// clock step back cannot hide a check that follows an older-stamped one.
const SINCE_SLACK_MS: i64 = 10 * 60 * 1000;

// ---- transaction bodies ----

/// One page of the account's checks passing `filter`, newest first (see
/// [`Checks::list_filtered`]).
pub fn list_filtered(
    txn: &ReadTransaction,
    account: AccountId,
    filter: CheckFilter,
    request: PageRequest,
) -> Result<Page<Check>> {
    let empty = Page {
        items: Vec::new(),
        next: None,
    };
    let before = request.cursor.unwrap_or(u64::MAX);
    let checks = txn.open_table(CHECKS.definition())?;
    let by_contract;
    let seqs: Box<dyn Iterator<Item = Result<u64>>> = match filter.contract {
        Some(contract) => {
            let Some(_) = locate(&txn.open_table(IDS)?, account, contract.raw())? else {
                return Ok(empty);
            };
            by_contract = txn.open_table(CHECKS_BY_CONTRACT)?;
            let c = contract.raw();
            Box::new(
                by_contract
                    .range((c, 0)..(c, before))?
                    .rev()
                    .map(|row| Ok(row?.0.value().1)),
            )
        }
        None => Box::new(
            checks
                .range((account.0, 0)..(account.0, before))?
                .rev()
                .map(|row| Ok(row?.0.value().1)),
        ),
    };
    let mut items = Vec::new();
    let (mut bytes, mut scanned) = (0, 0);
    // The last check looked at, and the last one listed: where the next page starts.
    let (mut last_seen, mut last_listed) = (None, None);
    for seq in seqs {
        let seq = seq?;
        if scanned == MAX_SCANNED {
            return Ok(Page {
                items,
                next: last_seen,
            });
        }
        scanned += 1;
        last_seen = Some(seq);
        let Some(raw) = checks.get((account.0, seq))? else {
            continue; // purged while its index entry was read
        };
        let check = Check::at_seq(super::codec::decode(raw.value())?, seq);
        if let Some(since) = filter.since {
            if check.created_at.0 < since.0.saturating_sub(SINCE_SLACK_MS) {
                break;
            }
            if check.created_at < since {
                continue;
            }
        }
        if filter.verdict.is_some_and(|v| v != check.verdict) {
            continue;
        }
        if items.len() == request.limit || bytes >= PAGE_BYTES {
            // One more match: there is a next page, after the last one listed.
            return Ok(Page {
                items,
                next: last_listed,
            });
        }
        bytes += raw.value().len();
        last_listed = Some(seq);
        items.push(check);
    }
    Ok(Page { items, next: None })
}

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
/// row, its check number and the store-wide sequence are read once, updated in memory and
/// written back once by [`CheckPass::finish`]; and an account's webhooks are read (and
/// decoded) once.
///
/// Invariant: the writer finishes the pass before any other operation of the batch runs
/// and before it commits (`writer::Batch`), so every operation, and the file, see exactly
/// what they would have seen had each check been written on its own.
pub struct CheckPass<'t> {
    ids: Table<'t, u128, Location>,
    check_seqs: Table<'t, u64, u64>,
    accounts: WriteRecords<'t, u64, Account>,
    checks: WriteRecords<'t, Location, Check>,
    webhooks: WriteRecords<'t, Location, Webhook>,
    deliveries: WriteRecords<'t, (u128, u64), Delivery>,
    due: Table<'t, DueEntry, ()>,
    meta: Table<'t, &'static str, u64>,
    /// Read only for a contract's name, when a webhook's filter asks for it.
    contracts: WriteRecords<'t, Location, Contract>,
    incidents: Table<'t, (u128, u128), u64>,
    checks_by_contract: Table<'t, (u128, u64), ()>,
    last_checks: Table<'t, Location, stats::LastCheckRow>,
    /// The counters the pass adds to, written back by [`CheckPass::finish`]: checks per
    /// `(account, day)` by verdict, and deliveries queued per `(account, hour, webhook)`.
    days: HashMap<(u64, u32), [u64; 3]>,
    pending_hours: HashMap<stats::HourKey, u64>,
    txn: &'t WriteTransaction,
    /// The store-wide sequence, kept here for the pass.
    seq: PassSeq,
    /// The rows of the accounts this pass charged, as they are now.
    accounts_touched: HashMap<u64, Account>,
    /// The number each of those accounts' next check gets ([`CHECK_SEQS`], as it is now).
    next_check: HashMap<u64, u64>,
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
            check_seqs: txn.open_table(CHECK_SEQS)?,
            accounts: ACCOUNTS.write(txn)?,
            checks: CHECKS.write(txn)?,
            webhooks: WEBHOOKS.write(txn)?,
            deliveries: DELIVERIES.write(txn)?,
            due: txn.open_table(DUE)?,
            meta,
            contracts: CONTRACTS.write(txn)?,
            incidents: txn.open_table(INCIDENTS)?,
            checks_by_contract: txn.open_table(CHECKS_BY_CONTRACT)?,
            last_checks: txn.open_table(LAST_CHECKS)?,
            days: HashMap::new(),
            pending_hours: HashMap::new(),
            txn,
            seq: PassSeq { stored: next, next },
            accounts_touched: HashMap::new(),
            next_check: HashMap::new(),
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
        let contract_location =
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
        let next_check = match self.next_check.entry(account_id.0) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let stored = self.check_seqs.get(account_id.0)?.map(|v| v.value());
                entry.insert(stored.unwrap_or(1))
            }
        };
        let check_seq = *next_check;
        *next_check += 1;
        let check = Check {
            // The id carries the check's place: no index insert at a random page.
            id: CheckId::generate(check_seq),
            contract_id: new.contract_id,
            contract_version: new.contract_version,
            verdict: new.assessment.verdict,
            severity: new.assessment.severity,
            diff: new.assessment.diff,
            credits_used: cost,
            created_at: now,
        };
        let location = (account_id.0, check_seq);
        self.checks.insert(location, &check)?;
        // The overview's counters and the contract's index, in the same transaction.
        self.checks_by_contract
            .insert((check.contract_id.raw(), location.1), ())?;
        self.last_checks.insert(
            contract_location,
            stats::last_check_row(check.id, check.verdict, check.severity, now),
        )?;
        self.days
            .entry((account_id.0, stats::day_of(now)))
            .or_default()[usize::from(stats::verdict_index(check.verdict))] += 1;
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
        // The contract's name, read once and only if a filter matches names.
        let mut contract_name: Option<Option<String>> = None;
        for webhook in webhooks.iter() {
            if contract_name.is_none() && webhook.filter.as_ref().is_some_and(|f| f.needs_name()) {
                let contract = self.contracts.get(contract_location)?;
                contract_name = Some(contract.map(|c| c.name));
            }
            let incident_key = (webhook.id.raw(), check.contract_id.raw());
            let incident = match webhook.format {
                WebhookFormat::PagerDuty => self.incidents.get(incident_key)?.map(|v| v.value()),
                _ => None,
            };
            let name = || contract_name.clone().flatten();
            let send = super::queue::what_to_send(webhook, &check, incident, name);
            if send == Send::Nothing {
                continue;
            }
            let seq = self.seq.take();
            match send {
                Send::Trigger => {
                    self.incidents.insert(incident_key, INCIDENT_OPEN)?;
                }
                Send::Resolve => {
                    self.incidents.insert(incident_key, seq)?;
                }
                Send::Check | Send::Nothing => {}
            }
            super::queue::enqueue(
                &mut self.deliveries,
                &mut self.due,
                account_id,
                webhook,
                &check,
                seq,
                new.at.steady,
            )?;
            queued += 1;
            *self
                .pending_hours
                .entry((account_id.0, stats::hour_of(now), webhook.id.raw()))
                .or_default() += 1;
        }
        Ok((check, queued))
    }

    /// Writes back the account rows, the counters and the sequence, and closes the
    /// tables.
    pub fn finish(mut self) -> Result<()> {
        for (id, account) in &self.accounts_touched {
            self.accounts.insert(*id, account)?;
        }
        for (&account, &next) in &self.next_check {
            self.check_seqs.insert(account, next)?;
        }
        if !self.days.is_empty() {
            let mut days = self.txn.open_table(DAILY_CHECKS)?;
            for (&key, &counts) in &self.days {
                stats::add_day(&mut days, key, counts)?;
            }
        }
        if !self.pending_hours.is_empty() {
            stats::add_pending(self.txn, &self.pending_hours)?;
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
    let accounts = account_numbers(txn)?;
    let mut expired = Vec::new();
    {
        let checks = CHECKS.write(txn)?;
        for account in accounts {
            for row in checks.range((account, 0)..=(account, u64::MAX))? {
                let (key, check) = row?;
                if check.created_at >= before || expired.len() == max {
                    break;
                }
                let check = check.at_seq(key.value().1);
                expired.push((key.value(), check.id, check.contract_id));
            }
        }
    }
    let mut checks = CHECKS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    let mut by_contract = txn.open_table(CHECKS_BY_CONTRACT)?;
    for (location, id, contract) in &expired {
        checks.remove(*location)?;
        if id.seq().is_none() {
            ids.remove(id.raw())?; // a check id from before format 5
        }
        by_contract.remove((contract.raw(), location.1))?;
    }
    Ok(expired.len())
}

/// One stored check of the account.
pub fn check(txn: &ReadTransaction, account: AccountId, id: CheckId) -> Result<Check> {
    let found = find_check(&txn.open_table(IDS)?, &CHECKS.read(txn)?, account, id)?;
    found.map(|(_, check)| check).ok_or(StoreError::NotFound)
}
