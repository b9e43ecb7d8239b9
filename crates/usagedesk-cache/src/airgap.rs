//! The air-gapped exchange's local state (schema in `migrations/0002_airgap.sql` and
//! `0005_airgap_outbox.sql`): instances as synced, the exchange ledger, imported daily
//! records, and the month-end rows written from imports that the cloud has not accepted yet
//! ("pending upload"). The outbox ([`crate::outbox`]) and the paged lists
//! ([`crate::airgap_page`]) have their own modules. The checks and signatures live in
//! `usagedesk-exchange`; this module only stores, in transactions that keep it consistent:
//! every write of the ledger or the outbox also refreshes the instance's row of
//! `airgap_summary` and bumps the generation readers page against.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use usagedesk_domain::airgap_api::ImportCounts;
use usagedesk_domain::{Instance, UsageCounts, YearMonth};

use crate::codec::{self, DateText};
use crate::{AirgapHandle, AirgapHandleMut, CacheError, Result};

/// What happened in one ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LedgerEvent {
    SyncKeyIssued,
    UsageImported,
}

impl LedgerEvent {
    fn as_str(self) -> &'static str {
        match self {
            Self::SyncKeyIssued => "sync_key_issued",
            Self::UsageImported => "usage_imported",
        }
    }
}

/// Where an imported file stands with the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UploadState {
    /// Imported here, pushed on the next sync.
    Pending,
    /// The cloud verified and accepted it.
    Uploaded,
    /// The cloud refused it for good (`upload_error` says why): the file stays queued here,
    /// not sent again until retried by hand or discarded; its values stay, unconfirmed, and
    /// its mark does not count for the next sync key.
    Rejected,
    /// Refused by the cloud, then discarded by hand: the file is gone from this computer.
    Discarded,
}

impl UploadState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploaded => "uploaded",
            // A discarded import stays 'rejected' in the table, with `discarded_at` set.
            Self::Rejected | Self::Discarded => "rejected",
        }
    }
}

/// One entry of the exchange ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LedgerEntry {
    /// 0 until stored.
    pub id: i64,
    pub instance_id: String,
    pub event: LedgerEvent,
    pub at: DateTime<Utc>,
    pub by: String,
    pub nonce: String,
    /// SHA-256 (hex) of the sync key issued, or of the usage data file imported.
    pub file_sha256: String,
    /// Sync keys: when they expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// The mark a sync key names, or the mark an import accepted.
    pub high_water_mark: u64,
    pub records: u64,
    pub new_records: u64,
    pub already_present: u64,
    pub changed: u64,
    /// The sync key issued, or the verification key issued for the import (armored text).
    pub document: String,
    pub upload: Option<UploadState>,
    /// Why the cloud refused the file (`upload` is `rejected`).
    pub upload_error: Option<String>,
}

/// An instance with what the ledger knows of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AirgapInstance {
    pub instance: Instance,
    /// The account's name (`None` when the account is not cached).
    pub account_name: Option<String>,
    /// The latest file imported here for it.
    pub last_import_at: Option<DateTime<Utc>>,
    /// The latest sync key issued here for it.
    pub last_sync_key_at: Option<DateTime<Utc>>,
    /// The mark to name in the next sync key: the cloud's, or a higher one imported here.
    pub high_water_mark: u64,
    /// Imports waiting to be pushed to the cloud (queued, or retrying after a transient
    /// failure).
    pub pending_uploads: u64,
    /// Imports the cloud refused for good, kept here until retried or discarded.
    pub refused_uploads: u64,
}

/// One daily record of a usage data file, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub seq: u64,
    pub account_id: String,
    pub date: NaiveDate,
    pub plan: String,
    pub counts: UsageCounts,
}

/// Stores an instance from the change feed.
pub(crate) fn upsert_instance(conn: &Connection, i: &Instance) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO instances
             (id, license_id, account_id, airgapped, public_key, high_water_mark, last_report_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET
             license_id = excluded.license_id, account_id = excluded.account_id,
             airgapped = excluded.airgapped, public_key = excluded.public_key,
             high_water_mark = excluded.high_water_mark, last_report_at = excluded.last_report_at",
    )?
    .execute(params![
        i.id,
        i.license_id,
        i.account_id,
        i.airgapped,
        i.public_key,
        stored(i.high_water_mark)?,
        i.last_report_at.map(codec::time_text),
    ])?;
    Ok(())
}

