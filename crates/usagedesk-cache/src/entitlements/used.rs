//! The used seats (`ent_used`) and the pairs over their seats (`ent_over`), computed in one
//! pass over `month_usage`.
//!
//! Each month-end row counts for its account's nearest ancestor-or-self (by `ent_cover`'s
//! depth) that holds a license in force in the row's month (`ent_licenses`); the plan's seat
//! metric (`plans.seat_metric`, `users_registered` for a plan the catalog does not list) is
//! summed per (holder, month, plan). Every license of the holder in force that month is then
//! over its seats for the plan when the sum exceeds them (`ent_seats`, none counting 0).
//!
//! This was one SQL statement per table, with two correlated subqueries per month-end row
//! (nearest holder, license in force): 5.4 s of a first sync at 100,000 accounts, most of
//! its aggregating. Here the holders, licenses and seats are read into memory once (one entry
//! per license or cover row), the month-end rows are streamed, and the results are sorted
//! and written in key order, many rows per statement. Month texts are compared as texts, as
//! SQL did, so licenses with odd months behave the same.
//!
//! `ent_used` keeps the sums of the holders that cover other accounts; a holder covering only
//! itself (most) uses its own month-end row, which the questions read from `month_usage`
//! (`rows_cte`): at 100k accounts 30k rows are written instead of 1.9M.
//!
//! A first sync's month-end rows are still in memory when its aggregates are rebuilt (the
//! fold's rows): the sums are taken from them on a second thread while the rebuild writes
//! the aggregates, instead of reading 2M rows back afterwards (at 100k accounts the rebuild
//! took 4.6 s, now 4.1 s).

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use usagedesk_domain::YearMonth;
use usagedesk_sqlite::{insert_batched, values};

use crate::codec::{self, MonthText};
use crate::rebuild::FoldedRows;
use crate::{CacheError, Result};

/// Which months a recomputation covers; the rows of the others are left as they are.
pub(crate) enum UsedMonths<'a> {
    All,
    Only(&'a [YearMonth]),
    /// Every month not listed in `dirty_months` (those get theirs with their aggregates;
    /// with every month marked, none).
    Settled,
}

/// A license of a holder: its months in force, as `YYYY-MM` texts.
struct InForce {
    license_id: String,
    first: String,
    last: Option<String>,
}

impl InForce {
    fn covers(&self, month: &str) -> bool {
        self.first.as_str() <= month && self.last.as_deref().is_none_or(|l| l >= month)
    }
}

/// What the recomputation reads besides the month-end rows.
struct Holders {
    /// Per account, its license holders by distance (`ent_cover`).
    cover: HashMap<i64, Vec<i64>>,
    /// The holders covering accounts other than themselves: only theirs go to `ent_used`.
    shared: HashSet<i64>,
    /// Per holder, its licenses (`ent_licenses`).
    licenses: HashMap<i64, Vec<InForce>>,
    /// Per license, its seats per plan (`ent_seats`).
    seats: HashMap<String, Vec<(String, i64)>>,
    /// The seat metric of each plan of the catalog: 0 registered, 1 with token, 2 with activity.
    metric: HashMap<String, usize>,
}

