//! Entitlements over the cache (`docs/entitlements.md`): per license, plan and month, the
//! seats and the used seats — the month-end values of the plan's seat metric summed over the
//! license's covered accounts — read in SQL from the derived tables of
//! `migrations/0006_entitlements.sql` and `0009_ent_used.sql` (the used seats per holder,
//! month and plan, and the pairs over their seats, recomputed with the month-end aggregates
//! in one pass over `month_usage`: `used.rs`; since `0010_ent_used_shared.sql` only the
//! holders covering other accounts have their sums stored, the others' used seats are their
//! own month-end rows, read from `month_usage`). What follows from those numbers
//! (utilization, overage, forecast) is `usagedesk-entitlements`'.
//!
//! Covered accounts: an account is covered in month M by the license(s) of its nearest
//! ancestor-or-self that holds a license in force in M. `ent_cover` lists, for every account,
//! each ancestor-or-self holding any license with its distance, so the nearest in force in M
//! is the first of its few entries with a license in force; nothing walks the tree per query
//! but the scope of the question.

use std::collections::BTreeMap;

use rusqlite::types::ToSql;
use rusqlite::{Connection, Row, Statement};
use serde::{Deserialize, Serialize};
use usagedesk_domain::{Metric, YearMonth};

use crate::{CacheError, EntitlementsHandle, Page, Result};

mod tables;
mod used;

use used::UsedMonths;

/// Whose licenses a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum EntitlementScope {
    /// The licenses the account holds itself.
    #[serde(rename = "self")]
    Own,
    /// Its own and those of its direct children.
    Children,
    /// Every license held in its subtree.
    Tree,
}

impl EntitlementScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "self",
            Self::Children => "children",
            Self::Tree => "tree",
        }
    }
}

impl std::str::FromStr for EntitlementScope {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "self" | "own" => Ok(Self::Own),
            "children" => Ok(Self::Children),
            "tree" => Ok(Self::Tree),
            _ => Err(CacheError::Invalid(format!(
                "scope '{s}' is none of self, children, tree"
            ))),
        }
    }
}

/// One license, plan and month in which the license is in force: the seats (`None`: the
/// license has none for the plan) and the used seats. A plan appears when the license has
/// seats for it or its covered accounts used it that month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseMonth {
    pub license_id: String,
    pub account_id: String,
    pub plan: String,
    pub seat_metric: Metric,
    pub seats: Option<u64>,
    pub used: u64,
    pub month: YearMonth,
    /// The license's months in force: from `first_month`, through `last_month` (`None`:
    /// it never expires).
    pub first_month: YearMonth,
    pub last_month: Option<YearMonth>,
    /// RFC 3339, as synced.
    pub expires_at: Option<String>,
}

/// The size of an export of licenses' months ([`EntitlementsHandle::count_license_months`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LicenseMonthCount {
    /// Licenses in force in at least one of the months.
    pub licenses: u64,
    /// (license, plan with seats, month in force) triples.
    pub seat_rows: u64,
}

/// Per plan and month: the sums over the licenses in force held in an account's subtree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupMonth {
    pub plan: String,
    pub month: YearMonth,
    pub seats: u64,
    pub used: u64,
    /// Summed per license: `max(0, used − seats)` of each, never netted between licenses.
    pub overage: u64,
    /// (license, plan) pairs summed.
    pub licenses: u64,
}

/// A roll-up's sums for one plan and month, as [`RollupMonth`] gives them. Wide: seats beyond
/// SQLite's integers are stored as REAL (up to 2^64 - 1), and a sum saturates into a `u64`.
#[derive(Default)]
struct RollupSums {
    seats: i128,
    used: i128,
    overage: i128,
    licenses: u64,
}

impl RollupSums {
    /// One (license, plan) pair: its seats (0 without) and used seats.
    fn add(&mut self, seats: i128, used: i128) {
        self.seats = self.seats.saturating_add(seats);
        self.used = self.used.saturating_add(used);
        self.overage = self
            .overage
            .saturating_add(used.saturating_sub(seats).max(0));
        self.licenses += 1;
    }

    fn clamped(v: i128) -> u64 {
        u64::try_from(v.max(0)).unwrap_or(u64::MAX)
    }
}

