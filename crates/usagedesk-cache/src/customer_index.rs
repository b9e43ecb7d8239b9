//! Keeps `customer_instances` and `customers` (migration 0004) true to the synced records.
//!
//! Whatever can change a customer's facts marks what it touched (`mark_*`): a license (its
//! account, its former account, and the instances under it, which may change owner), an
//! instance or its report, an account's name, a tombstone, a local usage file import.
//! [`refresh`] then recomputes exactly the marked rows, set-based, and clears the marks. It
//! runs at the end of the transaction that completes a unit of changes: the feed page that
//! catches up (the last of a sync) and each local import. Pages before it only add marks,
//! which are stored with them, so a sync that stops half-way leaves the index of the last
//! complete sync plus the marks, and its next page that catches up (or the next
//! [`crate::Cache::open`]) makes the index exact. A full sync thus indexes each customer
//! once: one pass over the instances and the licenses, not one per page touching them. A
//! cleared cache (before a full sync from scratch) has the whole index marked at once
//! ([`mark_all`]): its pages then mark nothing row by row, and the refresh rebuilds both
//! tables from empty, their sort indexes built once at the end.
//!
//! Only facts that do not depend on the time of asking are stored; those that do (expired,
//! inactive, overdue, worst status of the instances still checking in) are computed by the
//! queries in `customer_list.rs` against the `now` they are given.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Deserialize;
use usagedesk_domain::customer::{InstanceStatus, LicenseType};

use crate::codec::parse_time;
use crate::{CacheError, Result};

/// Nanoseconds since 1970, saturating outside 1677..2262 (so comparisons stay monotone).
pub(crate) fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() > 0 {
        i64::MAX
    } else {
        i64::MIN
    })
}

/// How bad a status is: Ready 0 … Missing 4 (the order the worst status is picked by).
pub fn severity(s: InstanceStatus) -> u8 {
    match s {
        InstanceStatus::Ready => 0,
        InstanceStatus::Updating => 1,
        InstanceStatus::Degraded => 2,
        InstanceStatus::Unavailable => 3,
        InstanceStatus::Missing => 4,
    }
}

/// The status of a [`severity`].
pub fn status_of_severity(s: u8) -> Option<InstanceStatus> {
    [
        InstanceStatus::Ready,
        InstanceStatus::Updating,
        InstanceStatus::Degraded,
        InstanceStatus::Unavailable,
        InstanceStatus::Missing,
    ]
    .get(usize::from(s))
    .copied()
}

/// The bit of a license type in `customers.license_types`.
pub fn license_type_bit(t: LicenseType) -> i64 {
    match t {
        LicenseType::Prod => 1,
        LicenseType::Trial => 2,
        LicenseType::Dev => 4,
        LicenseType::Community => 8,
    }
}

/// What the index reads of a stored `InstanceReport` (the rest of the body is skipped, not
/// decoded: a full sync reads 128k of them at 100k accounts).
#[derive(Deserialize)]
struct StoredReport {
    status: InstanceStatus,
    last_check_in: DateTime<Utc>,
}

/// What the index reads of a stored `License` (its features and seats are skipped).
#[derive(Deserialize)]
struct StoredLicense {
    id: String,
    license_type: LicenseType,
    expires_at: Option<DateTime<Utc>>,
}

/// Separates the parts of `customers.search`.
pub(crate) const SEARCH_SEPARATOR: char = '\u{1f}';

pub(crate) fn mark_instance(conn: &Connection, instance_id: &str) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO customer_dirty_instances (id) VALUES (?1)")?
        .execute([instance_id])?;
    Ok(())
}

/// An account's own facts changed (its name): marked if it is a customer.
pub(crate) fn mark_account(conn: &Connection, account_id: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO customer_dirty_accounts (id)
         SELECT ?1 WHERE EXISTS (SELECT 1 FROM licenses WHERE account_id = ?1)",
    )?
    .execute([account_id])?;
    Ok(())
}

