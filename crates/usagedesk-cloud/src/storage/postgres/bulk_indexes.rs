//! Indexes dropped for a bulk write into empty tables and built again afterwards, as
//! PostgreSQL's "Populating a Database" advises: one sort per index instead of a descent of
//! the B-tree per row. Measured on the 100k-account dataset (when month rows still had feed
//! entries): the feed's 3.2M entries went in in 2.1 s without indexes against 9.1 s with
//! them, and its `(account_id, kind, key)` index built in 2.9 s (and half the size: inserts
//! in random key order leave pages half full).
//!
//! Everything happens inside the caller's transaction: a failure anywhere rolls the drop back
//! with the rest. Dropping needs the tables' exclusive lock until the transaction ends, so
//! readers of those tables in other sessions wait for the commit instead of reading the
//! tables' state before it; callers use this only where the bulk write dwarfs what the
//! tables held (a first load's 4M daily and 2M month rows into empty tables; the very first
//! load's 1M feed entries). The lock is
//! taken first by [`lock_exclusive`], which waits a bounded time: a long reader (a `pg_dump`)
//! makes the caller write row by row instead of stalling every request queued behind it.
//! Key constraints (primary keys, unique) are dropped and added again under their own names;
//! tables that another table's foreign key references cannot be used here.
//!
//! Foreign keys are dropped the same way ([`drop_foreign_keys_if_alone`]) where a first load
//! copies rows it checked itself: each row's check is a lookup in the referenced table
//! (128k instances copied in 1.1 s with theirs), while adding the key back checks every row
//! in one join.

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::storage::StoreError;

/// How long [`lock_exclusive`] waits for the tables.
const LOCK_WAIT: &str = "2s";