fn stored(v: u64) -> Result<i64> {
    codec::store(v).ok_or_else(|| CacheError::Invalid(format!("{v} is too large to store")))
}

const LEDGER_COLUMNS: &str = "id, instance_id, event, at, by, nonce, file_sha256, expires_at,
    high_water_mark, records, new_records, already_present, changed, document, upload,
    upload_error, discarded_at";

fn ledger_at(r: &Row<'_>) -> Result<LedgerEntry> {
    let time = |i: usize| -> Result<Option<DateTime<Utc>>> {
        r.get_ref(i)?
            .as_str_or_null()?
            .map(codec::parse_time)
            .transpose()
    };
    Ok(LedgerEntry {
        id: r.get(0)?,
        instance_id: r.get(1)?,
        event: ledger_event(r.get_ref(2)?.as_str()?)?,
        at: time(3)?.ok_or_else(|| CacheError::corrupt("a ledger entry without a time"))?,
        by: r.get(4)?,
        nonce: r.get(5)?,
        file_sha256: r.get(6)?,
        expires_at: time(7)?,
        high_water_mark: codec::count(r.get(8)?)?,
        records: codec::count(r.get(9)?)?,
        new_records: codec::count(r.get(10)?)?,
        already_present: codec::count(r.get(11)?)?,
        changed: codec::count(r.get(12)?)?,
        document: r.get(13)?,
        upload: upload_state(r.get_ref(14)?.as_str_or_null()?, time(16)?.is_some())?,
        upload_error: r.get(15)?,
    })
}

pub(crate) fn upload_state(text: Option<&str>, discarded: bool) -> Result<Option<UploadState>> {
    Ok(match text {
        None => None,
        Some("pending") => Some(UploadState::Pending),
        Some("uploaded") => Some(UploadState::Uploaded),
        Some("rejected") if discarded => Some(UploadState::Discarded),
        Some("rejected") => Some(UploadState::Rejected),
        Some(other) => return Err(CacheError::corrupt(format!("upload state '{other}'"))),
    })
}