impl Holders {
    fn read(conn: &Connection) -> Result<Self> {
        let mut cover: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut shared = HashSet::new();
        let mut st =
            conn.prepare("SELECT account_k, holder_k FROM ent_cover ORDER BY account_k, depth")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let (account_k, holder_k): (i64, i64) = (r.get(0)?, r.get(1)?);
            if holder_k != account_k {
                shared.insert(holder_k);
            }
            cover.entry(account_k).or_default().push(holder_k);
        }
        let mut licenses: HashMap<i64, Vec<InForce>> = HashMap::new();
        let mut st = conn
            .prepare("SELECT account_k, license_id, first_month, last_month FROM ent_licenses")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            licenses.entry(r.get(0)?).or_default().push(InForce {
                license_id: r.get(1)?,
                first: r.get(2)?,
                last: r.get(3)?,
            });
        }
        let mut seats: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        let mut st = conn.prepare("SELECT license_id, plan, seats FROM ent_seats")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let v = r.get_ref(2)?;
            let count = super::count_value(v).ok_or_else(|| {
                CacheError::corrupt(format!("seats of type {} in ent_seats", v.data_type()))
            })?;
            // Seats beyond i64 (kept as a REAL from 2^63 on) are never exceeded.
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            seats.entry(r.get(0)?).or_default().push((r.get(1)?, count));
        }
        let mut metric = HashMap::new();
        let mut st = conn.prepare("SELECT id, seat_metric FROM plans")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let column = match r.get_ref(1)?.as_str()? {
                "users_with_token" => 1,
                "users_with_activity" => 2,
                _ => 0,
            };
            metric.insert(r.get(0)?, column);
        }
        Ok(Self {
            cover,
            shared,
            licenses,
            seats,
            metric,
        })
    }

    /// The account's nearest holder with a license in force in `month`.
    fn holder(&self, account_k: i64, month: &str) -> Option<i64> {
        let in_force = |h: &i64| {
            self.licenses
                .get(h)
                .is_some_and(|ls| ls.iter().any(|l| l.covers(month)))
        };
        self.cover.get(&account_k)?.iter().copied().find(in_force)
    }

    fn seats(&self, license_id: &str, plan: &str) -> Option<i64> {
        let plans = self.seats.get(license_id)?;
        plans.iter().find(|(p, _)| p == plan).map(|(_, s)| *s)
    }
}

/// One month-end row's use, or (after [`sum_by_key`]) a row of `ent_used`.
struct Use {
    holder_k: i64,
    month: u32,
    /// An index of [`Plans::names`].
    plan: u16,
    used: i64,
}

/// The plans the month-end rows name, each with its rank in text order (the tables' key order).
#[derive(Default)]
struct Plans {
    names: Vec<String>,
    metric: Vec<usize>,
    rank: Vec<u16>,
}

impl Plans {
    fn index(&mut self, plan: &str, holders: &Holders) -> Result<u16> {
        if let Some(i) = self.names.iter().position(|p| p == plan) {
            return Ok(i as u16);
        }
        let i = u16::try_from(self.names.len())
            .map_err(|_| CacheError::corrupt("more than 65535 plans in month_usage"))?;
        self.names.push(plan.to_owned());
        self.metric
            .push(holders.metric.get(plan).copied().unwrap_or(0));
        Ok(i)
    }

    fn rank(&mut self) {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        order.sort_by(|a, b| self.names[*a].cmp(&self.names[*b]));
        self.rank = vec![0; self.names.len()];
        for (rank, i) in order.into_iter().enumerate() {
            self.rank[i] = rank as u16;
        }
    }
}

/// Recomputes `ent_used` and `ent_over` for `months` from `month_usage` and the derived
/// tables (inside the caller's write transaction).
pub(crate) fn recompute(conn: &Connection, months: UsedMonths<'_>) -> Result<()> {
    let Some(r) = Recompute::prepare(conn, months)? else {
        return Ok(());
    };
    let sums = r.sum_table(conn)?;
    r.write(conn, sums)
}

/// Which months a [`Recompute`] covers, owned (the months as `month_usage` keeps them).
enum Wanted {
    All,
    Only(Vec<String>),
    /// Every month but these (`dirty_months`).
    Settled(Vec<String>),
}

impl Wanted {
    fn covers(&self, month: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(only) => only.iter().any(|o| o == month),
            Self::Settled(dirty) => !dirty.iter().any(|d| d == month),
        }
    }
}

