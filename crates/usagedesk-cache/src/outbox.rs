//! The outbox: every usage data file imported here, with the sync key it answers, kept until
//! the cloud accepts it. Each file is bound to the cloud URL and the token's account it was
//! imported under, and is pushed there only. A transient failure (network, 408, 429, 5xx)
//! keeps it queued with a time before which it is not tried again; a definite refusal keeps
//! it too, marked refused with the cloud's reason, until someone retries or discards it.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::airgap::refresh_summary;
use crate::codec;
use crate::{CacheError, OutboxHandle, OutboxHandleMut, Result};

/// An imported file waiting for the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub ledger_id: i64,
    pub instance_id: String,
    pub sync_key: String,
    pub usage_data: String,
    pub binding: OutboxBinding,
}

/// The cloud and account a file was queued for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxBinding {
    /// The cloud's base URL, as the sync client normalises it.
    pub cloud_url: String,
    /// The account the token was for (`*`: every account).
    pub account_id: String,
}

/// Where a kept file stands (for the ledger and the Air-gapped view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueuedUpload {
    #[serde(flatten)]
    pub binding: OutboxBinding,
    /// Uploads tried so far.
    pub attempts: u32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// After a transient failure: not tried again before this time.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last failure, as the cloud or the network said it.
    pub last_error: Option<String>,
    /// Set when the cloud refused the file for good (the HTTP status): it waits for a retry
    /// or a discard by hand.
    pub refused_status: Option<u16>,
}

/// How many files are kept, for a status line or a confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxSummary {
    /// Queued for the cache's current cloud and account (sent on the next sync).
    pub queued: u64,
    /// Refused for good by the cloud, kept until retried or discarded.
    pub refused: u64,
    /// Queued for another cloud or account than the cache's current one, by binding: sent
    /// only when this computer syncs with that cloud and account again.
    pub elsewhere: Vec<OutboxElsewhere>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxElsewhere {
    #[serde(flatten)]
    pub binding: OutboxBinding,
    pub files: u64,
}

impl OutboxSummary {
    /// Every file kept here, whatever its state or binding.
    pub fn total(&self) -> u64 {
        self.queued + self.refused + self.elsewhere.iter().map(|e| e.files).sum::<u64>()
    }
}

fn time(t: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    t.map(codec::parse_time).transpose()
}

