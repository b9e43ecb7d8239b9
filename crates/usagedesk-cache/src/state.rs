//! Sync bookkeeping: key/value state and the sync log.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::codec;
use crate::{CacheError, Result, SyncHandle, SyncHandleMut, SyncLogEntry, SyncOutcome};

/// The change-feed cursor after the last applied page.
pub const KEY_CURSOR: &str = "cursor";
/// The server the cache was synced from.
pub const KEY_SERVER_URL: &str = "server_url";
/// When the feed was last read to its end.
pub const KEY_LAST_SYNCED_AT: &str = "last_synced_at";
/// When the last page was applied.
pub const KEY_LAST_APPLIED_AT: &str = "last_applied_at";
/// The account the token's view is rooted at.
pub const KEY_SCOPE_ACCOUNT_ID: &str = "scope_account_id";

pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

impl SyncHandle<'_> {
    /// A sync state value (see the `KEY_*` constants; other keys are free for the sync
    /// client's own use).
    pub fn value(&self, key: &str) -> Result<Option<String>> {
        get(&self.cache.conn, key)
    }

    /// The cursor to pass to the next change-feed request (`None`: sync from the start).
    pub fn cursor(&self) -> Result<Option<String>> {
        get(&self.cache.conn, KEY_CURSOR)
    }

    pub fn server_url(&self) -> Result<Option<String>> {
        get(&self.cache.conn, KEY_SERVER_URL)
    }

    pub fn scope_account_id(&self) -> Result<Option<String>> {
        get(&self.cache.conn, KEY_SCOPE_ACCOUNT_ID)
    }

    pub fn last_synced_at(&self) -> Result<Option<DateTime<Utc>>> {
        get(&self.cache.conn, KEY_LAST_SYNCED_AT)?
            .map(|s| codec::parse_time(&s))
            .transpose()
    }

    /// The latest `limit` sync log entries, newest first.
    pub fn log(&self, limit: usize) -> Result<Vec<SyncLogEntry>> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT id, started_at, finished_at, outcome, rows, error FROM sync_log
             ORDER BY id DESC LIMIT ?1",
        )?;
        let mut rows = st.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let started: String = r.get(1)?;
            let finished: Option<String> = r.get(2)?;
            let outcome: Option<String> = r.get(3)?;
            let outcome = match outcome {
                None => None,
                Some(s) => Some(
                    SyncOutcome::parse(&s)
                        .ok_or_else(|| CacheError::corrupt(format!("sync outcome '{s}'")))?,
                ),
            };
            out.push(SyncLogEntry {
                id: r.get(0)?,
                started_at: codec::parse_time(&started)?,
                finished_at: finished.map(|s| codec::parse_time(&s)).transpose()?,
                outcome,
                rows: codec::count(r.get(4)?)?,
                error: r.get(5)?,
            });
        }
        Ok(out)
    }
}