/// A recomputation between its two steps that need the connection: the rows of its months
/// are deleted and the holders read ([`Recompute::prepare`]); the sums are then taken from
/// `month_usage` ([`Recompute::sum_table`]) or, on any thread, from the rows a fold just wrote
/// ([`Recompute::sum_folded`]), and written ([`Recompute::write`]).
pub(crate) struct Recompute {
    wanted: Wanted,
    holders: Holders,
}

/// The sums of a recomputation, ready to be written.
pub(crate) struct Sums<'h> {
    plans: Plans,
    used: Vec<Use>,
    over: Vec<Over<'h>>,
}

impl Recompute {
    /// Deletes the rows of the months to recompute and reads the holders; `None` when
    /// nothing is left to compute.
    pub(crate) fn prepare(conn: &Connection, months: UsedMonths<'_>) -> Result<Option<Self>> {
        let wanted = match months {
            UsedMonths::All => Wanted::All,
            UsedMonths::Only(ms) => Wanted::Only(ms.iter().map(ToString::to_string).collect()),
            UsedMonths::Settled => Wanted::Settled(
                conn.prepare("SELECT month FROM dirty_months")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?,
            ),
        };
        if matches!(&wanted, Wanted::Only(only) if only.is_empty()) {
            return Ok(None);
        }
        clear(conn, &wanted)?;
        let all_dirty = |dirty: &[String]| dirty.iter().any(|d| d == crate::rebuild::ALL_MONTHS);
        if matches!(&wanted, Wanted::Settled(dirty) if all_dirty(dirty)) {
            // Every month is dirty: no month is settled, and the rebuild that follows computes
            // them all (meanwhile the tables are empty, as the aggregates' months are dirty).
            return Ok(None);
        }
        Ok(Some(Self {
            wanted,
            holders: Holders::read(conn)?,
        }))
    }

    /// The sums over the month-end rows of `month_usage` in the months covered.
    pub(crate) fn sum_table(&self, conn: &Connection) -> Result<Sums<'_>> {
        let range = match &self.wanted {
            Wanted::Only(only) => only.iter().min().zip(only.iter().max()),
            _ => None,
        };
        let sql = match range {
            Some(_) => {
                "SELECT account_k, month, plan, users_registered, users_with_token,
                        users_with_activity
                 FROM month_usage WHERE month BETWEEN ?1 AND ?2"
            }
            None => {
                "SELECT account_k, month, plan, users_registered, users_with_token,
                        users_with_activity
                 FROM month_usage"
            }
        };
        let mut st = conn.prepare(sql)?;
        let mut rows = match range {
            Some((first, last)) => st.query([first, last])?,
            None => st.query([])?,
        };
        let mut plans = Plans::default();
        let mut uses: Vec<Use> = Vec::new();
        while let Some(r) = rows.next()? {
            let month = r.get_ref(1)?.as_str()?;
            let Some(holder_k) = self.counts_for(r.get(0)?, month) else {
                continue;
            };
            let key = codec::month_key_of_text(month)
                .ok_or_else(|| CacheError::corrupt(format!("month '{month}' in month_usage")))?;
            let plan = plans.index(r.get_ref(2)?.as_str()?, &self.holders)?;
            let used = r.get(3 + plans.metric[plan as usize])?;
            uses.push(Use {
                holder_k,
                month: key,
                plan,
                used,
            });
        }
        self.sums(plans, uses)
    }

    /// The sums over `rows`, the month-end rows a fold wrote into an empty `month_usage`
    /// (the same sums as [`Recompute::sum_table`] then, without reading them back).
    pub(crate) fn sum_folded(&self, rows: &FoldedRows) -> Result<Sums<'_>> {
        let mut plans = Plans::default();
        let plan_of: Vec<u16> = rows
            .plans()
            .iter()
            .map(|p| plans.index(p, &self.holders))
            .collect::<Result<_>>()?;
        let mut uses: Vec<Use> = Vec::with_capacity(rows.len());
        for row in rows.stored() {
            let month = MonthText::from_key(row.month);
            let Some(holder_k) = self.counts_for(row.k, month.as_str()) else {
                continue;
            };
            let plan = plan_of[row.plan as usize];
            uses.push(Use {
                holder_k,
                month: row.month,
                plan,
                used: row.counts[plans.metric[plan as usize]],
            });
        }
        self.sums(plans, uses)
    }

    /// The holder an account's month-end row of `month` counts for, when the month is one
    /// this recomputation covers and a license covers the account then.
    fn counts_for(&self, account_k: i64, month: &str) -> Option<i64> {
        if !self.wanted.covers(month) {
            return None;
        }
        self.holders.holder(account_k, month)
    }

    fn sums(&self, mut plans: Plans, uses: Vec<Use>) -> Result<Sums<'_>> {
        plans.rank();
        let used = sum_by_key(uses, &plans)?;
        let over = over_rows(&used, &self.holders, &plans);
        Ok(Sums { plans, used, over })
    }

    /// Writes the sums (after the rows [`Recompute::prepare`] deleted).
    pub(crate) fn write(&self, conn: &Connection, sums: Sums<'_>) -> Result<()> {
        let shared: Vec<&Use> = sums
            .used
            .iter()
            .filter(|u| self.holders.shared.contains(&u.holder_k))
            .collect();
        write_used(conn, &shared, &sums.plans)?;
        write_over(conn, &sums.over, &sums.plans)
    }
}

