//! Storage of account health and the renewal calendar (`migrations/0007_health.sql`,
//! `docs/health.md`). The scores are computed by `usagedesk-health` from the facts streamed by
//! `health_stage.rs`, as of one UTC day, staged there and merged here in one transaction
//! ([`HealthHandleMut::commit_staged`]); the list and the calendar are then paged in SQL from
//! those tables. Every change a sync or an
//! import writes marks them as lagging ([`mark_dirty`], in the same transaction), so they are
//! recomputed before they are read again.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::health_stage::Staged;
use crate::{CacheError, HealthHandle, HealthHandleMut, Page, Result};

/// The largest page of the health list and the calendar.
pub const MAX_HEALTH_PAGE: usize = 500;

/// The sortable factor columns, in the order of `usagedesk_health::Factor::ALL`.
pub const HEALTH_FACTOR_COLUMNS: [&str; 6] = [
    "f_usage_trend",
    "f_utilization",
    "f_instance_status",
    "f_version_lag",
    "f_license_expiry",
    "f_reporting_freshness",
];

/// One customer's row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthRecord {
    pub account_id: String,
    pub name: String,
    pub score: u32,
    /// Each factor's score (`None`: no data), in [`HEALTH_FACTOR_COLUMNS`] order.
    pub factor_scores: [Option<f64>; 6],
    /// The factors, JSON (the health crate's `FactorScore` array).
    pub factors_json: String,
}

/// One license that ends, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalRecord {
    pub license_id: String,
    pub account_id: String,
    pub license_type: String,
    pub expires_at: String,
    pub seats: u64,
    pub used: u64,
    pub forecast: Option<f64>,
    pub forecast_over: bool,
    pub plans_json: String,
}

/// A row of the calendar: the license with its customer's name and score.
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalListRow {
    pub renewal: RenewalRecord,
    pub account_name: String,
    pub score: Option<u32>,
}

/// One instance's facts for the health factors.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthInstanceFacts {
    /// Ready 0 … Missing 4 (`None`: never checked in).
    pub severity: Option<u8>,
    /// ns since 1970.
    pub last_check_in: Option<i64>,
    pub verified_at: Option<i64>,
    pub app_version: Option<String>,
    pub channel: Option<String>,
}

/// Marks health as lagging behind the data (inside the caller's write transaction).
pub(crate) fn mark_dirty(conn: &Connection) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO health_dirty VALUES (1)")?
        .execute([])?;
    Ok(())
}

fn record(r: &Row<'_>) -> rusqlite::Result<HealthRecord> {
    Ok(HealthRecord {
        account_id: r.get(0)?,
        name: r.get(1)?,
        score: r.get::<_, i64>(2)?.clamp(0, 100) as u32,
        factor_scores: [
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ],
        factors_json: r.get(9)?,
    })
}

const RENEWAL_SELECT: &str = "SELECT r.license_id, r.account_id, r.license_type, r.expires_at,
        r.seats, r.used, r.forecast, r.forecast_over, r.plans,
        coalesce(h.name, a.name, r.account_id), h.score
    FROM health_renewals r
    LEFT JOIN health h ON h.account_id = r.account_id
    LEFT JOIN accounts a ON a.id = r.account_id";

fn renewal_row(r: &Row<'_>) -> rusqlite::Result<RenewalListRow> {
    Ok(RenewalListRow {
        renewal: RenewalRecord {
            license_id: r.get(0)?,
            account_id: r.get(1)?,
            license_type: r.get(2)?,
            expires_at: r.get(3)?,
            seats: r.get::<_, i64>(4)?.max(0) as u64,
            used: r.get::<_, i64>(5)?.max(0) as u64,
            forecast: r.get(6)?,
            forecast_over: r.get(7)?,
            plans_json: r.get(8)?,
        },
        account_name: r.get(9)?,
        score: r.get::<_, Option<i64>>(10)?.map(|s| s.clamp(0, 100) as u32),
    })
}

pub(crate) const HEALTH_COLUMNS: &str = "account_id, name, score, f_usage_trend, f_utilization,
    f_instance_status, f_version_lag, f_license_expiry, f_reporting_freshness, factors";