impl OutboxHandle<'_> {
    /// Every file kept in the outbox, oldest first, whatever its binding and state.
    pub fn items(&self) -> Result<Vec<OutboxItem>> {
        self.items_where("1", params![])
    }

    /// The files to push to `binding` now: queued (not refused), and due (no transient
    /// failure asks to wait past `now`), oldest first.
    pub fn due(&self, binding: &OutboxBinding, now: DateTime<Utc>) -> Result<Vec<OutboxItem>> {
        self.items_where(
            "o.cloud_url = ?1 AND o.account_id = ?2 AND o.refused_status IS NULL
             AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?3)",
            params![binding.cloud_url, binding.account_id, codec::time_text(now)],
        )
    }

    /// The state of the file kept for ledger entry `ledger_id` (`None`: not kept).
    pub fn queued(&self, ledger_id: i64) -> Result<Option<QueuedUpload>> {
        let row = self
            .cache
            .conn
            .prepare_cached(
                "SELECT cloud_url, account_id, attempts, last_attempt_at, next_attempt_at,
                     last_error, refused_status
                 FROM airgap_outbox WHERE ledger_id = ?1",
            )?
            .query_row([ledger_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })
            .optional()?;
        row.map(
            |(cloud_url, account_id, attempts, last, next, error, status)| {
                Ok(QueuedUpload {
                    binding: OutboxBinding {
                        cloud_url,
                        account_id,
                    },
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    last_attempt_at: time(last.as_deref())?,
                    next_attempt_at: time(next.as_deref())?,
                    last_error: error,
                    refused_status: status.and_then(|s| u16::try_from(s).ok()),
                })
            },
        )
        .transpose()
    }

    /// Counts of the kept files, against the cache's current cloud and account (`None`:
    /// the cache has no source yet, so every file counts as elsewhere).
    pub fn summary(&self, current: Option<&OutboxBinding>) -> Result<OutboxSummary> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT cloud_url, account_id, refused_status IS NOT NULL, count(*)
             FROM airgap_outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )?;
        let mut rows = st.query([])?;
        let mut out = OutboxSummary::default();
        while let Some(r) = rows.next()? {
            let binding = OutboxBinding {
                cloud_url: r.get(0)?,
                account_id: r.get(1)?,
            };
            let refused: bool = r.get(2)?;
            let n = codec::count(r.get(3)?)?;
            if refused {
                out.refused += n;
            } else if current == Some(&binding) {
                out.queued += n;
            } else {
                match out.elsewhere.last_mut() {
                    Some(e) if e.binding == binding => e.files += n,
                    _ => out.elsewhere.push(OutboxElsewhere { binding, files: n }),
                }
            }
        }
        Ok(out)
    }

    fn items_where(
        &self,
        condition: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OutboxItem>> {
        let mut st = self.cache.conn.prepare_cached(&format!(
            "SELECT o.ledger_id, l.instance_id, o.sync_key, o.usage_data, o.cloud_url, o.account_id
             FROM airgap_outbox o JOIN airgap_ledger l ON l.id = o.ledger_id
             WHERE {condition} ORDER BY o.ledger_id"
        ))?;
        let items = st
            .query_map(args, |r| {
                Ok(OutboxItem {
                    ledger_id: r.get(0)?,
                    instance_id: r.get(1)?,
                    sync_key: r.get(2)?,
                    usage_data: r.get(3)?,
                    binding: OutboxBinding {
                        cloud_url: r.get(4)?,
                        account_id: r.get(5)?,
                    },
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(items)
    }
}

impl OutboxHandleMut<'_> {
    /// The same cloud answers at a new URL (the embedded demo listens on a new port each
    /// run): files queued for `from` go to `to`.
    pub fn rebind(&mut self, from: &str, to: &str) -> Result<()> {
        if from != to {
            let tx = self.cache.write_tx()?;
            tx.execute(
                "UPDATE airgap_outbox SET cloud_url = ?2 WHERE cloud_url = ?1",
                [from, to],
            )?;
            crate::airgap::bump_generation(&tx)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The cloud accepted an imported file: it leaves the outbox, and its month-end rows
    /// are no longer pending (the cloud's rows arrive with the sync).
    pub fn mark_uploaded(&mut self, ledger_id: i64) -> Result<()> {
        let tx = self.cache.write_tx()?;
        let instance = instance_of(&tx, ledger_id)?;
        tx.execute(
            "DELETE FROM airgap_outbox WHERE ledger_id = ?1",
            [ledger_id],
        )?;
        tx.execute(
            "UPDATE airgap_ledger SET upload = 'uploaded', upload_error = NULL WHERE id = ?1",
            [ledger_id],
        )?;
        tx.execute(
            "DELETE FROM pending_month_usage WHERE ledger_id = ?1",
            [ledger_id],
        )?;
        refresh_summary(&tx, &instance)?;
        tx.commit()?;
        Ok(())
    }

    /// An upload failed in a way that may pass (network, 408, 429, 5xx): the file stays
    /// queued, and is not tried again before `retry_at`.
    pub fn mark_deferred(
        &mut self,
        ledger_id: i64,
        error: &str,
        at: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.cache.write_tx()?;
        let instance = instance_of(&tx, ledger_id)?;
        tx.execute(
            "UPDATE airgap_outbox SET attempts = attempts + 1, last_attempt_at = ?2,
                 next_attempt_at = ?3, last_error = ?4
             WHERE ledger_id = ?1",
            params![
                ledger_id,
                codec::time_text(at),
                codec::time_text(retry_at),
                error
            ],
        )?;
        refresh_summary(&tx, &instance)?;
        tx.commit()?;
        Ok(())
    }

    /// The cloud refused an imported file for good (HTTP `status`, `reason` as it said):
    /// the file stays kept, marked refused, and is not sent again until
    /// [`OutboxHandleMut::requeue`]; its values stay (marked pending, so they show as
    /// unconfirmed) and its mark no longer counts for the next sync key.
    pub fn mark_refused(
        &mut self,
        ledger_id: i64,
        status: u16,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.cache.write_tx()?;
        let instance = instance_of(&tx, ledger_id)?;
        tx.execute(
            "UPDATE airgap_outbox SET attempts = attempts + 1, last_attempt_at = ?2,
                 next_attempt_at = NULL, last_error = ?3, refused_status = ?4
             WHERE ledger_id = ?1",
            params![ledger_id, codec::time_text(at), reason, status],
        )?;
        tx.execute(
            "UPDATE airgap_ledger SET upload = 'rejected', upload_error = ?2 WHERE id = ?1",
            params![ledger_id, reason],
        )?;
        refresh_summary(&tx, &instance)?;
        tx.commit()?;
        Ok(())
    }

    /// Queues a kept file again (a refused one, or one waiting out a transient failure):
    /// the next push sends it at once. Errors when the entry keeps no file.
    pub fn requeue(&mut self, ledger_id: i64) -> Result<()> {
        let tx = self.cache.write_tx()?;
        let instance = instance_of(&tx, ledger_id)?;
        let n = tx.execute(
            "UPDATE airgap_outbox SET next_attempt_at = NULL, refused_status = NULL
             WHERE ledger_id = ?1",
            [ledger_id],
        )?;
        if n == 0 {
            return Err(not_kept(ledger_id));
        }
        tx.execute(
            "UPDATE airgap_ledger SET upload = 'pending', upload_error = NULL WHERE id = ?1",
            [ledger_id],
        )?;
        refresh_summary(&tx, &instance)?;
        tx.commit()?;
        Ok(())
    }

    /// Drops a kept file for good, on an explicit decision: the ledger keeps the entry,
    /// marked discarded by `by` at `at` (with the last reason), and its values stay shown as
    /// unconfirmed. Errors when the entry keeps no file.
    pub fn discard(&mut self, ledger_id: i64, by: &str, at: DateTime<Utc>) -> Result<()> {
        let tx = self.cache.write_tx()?;
        let instance = instance_of(&tx, ledger_id)?;
        let last_error: Option<Option<String>> = tx
            .query_row(
                "SELECT last_error FROM airgap_outbox WHERE ledger_id = ?1",
                [ledger_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(last_error) = last_error else {
            return Err(not_kept(ledger_id));
        };
        tx.execute(
            "DELETE FROM airgap_outbox WHERE ledger_id = ?1",
            [ledger_id],
        )?;
        tx.execute(
            "UPDATE airgap_ledger SET upload = 'rejected',
                 upload_error = coalesce(?2, upload_error), discarded_at = ?3, discarded_by = ?4
             WHERE id = ?1",
            params![ledger_id, last_error, codec::time_text(at), by],
        )?;
        refresh_summary(&tx, &instance)?;
        tx.commit()?;
        Ok(())
    }
}

fn instance_of(conn: &rusqlite::Connection, ledger_id: i64) -> Result<String> {
    conn.prepare_cached("SELECT instance_id FROM airgap_ledger WHERE id = ?1")?
        .query_row([ledger_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| CacheError::Invalid(format!("there is no ledger entry {ledger_id}")))
}

fn not_kept(ledger_id: i64) -> CacheError {
    CacheError::Invalid(format!(
        "ledger entry {ledger_id} keeps no file: only imports not yet accepted by the cloud \
         can be retried or discarded (see the outbox)"
    ))
}