impl SyncHandleMut<'_> {
    pub fn set_value(&mut self, key: &str, value: &str) -> Result<()> {
        set(&self.cache.conn, key, value)
    }

    pub fn remove_value(&mut self, key: &str) -> Result<()> {
        self.cache
            .conn
            .execute("DELETE FROM sync_state WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Sets the cursor alone (pages store theirs with [`SyncHandleMut::apply_page`]).
    pub fn set_cursor(&mut self, cursor: &str) -> Result<()> {
        set(&self.cache.conn, KEY_CURSOR, cursor)
    }

    pub fn set_server_url(&mut self, url: &str) -> Result<()> {
        set(&self.cache.conn, KEY_SERVER_URL, url)
    }

    pub fn set_scope_account_id(&mut self, id: &str) -> Result<()> {
        set(&self.cache.conn, KEY_SCOPE_ACCOUNT_ID, id)
    }

    pub fn set_last_synced_at(&mut self, at: DateTime<Utc>) -> Result<()> {
        set(&self.cache.conn, KEY_LAST_SYNCED_AT, &codec::time_text(at))
    }

    /// Records the start of a sync; pass the id to [`SyncHandleMut::finish_log`].
    pub fn start_log(&mut self, started_at: DateTime<Utc>) -> Result<i64> {
        self.cache.conn.execute(
            "INSERT INTO sync_log (started_at) VALUES (?1)",
            [codec::time_text(started_at)],
        )?;
        Ok(self.cache.conn.last_insert_rowid())
    }

    /// Records how a sync ended: `rows` changes applied, `error` the message shown to the
    /// user when it failed.
    pub fn finish_log(
        &mut self,
        id: i64,
        finished_at: DateTime<Utc>,
        outcome: SyncOutcome,
        rows: u64,
        error: Option<&str>,
    ) -> Result<()> {
        let n = self.cache.conn.execute(
            "UPDATE sync_log SET finished_at = ?2, outcome = ?3, rows = ?4, error = ?5
             WHERE id = ?1",
            params![
                id,
                codec::time_text(finished_at),
                outcome.as_str(),
                i64::try_from(rows).unwrap_or(i64::MAX),
                error
            ],
        )?;
        if n == 0 {
            return Err(CacheError::corrupt(format!(
                "sync log entry {id} does not exist (the cache was cleared during the sync?)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cache;
    use chrono::TimeZone;

    #[test]
    fn sync_state_round_trips() {
        let mut c = Cache::open_in_memory().unwrap();
        assert_eq!(
            c.sync().cursor().unwrap(),
            None,
            "a new cache syncs from the start"
        );
        c.sync_mut().set_cursor("c-1").unwrap();
        c.sync_mut()
            .set_server_url("https://usage.example.com")
            .unwrap();
        c.sync_mut().set_scope_account_id("root").unwrap();
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 8, 30, 0).unwrap();
        c.sync_mut().set_last_synced_at(t).unwrap();
        assert_eq!(c.sync().cursor().unwrap().as_deref(), Some("c-1"));
        assert_eq!(
            c.sync().server_url().unwrap().as_deref(),
            Some("https://usage.example.com")
        );
        assert_eq!(
            c.sync().scope_account_id().unwrap().as_deref(),
            Some("root")
        );
        assert_eq!(c.sync().last_synced_at().unwrap(), Some(t));
        c.sync_mut().set_value("etag", "x").unwrap();
        c.sync_mut().remove_value("etag").unwrap();
        assert_eq!(c.sync().value("etag").unwrap(), None);
    }

    #[test]
    fn sync_log_records_start_and_end_newest_first() {
        let mut c = Cache::open_in_memory().unwrap();
        let t0 = Utc.with_ymd_and_hms(2024, 6, 1, 8, 0, 0).unwrap();
        let a = c.sync_mut().start_log(t0).unwrap();
        c.sync_mut()
            .finish_log(
                a,
                t0 + chrono::Duration::seconds(3),
                SyncOutcome::Succeeded,
                42,
                None,
            )
            .unwrap();
        let b = c
            .sync_mut()
            .start_log(t0 + chrono::Duration::hours(1))
            .unwrap();
        let log = c.sync().log(10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].id, b, "newest first");
        assert_eq!(
            log[0].outcome, None,
            "a sync that has not ended has no outcome"
        );
        assert_eq!(log[1].outcome, Some(SyncOutcome::Succeeded));
        assert_eq!(log[1].rows, 42);
        assert_eq!(log[1].started_at, t0);
        c.sync_mut()
            .finish_log(b, t0, SyncOutcome::Failed, 0, Some("server unreachable"))
            .unwrap();
        assert_eq!(
            c.sync().log(1).unwrap()[0].error.as_deref(),
            Some("server unreachable")
        );
        assert!(c
            .sync_mut()
            .finish_log(999, t0, SyncOutcome::Failed, 0, None)
            .is_err());
    }
}