/// A count column read wide: an INTEGER, or a REAL for counts beyond SQLite's integers
/// (`as` saturates, and takes NaN to 0).
fn wide_count(r: &Row<'_>, i: usize) -> rusqlite::Result<i128> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i)? {
        ValueRef::Integer(n) => Ok(i128::from(n)),
        ValueRef::Real(f) => Ok(f as i128),
        v => Err(rusqlite::Error::InvalidColumnType(
            i,
            "count".into(),
            v.data_type(),
        )),
    }
}

/// Which licenses a list of one month shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LicenseFilter {
    /// Used more than its seats (a plan without seats that was used counts): by overage,
    /// largest first.
    Over,
    /// Above 90 % of its seats without going over: by utilization, highest first.
    Near,
    /// Below 50 % of its seats: by utilization, lowest first.
    Under,
}

/// A row of [`EntitlementsHandle::license_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseListRow {
    pub license_id: String,
    pub account_id: String,
    pub account_name: String,
    pub plan: String,
    pub seat_metric: Metric,
    pub seats: Option<u64>,
    pub used: u64,
}

/// The largest page of [`EntitlementsHandle::license_list`].
pub const MAX_LICENSE_PAGE: usize = 500;

/// Marks the derived tables as lagging behind licenses or the tree.
pub(crate) fn mark_dirty(conn: &Connection) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO ent_dirty VALUES (1)")?
        .execute([])?;
    Ok(())
}

/// Whether the derived tables lag behind.
pub(crate) fn pending(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM ent_dirty)")?
        .query_row([], |r| r.get(0))?)
}

/// Rebuilds the derived tables from `licenses` and the tree when marked, then the used seats
/// of every month whose month-end rows are settled (inside the caller's write transaction).
/// The months marked dirty get theirs when their aggregates are rebuilt
/// ([`prepare_used`] from `rebuild_aggregates`, at the end of the sync): during a first sync
/// that is every month, and computing them here as well, from month rows still arriving,
/// would be thrown away. Until then (a sync under way, or one stopped before its end) a
/// dirty month shows the sums and overages of the last computation, except the used seats of
/// a holder covering only itself: its own month-end row, read as it is now.
pub(crate) fn refresh(conn: &Connection) -> Result<()> {
    if !pending(conn)? {
        return Ok(());
    }
    tables::rebuild(conn)?;
    conn.execute("DELETE FROM ent_dirty", [])?;
    used::recompute(conn, UsedMonths::Settled)
}

/// Starts the recomputation of `ent_used` and `ent_over` for `months` (`None`: every month)
/// from `month_usage` and the derived tables (inside the caller's write transaction): called
/// when the month-end rows of those months have changed, and by [`refresh`] when coverage may
/// have. `None` when there is nothing to compute now: with the derived tables pending, the
/// whole table is rebuilt with them, once they are current.
pub(crate) fn prepare_used(
    conn: &Connection,
    months: Option<&[YearMonth]>,
) -> Result<Option<used::Recompute>> {
    if pending(conn)? {
        return Ok(None);
    }
    used::Recompute::prepare(conn, months.map_or(UsedMonths::All, UsedMonths::Only))
}

/// The holders a scope asks about, as the CTE `scope(k)`; `:account` names the account.
fn scope_cte(scope: Option<EntitlementScope>) -> &'static str {
    match scope {
        None => "scope(k) AS (SELECT DISTINCT account_k FROM ent_licenses)",
        Some(EntitlementScope::Own) => "scope(k) AS (SELECT k FROM accounts WHERE id = :account)",
        Some(EntitlementScope::Children) => {
            "scope(k) AS (SELECT k FROM accounts WHERE id = :account
                  UNION ALL SELECT k FROM accounts WHERE parent_id = :account)"
        }
        Some(EntitlementScope::Tree) => {
            "tree(k, id) AS (SELECT k, id FROM accounts WHERE id = :account
                  UNION ALL SELECT c.k, c.id FROM tree JOIN accounts c ON c.parent_id = tree.id),
             scope(k) AS (SELECT k FROM tree)"
        }
    }
}

