//! One health computation's reads and writes as streams: the facts come one customer (one
//! ending license) at a time, and each new row is written as it is made into this
//! connection's temporary tables, which [`HealthHandleMut::commit_staged`] then merges into
//! the stored ones. Nothing is held for every customer at once: gathered first, 100k
//! customers' facts took 130 MiB.
//!
//! Writing temporary tables takes no lock on the cache file, so a computation stages inside
//! one read snapshot (`Cache::read_snapshot`) and other connections write meanwhile; when one
//! did, the stored rows are still marked as lagging behind the data after the commit.

use std::collections::HashMap;

use rusqlite::{params, Connection, Rows};

use crate::codec::saturating_i64;
use crate::health::{HealthInstanceFacts, HealthRecord, RenewalRecord, HEALTH_COLUMNS};
use crate::{CacheError, HealthHandle, Result};

/// Ending licenses read per query of [`EndingLicenses`].
const ENDING_PAGE: usize = 512;

/// A computation's staging tables, emptied when it starts.
const STAGE_TABLES: &str = "
CREATE TEMP TABLE IF NOT EXISTS new_health AS SELECT * FROM main.health WHERE 0;
CREATE TEMP TABLE IF NOT EXISTS new_renewals AS SELECT * FROM main.health_renewals WHERE 0;
CREATE TEMP TABLE IF NOT EXISTS health_seats (
    account_id TEXT PRIMARY KEY NOT NULL,
    seats      INTEGER NOT NULL,
    used       INTEGER NOT NULL
) WITHOUT ROWID;
DELETE FROM temp.new_health; DELETE FROM temp.new_renewals; DELETE FROM temp.health_seats;";

/// Empties the staging tables after a merge (they are this connection's, kept for the next).
pub(crate) const CLEAR_STAGE: &str =
    "DELETE FROM temp.new_health; DELETE FROM temp.new_renewals; DELETE FROM temp.health_seats;";

/// A customer with every fact its score is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFacts {
    pub account_id: String,
    pub name: String,
    /// Its licenses' ends (ns).
    pub ends: Vec<i64>,
    /// Its licenses that never end.
    pub no_expiry: u32,
    /// Its instances (those it owns), by instance id.
    pub instances: Vec<HealthInstanceFacts>,
    /// Active users at month end over its subtree, one per month asked, in their order
    /// (`None`: no account of the subtree has a month-end row); empty when the account itself
    /// is not in the cache.
    pub activity: Vec<Option<u64>>,
    /// Seats and used staged for it ([`HealthStage::add_seats`]).
    pub seats: u64,
    pub used: u64,
}

/// A license that ends: `(license_id, account_id, license type, expires_at)`.
#[derive(Debug, Clone, PartialEq)]
pub struct EndingLicense {
    pub license_id: String,
    pub account_id: String,
    pub license_type: String,
    pub expires_at: String,
}

/// A computation under way on one connection (see the module's doc).
pub struct HealthStage<'c> {
    conn: &'c Connection,
    /// SQLite's count of other connections' commits when the stage started.
    data_version: i64,
}

/// A computation's rows, staged on one connection, for
/// [`HealthHandleMut::commit_staged`](crate::HealthHandleMut::commit_staged) on that
/// connection.
#[must_use = "staged rows are stored only when committed"]
pub struct Staged {
    pub(crate) data_version: i64,
}

impl<'c> HealthHandle<'c> {
    /// Starts a computation: creates (or empties) this connection's staging tables. Inside
    /// a read snapshot, its facts are those of the snapshot.
    pub fn stage(&self) -> Result<HealthStage<'c>> {
        let cache: &'c crate::Cache = self.cache;
        let conn = &cache.conn;
        conn.execute_batch(STAGE_TABLES)?;
        let data_version = data_version(conn)?;
        Ok(HealthStage { conn, data_version })
    }
}

/// Changes when another connection (another process) commits: from a stage to its commit,
/// such a commit may have changed the facts after they were read.
pub(crate) fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