/// Deletes the rows of the months about to be recomputed.
fn clear(conn: &Connection, wanted: &Wanted) -> Result<()> {
    match wanted {
        Wanted::All => conn.execute_batch("DELETE FROM ent_used; DELETE FROM ent_over;")?,
        Wanted::Settled(_) => conn.execute_batch(
            "DELETE FROM ent_used WHERE month NOT IN (SELECT month FROM dirty_months);
             DELETE FROM ent_over WHERE month NOT IN (SELECT month FROM dirty_months);",
        )?,
        Wanted::Only(only) => {
            let mut used = conn.prepare_cached("DELETE FROM ent_used WHERE month = ?1")?;
            let mut over = conn.prepare_cached("DELETE FROM ent_over WHERE month = ?1")?;
            for m in only {
                used.execute([m])?;
                over.execute([m])?;
            }
        }
    }
    Ok(())
}

/// The uses summed per (holder, month, plan), in `ent_used`'s key order (in place: a first
/// sync has about as many uses as month-end rows).
fn sum_by_key(mut uses: Vec<Use>, plans: &Plans) -> Result<Vec<Use>> {
    uses.sort_unstable_by_key(|u| (u.holder_k, u.month, plans.rank[u.plan as usize]));
    let mut kept = 0usize;
    for i in 0..uses.len() {
        let (key, used) = (
            (uses[i].holder_k, uses[i].month, uses[i].plan),
            uses[i].used,
        );
        match kept.checked_sub(1).map(|last| &mut uses[last]) {
            Some(last) if (last.holder_k, last.month, last.plan) == key => {
                last.used = last
                    .used
                    .checked_add(used)
                    .ok_or_else(|| CacheError::corrupt("used seats beyond 64-bit integers"))?;
            }
            _ => {
                uses.swap(kept, i);
                kept += 1;
            }
        }
    }
    uses.truncate(kept);
    uses.shrink_to_fit();
    Ok(uses)
}

/// A row of `ent_over`.
struct Over<'a> {
    month: u32,
    license_id: &'a str,
    plan: u16,
    holder_k: i64,
    seats: Option<i64>,
    used: i64,
}