/// The CTEs ending in `rows(license_id, account_k, plan, seats, used, m)`: each license held
/// in the scope, each month of `:from..=:to` it is in force, each plan it has seats for or
/// its covered accounts used. `used`: the plan's seat metric summed over the covered
/// accounts whose month-end plan is that plan (accounts without a month-end row add 0). A
/// holder covering other accounts has these sums materialized in `ent_used`; a holder
/// covering only itself (most of them) uses its own month-end row, read from `month_usage`
/// once per license and month (`own_plan`, `own_used`; `ent_licenses.shared` tells which).
/// `CROSS JOIN` keeps the licenses of the scope the outer loop: without statistics the
/// planner may otherwise scan `ent_used` whole for one customer.
pub(crate) fn rows_cte(scope: Option<EntitlementScope>) -> String {
    format!(
        "WITH RECURSIVE {scope},
         months(m) AS (
             SELECT :from UNION ALL
             SELECT strftime('%Y-%m', m || '-01', '+1 month') FROM months WHERE m < :to
         ),
         held AS MATERIALIZED (
             SELECT l.license_id, l.account_k, l.first_month, l.last_month, l.shared
             FROM scope JOIN ent_licenses l ON l.account_k = scope.k
         ),
         lic AS MATERIALIZED (
             SELECT h.license_id, h.account_k, mo.m, h.shared, mu.plan AS own_plan,
                    {OWN_USE} AS own_used
             FROM held h
             JOIN months mo
                 ON h.first_month <= mo.m AND (h.last_month IS NULL OR h.last_month >= mo.m)
             LEFT JOIN month_usage mu
                 ON NOT h.shared AND mu.account_k = h.account_k AND mu.month = mo.m
         ),
         rows(license_id, account_k, plan, seats, used, m) AS (
             SELECT lic.license_id, lic.account_k, s.plan, s.seats,
                    CASE WHEN lic.shared THEN COALESCE((
                             SELECT u.used FROM ent_used u
                             WHERE u.holder_k = lic.account_k AND u.month = lic.m
                               AND u.plan = s.plan), 0)
                         WHEN lic.own_plan = s.plan THEN lic.own_used
                         ELSE 0 END,
                    lic.m
             FROM lic CROSS JOIN ent_seats s ON s.license_id = lic.license_id
             UNION ALL
             SELECT lic.license_id, lic.account_k, u.plan, NULL, u.used, lic.m
             FROM lic CROSS JOIN ent_used u ON u.holder_k = lic.account_k AND u.month = lic.m
             WHERE lic.shared AND u.used > 0 AND NOT EXISTS (
                 SELECT 1 FROM ent_seats s WHERE s.license_id = lic.license_id AND s.plan = u.plan)
             UNION ALL
             SELECT lic.license_id, lic.account_k, lic.own_plan, NULL, lic.own_used, lic.m
             FROM lic
             WHERE lic.own_used > 0 AND NOT EXISTS (
                 SELECT 1 FROM ent_seats s
                 WHERE s.license_id = lic.license_id AND s.plan = lic.own_plan)
         )",
        scope = scope_cte(scope)
    )
}

/// A month-end row's (`mu`) value of its plan's seat metric, as [`used`] counts it (a plan
/// the catalog does not list counts users registered).
const OWN_USE: &str = "CASE (SELECT p.seat_metric FROM plans p WHERE p.id = mu.plan)
                           WHEN 'users_with_token' THEN mu.users_with_token
                           WHEN 'users_with_activity' THEN mu.users_with_activity
                           ELSE mu.users_registered END";

/// Binds the named parameters the statement has (a scope without `:account` has none).
pub(crate) fn bind(st: &mut Statement<'_>, params: &[(&str, &dyn ToSql)]) -> Result<()> {
    for (name, value) in params {
        if let Some(i) = st.parameter_index(name)? {
            st.raw_bind_parameter(i, value)?;
        }
    }
    Ok(())
}

/// `sql` prepared with its `:account`, `:from` and `:to` bound (those it names).
fn range_statement<'c>(
    conn: &'c Connection,
    sql: &str,
    account: Option<&str>,
    from: YearMonth,
    to: YearMonth,
) -> Result<Statement<'c>> {
    let (from_text, to_text) = (from.to_string(), to.to_string());
    let mut st = conn.prepare(sql)?;
    bind(
        &mut st,
        &[
            (":account", &account),
            (":from", &from_text),
            (":to", &to_text),
        ],
    )?;
    Ok(st)
}

fn month(r: &Row<'_>, i: usize) -> rusqlite::Result<YearMonth> {
    let text: String = r.get(i)?;
    text.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("month '{text}'").into(),
        )
    })
}

fn metric(r: &Row<'_>, i: usize) -> rusqlite::Result<Metric> {
    let text: Option<String> = r.get(i)?;
    Ok(text
        .as_deref()
        .and_then(Metric::from_column)
        .unwrap_or(usagedesk_domain::plan::DEFAULT_SEAT_METRIC))
}