/// Takes the exclusive locks of `tables`, in the order given, waiting at most [`LOCK_WAIT`].
/// `false`, with nothing taken and the transaction usable, when another session holds one of
/// them that long, or waits for a table this transaction holds (a deadlock, which PostgreSQL
/// reports after its `deadlock_timeout`, 1 s by default).
async fn lock_exclusive(conn: &mut PgConnection, tables: &[&str]) -> Result<bool, StoreError> {
    sqlx::raw_sql(&format!(
        "SAVEPOINT bulk_lock; SET LOCAL lock_timeout = '{LOCK_WAIT}'"
    ))
    .execute(&mut *conn)
    .await?;
    let lock = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", tables.join(", "));
    match sqlx::raw_sql(&lock).execute(&mut *conn).await {
        Ok(_) => {
            sqlx::raw_sql("SET LOCAL lock_timeout = 0; RELEASE SAVEPOINT bulk_lock")
                .execute(&mut *conn)
                .await?;
            Ok(true)
        }
        // lock_not_available, or deadlock_detected (a session holding one of the tables
        // waits for one this transaction holds): undone with its savepoint (the timeout too).
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("55P03") | Some("40P01")) =>
        {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT bulk_lock; RELEASE SAVEPOINT bulk_lock")
                .execute(&mut *conn)
                .await?;
            tracing::info!(
                "{} are in use by another session: this load keeps their indexes and keys and writes row by row",
                tables.join(", ")
            );
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`drop_indexes`] of `tables` once [`lock_exclusive`] had them; `None` (nothing dropped, the
/// transaction usable) when another session held one of them.
pub(super) async fn drop_indexes_if_alone(
    conn: &mut PgConnection,
    tables: &[&str],
) -> Result<Option<Dropped>, StoreError> {
    if !lock_exclusive(conn, tables).await? {
        return Ok(None);
    }
    Ok(Some(drop_indexes(conn, tables).await?))
}

/// The foreign keys of `tables` dropped once [`lock_exclusive`] had `tables`, which must hold
/// every table the keys reference (dropping a key changes both ends); `None` (nothing
/// dropped, the transaction usable) when another session held one of them. Before the
/// transaction writes any of them: a deferred key's pending checks would refuse the drop.
pub(super) async fn drop_foreign_keys_if_alone(
    conn: &mut PgConnection,
    tables: &[&str],
) -> Result<Option<Dropped>, StoreError> {
    if !lock_exclusive(conn, tables).await? {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
                format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                       pg_get_constraintdef(c.oid)),
                c.confrelid <> ALL($1::text[]::regclass[])
         FROM pg_constraint c
         WHERE c.conrelid = ANY($1::text[]::regclass[]) AND c.contype = 'f'
         ORDER BY c.conname",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    // A key to a table outside the list would change a table not locked: keep every key.
    for r in &rows {
        if r.try_get::<bool, _>(2)? {
            tracing::warn!(
                "a foreign key of {} references a table outside them: this load checks the keys row by row",
                tables.join(", ")
            );
            return Ok(None);
        }
    }
    Ok(Some(drop_each(conn, &rows).await?))
}

/// What [`drop_indexes`] removed: the statements that make it again, in order.
#[must_use = "the indexes are gone until `restore` runs"]
pub(super) struct Dropped {
    restore: Vec<String>,
}

/// Drops every index and key constraint of `tables` (names in the current schema).
pub(super) async fn drop_indexes(
    conn: &mut PgConnection,
    tables: &[&str],
) -> Result<Dropped, StoreError> {
    // Key constraints first (their indexes go with them), then the other indexes.
    let rows = sqlx::query(
        "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
                format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                       pg_get_constraintdef(c.oid))
         FROM pg_constraint c
         WHERE c.conrelid = ANY($1::text[]::regclass[]) AND c.contype IN ('p', 'u')
         UNION ALL
         SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
         FROM pg_index i
         WHERE i.indrelid = ANY($1::text[]::regclass[])
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    drop_each(conn, &rows).await
}

/// Runs each row's statement that drops (column 0) and keeps the one that makes it again
/// (column 1).
async fn drop_each(conn: &mut PgConnection, rows: &[PgRow]) -> Result<Dropped, StoreError> {
    let mut restore = Vec::with_capacity(rows.len());
    for r in rows {
        let drop: String = r.try_get(0)?;
        sqlx::raw_sql(&drop).execute(&mut *conn).await?;
        restore.push(r.try_get(1)?);
    }
    Ok(Dropped { restore })
}

impl Dropped {
    /// Builds every dropped index again (a key constraint checks its rows as it is built: a
    /// duplicate fails the transaction as a conflict).
    pub(super) async fn restore(self, conn: &mut PgConnection) -> Result<(), StoreError> {
        for sql in &self.restore {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::postgres::fence_tests::{fresh, from_env};

    /// Every index of `tables` and every key constraint, as the server describes them.
    async fn definitions(conn: &mut PgConnection, tables: &[&str]) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
             WHERE i.indrelid = ANY($1::text[]::regclass[])
             UNION ALL
             SELECT c.conname || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c
             WHERE c.conrelid = ANY($1::text[]::regclass[]) AND c.contype IN ('p', 'u')
             ORDER BY 1",
        )
        .bind(tables)
        .fetch_all(&mut *conn)
        .await
        .expect("definitions")
    }

    #[test]
    fn dropped_indexes_and_keys_come_back_as_they_were() {
        let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "bulk index test") else {
            return;
        };
        let storage = fresh(&server);
        let tables = ["feed", "month_usage", "daily_usage"];
        storage
            .run(async {
                let mut tx = storage.pool.begin().await?;
                let before = definitions(&mut tx, &tables).await;
                // The migrations' five indexes, four of them keys: feed (seq; account, kind,
                // key), month rows (account, month; seq, a unique index), daily rows
                // (account, date).
                assert_eq!(before.len(), 5 + 4, "{before:#?}");
                let dropped = drop_indexes(&mut tx, &tables).await?;
                assert!(
                    definitions(&mut tx, &tables).await.is_empty(),
                    "nothing is left to maintain row by row"
                );
                dropped.restore(&mut tx).await?;
                assert_eq!(
                    definitions(&mut tx, &tables).await,
                    before,
                    "the same names and definitions"
                );
                // Rows a key would refuse are accepted meanwhile, and refused when it is built
                // again: the restore checks what was written without it.
                let again = drop_indexes(&mut tx, &tables).await?;
                sqlx::raw_sql(
                    "INSERT INTO daily_usage VALUES ('a', '2024-01-01', 'p', 1, 1, 1),
                                                    ('a', '2024-01-01', 'p', 2, 2, 2)",
                )
                .execute(&mut *tx)
                .await?;
                let refused = again.restore(&mut tx).await;
                assert!(
                    matches!(refused, Err(StoreError::Conflict(_))),
                    "a duplicate key fails the restore as a conflict: {:?}",
                    refused.err()
                );
                Ok::<_, StoreError>(())
            })
            .expect("a real server");
    }
}