/// Merges the new rows (`temp.new_health`) into the stored table: rows gone are deleted, new
/// ones inserted, changed ones updated (`IS NOT`: NULL-safe).
const MERGE_HEALTH: &str = "
DELETE FROM main.health
WHERE account_id NOT IN (SELECT account_id FROM temp.new_health);
INSERT INTO main.health (account_id, name, score, f_usage_trend, f_utilization,
        f_instance_status, f_version_lag, f_license_expiry, f_reporting_freshness, factors)
SELECT account_id, name, score, f_usage_trend, f_utilization, f_instance_status,
       f_version_lag, f_license_expiry, f_reporting_freshness, factors
FROM temp.new_health WHERE true
ON CONFLICT (account_id) DO UPDATE SET
    name = excluded.name, score = excluded.score,
    f_usage_trend = excluded.f_usage_trend, f_utilization = excluded.f_utilization,
    f_instance_status = excluded.f_instance_status, f_version_lag = excluded.f_version_lag,
    f_license_expiry = excluded.f_license_expiry,
    f_reporting_freshness = excluded.f_reporting_freshness, factors = excluded.factors
WHERE name IS NOT excluded.name OR score IS NOT excluded.score
   OR f_usage_trend IS NOT excluded.f_usage_trend OR f_utilization IS NOT excluded.f_utilization
   OR f_instance_status IS NOT excluded.f_instance_status
   OR f_version_lag IS NOT excluded.f_version_lag
   OR f_license_expiry IS NOT excluded.f_license_expiry
   OR f_reporting_freshness IS NOT excluded.f_reporting_freshness
   OR factors IS NOT excluded.factors;
";

/// [`MERGE_HEALTH`] of `temp.new_renewals` into `health_renewals`.
const MERGE_RENEWALS: &str = "
DELETE FROM main.health_renewals
WHERE license_id NOT IN (SELECT license_id FROM temp.new_renewals);
INSERT INTO main.health_renewals (license_id, account_id, license_type, expires_at, seats,
        used, forecast, forecast_over, plans)
SELECT license_id, account_id, license_type, expires_at, seats, used, forecast,
       forecast_over, plans
FROM temp.new_renewals WHERE true
ON CONFLICT (license_id) DO UPDATE SET
    account_id = excluded.account_id, license_type = excluded.license_type,
    expires_at = excluded.expires_at, seats = excluded.seats, used = excluded.used,
    forecast = excluded.forecast, forecast_over = excluded.forecast_over,
    plans = excluded.plans
WHERE account_id IS NOT excluded.account_id OR license_type IS NOT excluded.license_type
   OR expires_at IS NOT excluded.expires_at OR seats IS NOT excluded.seats
   OR used IS NOT excluded.used OR forecast IS NOT excluded.forecast
   OR forecast_over IS NOT excluded.forecast_over OR plans IS NOT excluded.plans;
";

/// The rows [`MERGE_HEALTH`] inserts, changes or deletes, and the rows of `temp.new_health`.
const CHANGED_HEALTH: &str = "
SELECT count(*) FILTER (WHERE h.account_id IS NULL
           OR (h.name, h.score, h.f_usage_trend, h.f_utilization, h.f_instance_status,
               h.f_version_lag, h.f_license_expiry, h.f_reporting_freshness, h.factors)
              IS NOT (n.name, n.score, n.f_usage_trend, n.f_utilization, n.f_instance_status,
               n.f_version_lag, n.f_license_expiry, n.f_reporting_freshness, n.factors)),
       count(*)
         + (SELECT count(*) FROM main.health
            WHERE account_id NOT IN (SELECT account_id FROM temp.new_health)),
       count(*)
FROM temp.new_health n LEFT JOIN main.health h ON h.account_id = n.account_id";

/// [`CHANGED_HEALTH`] of `temp.new_renewals`.
const CHANGED_RENEWALS: &str = "
SELECT count(*) FILTER (WHERE h.license_id IS NULL
           OR (h.account_id, h.license_type, h.expires_at, h.seats, h.used, h.forecast,
               h.forecast_over, h.plans)
              IS NOT (n.account_id, n.license_type, n.expires_at, n.seats, n.used, n.forecast,
               n.forecast_over, n.plans)),
       count(*)
         + (SELECT count(*) FROM main.health_renewals
            WHERE license_id NOT IN (SELECT license_id FROM temp.new_renewals)),
       count(*)
