//! Sizes and clearing.

use crate::{Cache, CacheStats, Result};

impl Cache {
    /// Row counts and the database size.
    /// Kept until the database changes, through this handle or any other: counting two
    /// million month rows took 21-24 ms, and the app asks for its status at every launch.
    pub fn stats(&self) -> Result<CacheStats> {
        let state = self.db_state()?;
        if let Some((at, stats)) = *self.stats_memo.borrow() {
            if at == state {
                return Ok(stats);
            }
        }
        let stats = self.count_stats()?;
        *self.stats_memo.borrow_mut() = Some((state, stats));
        Ok(stats)
    }

    /// What this handle has seen of the database: another handle's commits
    /// (`PRAGMA data_version`) and its own changes (SQLite's `total_changes`).
    pub(crate) fn db_state(&self) -> Result<(i64, u64)> {
        let version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        Ok((version, self.conn.total_changes()))
    }

    fn count_stats(&self) -> Result<CacheStats> {
        let count = |table: &str| -> Result<u64> {
            let n: i64 =
                self.conn
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            crate::codec::count(n)
        };
        let page_count: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(CacheStats {
            accounts: count("accounts")?,
            month_rows: count("month_usage")?,
            pending_rows: crate::codec::count(self.conn.query_row(
                "SELECT coalesce(sum(rows), 0) FROM staged_pages",
                [],
                |r| r.get(0),
            )?)?,
            aggregate_rows: count("subtree_month")? + count("subtree_plan")?,
            dirty_months: count("dirty_months")?,
            db_bytes: crate::codec::count(page_count.saturating_mul(page_size))?,
        })
    }

    /// Deletes all synced data (accounts, usage, aggregates, plans, sync state and log) and
    /// keeps the schema: the next sync starts from the beginning. What this computer did
    /// itself stays: the exchange ledger, the imported records and the outbox of files not
    /// yet accepted by the cloud (each bound to its cloud and account, so it is pushed
    /// there only, when this computer syncs with them again).
    pub fn clear(&mut self) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute_batch(
            "DELETE FROM month_usage;
             DELETE FROM staged_pages;
             DELETE FROM accounts;
             DELETE FROM subtree_month;
             DELETE FROM subtree_plan;
             DELETE FROM months;
             DELETE FROM dirty_months;
             DELETE FROM plans;
             DELETE FROM sync_state;
             DELETE FROM sync_log;
             DELETE FROM instances;
             DELETE FROM pending_month_usage;
             DELETE FROM licenses;
             DELETE FROM instance_reports;
             DELETE FROM instance_events;
             DELETE FROM install_attempts;
             DELETE FROM ent_licenses;
             DELETE FROM ent_seats;
             DELETE FROM ent_cover;
             DELETE FROM ent_used;
             DELETE FROM ent_over;
             DELETE FROM ent_dirty;
             DELETE FROM health;
             DELETE FROM health_renewals;
             DELETE FROM health_state;
             INSERT OR IGNORE INTO health_dirty VALUES (1);",
        )?;
        // Whatever fills it next is indexed in one pass at its end.
        crate::customer_index::mark_all(&tx)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;
    use crate::Cache;

    #[test]
    fn stats_count_rows_and_clear_keeps_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(dir.path().join("c.sqlite")).unwrap();
        sync(
            &mut cache,
            &[
                acc("r", "R", None, "2023-01-01"),
                acc("a", "A", Some("r"), "2023-01-01"),
                acc("a1", "A1", Some("a"), "2023-01-01"),
                usage("a1", "2024-01", "basic", 3),
                usage("r", "2024-01", "premium", 3),
            ],
            "c1",
        );
        let s = cache.stats().unwrap();
        assert_eq!((s.accounts, s.month_rows, s.pending_rows), (3, 2, 0));
        assert_eq!(
            s.aggregate_rows, 3,
            "r (it has a grandchild): its month row and two plan rows; a and a1 have none"
        );
        assert!(s.db_bytes > 0);
        cache.clear().unwrap();
        let s = cache.stats().unwrap();
        assert_eq!((s.accounts, s.month_rows, s.aggregate_rows), (0, 0, 0));
        assert_eq!(
            cache.sync().cursor().unwrap(),
            None,
            "the next sync starts over"
        );
        sync(&mut cache, &[acc("r", "R", None, "2023-01-01")], "c2");
        assert_eq!(
            cache.stats().unwrap().accounts,
            1,
            "the schema is still there"
        );
    }

    #[test]
    fn stats_are_read_again_after_another_handle_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let mut writer = Cache::open(&path).unwrap();
        let reader = Cache::open(&path).unwrap();
        sync(&mut writer, &[acc("r", "R", None, "2023-01-01")], "c1");
        assert_eq!(reader.stats().unwrap().accounts, 1);
        assert_eq!(reader.stats().unwrap().accounts, 1, "the same, kept");
        sync(
            &mut writer,
            &[
                acc("a", "A", Some("r"), "2023-01-01"),
                usage("a", "2024-01", "basic", 3),
            ],
            "c2",
        );
        // The reader changed nothing itself: only `data_version` tells it.
        let s = reader.stats().unwrap();
        assert_eq!((s.accounts, s.month_rows), (2, 1));
    }
}