fn insert_ledger(conn: &Connection, e: &LedgerEntry) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO airgap_ledger (instance_id, event, at, by, nonce, file_sha256, expires_at,
             high_water_mark, records, new_records, already_present, changed, document, upload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        e.instance_id,
        e.event.as_str(),
        codec::time_text(e.at),
        e.by,
        e.nonce,
        e.file_sha256,
        e.expires_at.map(codec::time_text),
        stored(e.high_water_mark)?,
        stored(e.records)?,
        stored(e.new_records)?,
        stored(e.already_present)?,
        stored(e.changed)?,
        e.document,
        e.upload.map(UploadState::as_str),
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Recomputes the `airgap_summary` row of `instance` from its ledger and outbox entries (an
/// instance has a handful; the index on `(instance_id, id)` finds them).
pub(crate) fn refresh_summary(conn: &Connection, instance: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO airgap_summary (instance_id, last_import_at, last_sync_key_at,
             imported_mark, pending_uploads, refused_uploads)
         SELECT ?1,
             max(CASE WHEN l.event = 'usage_imported' THEN l.at END),
             max(CASE WHEN l.event = 'sync_key_issued' THEN l.at END),
             max(CASE WHEN l.event = 'usage_imported' AND l.upload IS NOT 'rejected'
                      THEN l.high_water_mark END),
             count(o.ledger_id) - count(o.refused_status),
             count(o.refused_status)
         FROM airgap_ledger l LEFT JOIN airgap_outbox o ON o.ledger_id = l.id
         WHERE l.instance_id = ?1
         ON CONFLICT (instance_id) DO UPDATE SET
             last_import_at = excluded.last_import_at,
             last_sync_key_at = excluded.last_sync_key_at,
             imported_mark = excluded.imported_mark,
             pending_uploads = excluded.pending_uploads,
             refused_uploads = excluded.refused_uploads",
    )?
    .execute([instance])?;
    bump_generation(conn)
}

/// Tells readers paging through the ledger or the instances that these changed.
pub(crate) fn bump_generation(conn: &Connection) -> Result<()> {
    conn.prepare_cached("UPDATE airgap_generation SET value = value + 1 WHERE id = 1")?
        .execute([])?;
    Ok(())
}

impl AirgapHandleMut<'_> {
    /// Records a sync key issued here.
    pub fn record_sync_key(&mut self, entry: &LedgerEntry) -> Result<i64> {
        let tx = self.cache.write_tx()?;
        let id = insert_ledger(&tx, entry)?;
        refresh_summary(&tx, &entry.instance_id)?;
        tx.commit()?;
        Ok(id)
    }

    /// Stores an import in one transaction: its ledger entry, the files in the outbox (bound
    /// to the cache's cloud and account: they are pushed there and nowhere else), its
    /// records (merged by key), the month-end rows they make newer, marked pending upload,
    /// and the instance's key when none was pinned yet. Call
    /// [`SyncHandleMut::rebuild_aggregates`] afterwards. Returns the ledger id.
    pub fn commit_import(
        &mut self,
        entry: &LedgerEntry,
        sync_key: &str,
        usage_data: &str,
        records: &[ImportRecord],
        instance_key: Option<&str>,
    ) -> Result<i64> {
        let tx = self.cache.write_tx()?;
        let id = insert_ledger(&tx, entry)?;
        let cloud_url = crate::state::get(&tx, crate::state::KEY_SERVER_URL)?.unwrap_or_default();
        let account =
            crate::state::get(&tx, crate::state::KEY_SCOPE_ACCOUNT_ID)?.unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO airgap_outbox (ledger_id, sync_key, usage_data, cloud_url, account_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, sync_key, usage_data, cloud_url, account])?;
        let mut touched: BTreeMap<(String, YearMonth), ()> = BTreeMap::new();
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO airgap_records (instance_id, account_id, date, seq, plan,
                     users_registered, users_with_token, users_with_activity)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (instance_id, account_id, date) DO UPDATE SET
                     seq = excluded.seq, plan = excluded.plan,
                     users_registered = excluded.users_registered,
                     users_with_token = excluded.users_with_token,
                     users_with_activity = excluded.users_with_activity
                 WHERE excluded.seq >= airgap_records.seq",
            )?;
            for r in records {
                let c = r.counts;
                put.execute(params![
                    entry.instance_id,
                    r.account_id,
                    DateText::new(r.date).as_str(),
                    stored(r.seq)?,
                    r.plan,
                    stored(c.users_registered)?,
                    stored(c.users_with_token)?,
                    stored(c.users_with_activity)?,
                ])?;
                touched.insert((r.account_id.clone(), YearMonth::of(r.date)), ());
            }
        }
        for (account, month) in touched.keys() {
            merge_month_end(&tx, account, *month, id)?;
        }
        if let Some(key) = instance_key {
            // Pinned on first contact, here as in the cloud: later files must use this key.
            tx.execute(
                "UPDATE instances SET public_key = ?2 WHERE id = ?1 AND public_key IS NULL",
                params![entry.instance_id, key],
            )?;
        }
        refresh_summary(&tx, &entry.instance_id)?;
        // The file is the instance's latest verified report: its customer's overdue facts.
        crate::customer_index::mark_instance(&tx, &entry.instance_id)?;
        crate::customer_index::refresh(&tx)?;
        crate::health::mark_dirty(&tx)?;
        tx.commit()?;
        Ok(id)
    }
}

