//! Every redb table — listed once, in [`visit_all`] — and the typed access to them.
//!
//! Records owned by an account are keyed `(account, seq)`, where `seq` is a store-wide
//! counter (for checks, since format 5, the account's own counter): an account's records
//! are one contiguous key range in creation order (lists are range reads), and inserts
//! land at the right edge of the B-tree. The `ids` table maps a public id to `(account,
//! seq)`; a lookup that finds another account's id answers "not found", exactly like an
//! unknown one. A check id carries its `seq` instead (`ids::CheckId`).
//!
//! Tables of records are [`Records<K, T>`]: the record type is part of the table's type,
//! so a call site cannot decode a contract row as a check.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::RangeBounds;

use redb::{
    AccessGuard, Key, ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, Value,
    WriteTransaction,
};

use super::codec::{decode, encode};
use super::records::Record;
use super::StoreError;
use crate::ids::{AccountId, CheckId};
use crate::model::{Account, ApiKey, Check, Contract, ContractVersion, Delivery, Webhook};

type Result<T> = std::result::Result<T, StoreError>;

/// `format_version` and counters such as `next_account_id`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Account number → `Account`.
pub const ACCOUNTS: Records<u64, Account> = Records::new("accounts");
/// Account name → account number (names are unique).
pub const ACCOUNT_NAMES: TableDefinition<&str, u64> = TableDefinition::new("account_names");
/// Public id (contract, webhook, key, and checks stored before format 5) → `(account,
/// seq)`. A check stored since format 5 has no row: its id carries its `seq`.
pub const IDS: TableDefinition<u128, (u64, u64)> = TableDefinition::new("ids");
/// `(account, seq)` → `ApiKey`.
pub const KEYS: Records<(u64, u64), ApiKey> = Records::new("keys");
/// SHA-256 of a key → `(account, seq)`: the authentication lookup.
pub const KEY_HASHES: TableDefinition<[u8; 32], (u64, u64)> = TableDefinition::new("key_hashes");
/// `(account, seq)` → `Contract`.
pub const CONTRACTS: Records<(u64, u64), Contract> = Records::new("contracts");
/// `(account, contract name)` → contract id (names are unique per account).
pub const CONTRACT_NAMES: TableDefinition<(u64, &str), u128> =
    TableDefinition::new("contract_names");
/// `(contract id, version)` → `ContractVersion`: every version of every contract (the
/// current one too), so a contract's history is one range read.
pub const CONTRACT_VERSIONS: Records<(u128, u32), ContractVersion> =
    Records::new("contract_versions");
/// `(account, seq)` → `Check`. Since format 5 a check's `seq` is its number in its
/// account ([`CHECK_SEQS`]), not the store-wide counter, and its id carries it.
pub const CHECKS: Records<(u64, u64), Check> = Records::new("checks");
/// `(account, seq)` → `Webhook`.
pub const WEBHOOKS: Records<(u64, u64), Webhook> = Records::new("webhooks");
/// `(webhook id, seq)` → `Delivery`. Webhook ids are unique across accounts, and the API
/// reaches them only after loading the webhook with the caller's account.
pub const DELIVERIES: Records<(u128, u64), Delivery> = Records::new("deliveries");
/// The persisted timer wheel, per webhook: `(webhook id, due ms, delivery seq)` → `()`. A
/// pending delivery whose webhook is active has exactly one entry here. Each webhook's
/// entries are one key range in due order (creation order within a millisecond), so the
/// dispatcher serves webhooks in turn and a backlog on one never hides another's.
pub const DUE: TableDefinition<(u128, u64, u64), ()> = TableDefinition::new("due_by_webhook");
/// `(finished unix ms, delivery seq)` → webhook id: finished deliveries in the order they
/// expire from the history.
pub const FINISHED: TableDefinition<(u64, u64), u128> = TableDefinition::new("finished");
/// The checks of each contract, newest last: `(contract id, check seq)` → `()` — the
/// index behind `GET /checks?contract_id=` (the check is `(account, seq)` of `CHECKS`).
pub const CHECKS_BY_CONTRACT: TableDefinition<(u128, u64), ()> =
    TableDefinition::new("checks_by_contract");
