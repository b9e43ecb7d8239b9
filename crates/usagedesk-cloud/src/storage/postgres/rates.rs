//! Request budgets shared by the processes on one database ([`SharedBudgets`]): one row per
//! key in `rate_budgets`, spent by one statement on the database's clock, outside the write
//! lock (a budget has no place in the change feed, and a long load must not hold up requests).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;

use super::PgStorage;
use crate::limits::RateLimit;
use crate::storage::{Budget, StoreError};

/// How often a process deletes the rows whose budget is full again.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// When this process last swept `rate_budgets`.
pub(super) struct Sweep(Mutex<Option<Instant>>);

impl Sweep {
    pub(super) fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Whether a sweep is due now (and, if so, counts it as done).
    fn due(&self) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < SWEEP_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `limit`'s interval and tolerance (how far ahead of now a key's budget may be spent: the
/// burst minus one request), in microseconds.
fn bounds(limit: &RateLimit) -> (i64, i64) {
    let interval = limit.interval();
    let tolerance = interval.saturating_mul(limit.burst.saturating_sub(1));
    (micros(interval), micros(tolerance))
}

/// How long until `key` may send again, in microseconds (0 or less: now); `None` for a key
/// with no row (a full budget).
async fn wait(
    conn: &mut PgConnection,
    key: &str,
    tolerance: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(EXTRACT(EPOCH FROM (full_at - $2 * INTERVAL '1 microsecond'
                                         - clock_timestamp())) * 1000000 AS BIGINT)
         FROM rate_budgets WHERE key = $1",
    )
    .bind(key)
    .bind(tolerance)
    .fetch_optional(&mut *conn)
    .await?)
}

fn verdict(wait: Option<i64>) -> Budget {
    match wait {
        Some(us) if us > 0 => Budget::Denied(Duration::from_micros(us as u64)),
        _ => Budget::Allowed,
    }
}

pub(super) async fn spend(
    conn: &mut PgConnection,
    key: &str,
    limit: &RateLimit,
    sweep: &Sweep,
) -> Result<Budget, StoreError> {
    if sweep.due() {
        sqlx::query("DELETE FROM rate_budgets WHERE full_at < clock_timestamp()")
            .execute(&mut *conn)
            .await?;
    }
    let (interval, tolerance) = bounds(limit);
    // One statement, so two processes spending one key at once are counted in turn (the
    // row lock of the upsert). No row comes back when the key is over budget.
    let spent: Option<i32> = sqlx::query_scalar(
        "INSERT INTO rate_budgets AS b (key, full_at)
         VALUES ($1, clock_timestamp() + $2 * INTERVAL '1 microsecond')
         ON CONFLICT (key) DO UPDATE
             SET full_at = GREATEST(b.full_at, clock_timestamp()) + $2 * INTERVAL '1 microsecond'
             WHERE b.full_at - $3 * INTERVAL '1 microsecond' <= clock_timestamp()
         RETURNING 1",
    )
    .bind(key)
    .bind(interval)
    .bind(tolerance)
    .fetch_optional(&mut *conn)
    .await?;
    if spent.is_some() {
        return Ok(Budget::Allowed);
    }
    // Over budget; a wait of 0 here means the budget came back in between: try once more
    // later rather than loop.
    Ok(match wait(conn, key, tolerance).await? {
        Some(us) if us > 0 => Budget::Denied(Duration::from_micros(us as u64)),
        _ => Budget::Denied(Duration::from_millis(1)),
    })
}

pub(super) async fn peek(
    conn: &mut PgConnection,
    key: &str,
    limit: &RateLimit,
) -> Result<Budget, StoreError> {
    let (_, tolerance) = bounds(limit);
    Ok(verdict(wait(conn, key, tolerance).await?))
}

impl crate::storage::SharedBudgets for PgStorage {
    fn spend(&self, key: &str, limit: &RateLimit) -> Result<Budget, StoreError> {
        self.run(async {
            let mut conn = self.pool.acquire().await?;
            spend(&mut conn, key, limit, &self.sweep).await
        })
    }

    fn peek(&self, key: &str, limit: &RateLimit) -> Result<Budget, StoreError> {
        self.run(async {
            let mut conn = self.pool.acquire().await?;
            peek(&mut conn, key, limit).await
        })
    }
}