impl HealthStage<'_> {
    /// Ends the staging; the rows are stored by
    /// [`HealthHandleMut::commit_staged`](crate::HealthHandleMut::commit_staged).
    pub fn finish(self) -> Staged {
        Staged {
            data_version: self.data_version,
        }
    }

    /// Each (channel, version) reported by an instance of a customer, once (`""`: a license
    /// without a channel).
    pub fn each_channel_version(
        &self,
        mut each: impl FnMut(&str, &str) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.conn.prepare(
            "SELECT DISTINCT coalesce(json_extract(l.body, '$.channel'), ''),
                    json_extract(r.body, '$.app_version')
             FROM customer_instances ci
             JOIN customers c ON c.account_id = ci.owner
             JOIN instance_reports r ON r.instance_id = ci.instance_id
             LEFT JOIN licenses l ON l.id = ci.license_id
             WHERE json_extract(r.body, '$.app_version') IS NOT NULL",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            each(r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?)?;
        }
        Ok(())
    }

    /// The licenses that end, by license id (read a page at a time).
    pub fn ending_licenses(&self) -> EndingLicenses<'_> {
        EndingLicenses {
            conn: self.conn,
            page: Vec::new(),
            after: None,
            done: false,
        }
    }

    /// Adds seats and used to `account_id`'s sums ([`HealthFacts::seats`]), saturating at
    /// SQLite's largest integer (past it SQL's `+` would make a real number).
    pub fn add_seats(&self, account_id: &str, seats: u64, used: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO temp.health_seats (account_id, seats, used) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO UPDATE
                 SET seats = CASE WHEN seats > 9223372036854775807 - excluded.seats
                                  THEN 9223372036854775807 ELSE seats + excluded.seats END,
                     used = CASE WHEN used > 9223372036854775807 - excluded.used
                                 THEN 9223372036854775807 ELSE used + excluded.used END",
            )?
            .execute(params![
                account_id,
                saturating_i64(seats),
                saturating_i64(used)
            ])?;
        Ok(())
    }

    /// Writes a license's new row of the renewal calendar.
    pub fn put_renewal(&self, r: &RenewalRecord) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO temp.new_renewals (license_id, account_id, license_type,
                     expires_at, seats, used, forecast, forecast_over, plans)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                r.license_id,
                r.account_id,
                r.license_type,
                r.expires_at,
                saturating_i64(r.seats),
                saturating_i64(r.used),
                r.forecast,
                r.forecast_over,
                r.plans_json
            ])?;
        Ok(())
    }

    /// Writes a customer's new health row.
    pub fn put_health(&self, h: &HealthRecord) -> Result<()> {
        let f = h.factor_scores;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO temp.new_health ({HEALTH_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?
            .execute(params![
                h.account_id,
                h.name,
                h.score,
                f[0],
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                h.factors_json
            ])?;
        Ok(())
    }

    /// Every customer (an account holding a license) with its facts, by account id.
    /// `months` (YYYY-MM, ascending) are those of [`HealthFacts::activity`].
    ///
    /// Two cursors in account id order, merged here: the customers with their own month-end
    /// rows and staged seats, and the instances by owner. Activity over a subtree comes from
    /// the aggregates of the last rebuild (`subtree_month`), or, for an account without
    /// aggregate rows (its children are all leaves, see `rebuild::materialized`), from its own
    /// rows and its children's; those two are read into memory first (a few thousand rows).
    /// A lookup per (customer, month) took 1 s at 100k accounts.
    pub fn each_customer(
        &self,
        months: &[String],
        mut each: impl FnMut(HealthFacts) -> Result<()>,
    ) -> Result<()> {
        if months.windows(2).any(|w| w[0] >= w[1]) {
            return Err(CacheError::Invalid(
                "months must ascend without repeats".into(),
            ));
        }
        let (first, last) = match (months.first(), months.last()) {
            (Some(f), Some(l)) => (f.as_str(), l.as_str()),
            _ => ("", ""),
        };
        let activity = SubtreeActivity::read(self.conn, months)?;
        let mut st = self.conn.prepare(
            "SELECT c.account_id, c.name, c.expiries, c.no_expiry,
                    coalesce(s.seats, 0), coalesce(s.used, 0),
                    a.k, mu.month, mu.users_with_activity
             FROM customers c
             LEFT JOIN accounts a ON a.id = c.account_id
             LEFT JOIN temp.health_seats s ON s.account_id = c.account_id
             LEFT JOIN month_usage mu ON mu.account_k = a.k AND mu.month BETWEEN ?1 AND ?2
             ORDER BY c.account_id, mu.month",
        )?;
        let mut rows = st.query([first, last])?;
        let mut instances_st = self.conn.prepare(
            "SELECT ci.owner, ci.severity, ci.last_check_in, ci.verified_at,
                    json_extract(r.body, '$.app_version'), json_extract(l.body, '$.channel')
             FROM customer_instances ci
             LEFT JOIN instance_reports r ON r.instance_id = ci.instance_id
             LEFT JOIN licenses l ON l.id = ci.license_id
             ORDER BY ci.owner, ci.instance_id",
        )?;
        let mut instances = InstanceCursor {
            rows: instances_st.query([])?,
            next: None,
            done: false,
        };
        // The customer being read, with its own rows per month and its account's key.
        let mut current: Option<(HealthFacts, Option<i64>)> = None;
        while let Some(r) = rows.next()? {
            let id = r.get_ref(0)?.as_str()?;
            if current.as_ref().is_none_or(|(c, _)| c.account_id != id) {
                if let Some((facts, k)) = current.take() {
                    each(activity.finish(facts, k, &mut instances)?)?;
                }
                let ends: Vec<i64> = serde_json::from_str(r.get_ref(2)?.as_str()?)
                    .map_err(|e| CacheError::corrupt(format!("a customer's license ends: {e}")))?;
                let k: Option<i64> = r.get(6)?;
                let facts = HealthFacts {
                    account_id: id.to_owned(),
                    name: r.get(1)?,
                    ends,
                    no_expiry: r.get::<_, i64>(3)?.max(0) as u32,
                    instances: Vec::new(),
                    activity: if k.is_some() {
                        vec![None; months.len()]
                    } else {
                        Vec::new()
                    },
                    seats: r.get::<_, i64>(4)?.max(0) as u64,
                    used: r.get::<_, i64>(5)?.max(0) as u64,
                };
                current = Some((facts, k));
            }
            let at = r
                .get_ref(7)?
                .as_str_or_null()?
                .and_then(|m| months.iter().position(|x| x == m));
            if let (Some(at), Some((facts, _))) = (at, current.as_mut()) {
                add(&mut facts.activity[at], count(r.get(8)?).unwrap_or(0));
            }
        }
        if let Some((facts, k)) = current.take() {
            each(activity.finish(facts, k, &mut instances)?)?;
        }
        Ok(())
    }
}

fn count(v: Option<i64>) -> Option<u64> {
    v.map(|n| n.max(0) as u64)
}

fn add(sum: &mut Option<u64>, v: u64) {
    *sum = Some(sum.unwrap_or(0).saturating_add(v));
}

/// What a customer's activity needs beyond its own rows, read once per computation.
struct SubtreeActivity {
    /// (account k, month slot) -> the aggregate's value (`None`: no account available).
    aggregated: HashMap<(i64, usize), Option<u64>>,
    /// Per customer with children, their rows summed per month slot.
    children: HashMap<String, Vec<Option<u64>>>,
}

impl SubtreeActivity {
    fn read(conn: &Connection, months: &[String]) -> Result<Self> {
        let mut out = Self {
            aggregated: HashMap::new(),
            children: HashMap::new(),
        };
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Ok(out);
        };
        let slot = |m: &str| months.iter().position(|x| x == m);
        let mut st = conn.prepare(
            "SELECT account_k, month, ok, users_with_activity FROM subtree_month
             WHERE month BETWEEN ?1 AND ?2",
        )?;
        let mut rows = st.query([first, last])?;
        while let Some(r) = rows.next()? {
            if let Some(at) = slot(r.get_ref(1)?.as_str()?) {
                let (ok, v): (i64, Option<i64>) = (r.get(2)?, r.get(3)?);
                out.aggregated
                    .insert((r.get(0)?, at), if ok > 0 { count(v) } else { None });
            }
        }
        // CROSS JOIN keeps the customers the outer loop: the planner would otherwise scan
        // `month_usage` whole.
        let mut st = conn.prepare(
            "SELECT c.account_id, mu.month, sum(mu.users_with_activity)
             FROM customers c CROSS JOIN accounts ch ON ch.parent_id = c.account_id
             CROSS JOIN month_usage mu ON mu.account_k = ch.k AND mu.month BETWEEN ?1 AND ?2
             GROUP BY c.account_id, mu.month",
        )?;
        let mut rows = st.query([first, last])?;
        while let Some(r) = rows.next()? {
            if let (Some(at), Some(v)) = (slot(r.get_ref(1)?.as_str()?), count(r.get(2)?)) {
                let sums = out
                    .children
                    .entry(r.get(0)?)
                    .or_insert_with(|| vec![None; months.len()]);
                add(&mut sums[at], v);
            }
        }
        Ok(out)
    }

    /// `facts` with its own rows read: its subtree's activity and its instances.
    fn finish(
        &self,
        mut facts: HealthFacts,
        k: Option<i64>,
        instances: &mut InstanceCursor<'_>,
    ) -> Result<HealthFacts> {
        if let Some(k) = k {
            if let Some(of_children) = self.children.get(&facts.account_id) {
                for (sum, v) in facts.activity.iter_mut().zip(of_children) {
                    if let Some(v) = v {
                        add(sum, *v);
                    }
                }
            }
            for (at, sum) in facts.activity.iter_mut().enumerate() {
                if let Some(v) = self.aggregated.get(&(k, at)) {
                    *sum = *v;
                }
            }
        }
        facts.instances = instances.of(&facts.account_id)?;
        Ok(facts)
    }
}