fn seats(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    match r.get_ref(i)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => count(r, i).map(Some),
    }
}

/// A count as stored: an integer, or a REAL where it did not fit SQLite's integers (seats
/// of 2^63 and more, and sums over them), saturated into a u64; `None` for anything else.
pub(crate) fn count_value(v: rusqlite::types::ValueRef<'_>) -> Option<u64> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(n) => Some(n.max(0) as u64),
        // `as` saturates, and takes NaN to 0.
        ValueRef::Real(f) => Some(f.max(0.0) as u64),
        _ => None,
    }
}

fn count(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v = r.get_ref(i)?;
    count_value(v)
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(i, "count".into(), v.data_type()))
}

impl EntitlementsHandle<'_> {
    /// What an export of `months` (ascending) for the licenses held in `scope` of `account`
    /// will hold, counted without computing used seats: the licenses in force in at least one
    /// of the months, and the (license, plan with seats, month in force) rows. Plans used
    /// without seats add a row each on top of these, known only once computed.
    pub fn count_license_months(
        &self,
        account: &str,
        scope: EntitlementScope,
        months: &[YearMonth],
    ) -> Result<LicenseMonthCount> {
        self.account_exists(account)?;
        let sql = format!(
            "WITH RECURSIVE {},
             months(m) AS (SELECT value FROM json_each(:months)),
             lic AS MATERIALIZED (
                 SELECT l.license_id, mo.m
                 FROM scope JOIN ent_licenses l ON l.account_k = scope.k
                 JOIN months mo ON l.first_month <= mo.m AND (l.last_month IS NULL OR l.last_month >= mo.m)
             )
             SELECT (SELECT COUNT(DISTINCT license_id) FROM lic),
                    (SELECT COUNT(*) FROM lic CROSS JOIN ent_seats s ON s.license_id = lic.license_id)",
            scope_cte(Some(scope))
        );
        let list = serde_json::to_string(&months.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .map_err(|e| CacheError::Invalid(format!("months: {e}")))?;
        let mut st = self.cache.conn.prepare(&sql)?;
        bind(&mut st, &[(":account", &account), (":months", &list)])?;
        let mut rows = st.raw_query();
        let r = rows
            .next()?
            .ok_or_else(|| CacheError::corrupt("a count gave no row"))?;
        Ok(LicenseMonthCount {
            licenses: r.get::<_, i64>(0)?.max(0) as u64,
            seat_rows: r.get::<_, i64>(1)?.max(0) as u64,
        })
    }

    /// Streams the months `from..=to` of the licenses held in `scope` of `account`, ordered
    /// by license, plan and month, to `each` (which may stop the stream with an error).
    pub fn each_license_month<E: From<CacheError>>(
        &self,
        account: &str,
        scope: EntitlementScope,
        from: YearMonth,
        to: YearMonth,
        each: impl FnMut(LicenseMonth) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.account_exists(account)?;
        self.license_months(Some((account, scope)), from, to, each)
    }

    /// [`EntitlementsHandle::each_license_month`] over every license in the cache.
    pub fn each_license_month_everywhere<E: From<CacheError>>(
        &self,
        from: YearMonth,
        to: YearMonth,
        each: impl FnMut(LicenseMonth) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.license_months(None, from, to, each)
    }

    /// Per plan and month of `from..=to`: seats, used and overage summed over the licenses in
    /// force held in `account`'s subtree (account included).
    pub fn rollup(
        &self,
        account: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<RollupMonth>> {
        self.account_exists(account)?;
        // Summed here, not by SQL's GROUP BY: that sorted every (license, plan, month) row
        // first (300k for sp-06's subtree over 12 months, a third of the query's time). A
        // roll-up has a few plans times the months.
        let sql = format!(
            "{}
             SELECT plan, m, COALESCE(seats, 0), used FROM rows",
            rows_cte(Some(EntitlementScope::Tree))
        );
        let mut st = range_statement(&self.cache.conn, &sql, Some(account), from, to)?;
        let mut rows = st.raw_query();
        // By plan, then month: the order the roll-up is given in.
        let mut sums: BTreeMap<String, BTreeMap<String, RollupSums>> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let (plan, m): (String, String) = (r.get(0)?, r.get(1)?);
            sums.entry(plan)
                .or_default()
                .entry(m)
                .or_default()
                .add(wide_count(r, 2)?, wide_count(r, 3)?);
        }
        let mut out = Vec::new();
        for (plan, months) in sums {
            for (m, s) in months {
                let month = m.parse().map_err(|_| {
                    CacheError::corrupt(format!("month '{m}' in a license's months"))
                })?;
                out.push(RollupMonth {
                    plan: plan.clone(),
                    month,
                    seats: RollupSums::clamped(s.seats),
                    used: RollupSums::clamped(s.used),
                    overage: RollupSums::clamped(s.overage),
                    licenses: s.licenses,
                });
            }
        }
        Ok(out)
    }

    /// One page of the licenses (license and plan) of `month` that `filter` selects, among
    /// those held in `account`'s subtree (`None`: every cached license), with the list's total.
    pub fn license_list(
        &self,
        account: Option<&str>,
        month: YearMonth,
        filter: LicenseFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Page<LicenseListRow>> {
        if let Some(a) = account {
            self.account_exists(a)?;
        }
        let limit = limit.clamp(1, MAX_LICENSE_PAGE);
        let (condition, order) = match filter {
            LicenseFilter::Over => (
                "used > COALESCE(seats, 0)",
                "used - COALESCE(seats, 0) DESC",
            ),
            LicenseFilter::Near => (
                "seats > 0 AND used <= seats AND used * 10 > seats * 9",
                "CAST(used AS REAL) / seats DESC",
            ),
            LicenseFilter::Under => (
                "seats > 0 AND used * 2 < seats",
                "CAST(used AS REAL) / seats ASC",
            ),
        };
        let scope = account.map(|_| EntitlementScope::Tree);
        let picked = match filter {
            // Over their seats: materialized per month (`ent_over`).
            LicenseFilter::Over => {
                let (with, within) = match scope {
                    None => (String::new(), ""),
                    Some(_) => (
                        format!("{},", scope_cte(scope)),
                        "AND o.account_k IN (SELECT k FROM scope)",
                    ),
                };
                format!(
                    "WITH RECURSIVE {with} picked AS MATERIALIZED (
                         SELECT o.license_id, o.account_k, o.plan, o.seats, o.used FROM ent_over o
                         WHERE o.month = :from {within})"
                )
            }
            _ => format!(
                "{}, picked AS MATERIALIZED (SELECT * FROM rows WHERE {condition})",
                rows_cte(scope)
            ),
        };
        let sql = format!(
            "{picked}
             SELECT p.license_id, a.id, a.name, p.plan, pl.seat_metric, p.seats, p.used,
                    (SELECT COUNT(*) FROM picked)
             FROM picked p CROSS JOIN accounts a ON a.k = p.account_k
             LEFT JOIN plans pl ON pl.id = p.plan
             ORDER BY {order}, p.license_id, p.plan
             LIMIT :limit OFFSET :offset"
        );
        let m = month.to_string();
        let (limit_i, offset_i) = (limit as i64, offset as i64);
        let mut st = self.cache.conn.prepare(&sql)?;
        bind(
            &mut st,
            &[
                (":account", &account),
                (":from", &m),
                (":to", &m),
                (":limit", &limit_i),
                (":offset", &offset_i),
            ],
        )?;
        let mut rows = st.raw_query();
        let mut items = Vec::new();
        let mut total = None;
        while let Some(r) = rows.next()? {
            total = Some(r.get::<_, i64>(7)?);
            items.push(LicenseListRow {
                license_id: r.get(0)?,
                account_id: r.get(1)?,
                account_name: r.get(2)?,
                plan: r.get(3)?,
                seat_metric: metric(r, 4)?,
                seats: seats(r, 5)?,
                used: r.get::<_, i64>(6)?.max(0) as u64,
            });
        }
        let total = match total {
            Some(t) => t.max(0) as u64,
            // An empty page (past the end, or nothing selected): count on its own.
            None => {
                let sql = format!("{picked} SELECT COUNT(*) FROM picked");
                let mut st = self.cache.conn.prepare(&sql)?;
                bind(
                    &mut st,
                    &[(":account", &account), (":from", &m), (":to", &m)],
                )?;
                let mut rows = st.raw_query();
                match rows.next()? {
                    Some(r) => r.get::<_, i64>(0)?.max(0) as u64,
                    None => 0,
                }
            }
        };
        Ok(Page {
            items,
            total,
            offset,
            limit,
        })
    }

    fn account_exists(&self, id: &str) -> Result<()> {
        let found: bool = self
            .cache
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        if found {
            Ok(())
        } else {
            Err(CacheError::UnknownAccount { id: id.to_owned() })
        }
    }

    fn license_months<E: From<CacheError>>(
        &self,
        scope: Option<(&str, EntitlementScope)>,
        from: YearMonth,
        to: YearMonth,
        mut each: impl FnMut(LicenseMonth) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let account = scope.map(|s| s.0);
        // The rows alone are sorted; each license's own facts (its holder's id, its months
        // in force, its end) come from a second statement in the same order and are merged
        // here. Joined to every row they cost a quarter of the query: 690,000 rows for every
        // license over six months, health's first computation of a day.
        let sql = format!(
            "{}
             SELECT r.license_id, r.plan, p.seat_metric, r.seats, r.used, r.m
             FROM rows r LEFT JOIN plans p ON p.id = r.plan
             ORDER BY r.license_id, r.plan, r.m",
            rows_cte(scope.map(|s| s.1))
        );
        let facts_sql = format!(
            "WITH RECURSIVE {}
             SELECT l.license_id, a.id, l.first_month, l.last_month, l.expires_at
             FROM scope CROSS JOIN ent_licenses l ON l.account_k = scope.k
             CROSS JOIN accounts a ON a.k = l.account_k
             ORDER BY l.license_id",
            scope_cte(scope.map(|s| s.1))
        );
        let mut st = range_statement(&self.cache.conn, &sql, account, from, to)?;
        let mut facts_st = self
            .cache
            .conn
            .prepare(&facts_sql)
            .map_err(CacheError::from)?;
        bind(&mut facts_st, &[(":account", &account)])?;
        let mut facts = LicenseFactsCursor {
            rows: facts_st.raw_query(),
            current: None,
            done: false,
        };
        let mut rows = st.raw_query();
        while let Some(r) = rows.next().map_err(CacheError::from)? {
            let license_id: String = r.get(0).map_err(CacheError::from)?;
            // A license without its facts (a holder not in the cache) is left out, as a join
            // would.
            let Some(f) = facts.of(&license_id)? else {
                continue;
            };
            let row = (|| -> rusqlite::Result<LicenseMonth> {
                Ok(LicenseMonth {
                    account_id: f.account_id.clone(),
                    plan: r.get(1)?,
                    seat_metric: metric(r, 2)?,
                    seats: seats(r, 3)?,
                    used: r.get::<_, i64>(4)?.max(0) as u64,
                    month: month(r, 5)?,
                    first_month: f.first_month,
                    last_month: f.last_month,
                    expires_at: f.expires_at.clone(),
                    license_id,
                })
            })()
            .map_err(|e| CacheError::corrupt(format!("an entitlement row: {e}")))?;
            each(row)?;
        }
        Ok(())
    }
}