/// Each contract's latest check, keyed by the contract's location `(account, seq)` so that
/// an account's contracts are one range: `(check id's raw, check id's seq, verdict,
/// severity, created_at ms)` (the seq is 0 for a check id from before format 5). The
/// verdict is its index in `stats::VERDICTS` (0 pass, 1 warning, 2 breaking).
pub const LAST_CHECKS: TableDefinition<Location, (u128, u64, u8, u8, i64)> =
    TableDefinition::new("last_check_by_contract");
/// Account → the number its next check gets (its `seq` in [`CHECKS`]). No row: 1.
pub const CHECK_SEQS: TableDefinition<u64, u64> = TableDefinition::new("next_check_seq");
/// Checks per account and UTC day (days since the epoch), by verdict: `(pass, warning,
/// breaking)` — the overview's chart, kept as checks are written.
pub const DAILY_CHECKS: TableDefinition<(u64, u32), (u64, u64, u64)> =
    TableDefinition::new("daily_checks");
/// Deliveries per account, creation hour (hours since the epoch) and webhook, by where
/// they stand now: `(delivered, abandoned, pending)` — the last 24 hours of the overview
/// (a range of the account's hours) and of each webhook, kept as deliveries are queued
/// and finish. Hours older than [`DELIVERY_HOURS_KEPT`] are dropped.
pub const DELIVERY_HOURS: TableDefinition<(u64, u32, u128), (u64, u64, u64)> =
    TableDefinition::new("delivery_hours_by_webhook");
/// How many hours of [`DELIVERY_HOURS`] are kept (the overview reads 24).
pub const DELIVERY_HOURS_KEPT: u32 = 48;

/// PagerDuty incidents DriftGuard opened: `(webhook id, contract id)` → the `seq` of the
/// `resolve` delivery queued for it, or [`INCIDENT_OPEN`] while none is. A row exists from
/// the `trigger` until the `resolve` is delivered; deleting the webhook or the contract
/// deletes its rows (and resolves nothing).
pub const INCIDENTS: TableDefinition<(u128, u128), u64> = TableDefinition::new("incidents");
/// An [`INCIDENTS`] value: triggered, no `resolve` queued (seqs start at 1).
pub const INCIDENT_OPEN: u64 = 0;

/// Meta key holding the on-disk format version.
pub const FORMAT_VERSION_KEY: &str = "format_version";
/// Meta key set (to 1) once the first start has created the `default` account.
pub const BOOTSTRAPPED_KEY: &str = "bootstrapped";
/// Meta key holding the next `seq` to hand out.
pub const NEXT_SEQ_KEY: &str = "next_seq";
/// Meta key holding the next account number to hand out.
pub const NEXT_ACCOUNT_KEY: &str = "next_account_id";

/// Something done to every table of the store (create, copy, verify…).
pub trait TableVisitor {
    /// Visits a table of plain keys and values.
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<K, V>,
    ) -> Result<()>;

    /// Visits a table of encoded records (by default, as a plain table of bytes).
    fn records<K: Key + 'static, T: Record>(&mut self, table: Records<K, T>) -> Result<()> {
        self.table(table.definition())
    }
}

/// Applies `visitor` to every table: the one list of them.
pub fn visit_all(visitor: &mut impl TableVisitor) -> Result<()> {
    visitor.table(META)?;
    visitor.table(IDS)?;
    visitor.records(ACCOUNTS)?;
    visitor.table(ACCOUNT_NAMES)?;
    visitor.records(KEYS)?;
    visitor.table(KEY_HASHES)?;
    visitor.records(CONTRACTS)?;
    visitor.table(CONTRACT_NAMES)?;
    visitor.records(CONTRACT_VERSIONS)?;
    visitor.records(CHECKS)?;
    visitor.records(WEBHOOKS)?;
    visitor.records(DELIVERIES)?;
    visitor.table(DUE)?;
    visitor.table(FINISHED)?;
    visitor.table(INCIDENTS)?;
    visitor.table(CHECKS_BY_CONTRACT)?;
    visitor.table(LAST_CHECKS)?;
    visitor.table(CHECK_SEQS)?;
    visitor.table(DAILY_CHECKS)?;
    visitor.table(DELIVERY_HOURS)
}