/// The instances by owner, read alongside the customers (the same order).
struct InstanceCursor<'s> {
    rows: Rows<'s>,
    /// The row read ahead: the first of a later owner.
    next: Option<(String, HealthInstanceFacts)>,
    /// The statement has no more rows (stepping it again would start it over).
    done: bool,
}

impl InstanceCursor<'_> {
    /// The instances `owner` owns; the owners asking must come in id order.
    fn of(&mut self, owner: &str) -> Result<Vec<HealthInstanceFacts>> {
        let mut out = Vec::new();
        loop {
            if let Some((o, _)) = &self.next {
                match o.as_str().cmp(owner) {
                    std::cmp::Ordering::Greater => return Ok(out),
                    std::cmp::Ordering::Equal => {
                        if let Some((_, i)) = self.next.take() {
                            out.push(i);
                        }
                    }
                    // An owner that is not a customer: left out, as a join would.
                    std::cmp::Ordering::Less => self.next = None,
                }
            }
            if self.done {
                return Ok(out);
            }
            match self.rows.next()? {
                Some(r) => {
                    self.next = Some((
                        r.get(0)?,
                        HealthInstanceFacts {
                            severity: r.get::<_, Option<i64>>(1)?.map(|s| s.clamp(0, 4) as u8),
                            last_check_in: r.get(2)?,
                            verified_at: r.get(3)?,
                            app_version: r.get(4)?,
                            channel: r.get(5)?,
                        },
                    ));
                }
                None => self.done = true,
            }
        }
    }
}

