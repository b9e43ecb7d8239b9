//! The PostgreSQL schema's numbered migrations (`migrations/postgres/`), embedded, each run
//! once in a transaction with its version, under a session-level advisory lock so processes
//! starting together migrate once; a database of a newer schema is refused.

use sqlx::postgres::PgConnection;

use crate::storage::StoreError;

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`. Never edit one once
/// landed: add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_seat_metric.sql"),
    include_str!("../../../migrations/postgres/0003_rate_budgets.sql"),
    include_str!("../../../migrations/postgres/0004_month_feed_position.sql"),
    include_str!("../../../migrations/postgres/0005_event_feed_position.sql"),
    include_str!("../../../migrations/postgres/0006_month_rows_off_feed.sql"),
];

/// Held (per database) while migrating.
const MIGRATE_LOCK: i64 = 0x5573_6167_6544_0002;

/// The schema version this build brings a database to.
pub(super) fn known() -> i64 {
    MIGRATIONS.len() as i64
}

async fn version(conn: &mut PgConnection) -> Result<Option<i64>, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('usagedesk_schema') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM usagedesk_schema")
            .fetch_one(&mut *conn)
            .await?,
    ))
}

fn too_new(label: &str, found: i64) -> StoreError {
    StoreError::NewerSchema {
        path: label.to_owned(),
        found,
        known: known(),
    }
}

/// Brings the schema to [`known`]. An up-to-date database is only read (no lock taken).
pub(super) async fn migrate(conn: &mut PgConnection, label: &str) -> Result<(), StoreError> {
    match version(conn).await? {
        Some(v) if v == known() => return Ok(()),
        Some(v) if v > known() => return Err(too_new(label, v)),
        _ => {}
    }
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = migrate_locked(conn, label).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *conn)
        .await;
    result?;
    unlocked?;
    Ok(())
}

async fn migrate_locked(conn: &mut PgConnection, label: &str) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS usagedesk_schema (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *conn)
    .await?;
    // Read again under the lock: another process may have migrated meanwhile.
    let from = version(conn).await?.unwrap_or(0);
    if from > known() {
        return Err(too_new(label, from));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        let v = i as i64 + 1;
        let step = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO usagedesk_schema(version) VALUES ($1)")
                .bind(v)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        };
        step.await.map_err(|e| match StoreError::from(e) {
            busy @ StoreError::Unavailable(_) => busy,
            other => StoreError::other(format!("migration {v} of {label} failed: {other}")),
        })?;
        tracing::info!(
            version = v,
            database = label,
            "migrated the PostgreSQL schema"
        );
    }
    Ok(())
}