/// The stored format version.
pub fn format_version(txn: &ReadTransaction) -> Result<u64> {
    let meta = txn.open_table(META)?;
    let version = meta.get(FORMAT_VERSION_KEY)?.map(|v| v.value());
    version.ok_or_else(|| StoreError::Internal("the store has no format version".into()))
}

/// Marks a type as holding keys `K` and records `T` without owning either.
type Holds<K, T> = PhantomData<(fn() -> K, fn() -> T)>;

/// A table opened for reading, of encoded records.
pub type ReadRecords<K, T> = RecordTable<K, ReadOnlyTable<K, &'static [u8]>, T>;

/// A table opened for writing, of encoded records.
pub type WriteRecords<'t, K, T> = RecordTable<K, Table<'t, K, &'static [u8]>, T>;

/// A table of records of type `T`, keyed by `K`. Open it with [`Records::read`] or
/// [`Records::write`]; every value going in or out passes through the codec.
pub struct Records<K: Key + 'static, T> {
    name: &'static str,
    types: Holds<K, T>,
}

impl<K: Key + 'static, T> Clone for Records<K, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Key + 'static, T> Copy for Records<K, T> {}

impl<K: Key + 'static, T: Record> Records<K, T> {
    /// A table of records named `name`.
    pub const fn new(name: &'static str) -> Self {
        Records {
            name,
            types: PhantomData,
        }
    }

    /// The underlying redb table (values are encoded bytes).
    pub fn definition(&self) -> TableDefinition<'static, K, &'static [u8]> {
        TableDefinition::new(self.name)
    }

    /// Opens the table for reading.
    pub fn read(&self, txn: &ReadTransaction) -> Result<ReadRecords<K, T>> {
        Ok(RecordTable::new(txn.open_table(self.definition())?))
    }

    /// Opens the table for writing.
    pub fn write<'t>(&self, txn: &'t WriteTransaction) -> Result<WriteRecords<'t, K, T>> {
        Ok(RecordTable::new(txn.open_table(self.definition())?))
    }
}

/// An open table of records: typed reads, and typed writes when `Tab` is writable.
pub struct RecordTable<K: Key + 'static, Tab, T> {
    table: Tab,
    types: Holds<K, T>,
}

impl<K, Tab, T> RecordTable<K, Tab, T>
where
    K: Key + 'static,
    Tab: ReadableTable<K, &'static [u8]>,
    T: Record,
{
    fn new(table: Tab) -> Self {
        RecordTable {
            table,
            types: PhantomData,
        }
    }

    /// Reads and decodes one record.
    pub fn get<'a>(&self, key: impl Borrow<K::SelfType<'a>>) -> Result<Option<T>> {
        match self.table.get(key)? {
            Some(bytes) => decode(bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// The rows in `range`, decoded as they are read.
    pub fn range<'a, KR>(&self, range: impl RangeBounds<KR> + 'a) -> Result<Rows<'_, K, T>>
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        Ok(Rows {
            inner: self.table.range(range)?,
            types: PhantomData,
        })
    }

    /// The records in `range` with the stored size of each (for a page's byte budget),
    /// decoded as they are read.
    pub fn range_sized<'a, KR>(
        &self,
        range: impl RangeBounds<KR> + 'a,
    ) -> Result<impl DoubleEndedIterator<Item = Result<(T, usize)>> + '_>
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        Ok(self.table.range(range)?.map(|row| {
            let (_, value) = row?;
            let bytes = value.value();
            Ok((decode(bytes)?, bytes.len()))
        }))
    }

    /// Every row, in key order.
    pub fn all(&self) -> Result<Rows<'_, K, T>> {
        Ok(Rows {
            inner: self.table.iter()?,
            types: PhantomData,
        })
    }
}