/// A license's own facts, as [`LicenseMonth`] repeats them on each of its rows.
struct LicenseFacts {
    license_id: String,
    account_id: String,
    first_month: YearMonth,
    last_month: Option<YearMonth>,
    expires_at: Option<String>,
}

impl LicenseFacts {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            license_id: r.get(0)?,
            account_id: r.get(1)?,
            first_month: month(r, 2)?,
            last_month: match r.get::<_, Option<String>>(3)? {
                Some(_) => Some(month(r, 3)?),
                None => None,
            },
            expires_at: r.get(4)?,
        })
    }
}

/// The licenses' facts in license id order, read as far as the rows being merged need.
struct LicenseFactsCursor<'s> {
    rows: rusqlite::Rows<'s>,
    current: Option<LicenseFacts>,
    /// The statement has no more rows (stepping it again would start it over).
    done: bool,
}

impl LicenseFactsCursor<'_> {
    /// The facts of `license_id`; the rows asking must come in license id order.
    fn of(&mut self, license_id: &str) -> Result<Option<&LicenseFacts>> {
        while !self.done
            && self
                .current
                .as_ref()
                .is_none_or(|f| f.license_id.as_str() < license_id)
        {
            match self.rows.next()? {
                Some(r) => {
                    self.current = Some(
                        LicenseFacts::read(r)
                            .map_err(|e| CacheError::corrupt(format!("a license's facts: {e}")))?,
                    );
                }
                None => self.done = true,
            }
        }
        Ok(self.current.as_ref().filter(|f| f.license_id == license_id))
    }
}