/// A license is about to be stored or dropped: its account, the account that held it so
/// far, and every instance under it (which may change owner).
pub(crate) fn mark_license(conn: &Connection, license_id: &str, account_id: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO customer_dirty_accounts (id)
         SELECT ?2 UNION SELECT account_id FROM licenses WHERE id = ?1",
    )?
    .execute(params![license_id, account_id])?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO customer_dirty_instances (id)
         SELECT id FROM instances WHERE license_id = ?1",
    )?
    .execute([license_id])?;
    Ok(())
}

/// An account is about to be forgotten (tombstone): it, its instances, and the instances
/// under its licenses (they fall back to their own accounts).
pub(crate) fn mark_forgotten(conn: &Connection, account_id: &str) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO customer_dirty_accounts (id) VALUES (?1)")?
        .execute([account_id])?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO customer_dirty_instances (id)
         SELECT id FROM instances WHERE account_id = ?1
         UNION SELECT i.id FROM licenses l JOIN instances i ON i.license_id = l.id
               WHERE l.account_id = ?1",
    )?
    .execute([account_id])?;
    Ok(())
}

/// Marks the whole index (migration 0012): the next [`refresh`] indexes every instance and
/// customer, and until then [`Marks`] marks nothing row by row. For a cache about to be
/// filled from empty: a full sync.
pub(crate) fn mark_all(conn: &Connection) -> Result<()> {
    conn.execute("INSERT OR IGNORE INTO customer_dirty_all VALUES (1)", [])?;
    Ok(())
}

fn all_marked(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM customer_dirty_all)")?
        .query_row([], |r| r.get(0))?)
}

/// The marks of one transaction of the feed: row by row, or none while the whole index is
/// marked ([`mark_all`]; read once, when the transaction starts).
#[derive(Clone, Copy)]
pub(crate) struct Marks {
    all: bool,
}

impl Marks {
    pub(crate) fn read(conn: &Connection) -> Result<Self> {
        Ok(Self {
            all: all_marked(conn)?,
        })
    }

    pub(crate) fn instance(self, conn: &Connection, instance_id: &str) -> Result<()> {
        if self.all {
            return Ok(());
        }
        mark_instance(conn, instance_id)
    }

    pub(crate) fn account(self, conn: &Connection, account_id: &str) -> Result<()> {
        if self.all {
            return Ok(());
        }
        mark_account(conn, account_id)
    }

    pub(crate) fn license(
        self,
        conn: &Connection,
        license_id: &str,
        account_id: &str,
    ) -> Result<()> {
        if self.all {
            return Ok(());
        }
        mark_license(conn, license_id, account_id)
    }
}

/// Whether anything is marked (a cache migrated to schema 4 before its first refresh).
pub(crate) fn pending(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM customer_dirty_instances)
             OR EXISTS (SELECT 1 FROM customer_dirty_accounts)
             OR EXISTS (SELECT 1 FROM customer_dirty_all)",
        [],
        |r| r.get(0),
    )?)
}

/// Recomputes the marked instances and customers and clears the marks (inside the caller's
/// transaction).
pub(crate) fn refresh(conn: &Connection) -> Result<()> {
    refresh_with(conn, REBUILD_INDEXES_FROM)
}

fn refresh_with(conn: &Connection, rebuild_indexes_from: i64) -> Result<()> {
    if !pending(conn)? {
        return Ok(());
    }
    if all_marked(conn)? {
        refresh_all(conn)?;
    } else {
        refresh_instances(conn)?;
        refresh_customers(conn, rebuild_indexes_from)?;
    }
    conn.execute_batch(
        "DELETE FROM customer_dirty_instances; DELETE FROM customer_dirty_accounts;
         DELETE FROM customer_dirty_all;",
    )?;
    Ok(())
}

/// Which rows a pass writes: the marked ones, or all of them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    Marked,
    All,
}

/// Indexes every instance and customer into emptied tables, their sort indexes built once
/// at the end instead of row by row.
fn refresh_all(conn: &Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM customer_instances; DELETE FROM customers;")?;
    let indexes = usagedesk_sqlite::drop_indexes(conn, "customer_instances")?;
    write_instances(conn, Rows::All, None)?;
    indexes.restore(conn)?;
    let indexes = usagedesk_sqlite::drop_indexes(conn, "customers")?;
    write_customers(conn, Rows::All)?;
    indexes.restore(conn)?;
    Ok(())
}