impl<K, T> RecordTable<K, Table<'_, K, &'static [u8]>, T>
where
    K: Key + 'static,
    T: Record,
{
    /// Encodes and writes one record.
    pub fn insert<'k>(&mut self, key: impl Borrow<K::SelfType<'k>>, record: &T) -> Result<()> {
        self.table.insert(key, encode(record)?.as_slice())?;
        Ok(())
    }

    /// Removes one record (if present).
    pub fn remove<'k>(&mut self, key: impl Borrow<K::SelfType<'k>>) -> Result<()> {
        self.table.remove(key)?;
        Ok(())
    }

    /// Removes every record in `range`.
    pub fn remove_range<'a, KR>(&mut self, range: impl RangeBounds<KR> + 'a) -> Result<()>
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        self.table.retain_in(range, |_, _| false)?;
        Ok(())
    }
}

/// Decoded rows of a [`RecordTable`]: `(key, record)`.
pub struct Rows<'t, K: Key + 'static, T> {
    inner: redb::Range<'t, K, &'static [u8]>,
    types: PhantomData<fn() -> T>,
}

type Row<'t, K, T> = Result<(AccessGuard<'t, K>, T)>;

fn decode_row<'t, K: Key + 'static, T: Record>(
    row: std::result::Result<
        (AccessGuard<'t, K>, AccessGuard<'t, &'static [u8]>),
        redb::StorageError,
    >,
) -> Row<'t, K, T> {
    let (key, value) = row?;
    Ok((key, decode(value.value())?))
}

impl<'t, K: Key + 'static, T: Record> Iterator for Rows<'t, K, T> {
    type Item = Row<'t, K, T>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(decode_row)
    }
}

impl<K: Key + 'static, T: Record> DoubleEndedIterator for Rows<'_, K, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(decode_row)
    }
}

/// The most stored bytes one page of a list reads (its JSON is of the same order): one
/// tenant's large records must not make a page of hundreds of megabytes.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A row as redb yields it, before decoding.
type RawRow<'t, K> =
    std::result::Result<(AccessGuard<'t, K>, AccessGuard<'t, &'static [u8]>), redb::StorageError>;

/// Which end of an account's key range a listing starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Contracts, webhooks, keys.
    OldestFirst,
    /// Checks (and deliveries).
    NewestFirst,
}

/// One page of a listing: at most `limit` records after the `cursor`.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// The `seq` of the last record of the previous page.
    pub cursor: Option<u64>,
    /// 1–1000.
    pub limit: usize,
}

/// Records of one page, and whether more follow.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The records, in listing order.
    pub items: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next: Option<u64>,
}

impl<P, Tab, T> RecordTable<(P, u64), Tab, T>
where
    P: Key + Copy + 'static,
    (P, u64): for<'a> Borrow<<(P, u64) as Value>::SelfType<'a>>,
    Tab: ReadableTable<(P, u64), &'static [u8]>,
    T: Record,
{
    /// One page of the records under `prefix`, e.g. an account's contracts or a webhook's
    /// deliveries: at most `request.limit` records, and no more than [`PAGE_BYTES`] of
    /// them (a page of large records ends early, announcing the next one as usual).
    pub fn page(&self, prefix: P, order: Order, request: PageRequest) -> Result<Page<T>> {
        let rows = match (order, request.cursor) {
            (Order::OldestFirst, None) | (Order::NewestFirst, None) => {
                self.table.range((prefix, 0)..=(prefix, u64::MAX))?
            }
            (Order::OldestFirst, Some(after)) => match after.checked_add(1) {
                Some(next) => self.table.range((prefix, next)..=(prefix, u64::MAX))?,
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    })
                }
            },
            (Order::NewestFirst, Some(before)) => {
                self.table.range((prefix, 0)..(prefix, before))?
            }
        };
        let rows: Box<dyn Iterator<Item = RawRow<'_, (P, u64)>>> = match order {
            Order::OldestFirst => Box::new(rows),
            Order::NewestFirst => Box::new(rows.rev()),
        };
        // One extra row tells whether a next page exists.
        let mut items = Vec::with_capacity(request.limit.min(128) + 1);
        let mut last_seq = None;
        let mut more = false;
        let mut bytes = 0;
        for row in rows.take(request.limit + 1) {
            let (key, value) = row?;
            if items.len() == request.limit || bytes >= PAGE_BYTES {
                more = true;
                break;
            }
            bytes += value.value().len();
            last_seq = Some(key.value().1);
            items.push(T::at_seq(decode(value.value())?, key.value().1));
        }
        Ok(Page {
            items,
            next: last_seq.filter(|_| more),
        })
    }
}