/// Every license of the holder in force that month, for each used plan beyond its seats, in
/// `ent_over`'s key order.
fn over_rows<'a>(used: &[Use], holders: &'a Holders, plans: &Plans) -> Vec<Over<'a>> {
    let mut out = Vec::new();
    for u in used {
        let Some(licenses) = holders.licenses.get(&u.holder_k) else {
            continue;
        };
        let month = MonthText::from_key(u.month);
        let plan = plans.names[u.plan as usize].as_str();
        for l in licenses.iter().filter(|l| l.covers(month.as_str())) {
            let seats = holders.seats(&l.license_id, plan);
            if u.used > seats.unwrap_or(0) {
                out.push(Over {
                    month: u.month,
                    license_id: &l.license_id,
                    plan: u.plan,
                    holder_k: u.holder_k,
                    seats,
                    used: u.used,
                });
            }
        }
    }
    out.sort_unstable_by(|a, b| {
        (a.month, a.license_id, plans.rank[a.plan as usize]).cmp(&(
            b.month,
            b.license_id,
            plans.rank[b.plan as usize],
        ))
    });
    out
}

fn write_used(conn: &Connection, used: &[&Use], plans: &Plans) -> Result<()> {
    let sql = |n| {
        format!(
            "INSERT INTO ent_used (holder_k, month, plan, used) VALUES {}",
            values(n, 4)
        )
    };
    insert_batched(conn, sql, 4, used, |st, at, u| {
        st.raw_bind_parameter(at, u.holder_k)?;
        st.raw_bind_parameter(at + 1, MonthText::from_key(u.month).as_str())?;
        st.raw_bind_parameter(at + 2, plans.names[u.plan as usize].as_str())?;
        st.raw_bind_parameter(at + 3, u.used)
    })?;
    Ok(())
}