/// The licenses that end, by id, read [`ENDING_PAGE`] at a time (a keyset on the primary key).
pub struct EndingLicenses<'c> {
    conn: &'c Connection,
    /// The page being handed out, reversed (the next one last).
    page: Vec<EndingLicense>,
    after: Option<String>,
    done: bool,
}

impl EndingLicenses<'_> {
    /// The next license that ends, if any.
    pub fn next_license(&mut self) -> Result<Option<EndingLicense>> {
        if self.page.is_empty() && !self.done {
            self.read_page()?;
        }
        Ok(self.page.pop())
    }

    fn read_page(&mut self) -> Result<()> {
        // Two statements: `?1 IS NULL OR id > ?1` would keep the planner off the key.
        let sql = |after: &str| {
            format!(
                "SELECT id, account_id, json_extract(body, '$.license_type'),
                        json_extract(body, '$.expires_at')
                 FROM licenses
                 WHERE json_extract(body, '$.expires_at') IS NOT NULL {after}
                 ORDER BY id LIMIT {ENDING_PAGE}"
            )
        };
        let mut st;
        let mut rows = match &self.after {
            None => {
                st = self.conn.prepare_cached(&sql(""))?;
                st.query([])?
            }
            Some(after) => {
                st = self.conn.prepare_cached(&sql("AND id > ?1"))?;
                st.query([after])?
            }
        };
        while let Some(r) = rows.next()? {
            self.page.push(EndingLicense {
                license_id: r.get(0)?,
                account_id: r.get(1)?,
                license_type: r.get(2)?,
                expires_at: r.get(3)?,
            });
        }
        self.done = self.page.len() < ENDING_PAGE;
        self.after = self.page.last().map(|l| l.license_id.clone());
        self.page.reverse();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use usagedesk_domain::api::Change;
    use usagedesk_domain::customer::{License, LicenseFeatures, LicenseType};
    use usagedesk_domain::Instance;

    use super::*;
    use crate::test_support::{acc, now, sync, Lcg};
    use crate::Cache;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn license(id: &str, account: &str, expires: Option<&str>) -> Change {
        Change::License(License {
            id: id.into(),
            account_id: account.into(),
            license_type: LicenseType::Prod,
            channel: "stable".into(),
            created_at: at("2023-01-01T00:00:00Z"),
            expires_at: expires.map(at),
            features: LicenseFeatures::default(),
            seats: [("basic".to_owned(), 10)].into_iter().collect(),
        })
    }

    fn instance(id: &str, license: &str, account: &str) -> Change {
        Change::Instance(Instance {
            id: id.into(),
            license_id: license.into(),
            account_id: account.into(),
            airgapped: false,
            public_key: None,
            high_water_mark: 0,
            last_report_at: None,
        })
    }

    /// 60 accounts; accounts 0..40 hold 45 licenses each (in a shuffled order of arrival),
    /// every third never ending; each license has `i % 3` instances. Returns the cache and,
    /// per license, (id, holder, ends).
    fn fixture() -> (tempfile::TempDir, Cache, Vec<(String, String, bool)>) {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
        let mut changes: Vec<Change> = (0..60)
            .map(|a| {
                acc(
                    &format!("acc-{a:02}"),
                    &format!("Account {a}"),
                    None,
                    "2023-01-01",
                )
            })
            .collect();
        let mut licenses = Vec::new();
        for i in 0..1_800 {
            let holder = format!("acc-{:02}", i % 40);
            let ends = i % 3 != 0;
            licenses.push((format!("L-{i:04}"), holder, ends));
        }
        let mut order: Vec<usize> = (0..licenses.len()).collect();
        Lcg::new(7).shuffle(&mut order);
        for i in order {
            let (id, holder, ends) = &licenses[i];
            changes.push(license(id, holder, ends.then_some("2025-01-31T00:00:00Z")));
            for n in 0..i % 3 {
                changes.push(instance(&format!("I-{i:04}-{n}"), id, holder));
            }
        }
        changes.push(acc("acc-05a", "Stray", None, "2023-01-01"));
        changes.push(instance("I-stray", "L-not-cached", "acc-05a"));
        sync(&mut cache, &changes, "c1");
        (dir, cache, licenses)
    }

    #[test]
    fn the_licenses_that_end_come_in_id_order_across_pages() {
        let (_dir, cache, licenses) = fixture();
        let stage = cache.health().stage().unwrap();
        let mut cursor = stage.ending_licenses();
        let mut got = Vec::new();
        while let Some(l) = cursor.next_license().unwrap() {
            got.push((l.license_id, l.account_id, l.expires_at));
        }
        // The fixture's ids sort as they are numbered.
        let expected: Vec<_> = licenses
            .iter()
            .filter(|l| l.2)
            .map(|(id, holder, _)| (id.clone(), holder.clone(), "2025-01-31T00:00:00Z".into()))
            .collect();
        assert!(
            expected.len() > 2 * ENDING_PAGE,
            "the fixture spans three pages"
        );
        assert_eq!(got, expected, "each license that ends once, by id");
    }

    #[test]
    fn each_customer_has_its_own_instances_and_its_staged_seats_by_account_id() {
        let (_dir, cache, licenses) = fixture();
        let stage = cache.health().stage().unwrap();
        stage.add_seats("acc-03", 10, 4).unwrap();
        stage.add_seats("acc-03", 5, 1).unwrap();
        stage.add_seats("acc-50", 7, 7).unwrap();
        stage.add_seats("acc-07", u64::MAX, 1).unwrap();
        stage.add_seats("acc-07", u64::MAX, 1).unwrap();
        let mut got = Vec::new();
        stage
            .each_customer(&["2024-05".into(), "2024-06".into()], |f| {
                got.push(f);
                Ok(())
            })
            .unwrap();
        // Customers: the 40 accounts holding licenses (acc-50 holds none: its seats are
        // not anyone's; acc-05a owns an instance of a license not in the cache, which makes
        // it no customer, between two that are).
        let stray: i64 = cache
            .conn
            .query_row(
                "SELECT count(*) FROM customer_instances WHERE owner = 'acc-05a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            stray, 1,
            "the cursor of instances passes an owner that is no customer"
        );
        let ids: Vec<&str> = got.iter().map(|f| f.account_id.as_str()).collect();
        let expected: Vec<String> = (0..40).map(|a| format!("acc-{a:02}")).collect();
        assert_eq!(ids, expected, "every customer once, by account id");
        for f in &got {
            let held: Vec<usize> = (0..licenses.len())
                .filter(|i| licenses[*i].1 == f.account_id)
                .collect();
            let instances: usize = held.iter().map(|i| i % 3).sum();
            assert_eq!(
                f.instances.len(),
                instances,
                "{}'s own instances",
                f.account_id
            );
            let ending = held.iter().filter(|i| licenses[**i].2).count();
            assert_eq!(f.ends.len(), ending, "{}'s ends", f.account_id);
            assert_eq!(f.no_expiry as usize, held.len() - ending);
            assert_eq!(f.activity, [None, None], "no month-end rows: not available");
            let seats = match f.account_id.as_str() {
                "acc-03" => (15, 5),
                "acc-07" => (i64::MAX as u64, 2),
                _ => (0, 0),
            };
            assert_eq!((f.seats, f.used), seats, "{}'s staged sums", f.account_id);
        }
    }

    #[test]
    fn a_checkpoint_by_another_connection_does_not_leave_the_tables_lagging() {
        let (dir, mut cache, _) = fixture();
        let other = Cache::open(dir.path().join("cache.db")).unwrap();
        let staged = cache
            .read_snapshot(|c| {
                let stage = c.health().stage()?;
                // Copies the log into the file: the data is the same, nothing to recompute
                // (a sync's checkpoint thread does this, PASSIVE, while it writes).
                other
                    .conn
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
                Ok::<_, CacheError>(stage.finish())
            })
            .unwrap();
        let day = now().date_naive();
        cache.health_mut().commit_staged(day, staged).unwrap();
        assert_eq!(cache.health().as_of().unwrap(), Some(day));
    }

    #[test]
    fn a_stage_takes_no_lock_and_changes_nothing_until_it_is_committed() {
        let (dir, mut cache, _) = fixture();
        let day = now().date_naive();
        let record = |id: &str, score: u32| HealthRecord {
            account_id: id.into(),
            name: id.into(),
            score,
            factor_scores: [None; 6],
            factors_json: "[]".into(),
        };
        cache
            .health_mut()
            .replace(day, [record("acc-01", 10)], [])
            .unwrap();
        let mut other = Cache::open(dir.path().join("cache.db")).unwrap();
        let staged = cache
            .read_snapshot(|c| {
                let stage = c.health().stage()?;
                stage.put_health(&record("acc-01", 90))?;
                stage.put_health(&record("acc-02", 50))?;
                // Another connection writes while the stage is open: no lock is held on the
                // file (its busy timeout would turn a held lock into an error here).
                other.sync_mut().apply_changes(
                    &[acc("acc-99", "Late", None, "2023-01-01")],
                    &crate::test_support::plans(),
                    "c2",
                    now(),
                )?;
                Ok::<_, CacheError>(stage.finish())
            })
            .unwrap();
        let scores = |c: &Cache| {
            c.health()
                .page(None, false, 0, 10)
                .unwrap()
                .items
                .into_iter()
                .map(|h| (h.account_id, h.score))
                .collect::<Vec<_>>()
        };
        assert_eq!(scores(&other), [("acc-01".into(), 10)], "not merged yet");
        assert_eq!(
            other.health().as_of().unwrap(),
            None,
            "the other connection's write marked the tables as lagging"
        );
        cache.health_mut().commit_staged(day, staged).unwrap();
        assert_eq!(
            scores(&other),
            [("acc-02".into(), 50), ("acc-01".into(), 90)],
            "the staged rows replace the stored ones"
        );
        assert_eq!(
            other.health().as_of().unwrap(),
            None,
            "computed from facts older than the other connection's write: still lagging"
        );
        let staged = cache
            .read_snapshot(|c| {
                let stage = c.health().stage()?;
                stage.put_health(&record("acc-01", 70))?;
                Ok::<_, CacheError>(stage.finish())
            })
            .unwrap();
        cache.health_mut().commit_staged(day, staged).unwrap();
        assert_eq!(
            scores(&other),
            [("acc-01".into(), 70)],
            "exactly the staged rows"
        );
        assert_eq!(
            other.health().as_of().unwrap(),
            Some(day),
            "nothing written since the stage began: current"
        );
    }
}