impl AirgapHandle<'_> {
    /// The sync key issued here with this nonce.
    pub fn sync_key_by_nonce(&self, nonce: &str) -> Result<Option<LedgerEntry>> {
        self.ledger_where("event = 'sync_key_issued' AND nonce = ?1", nonce)
    }

    /// The import of the usage data file with this SHA-256, if it was imported here.
    pub fn import_by_file(&self, sha256: &str) -> Result<Option<LedgerEntry>> {
        self.ledger_where("event = 'usage_imported' AND file_sha256 = ?1", sha256)
    }

    /// The import that answered the sync key with this nonce, if any.
    pub fn import_by_nonce(&self, nonce: &str) -> Result<Option<LedgerEntry>> {
        self.ledger_where("event = 'usage_imported' AND nonce = ?1", nonce)
    }

    /// How `records` of `instance` compare with the records imported here before (by
    /// account and date) and with the cloud's mark for the instance: a record at or below
    /// the mark is one the vendor already has.
    pub fn classify_records(
        &self,
        instance: &str,
        cloud_mark: u64,
        records: &[ImportRecord],
    ) -> Result<ImportCounts> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT plan, users_registered, users_with_token, users_with_activity
             FROM airgap_records WHERE instance_id = ?1 AND account_id = ?2 AND date = ?3",
        )?;
        let mut counts = ImportCounts {
            received: records.len() as u64,
            ..ImportCounts::default()
        };
        for r in records {
            let known = st
                .query_row(
                    params![instance, r.account_id, DateText::new(r.date).as_str()],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            (row.get(1)?, row.get(2)?, row.get(3)?),
                        ))
                    },
                )
                .optional()?;
            match known {
                Some((plan, (a, b, c))) => {
                    if plan == r.plan && codec::counts(a, b, c)? == r.counts {
                        counts.already_present += 1;
                    } else {
                        counts.changed += 1;
                    }
                }
                None if r.seq <= cloud_mark => counts.already_present += 1,
                None => counts.new += 1,
            }
        }
        Ok(counts)
    }

    /// Months of `account` whose month-end row comes from an import not yet uploaded.
    pub fn pending_months(&self, account: &str) -> Result<Vec<YearMonth>> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT month FROM pending_month_usage WHERE account_id = ?1 ORDER BY month",
        )?;
        let mut rows = st.query([account])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(codec::parse_month(r.get_ref(0)?.as_str()?)?);
        }
        Ok(out)
    }

    fn ledger_where(&self, condition: &str, value: &str) -> Result<Option<LedgerEntry>> {
        let mut st = self.cache.conn.prepare_cached(&format!(
            "SELECT {LEDGER_COLUMNS} FROM airgap_ledger WHERE {condition} ORDER BY id DESC LIMIT 1"
        ))?;
        let mut rows = st.query([value])?;
        rows.next()?.map(ledger_at).transpose()
    }
}

/// Writes the month-end row of `account` in `month` from the latest imported record when
/// it is at least as new as the row the cache holds, and marks it pending upload.
fn merge_month_end(
    conn: &Connection,
    account: &str,
    month: YearMonth,
    ledger_id: i64,
) -> Result<()> {
    let first = DateText::new(month.first_day());
    let last = DateText::new(month.last_day());
    let latest = conn
        .prepare_cached(
            "SELECT date, plan, users_registered, users_with_token, users_with_activity
             FROM airgap_records WHERE account_id = ?1 AND date >= ?2 AND date <= ?3
             ORDER BY date DESC, seq DESC LIMIT 1",
        )?
        .query_row(params![account, first.as_str(), last.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((date, plan, a, b, c)) = latest else {
        return Ok(());
    };
    let month_text = month.to_string();
    let k: Option<i64> = conn
        .prepare_cached("SELECT k FROM accounts WHERE id = ?1")?
        .query_row([account], |r| r.get(0))
        .optional()?;
    let Some(k) = k else {
        return Ok(()); // not in this cache's view: kept in airgap_records, pushed all the same
    };
    let written = conn
        .prepare_cached(
            "INSERT INTO month_usage (account_k, month, plan, snapshot_date,
                 users_registered, users_with_token, users_with_activity)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (account_k, month) DO UPDATE SET
                 plan = excluded.plan, snapshot_date = excluded.snapshot_date,
                 users_registered = excluded.users_registered,
                 users_with_token = excluded.users_with_token,
                 users_with_activity = excluded.users_with_activity
             WHERE excluded.snapshot_date >= month_usage.snapshot_date",
        )?
        .execute(params![k, month_text, plan, date, a, b, c])?;
    if written > 0 {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO pending_month_usage (account_id, month, ledger_id)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![account, month_text, ledger_id])?;
        conn.prepare_cached("INSERT OR IGNORE INTO dirty_months VALUES (?1)")?
            .execute([&month_text])?;
    }
    Ok(())
}

/// A ledger row's stored event name.
pub(crate) fn ledger_event(stored: &str) -> Result<LedgerEvent> {
    match stored {
        "sync_key_issued" => Ok(LedgerEvent::SyncKeyIssued),
        "usage_imported" => Ok(LedgerEvent::UsageImported),
        other => Err(CacheError::corrupt(format!("ledger event '{other}'"))),
    }
}