fn write_over(conn: &Connection, rows: &[Over<'_>], plans: &Plans) -> Result<()> {
    let sql = |n| {
        format!(
            "INSERT INTO ent_over (month, license_id, plan, account_k, seats, used, overage)
             VALUES {}",
            values(n, 7)
        )
    };
    insert_batched(conn, sql, 7, rows, |st, at, o| {
        st.raw_bind_parameter(at, MonthText::from_key(o.month).as_str())?;
        st.raw_bind_parameter(at + 1, o.license_id)?;
        st.raw_bind_parameter(at + 2, plans.names[o.plan as usize].as_str())?;
        st.raw_bind_parameter(at + 3, o.holder_k)?;
        st.raw_bind_parameter(at + 4, o.seats)?;
        st.raw_bind_parameter(at + 5, o.used)?;
        st.raw_bind_parameter(at + 6, o.used.saturating_sub(o.seats.unwrap_or(0)))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Duration;
    use usagedesk_domain::api::Change;
    use usagedesk_domain::customer::{License, LicenseFeatures, LicenseType};

    use crate::test_support::*;
    use crate::Cache;

    fn license(id: &str, account: &str, plan: &str, seats: u64) -> Change {
        Change::License(License {
            id: id.into(),
            account_id: account.into(),
            license_type: LicenseType::Prod,
            channel: "stable".into(),
            created_at: now() - Duration::days(400),
            expires_at: None,
            features: LicenseFeatures::default(),
            seats: BTreeMap::from([(plan.to_owned(), seats)]),
        })
    }

    fn rows(cache: &Cache, sql: &str) -> Vec<String> {
        cache
            .conn
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// A tree whose month-end rows exercise every rule of the sums: a holder covering a
    /// child and a grandchild, an account holding its own license under it, an account no
    /// license covers, two plans counted by different seat metrics, and one key sent twice
    /// (the later row is the one stored). Catalog: basic counts users registered, standard
    /// users with a token (`usage` gives r registered, r / 2 with a token).
    fn small_tree() -> (Vec<usagedesk_domain::Plan>, Vec<Change>) {
        use usagedesk_domain::{Metric, Plan};
        let catalog = vec![
            Plan::new("basic", "Basic"),
            Plan::new("standard", "Standard").with_seat_metric(Metric::UsersWithToken),
        ];
        let changes = vec![
            acc("p", "P", None, "2023-01-01"),
            acc("c1", "C1", Some("p"), "2023-01-01"),
            acc("g", "G", Some("c1"), "2023-01-01"),
            acc("c2", "C2", Some("p"), "2023-01-01"),
            acc("x", "X", None, "2023-01-01"),
            license("L-p", "p", "basic", 50),
            license("L-c2", "c2", "standard", 5),
            usage("p", "2024-04", "basic", 60),
            usage("p", "2024-05", "basic", 40),
            usage("c1", "2024-05", "basic", 100),
            usage("c1", "2024-05", "basic", 30),
            usage("g", "2024-05", "standard", 8),
            usage("c2", "2024-05", "standard", 20),
            usage("x", "2024-05", "basic", 10),
        ];
        (catalog, changes)
    }

    fn first_sync_of_a_small_tree(cache: &mut Cache) {
        let (catalog, changes) = small_tree();
        cache
            .sync_mut()
            .apply_changes(&changes, &catalog, "c1", now())
            .unwrap();
    }

    /// The sums of the tree above, worked out by hand: (holder, month, plan, used) and
    /// (license, month, plan, seats, used, overage).
    const USED: [&str; 4] = [
        "c2 2024-05 standard 10",
        "p 2024-04 basic 60",
        "p 2024-05 basic 70",
        "p 2024-05 standard 4",
    ];
    const OVER: [&str; 4] = [
        "L-c2 2024-05 standard 5 10 5",
        "L-p 2024-04 basic 50 60 10",
        "L-p 2024-05 basic 50 70 20",
        "L-p 2024-05 standard - 4 4",
    ];

    fn described(cache: &Cache, sums: &super::Sums<'_>) -> (Vec<String>, Vec<String>) {
        let id_of = |k: i64| -> String {
            cache
                .conn
                .query_row("SELECT id FROM accounts WHERE k = ?1", [k], |r| r.get(0))
                .unwrap()
        };
        let plan = |i: u16| sums.plans.names[i as usize].clone();
        let mut used: Vec<String> = sums
            .used
            .iter()
            .map(|u| {
                let month = super::MonthText::from_key(u.month);
                format!(
                    "{} {} {} {}",
                    id_of(u.holder_k),
                    month.as_str(),
                    plan(u.plan),
                    u.used
                )
            })
            .collect();
        let mut over: Vec<String> = sums
            .over
            .iter()
            .map(|o| {
                let month = super::MonthText::from_key(o.month);
                let seats = o.seats.map_or("-".to_owned(), |s| s.to_string());
                let overage = o.used - o.seats.unwrap_or(0);
                format!(
                    "{} {} {} {seats} {} {overage}",
                    o.license_id,
                    month.as_str(),
                    plan(o.plan),
                    o.used
                )
            })
            .collect();
        used.sort();
        over.sort();
        (used, over)
    }

    /// The rows of `ent_used` as "holder month plan used", in that order.
    fn stored_sums(cache: &Cache) -> Vec<String> {
        rows(
            cache,
            "SELECT a.id || ' ' || u.month || ' ' || u.plan || ' ' || u.used
             FROM ent_used u JOIN accounts a ON a.k = u.holder_k ORDER BY 1",
        )
    }

    /// The rows of `ent_over` as "license month plan seats used overage", in that order.
    fn stored_overages(cache: &Cache) -> Vec<String> {
        rows(
            cache,
            "SELECT license_id || ' ' || month || ' ' || plan || ' ' || coalesce(seats, '-')
                    || ' ' || used || ' ' || overage
             FROM ent_over ORDER BY 1",
        )
    }

    /// The sums of [`USED`] that `ent_used` keeps: p's, the only holder covering others.
    fn shared_sums() -> Vec<&'static str> {
        USED.into_iter().filter(|u| u.starts_with("p ")).collect()
    }

    /// A first sync sums the used seats from the rows its fold keeps in memory (on a second
    /// thread, beside the aggregates) instead of reading `month_usage` back: both sources
    /// must give the sums worked out by hand.
    #[test]
    fn the_sums_from_a_folds_rows_are_the_sums_from_month_usage() {
        let mut cache = Cache::open_in_memory().unwrap();
        first_sync_of_a_small_tree(&mut cache);
        let conn = &cache.conn;
        assert!(
            !crate::entitlements::pending(conn).unwrap(),
            "the derived tables are current once the batch is applied"
        );
        let fold = crate::rebuild::fold_pending(conn, true).unwrap();
        let rows = fold
            .all_rows
            .as_ref()
            .expect("a first fold into an empty month_usage keeps its rows");
        assert_eq!(rows.len(), 7, "every row received, the key sent twice too");
        assert_eq!(
            rows.stored().count(),
            6,
            "of the key sent twice, one is stored"
        );
        let r = super::Recompute::prepare(conn, super::UsedMonths::All)
            .unwrap()
            .unwrap();
        let from_fold = described(&cache, &r.sum_folded(rows).unwrap());
        let from_table = described(&cache, &r.sum_table(conn).unwrap());
        assert_eq!(from_fold.0, USED, "used seats from the fold's rows");
        assert_eq!(from_fold.1, OVER, "overages from the fold's rows");
        assert_eq!(
            from_fold, from_table,
            "the same sums read back from month_usage"
        );
    }

    /// The whole rebuild of a first sync (the threaded path) writes those sums: in
    /// `ent_used` those of the holder covering other accounts (p), and every overage. The
    /// entitlement questions read the same used seats for every holder (c2's from its own
    /// month-end row).
    #[test]
    fn a_first_syncs_rebuild_writes_the_used_seats_and_overages() {
        let mut cache = Cache::open_in_memory().unwrap();
        first_sync_of_a_small_tree(&mut cache);
        cache.sync_mut().rebuild_aggregates().unwrap();
        let used = stored_sums(&cache);
        let shared = shared_sums();
        assert_eq!(used, shared, "only p covers other accounts");
        let mut read = Vec::new();
        for holder in ["p", "c2"] {
            cache
                .entitlements()
                .each_license_month::<crate::CacheError>(
                    holder,
                    crate::EntitlementScope::Own,
                    ym("2024-04"),
                    ym("2024-05"),
                    |m| {
                        let used = format!("{holder} {} {} {}", m.month, m.plan, m.used);
                        if m.used > 0 {
                            read.push(used);
                        }
                        Ok(())
                    },
                )
                .unwrap();
        }
        read.sort();
        assert_eq!(
            read, USED,
            "every holder's used seats, as the questions read them"
        );
        assert_eq!(stored_overages(&cache), OVER);
    }

    /// The tree and licenses in one sync, their month-end rows in the next: the fold's rows
    /// are still all of `month_usage`, and only their months are recomputed, from them
    /// (`Wanted::Only`).
    #[test]
    fn month_rows_after_the_tree_are_summed_for_their_months_only() {
        let mut cache = Cache::open_in_memory().unwrap();
        let (catalog, changes) = small_tree();
        let (months, tree): (Vec<Change>, Vec<Change>) = changes
            .into_iter()
            .partition(|c| matches!(c, Change::MonthUsage(_)));
        cache
            .sync_mut()
            .apply_changes(&tree, &catalog, "c1", now())
            .unwrap();
        cache.sync_mut().rebuild_aggregates().unwrap();
        cache
            .sync_mut()
            .apply_changes(&months, &catalog, "c2", now())
            .unwrap();
        assert_eq!(
            rows(&cache, "SELECT month FROM dirty_months ORDER BY 1"),
            ["2024-04", "2024-05"],
            "the case under test: only the rows' months are dirty"
        );
        cache.sync_mut().rebuild_aggregates().unwrap();
        let shared = shared_sums();
        assert_eq!(stored_sums(&cache), shared);
        assert_eq!(stored_overages(&cache), OVER);
    }

    /// A cache from before migration 0010 kept the sums of every holder in `ent_used`. The
    /// migration deletes those of the holders covering only themselves, which the questions
    /// read from `month_usage` (a stale row there would otherwise never be read again).
    #[test]
    fn migration_10_drops_the_sums_of_holders_covering_only_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let mut cache = Cache::open(&path).unwrap();
        first_sync_of_a_small_tree(&mut cache);
        cache.sync_mut().rebuild_aggregates().unwrap();
        let before = stored_sums(&cache);
        // As a cache of schema 9 had it: c2's sum (covering only itself) kept too, and no
        // `shared` column.
        cache
            .conn
            .execute_batch(
                "INSERT INTO ent_used (holder_k, month, plan, used)
                 SELECT k, '2024-05', 'standard', 10 FROM accounts WHERE id = 'c2';
                 ALTER TABLE ent_licenses DROP COLUMN shared;
                 PRAGMA user_version = 9;",
            )
            .unwrap();
        drop(cache);
        let cache = Cache::open(&path).unwrap();
        assert_eq!(cache.schema_version().unwrap(), crate::SCHEMA_VERSION);
        let after = stored_sums(&cache);
        assert_eq!(
            after, before,
            "c2's row is gone, p's (covering c1 and g) stay"
        );
        assert!(after.iter().all(|r| r.starts_with("p ")));
        assert_eq!(
            rows(
                &cache,
                "SELECT license_id || ' ' || shared FROM ent_licenses ORDER BY 1"
            ),
            ["L-c2 0", "L-p 1"],
            "the migration marks the licenses of holders covering others"
        );
    }

    /// A license's seats are a u64; from 2^63 on SQLite keeps them as a REAL. Such a license
    /// is never over its seats, and the recomputation goes on (it failed on reading them).
    #[test]
    fn seats_beyond_sqlite_integers_are_never_exceeded() {
        let mut cache = Cache::open_in_memory().unwrap();
        let plan = plans()[0].id.clone();
        let changes = [
            acc("big", "Big", None, "2023-01-01"),
            acc("small", "Small", None, "2023-01-01"),
            usage("big", "2024-05", &plan, 40),
            usage("small", "2024-05", &plan, 40),
            license("L-big", "big", &plan, u64::MAX),
            license("L-small", "small", &plan, 10),
        ];
        sync(&mut cache, &changes, "c1");
        assert_eq!(
            rows(
                &cache,
                "SELECT typeof(seats) FROM ent_seats WHERE license_id = 'L-big'"
            ),
            ["real"],
            "the case under test: SQLite could not keep the count as an integer"
        );
        // Used seats: 40 registered users each (the catalog's first plan counts them), read
        // from their own month-end rows: each holder covers only itself, so `ent_used` has
        // no row of theirs.
        assert_eq!(
            rows(&cache, "SELECT used FROM ent_used"),
            Vec::<String>::new()
        );
        assert_eq!(
            rows(
                &cache,
                "SELECT license_id || ' ' || seats || ' ' || overage FROM ent_over"
            ),
            ["L-small 10 30"],
            "40 used of 10 seats is 30 over; 40 of 2^64 - 1 is not over"
        );
        // The license reads back with its seats (saturated into a u64: exact for 2^64 - 1).
        let mut read = Vec::new();
        cache
            .entitlements()
            .each_license_month::<crate::CacheError>(
                "big",
                crate::EntitlementScope::Own,
                ym("2024-05"),
                ym("2024-05"),
                |m| {
                    read.push((m.license_id, m.seats, m.used));
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(read, [("L-big".to_owned(), Some(u64::MAX), 40)]);
        let rollup = cache
            .entitlements()
            .rollup("big", ym("2024-05"), ym("2024-05"))
            .unwrap();
        assert_eq!(
            rollup
                .iter()
                .map(|r| (r.seats, r.used, r.overage))
                .collect::<Vec<_>>(),
            [(u64::MAX, 40, 0)],
            "a sum over such seats is a REAL too"
        );
    }
}