fn refresh_instances(conn: &Connection) -> Result<()> {
    // The owners before: a customer that loses an instance changes too.
    conn.execute_batch(
        "INSERT OR IGNORE INTO customer_dirty_accounts (id)
             SELECT c.owner FROM customer_dirty_instances d
             JOIN customer_instances c ON c.instance_id = d.id;
         DELETE FROM customer_instances
             WHERE instance_id IN (SELECT id FROM customer_dirty_instances);",
    )?;
    // Marked once each after the pass (a customer has several instances).
    let mut owners: BTreeSet<String> = BTreeSet::new();
    write_instances(conn, Rows::Marked, Some(&mut owners))?;
    let mut owner_dirty =
        conn.prepare_cached("INSERT OR IGNORE INTO customer_dirty_accounts (id) VALUES (?1)")?;
    for owner in &owners {
        owner_dirty.execute([owner])?;
    }
    Ok(())
}

/// Writes the `customer_instances` row of `rows` instances (their old rows are gone), and
/// collects their owners into `owners`.
fn write_instances(
    conn: &Connection,
    rows: Rows,
    mut owners: Option<&mut BTreeSet<String>>,
) -> Result<()> {
    let from = match rows {
        Rows::Marked => "customer_dirty_instances d JOIN instances i ON i.id = d.id",
        Rows::All => "instances i",
    };
    let mut read = conn.prepare(&format!(
        "SELECT i.id, coalesce(l.account_id, i.account_id), i.license_id, i.airgapped,
                i.last_report_at, r.body,
                (SELECT max(g.at) FROM airgap_ledger g
                 WHERE g.instance_id = i.id AND g.event = 'usage_imported')
         FROM {from}
         LEFT JOIN licenses l ON l.id = i.license_id
         LEFT JOIN instance_reports r ON r.instance_id = i.id"
    ))?;
    let mut put = conn.prepare_cached(
        "INSERT INTO customer_instances (instance_id, owner, license_id, has_report, ready,
             severity, last_check_in, airgapped, verified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut found = read.query([])?;
    while let Some(r) = found.next()? {
        let id = r.get_ref(0)?.as_str()?;
        let owner = r.get_ref(1)?.as_str()?;
        let time = |i: usize| -> Result<Option<DateTime<Utc>>> {
            r.get_ref(i)?.as_str_or_null()?.map(parse_time).transpose()
        };
        let report: Option<StoredReport> = r
            .get_ref(5)?
            .as_str_or_null()?
            .map(|b| {
                serde_json::from_str(b)
                    .map_err(|e| CacheError::corrupt(format!("an instance report: {e}")))
            })
            .transpose()?;
        // Verified: the latest usage file, imported here or accepted by the cloud.
        let verified = [time(6)?, time(4)?].into_iter().flatten().max();
        put.execute(params![
            id,
            owner,
            r.get_ref(2)?.as_str()?,
            report.is_some(),
            report
                .as_ref()
                .is_some_and(|r| r.status == InstanceStatus::Ready),
            report.as_ref().map(|r| severity(r.status)),
            report.as_ref().map(|r| nanos(r.last_check_in)),
            r.get::<_, bool>(3)?,
            verified.map(nanos),
        ])?;
        if let Some(owners) = owners.as_deref_mut() {
            if !owners.contains(owner) {
                owners.insert(owner.to_owned());
            }
        }
    }
    Ok(())
}

/// One customer's licenses, folded as they are read.
#[derive(Default)]
struct LicenseFacts {
    name: String,
    search: String,
    types: i64,
    count: i64,
    ends: Vec<i64>,
    no_expiry: i64,
}

impl LicenseFacts {
    fn add(&mut self, l: &StoredLicense) {
        self.types |= license_type_bit(l.license_type);
        self.count += 1;
        match l.expires_at {
            Some(t) => self.ends.push(nanos(t)),
            None => self.no_expiry += 1,
        }
        self.search.push(SEARCH_SEPARATOR);
        self.search.push_str(&l.id.to_lowercase());
    }
}

/// One customer's instances, summed by SQL.
#[derive(Default)]
struct InstanceFacts {
    count: i64,
    not_ready: i64,
    airgapped: i64,
    never: i64,
    oldest: Option<i64>,
}

/// Marked customers from which [`refresh_customers`] rebuilds the sort indexes of
/// `customers` once at the end instead of updating each of them row by row (in name,
/// expiry and attention order: random places).
const REBUILD_INDEXES_FROM: i64 = 10_000;

fn refresh_customers(conn: &Connection, rebuild_indexes_from: i64) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM customers WHERE account_id IN (SELECT id FROM customer_dirty_accounts)",
    )?;
    let marked: i64 = conn.query_row("SELECT count(*) FROM customer_dirty_accounts", [], |r| {
        r.get(0)
    })?;
    // Dropped and created again from their own definitions, in this transaction.
    let indexes = if marked >= rebuild_indexes_from {
        Some(usagedesk_sqlite::drop_indexes(conn, "customers")?)
    } else {
        None
    };
    write_customers(conn, Rows::Marked)?;
    if let Some(indexes) = indexes {
        indexes.restore(conn)?;
    }
    Ok(())
}