FROM temp.new_renewals n LEFT JOIN main.health_renewals h ON h.license_id = n.license_id";

/// Changed rows from which a merge drops the table's secondary indexes and creates them again
/// after it: one sort per index instead of an update of every index per changed row. A day's
/// new scores change most rows (days to expiry, days since the last report): at 100,000
/// customers the merge into `health` and its seven indexes took 4.5 s with them kept up to
/// date, 1.2 s with them created again.
const REBUILD_INDEXES_FROM: i64 = 1_000;

/// Runs `merge` into `table`; `changed` counts the rows it writes, and all new rows. Dropping
/// an index drops its statistics too (`sqlite_stat1`): a rebuild analyzes the table again
/// (80 ms for `health` at 100,000 customers).
fn merge(conn: &rusqlite::Connection, table: &str, changed: &str, merge: &str) -> Result<()> {
    let (changed, total): (i64, i64) =
        conn.query_row(changed, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let rebuild = changed >= REBUILD_INDEXES_FROM && changed.saturating_mul(8) >= total;
    let dropped = if rebuild {
        Some(usagedesk_sqlite::drop_indexes(conn, table)?)
    } else {
        None
    };
    conn.execute_batch(merge)?;
    if let Some(dropped) = dropped {
        dropped.restore(conn)?;
        conn.execute_batch(&format!("ANALYZE {table}"))?;
    }
    Ok(())
}

impl HealthHandle<'_> {
    /// The day the health tables were computed for, when they are current (`None`: they lag
    /// behind the data, or were never computed).
    pub fn as_of(&self) -> Result<Option<NaiveDate>> {
        let row: Option<(String, bool)> = self
            .cache
            .conn
            .query_row(
                "SELECT as_of, EXISTS (SELECT 1 FROM health_dirty) FROM health_state",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((day, false)) => {
                Ok(Some(day.parse().map_err(|_| {
                    CacheError::corrupt(format!("health day '{day}'"))
                })?))
            }
            _ => Ok(None),
        }
    }

    /// The day the stored health tables were last computed for, current or not.
    pub fn computed_for(&self) -> Result<Option<NaiveDate>> {
        let day: Option<String> = self
            .cache
            .conn
            .query_row("SELECT as_of FROM health_state", [], |r| r.get(0))
            .optional()?;
        day.map(|d| {
            d.parse()
                .map_err(|_| CacheError::corrupt(format!("health day '{d}'")))
        })
        .transpose()
    }

    /// One page of the customers by score (`factor`: by that factor's score, index into
    /// [`HEALTH_FACTOR_COLUMNS`]), lowest first or, `descending`, highest first; ties by
    /// name then account id; customers without data for the factor last, by name.
    pub fn page(
        &self,
        factor: Option<usize>,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Page<HealthRecord>> {
        let limit = limit.clamp(1, MAX_HEALTH_PAGE);
        let column = match factor {
            None => "score",
            Some(i) => HEALTH_FACTOR_COLUMNS
                .get(i)
                .ok_or_else(|| CacheError::Invalid(format!("no health factor {i}")))?,
        };
        let dir = if descending { "DESC" } else { "ASC" };
        self.cache.read_snapshot(|c| {
            let total: i64 = c
                .conn
                .query_row("SELECT count(*) FROM health", [], |r| r.get(0))?;
            let known: i64 = c.conn.query_row(
                &format!("SELECT count(*) FROM health WHERE {column} IS NOT NULL"),
                [],
                |r| r.get(0),
            )?;
            let mut items = Vec::with_capacity(limit);
            let (offset_i, limit_i) = (offset as i64, limit as i64);
            if offset_i < known {
                let mut st = c.conn.prepare_cached(&format!(
                    "SELECT {HEALTH_COLUMNS} FROM health WHERE {column} IS NOT NULL
                     ORDER BY {column} {dir}, name {dir}, account_id {dir} LIMIT ?1 OFFSET ?2"
                ))?;
                let rows = st.query_map([limit_i, offset_i], record)?;
                for r in rows {
                    items.push(r?);
                }
            }
            let rest = limit_i - items.len() as i64;
            if rest > 0 && offset_i + (items.len() as i64) < total {
                let skip = (offset_i - known).max(0);
                let mut st = c.conn.prepare_cached(&format!(
                    "SELECT {HEALTH_COLUMNS} FROM health WHERE {column} IS NULL
                     ORDER BY name, account_id LIMIT ?1 OFFSET ?2"
                ))?;
                let rows = st.query_map([rest, skip], record)?;
                for r in rows {
                    items.push(r?);
                }
            }
            Ok(Page {
                items,
                total: total.max(0) as u64,
                offset,
                limit,
            })
        })
    }

    /// Streams the customers in [`HealthHandle::page`]'s order from `offset` (the CLI: no page
    /// is read twice); `each` returns `false` to stop. Two index scans, the customers with
    /// data for the factor then those without, so nothing is sorted and memory stays flat.
    pub fn each(
        &self,
        factor: Option<usize>,
        descending: bool,
        offset: usize,
        mut each: impl FnMut(HealthRecord) -> Result<bool>,
    ) -> Result<()> {
        let column = match factor {
            None => "score",
            Some(i) => HEALTH_FACTOR_COLUMNS
                .get(i)
                .ok_or_else(|| CacheError::Invalid(format!("no health factor {i}")))?,
        };
        let dir = if descending { "DESC" } else { "ASC" };
        // One read transaction: both scans see the same state.
        self.cache
            .read_snapshot(|c| c.health().each_in(column, dir, offset, &mut each))
    }

    /// Streams the licenses ending in `[from, until)` in [`HealthHandle::renewal_page`]'s order;
    /// `each` returns `false` to stop.
    pub fn each_renewal(
        &self,
        from: &str,
        until: &str,
        mut each: impl FnMut(RenewalListRow) -> Result<bool>,
    ) -> Result<()> {
        let mut st = self.cache.conn.prepare(&format!(
            "{RENEWAL_SELECT} WHERE r.expires_at >= ?1 AND r.expires_at < ?2
             ORDER BY r.expires_at, r.license_id"
        ))?;
        let mut rows = st.query([from, until])?;
        while let Some(r) = rows.next()? {
            if !each(renewal_row(r)?)? {
                break;
            }
        }
        Ok(())
    }

    /// One customer's stored health (`None`: not a customer, or not computed).
    pub fn of(&self, account_id: &str) -> Result<Option<HealthRecord>> {
        Ok(self
            .cache
            .conn
            .query_row(
                &format!("SELECT {HEALTH_COLUMNS} FROM health WHERE account_id = ?1"),
                [account_id],
                record,
            )
            .optional()?)
    }

    /// One page of the licenses ending in `[bounds[0], bounds[last])` (RFC 3339 in UTC),
    /// soonest first (ties by license id), with its total and the count of each month
    /// `[bounds[i], bounds[i + 1])`.
    ///
    /// Each month is counted on its own range of the expiry index: 2–7 ms for the 63,000
    /// licenses of a year at 100,000 accounts, where grouping them by `substr(expires_at, 1, 7)`
    /// cost 36 ms.
    pub fn renewal_page(
        &self,
        bounds: &[String],
        offset: usize,
        limit: usize,
    ) -> Result<(Page<RenewalListRow>, Vec<u64>)> {
        let (Some(from), Some(until)) = (bounds.first(), bounds.last()) else {
            return Err(CacheError::Invalid("a calendar needs a month".into()));
        };
        let limit = limit.clamp(1, MAX_HEALTH_PAGE);
        self.cache.read_snapshot(|c| {
            let mut st = c.conn.prepare_cached(
                "SELECT count(*) FROM health_renewals WHERE expires_at >= ?1 AND expires_at < ?2",
            )?;
            let months = bounds
                .windows(2)
                .map(|m| {
                    st.query_row([&m[0], &m[1]], |r| r.get::<_, i64>(0))
                        .map(|n| n.max(0) as u64)
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total = months.iter().sum();
            let mut st = c.conn.prepare_cached(&format!(
                "{RENEWAL_SELECT} WHERE r.expires_at >= ?1 AND r.expires_at < ?2
                 ORDER BY r.expires_at, r.license_id LIMIT ?3 OFFSET ?4"
            ))?;
            let items = st
                .query_map(
                    params![from, until, limit as i64, offset as i64],
                    renewal_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((
                Page {
                    items,
                    total,
                    offset,
                    limit,
                },
                months,
            ))
        })
    }

    fn each_in(
        &self,
        column: &str,
        dir: &str,
        offset: usize,
        each: &mut dyn FnMut(HealthRecord) -> Result<bool>,
    ) -> Result<()> {
        let known: i64 = self.cache.conn.query_row(
            &format!("SELECT count(*) FROM health WHERE {column} IS NOT NULL"),
            [],
            |r| r.get(0),
        )?;
        let offset = offset as i64;
        let parts = [
            (
                format!(
                    "SELECT {HEALTH_COLUMNS} FROM health WHERE {column} IS NOT NULL
                     ORDER BY {column} {dir}, name {dir}, account_id {dir} LIMIT -1 OFFSET ?1"
                ),
                offset,
            ),
            (
                format!(
                    "SELECT {HEALTH_COLUMNS} FROM health WHERE {column} IS NULL
                     ORDER BY {column}, name, account_id LIMIT -1 OFFSET ?1"
                ),
                (offset - known).max(0),
            ),
        ];
        for (i, (sql, skip)) in parts.iter().enumerate() {
            if i == 0 && offset >= known {
                continue;
            }
            let mut st = self.cache.conn.prepare(sql)?;
            let mut rows = st.query([skip])?;
            while let Some(r) = rows.next()? {
                if !each(record(r)?)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl HealthHandleMut<'_> {
    /// Replaces both health tables with `health` and `renewals`, computed as of `as_of`, and
    /// clears the lag mark ([`HealthHandleMut::commit_staged`]): the tests' way to store rows.
    /// A computation stages its rows as it makes them (`HealthHandle::stage`).
    #[cfg(test)]
    pub(crate) fn replace(
        &mut self,
        as_of: NaiveDate,
        health: impl IntoIterator<Item = HealthRecord>,
        renewals: impl IntoIterator<Item = RenewalRecord>,
    ) -> Result<()> {
        let staged = self.cache.read_snapshot(|c| {
            let stage = c.health().stage()?;
            for h in health {
                stage.put_health(&h)?;
            }
            for r in renewals {
                stage.put_renewal(&r)?;
            }
            Ok::<_, CacheError>(stage.finish())
        })?;
        self.commit_staged(as_of, staged)
    }

    /// Replaces both health tables with the rows this connection staged (`HealthHandle::stage`),
    /// computed as of `as_of`, and clears the lag mark, in one transaction (a failure keeps the
    /// previous tables). The staged rows are unindexed; they are merged: only rows that changed
    /// are written to the indexed tables, and only the indexes of changed columns. When another
    /// connection committed since the stage began, the facts may be older than the data: the
    /// tables stay marked as lagging, and the next question computes them again.
    pub fn commit_staged(&mut self, as_of: NaiveDate, staged: Staged) -> Result<()> {
        let tx = self.cache.write_tx()?;
        let unchanged = crate::health_stage::data_version(&tx)? == staged.data_version;
        merge(&tx, "health", CHANGED_HEALTH, MERGE_HEALTH)?;
        merge(&tx, "health_renewals", CHANGED_RENEWALS, MERGE_RENEWALS)?;
        tx.execute(
            "INSERT OR REPLACE INTO health_state (one, as_of) VALUES (1, ?1)",
            [as_of.to_string()],
        )?;
        if unchanged {
            tx.execute_batch("DELETE FROM health_dirty;")?;
        }
        tx.execute_batch(crate::health_stage::CLEAR_STAGE)?;
        tx.commit()?;
        // The planner's statistics, once (the tables keep their shape from day to day).
        let analyzed: bool = self
            .cache
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_stat1 WHERE tbl = 'health')",
                [],
                |r| r.get(0),
            )
            .unwrap_or(false);
        if !analyzed {
            self.cache
                .conn
                .execute_batch("ANALYZE health; ANALYZE health_renewals;")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cache;

    fn health(id: &str, score: u32, factors: &str) -> HealthRecord {
        HealthRecord {
            account_id: id.into(),
            name: id.to_uppercase(),
            score,
            factor_scores: [Some(score as f64), None, Some(1.0), None, None, Some(2.0)],
            factors_json: factors.into(),
        }
    }

    fn renewal(id: &str, used: u64) -> RenewalRecord {
        RenewalRecord {
            license_id: id.into(),
            account_id: "a".into(),
            license_type: "prod".into(),
            expires_at: "2026-01-01T00:00:00Z".into(),
            seats: 10,
            used,
            forecast: None,
            forecast_over: false,
            plans_json: "[]".into(),
        }
    }

    fn stored(cache: &Cache) -> (Vec<HealthRecord>, Vec<RenewalRecord>) {
        let health = cache
            .health()
            .page(None, false, 0, MAX_HEALTH_PAGE)
            .unwrap()
            .items;
        let mut renewals: Vec<RenewalRecord> = Vec::new();
        cache
            .health()
            .each_renewal("0", "9", |r| {
                renewals.push(r.renewal);
                Ok(true)
            })
            .unwrap();
        (health, renewals)
    }

    /// Changes with every index dropped or created.
    fn schema_version(cache: &Cache) -> i64 {
        cache
            .conn
            .query_row("PRAGMA main.schema_version", [], |r| r.get(0))
            .unwrap()
    }

    fn indexes(cache: &Cache) -> Vec<String> {
        let mut st = cache
            .conn
            .prepare(
                "SELECT name || ': ' || sql FROM sqlite_schema
                 WHERE type = 'index' AND tbl_name IN ('health', 'health_renewals')
                   AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Past [`REBUILD_INDEXES_FROM`] changed rows (and an eighth of the rows) a merge drops
    /// the tables' indexes and creates them again: the rows are those of the computation,
    /// the pages read through the indexes are in their order, and the indexes are the schema's.
    #[test]
    fn a_merge_changing_most_rows_rebuilds_the_indexes_and_keeps_every_row() {
        let mut cache = Cache::open_in_memory().unwrap();
        let schema = indexes(&cache);
        assert_eq!(
            schema.len(),
            8,
            "seven indexes of health, one of the calendar"
        );
        let n = 2 * REBUILD_INDEXES_FROM as u32;
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let rows = |shift: u32| -> Vec<HealthRecord> {
            (0..n)
                .map(|i| health(&format!("c{i:05}"), (i * 7 + shift) % 101, "[]"))
                .collect()
        };
        let renewals = |used: u64| -> Vec<RenewalRecord> {
            (0..n)
                .map(|i| renewal(&format!("L{i:05}"), used + u64::from(i % 3)))
                .collect()
        };
        for (at, shift, used) in [(0, 0, 1), (1, 13, 5), (2, 13, 5)] {
            // The first merge inserts every row, the second changes every score and use,
            // the third changes nothing (and keeps the indexes as they are).
            let day = day + chrono::Days::new(at);
            let before = schema_version(&cache);
            cache
                .health_mut()
                .replace(day, rows(shift), renewals(used))
                .unwrap();
            assert_eq!(
                schema_version(&cache) != before,
                at < 2,
                "merge {at}: the indexes are created again only when most rows change"
            );
            let stats: i64 = cache
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_stat1 WHERE idx LIKE 'health%by%'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(stats, 8, "merge {at}: every index keeps its statistics");
            let (_, r) = stored(&cache);
            let mut h = Vec::new();
            for offset in (0..n as usize).step_by(MAX_HEALTH_PAGE) {
                let page = cache.health().page(None, false, offset, MAX_HEALTH_PAGE);
                h.extend(page.unwrap().items);
            }
            let mut want = rows(shift);
            want.sort_by(|a, b| (a.score, &a.name).cmp(&(b.score, &b.name)));
            assert_eq!(h.len(), n as usize);
            assert_eq!(
                h.iter()
                    .map(|h| (&h.account_id, h.score))
                    .collect::<Vec<_>>(),
                want.iter()
                    .map(|h| (&h.account_id, h.score))
                    .collect::<Vec<_>>(),
                "merge {at}: by score (through its index), every row of the computation"
            );
            let mut want = renewals(used);
            want.sort_by(|a, b| {
                (&a.expires_at, &a.license_id).cmp(&(&b.expires_at, &b.license_id))
            });
            assert_eq!(r, want, "merge {at}: the calendar's rows, by expiry");
            assert_eq!(
                indexes(&cache),
                schema,
                "merge {at}: the indexes are the schema's"
            );
        }
    }

    /// More than [`REBUILD_INDEXES_FROM`] changed rows, but under an eighth of the table:
    /// the indexes are kept and updated row by row.
    #[test]
    fn a_merge_changing_a_few_rows_of_many_keeps_the_indexes() {
        let mut cache = Cache::open_in_memory().unwrap();
        let n = 9 * REBUILD_INDEXES_FROM as u32;
        let rows = |changed: u32| -> Vec<HealthRecord> {
            (0..n)
                .map(|i| health(&format!("c{i:05}"), u32::from(i < changed) + i % 50, "[]"))
                .collect()
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        cache.health_mut().replace(day, rows(0), []).unwrap();
        let before = schema_version(&cache);
        let changed = REBUILD_INDEXES_FROM as u32 + 100;
        assert!(
            changed * 8 < n,
            "the case under test: under an eighth of the rows"
        );
        cache
            .health_mut()
            .replace(day.succ_opt().unwrap(), rows(changed), [])
            .unwrap();
        assert_eq!(
            schema_version(&cache),
            before,
            "no index was dropped or created"
        );
        let page = cache.health().page(None, false, 0, 1).unwrap();
        assert_eq!(page.total, u64::from(n));
        let first = &page.items[0];
        assert_eq!(
            (first.score, first.account_id.as_str()),
            (0, "c01100"),
            "lowest score first: the unchanged multiples of 50 past the changed rows"
        );
    }

    #[test]
    fn a_second_computation_leaves_exactly_its_rows() {
        let mut cache = Cache::open_in_memory().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        cache
            .health_mut()
            .replace(
                day,
                [
                    health("a", 10, "[1]"),
                    health("b", 20, "[2]"),
                    health("c", 30, "[3]"),
                ],
                [renewal("L1", 1), renewal("L2", 2)],
            )
            .unwrap();
        // b is gone, c changes its factors only, a its score, d is new; L1 is gone, L2
        // changes, L3 is new.
        let second = vec![
            health("a", 50, "[1]"),
            health("c", 30, "[3b]"),
            health("d", 5, "[4]"),
        ];
        let renewals = vec![renewal("L2", 7), renewal("L3", 3)];
        let next = day.succ_opt().unwrap();
        cache
            .health_mut()
            .replace(next, second.clone(), renewals.clone())
            .unwrap();
        let (h, r) = stored(&cache);
        let mut want = second;
        want.sort_by_key(|h| h.score);
        assert_eq!(
            h, want,
            "by score, lowest first: the second computation's rows only"
        );
        assert_eq!(r, renewals, "the second calendar's rows only");
        assert_eq!(cache.health().as_of().unwrap(), Some(next));
    }

    #[test]
    fn a_calendar_counts_each_license_in_the_month_its_end_falls_in() {
        let mut cache = Cache::open_in_memory().unwrap();
        let ending = |id: &str, at: &str| RenewalRecord {
            expires_at: at.into(),
            ..renewal(id, 1)
        };
        let ends = [
            ("before", "2026-01-15T09:59:59Z"),
            ("now", "2026-01-15T10:00:00Z"),
            ("jan-last", "2026-01-31T23:59:59.999Z"),
            ("feb-first", "2026-02-01T00:00:00Z"),
            ("feb-last", "2026-02-28T23:59:59Z"),
            ("after", "2026-03-01T00:00:00Z"),
        ];
        cache
            .health_mut()
            .replace(
                NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
                [health("a", 10, "[1]")],
                ends.iter().map(|(id, at)| ending(id, at)),
            )
            .unwrap();
        let bounds = [
            "2026-01-15T10:00:00Z".to_string(),
            "2026-02-01T00:00:00Z".into(),
            "2026-03-01T00:00:00Z".into(),
        ];
        let (page, months) = cache.health().renewal_page(&bounds, 0, 10).unwrap();
        // Written out from the ends above: [now, Feb 1) holds now and jan-last, [Feb 1,
        // Mar 1) feb-first and feb-last; before and after are outside.
        assert_eq!(months, [2, 2]);
        assert_eq!(page.total, 4, "the total is the months' sum");
        let ids: Vec<&str> = page
            .items
            .iter()
            .map(|r| r.renewal.license_id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["now", "jan-last", "feb-first", "feb-last"],
            "soonest first"
        );
        assert!(
            cache.health().renewal_page(&[], 0, 10).is_err(),
            "no bounds, no calendar"
        );
    }
}