/// Every account's number, in order (the keys only: no row is decoded).
pub fn account_numbers(txn: &WriteTransaction) -> Result<Vec<u64>> {
    let accounts = txn.open_table(ACCOUNTS.definition())?;
    let rows = accounts.iter()?;
    rows.map(|row| Ok(row?.0.value())).collect()
}

/// Hands out the next `seq`: store-wide, strictly increasing, never reused. (A check pass
/// keeps it in memory for its checks: `checks::CheckPass`.)
pub fn next_seq(txn: &WriteTransaction) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let seq = meta.get(NEXT_SEQ_KEY)?.map_or(1, |v| v.value());
    meta.insert(NEXT_SEQ_KEY, seq + 1)?;
    Ok(seq)
}

/// Where an owned record lives: `(account, seq)`.
pub type Location = (u64, u64);

/// Where the record with public id `id` (raw) lives, if `account` owns it.
pub fn locate(
    ids: &impl ReadableTable<u128, (u64, u64)>,
    account: AccountId,
    id: u128,
) -> Result<Option<Location>> {
    let location = ids.get(id)?.map(|v| v.value());
    Ok(location.filter(|&(owner, _)| owner == account.0))
}

/// Reads the record with public id `id` (raw) if `account` owns it, with its key.
pub fn get_owned<T: Record>(
    ids: &impl ReadableTable<u128, (u64, u64)>,
    table: &RecordTable<(u64, u64), impl ReadableTable<(u64, u64), &'static [u8]>, T>,
    account: AccountId,
    id: u128,
) -> Result<Option<(Location, T)>> {
    match locate(ids, account, id)? {
        Some(key) => Ok(table.get(key)?.map(|record| (key, record))),
        None => Ok(None),
    }
}

/// The account's check with this id, and where it is: at the seq the id carries (its
/// random bits compared in constant time), or, for an id from before format 5, where the
/// `ids` index says.
pub fn find_check(
    ids: &impl ReadableTable<u128, Location>,
    checks: &RecordTable<Location, impl ReadableTable<Location, &'static [u8]>, Check>,
    account: AccountId,
    id: CheckId,
) -> Result<Option<(Location, Check)>> {
    let Some(seq) = id.seq() else {
        return get_owned(ids, checks, account, id.raw());
    };
    let location = (account.0, seq);
    let Some(check) = checks.get(location)? else {
        return Ok(None);
    };
    let check = check.at_seq(seq);
    // Both compared whatever the first says: the answer's time tells nothing.
    let same_random = id.matches(check.id.raw());
    let same_form = check.id.seq() == Some(seq);
    Ok((same_random & same_form).then_some((location, check)))
}

// ---- records an account owns ----

/// Registers a new record's public id (raw) and returns its key `(account, seq)`.
pub fn new_location(txn: &WriteTransaction, account: AccountId, id: u128) -> Result<Location> {
    let location = (account.0, next_seq(txn)?);
    txn.open_table(IDS)?.insert(id, location)?;
    Ok(location)
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
pub fn owned<T: Record>(
    txn: &ReadTransaction,
    table: Records<(u64, u64), T>,
    account: AccountId,
    id: u128,
) -> Result<T> {
    let found = get_owned(&txn.open_table(IDS)?, &table.read(txn)?, account, id)?;
    found.map(|(_, record)| record).ok_or(StoreError::NotFound)
}