/// Writes the row of every customer among `rows` accounts (their old rows are gone): its
/// licenses and the sums of its instances, two reads in account order merged.
fn write_customers(conn: &Connection, rows: Rows) -> Result<()> {
    // Accounts that hold a license and are in the cache; licenses of an account outside
    // this cache's view make no customer.
    let (licenses, owners) = match rows {
        Rows::Marked => (
            "SELECT d.id, a.name, l.body FROM customer_dirty_accounts d
             JOIN accounts a ON a.id = d.id
             JOIN licenses l ON l.account_id = d.id
             ORDER BY d.id, l.id",
            "WHERE owner IN (SELECT id FROM customer_dirty_accounts)",
        ),
        Rows::All => (
            "SELECT l.account_id, a.name, l.body FROM licenses l
             JOIN accounts a ON a.id = l.account_id
             ORDER BY l.account_id, l.id",
            "",
        ),
    };
    let mut sums = conn.prepare(&format!(
        "SELECT owner, count(*), coalesce(sum(1 - ready), 0), coalesce(sum(airgapped), 0),
                coalesce(sum(airgapped AND verified_at IS NULL), 0),
                min(CASE WHEN airgapped THEN verified_at END)
         FROM customer_instances {owners} GROUP BY owner ORDER BY owner"
    ))?;
    let mut sums = sums.query([])?;
    // The sums of the first owner not before the customer being read.
    let mut next_sums: Option<(String, InstanceFacts)> = None;
    let mut sums_of = |id: &str| -> Result<InstanceFacts> {
        // Owners before `id` are skipped: they hold no license among the rows.
        while next_sums
            .as_ref()
            .is_none_or(|(owner, _)| owner.as_str() < id)
        {
            let Some(r) = sums.next()? else {
                return Ok(InstanceFacts::default());
            };
            let facts = InstanceFacts {
                count: r.get(1)?,
                not_ready: r.get(2)?,
                airgapped: r.get(3)?,
                never: r.get(4)?,
                oldest: r.get(5)?,
            };
            next_sums = Some((r.get(0)?, facts));
        }
        Ok(next_sums
            .take_if(|(owner, _)| owner == id)
            .map(|(_, facts)| facts)
            .unwrap_or_default())
    };
    let mut put = conn.prepare_cached(
        "INSERT INTO customers (account_id, name, search, license_types, licenses, expiry_min,
             expiry_max, no_expiry, expiries, instances, not_ready, airgapped, airgap_never,
             airgap_oldest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    let mut write = |id: &str, f: LicenseFacts| -> Result<()> {
        let i = sums_of(id)?;
        let ends = serde_json::to_string(&f.ends)
            .map_err(|e| CacheError::Invalid(format!("cannot store license ends: {e}")))?;
        put.execute(params![
            id,
            f.name,
            f.search,
            f.types,
            f.count,
            f.ends.iter().min(),
            f.ends.iter().max(),
            f.no_expiry,
            ends,
            i.count,
            i.not_ready,
            i.airgapped,
            i.never,
            i.oldest
        ])?;
        Ok(())
    };
    let mut read = conn.prepare(licenses)?;
    let mut current: Option<(String, LicenseFacts)> = None;
    let mut found = read.query([])?;
    while let Some(r) = found.next()? {
        let id = r.get_ref(0)?.as_str()?;
        let license: StoredLicense = serde_json::from_str(r.get_ref(2)?.as_str()?)
            .map_err(|e| CacheError::corrupt(format!("a stored license: {e}")))?;
        if current.as_ref().is_none_or(|(c, _)| c != id) {
            if let Some((id, facts)) = current.take() {
                write(&id, facts)?;
            }
            let name: String = r.get(1)?;
            let search = format!(
                "{}{SEARCH_SEPARATOR}{}",
                name.to_lowercase(),
                id.to_lowercase()
            );
            current = Some((
                id.to_owned(),
                LicenseFacts {
                    name,
                    search,
                    ..Default::default()
                },
            ));
        }
        if let Some((_, facts)) = current.as_mut() {
            facts.add(&license);
        }
    }
    if let Some((id, facts)) = current.take() {
        write(&id, facts)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use usagedesk_domain::api::Change;
    use usagedesk_domain::customer::{License, LicenseFeatures};

    use super::*;
    use crate::test_support::*;
    use crate::Cache;

    fn schema_and_rows(conn: &Connection) -> (Vec<String>, Vec<String>) {
        let texts = |sql: &str| -> Vec<String> {
            let mut st = conn.prepare(sql).unwrap();
            let n = st.column_count();
            st.query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join(" | "))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
        };
        (
            texts("SELECT name, sql FROM sqlite_schema WHERE tbl_name = 'customers' ORDER BY name"),
            texts("SELECT * FROM customers ORDER BY account_id"),
        )
    }

    #[test]
    fn a_bulk_refresh_writes_the_same_rows_and_puts_back_the_indexes_it_dropped() {
        let mut cache = Cache::open_in_memory().unwrap();
        let mut changes = Vec::new();
        for n in 0..30 {
            let id = format!("c{n:02}");
            changes.push(acc(
                &id,
                &format!("Customer {}", 30 - n),
                None,
                "2023-01-01",
            ));
            for l in 0..(n % 3 + 1) {
                changes.push(Change::License(License {
                    id: format!("L-{id}-{l}"),
                    account_id: id.clone(),
                    license_type: [LicenseType::Prod, LicenseType::Trial][l % 2],
                    channel: "stable".into(),
                    created_at: now() - Duration::days(100),
                    expires_at: (l != 1).then(|| now() + Duration::days(n as i64 - 10)),
                    features: LicenseFeatures::default(),
                    seats: Default::default(),
                }));
            }
        }
        cache
            .sync_mut()
            .apply_changes(&changes, &plans(), "c1", now())
            .unwrap();
        let row_by_row = schema_and_rows(&cache.conn);
        assert_eq!(
            row_by_row.0.len(),
            4,
            "the table and its three sort indexes"
        );
        assert_eq!(row_by_row.1.len(), 30, "every account holds a license");

        cache
            .conn
            .execute_batch(
                "DELETE FROM customers;
                 INSERT INTO customer_dirty_accounts SELECT DISTINCT account_id FROM licenses;",
            )
            .unwrap();
        let tx = cache.conn.unchecked_transaction().unwrap();
        refresh_with(&tx, 1).unwrap();
        tx.commit().unwrap();
        assert_eq!(
            schema_and_rows(&cache.conn),
            row_by_row,
            "rebuilt from their own definitions, the indexes are those of the schema"
        );
        let plan: String = cache
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT account_id FROM customers ORDER BY name, account_id",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("customers_by_name"), "{plan}");
    }
}
