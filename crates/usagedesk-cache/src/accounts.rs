//! The tenant tree ([`AccountsHandle`]): the tree view's rows, single accounts, breadcrumbs,
//! search, the tree order that reports and exports walk.
//! None of them walks the tree in SQL: subtree totals come from the aggregate tables.

use std::collections::HashSet;

use indexmap::IndexMap;
use rusqlite::types::ToSql;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use usagedesk_domain::{
    Account, AccountMonthUsage, Availability, Metric, Plan, PlanCatalog, UsageCounts, YearMonth,
};

use crate::codec::{self, saturating_i64, DateText};
use crate::{
    AccountRow, AccountsHandle, Cache, CacheError, ChildSort, Page, Result, SearchHit, SearchMatch,
    SubtreeCounts, TreeEntry,
};

pub(crate) fn load_plans(conn: &Connection) -> Result<PlanCatalog> {
    let mut st =
        conn.prepare_cached("SELECT id, name, seat_metric FROM plans ORDER BY position")?;
    let plans = st
        .query_map([], |r| {
            let metric: String = r.get(2)?;
            Ok((
                Plan::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                metric,
            ))
        })?
        .map(|row| {
            let (plan, metric) = row?;
            let metric = Metric::from_column(&metric)
                .ok_or_else(|| CacheError::corrupt(format!("seat metric '{metric}' stored")))?;
            Ok(plan.with_seat_metric(metric))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PlanCatalog(plans))
}

/// Roots: accounts without a parent, or whose parent is not cached. `is_root` is set when an
/// account is written and cleared by the rebuild once its parent has arrived, so the parent
/// check only runs for the few accounts still flagged.
const ROOTS: &str = "a.is_root = 1 AND (a.parent_id IS NULL OR a.parent_id = a.id
    OR NOT EXISTS (SELECT 1 FROM accounts p WHERE p.id = a.parent_id))";

/// The columns of an [`Account`], as selected by `ACCOUNT_COLUMNS`.
const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.parent_id, a.status, a.created_at";

fn account_at(r: &Row<'_>, at: usize) -> Result<Account> {
    Ok(Account {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        parent_id: r.get(at + 2)?,
        status: codec::parse_status(r.get_ref(at + 3)?.as_str()?)?,
        created_at: codec::parse_date(r.get_ref(at + 4)?.as_str()?)?,
    })
}

/// The tree-view row of accounts `a` for month `?1` (`?2`: the month's last day). Callers
/// append WHERE / ORDER BY / LIMIT; their own parameters start at `?3`.
///
/// Parameters in joins are written `+?N`: a bare `?N` there makes SQLite's planner depend on
/// the bound value, and the statement cache then re-prepares the statement on every use
/// (measured: it tripled the cost of a row). The unary plus keeps the same index plan.
const ROW_SELECT: &str = "
    SELECT a.id, a.name, a.parent_id, a.status, a.created_at,
           mu.plan, mu.users_registered, mu.users_with_token, mu.users_with_activity,
           g.ok, g.not_available, g.non_existent,
           (SELECT count(*) FROM accounts c WHERE c.parent_id = a.id AND c.id <> a.id),
           a.k
    FROM accounts a
    LEFT JOIN month_usage mu ON mu.account_k = a.k AND mu.month = +?1
    LEFT JOIN subtree_month g ON g.month = +?1 AND g.account_k = a.k";

/// A loaded tree and the database state (`data_version`, `total_changes`) it reflects.
pub(crate) struct TreeMemo {
    state: (i64, u64),
    tree: std::sync::Arc<LoadedTree>,
}

/// The whole tree in memory: accounts with their local keys, children lists and roots in
/// tree order (by name, then id).
pub(crate) struct LoadedTree {
    pub(crate) accounts: Vec<Account>,
    pub(crate) keys: Vec<i64>,
    pub(crate) index: std::collections::HashMap<String, usize>,
    pub(crate) children: Vec<Vec<usize>>,
    pub(crate) roots: Vec<usize>,
}

/// A tree-view row before its per-plan subtree totals are read.
struct RawRow {
    k: i64,
    account: Account,
    own: Option<(String, UsageCounts)>,
    /// Present for accounts that had children at the last rebuild.
    subtree: Option<SubtreeCounts>,
    child_count: u64,
}

fn raw_row(r: &Row<'_>) -> Result<RawRow> {
    let account = account_at(r, 0)?;
    let own = match r.get::<_, Option<String>>(5)? {
        Some(plan) => Some((plan, codec::counts(r.get(6)?, r.get(7)?, r.get(8)?)?)),
        None => None,
    };
    let subtree = match r.get::<_, Option<i64>>(9)? {
        Some(ok) => Some(SubtreeCounts {
            ok: codec::count(ok)?,
            not_available: codec::count(r.get(10)?)?,
            non_existent: codec::count(r.get(11)?)?,
        }),
        None => None,
    };
    Ok(RawRow {
        k: r.get(13)?,
        account,
        own,
        subtree,
        child_count: codec::count(r.get(12)?)?,
    })
}

fn zero_totals(catalog: &PlanCatalog) -> IndexMap<String, UsageCounts> {
    catalog
        .ids()
        .map(|id| (id.to_owned(), UsageCounts::default()))
        .collect()
}

fn metric_column(m: Metric) -> &'static str {
    match m {
        Metric::UsersRegistered => "users_registered",
        Metric::UsersWithToken => "users_with_token",
        Metric::UsersWithActivity => "users_with_activity",
    }
}

impl Cache {
    pub(crate) fn require(&self, id: &str) -> Result<Account> {
        self.accounts()
            .get(id)?
            .ok_or_else(|| CacheError::UnknownAccount { id: id.to_owned() })
    }

    /// Runs a `ROW_SELECT` query (`extra` binds `?3` onwards) and completes its rows.
    fn rows(&self, sql: &str, month: YearMonth, extra: &[&dyn ToSql]) -> Result<Vec<AccountRow>> {
        let month_text = month.to_string();
        let last = DateText::new(month.last_day());
        let mut raw = Vec::new();
        {
            let mut st = self.conn.prepare_cached(sql)?;
            let head: [&dyn ToSql; 2] = [&month_text, &last.as_str()];
            let mut rows = st.query(params_from_iter(head.iter().chain(extra)))?;
            while let Some(r) = rows.next()? {
                raw.push(raw_row(r)?);
            }
        }
        let catalog = self.accounts().plans()?;
        raw.into_iter()
            .map(|r| self.complete(r, month, &month_text, &catalog))
            .collect()
    }

    fn complete(
        &self,
        raw: RawRow,
        month: YearMonth,
        month_text: &str,
        catalog: &PlanCatalog,
    ) -> Result<AccountRow> {
        let availability = Availability::of(raw.account.created_at, month, raw.own.is_some());
        let own = match availability {
            Availability::Ok => raw.own,
            _ => None,
        };
        let mut totals = zero_totals(catalog);
        let subtree = match raw.subtree {
            Some(counts) => {
                let mut st = self.conn.prepare_cached(
                    "SELECT plan, users_registered, users_with_token, users_with_activity
                     FROM subtree_plan WHERE month = ?1 AND account_k = ?2",
                )?;
                let mut rows = st.query(rusqlite::params![month_text, raw.k])?;
                while let Some(r) = rows.next()? {
                    let plan: String = r.get(0)?;
                    *totals.entry(plan).or_default() +=
                        codec::counts(r.get(1)?, r.get(2)?, r.get(3)?)?;
                }
                counts
            }
            None if raw.child_count > 0 && !self.month_has_data(month_text)? => {
                // No account has a row in this month, so none has aggregates: totals are
                // zero and only who existed needs counting.
                self.subtree_existence(&raw.account.id, month)?
            }
            None => {
                // Not materialized: the subtree is the account and its leaf children (at
                // the last rebuild), summed here from their own rows.
                let mut counts = SubtreeCounts::default();
                let mut add = |av: Availability, own: Option<(&str, UsageCounts)>| {
                    match av {
                        Availability::Ok => counts.ok += 1,
                        Availability::NotAvailable => counts.not_available += 1,
                        Availability::NonExistent => counts.non_existent += 1,
                    }
                    if let (Availability::Ok, Some((plan, c))) = (av, own) {
                        match totals.get_mut(plan) {
                            Some(t) => *t += c,
                            None => {
                                totals.insert(plan.to_owned(), c);
                            }
                        }
                    }
                };
                add(availability, own.as_ref().map(|(p, c)| (p.as_str(), *c)));
                if raw.child_count > 0 {
                    let mut st = self.conn.prepare_cached(
                        "SELECT c.created_at, mu.plan,
                             mu.users_registered, mu.users_with_token, mu.users_with_activity
                         FROM accounts c
                         LEFT JOIN month_usage mu ON mu.account_k = c.k AND mu.month = +?2
                         WHERE c.parent_id = +?1 AND c.id <> +?1",
                    )?;
                    let mut rows = st.query([raw.account.id.as_str(), month_text])?;
                    while let Some(r) = rows.next()? {
                        let created = codec::parse_date(r.get_ref(0)?.as_str()?)?;
                        let plan = r.get_ref(1)?.as_str_or_null()?;
                        let av = Availability::of(created, month, plan.is_some());
                        let c = match plan {
                            Some(p) => Some((p, codec::counts(r.get(2)?, r.get(3)?, r.get(4)?)?)),
                            None => None,
                        };
                        add(av, c);
                    }
                }
                counts
            }
        };
        let (plan, own) = match own {
            Some((p, c)) => (Some(p), Some(c)),
            None => (None, None),
        };
        Ok(AccountRow {
            usage: AccountMonthUsage {
                account_id: raw.account.id,
                account_name: raw.account.name,
                parent_id: raw.account.parent_id,
                month,
                status: raw.account.status,
                availability,
                plan,
                own,
                totals,
            },
            created_at: raw.account.created_at,
            subtree,
            child_count: raw.child_count,
        })
    }

    fn month_has_data(&self, month_text: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM months WHERE month = ?1")?
            .query_row([month_text], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Availability counts of a subtree in a month without any month-end row: every account
    /// is not available or non-existent. Walks the subtree (only months outside the synced
    /// data get here; UNION keeps a parent cycle from looping).
    fn subtree_existence(&self, id: &str, month: YearMonth) -> Result<SubtreeCounts> {
        let last = DateText::new(month.last_day());
        let (all, later): (i64, i64) = self
            .conn
            .prepare_cached(
                "WITH RECURSIVE sub (id) AS (
                     SELECT ?1 UNION SELECT a.id FROM accounts a JOIN sub ON a.parent_id = sub.id
                 )
                 SELECT count(*), coalesce(sum(a.created_at > ?2), 0)
                 FROM sub JOIN accounts a ON a.id = sub.id",
            )?
            .query_row(rusqlite::params![id, last.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok(SubtreeCounts {
            ok: 0,
            not_available: codec::count(all - later)?,
            non_existent: codec::count(later)?,
        })
    }

    /// The whole tree, loaded once and kept until the database changes: through this
    /// handle (SQLite's `total_changes`) or any other (`PRAGMA data_version`). An export
    /// previews, then writes, and both walk the tree; the second walk costs nothing.
    pub(crate) fn tree(&self) -> Result<std::sync::Arc<LoadedTree>> {
        let state = self.db_state()?;
        if let Some(memo) = self.tree_memo.borrow().as_ref() {
            if memo.state == state {
                return Ok(memo.tree.clone());
            }
        }
        let tree = std::sync::Arc::new(self.load_tree()?);
        *self.tree_memo.borrow_mut() = Some(TreeMemo {
            state,
            tree: tree.clone(),
        });
        Ok(tree)
    }

    /// Every account, with children lists in tree order. Reads the table in storage order
    /// and sorts in memory: SQLite's sorter took three times as long for 100k accounts.
    fn load_tree(&self) -> Result<LoadedTree> {
        let mut accounts = Vec::new();
        let mut keys = Vec::new();
        let mut is_root = Vec::new();
        {
            let mut st = self.conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS}, a.is_root, a.k FROM accounts a"
            ))?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                accounts.push(account_at(r, 0)?);
                is_root.push(r.get::<_, bool>(5)?);
                keys.push(r.get::<_, i64>(6)?);
            }
        }
        let index: std::collections::HashMap<String, usize> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let mut children = vec![Vec::new(); accounts.len()];
        let mut roots = Vec::new();
        for (i, a) in accounts.iter().enumerate() {
            match a.parent_id.as_deref().and_then(|p| index.get(p)) {
                Some(p) if *p != i => children[*p].push(i),
                _ if is_root[i] => roots.push(i),
                _ => {}
            }
        }
        let by_name = |x: &usize, y: &usize| {
            let (a, b) = (&accounts[*x], &accounts[*y]);
            (a.name.as_str(), a.id.as_str()).cmp(&(b.name.as_str(), b.id.as_str()))
        };
        roots.sort_unstable_by(by_name);
        for list in &mut children {
            list.sort_unstable_by(by_name);
        }
        Ok(LoadedTree {
            accounts,
            keys,
            index,
            children,
            roots,
        })
    }
}

impl AccountsHandle<'_> {
    /// The plan catalog of the last synced page (empty before the first sync).
    pub fn plans(&self) -> Result<PlanCatalog> {
        load_plans(&self.cache.conn)
    }

    pub fn get(&self, id: &str) -> Result<Option<Account>> {
        self.cache
            .conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = ?1"
            ))?
            .query_row([id], |r| Ok(account_at(r, 0)))
            .optional()?
            .transpose()
    }

    /// Direct children of `parent` (the roots when `None`), named and ordered by name then id.
    pub fn all_children(&self, parent: Option<&str>) -> Result<Vec<Account>> {
        let mut st;
        let mut rows = match parent {
            Some(p) => {
                st = self.cache.conn.prepare_cached(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a
                     WHERE a.parent_id = ?1 AND a.id <> ?1 ORDER BY a.name, a.id"
                ))?;
                st.query([p])?
            }
            None => {
                st = self.cache.conn.prepare_cached(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE {ROOTS} ORDER BY a.name, a.id"
                ))?;
                st.query([])?
            }
        };
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(account_at(r, 0)?);
        }
        Ok(out)
    }

    /// One page of the direct children of `parent` (the roots when `None`) with their
    /// month-`month` usage, subtree totals and availability counts, and child counts.
    pub fn children(
        &self,
        parent: Option<&str>,
        month: YearMonth,
        offset: usize,
        limit: usize,
        sort: ChildSort,
    ) -> Result<Page<AccountRow>> {
        if let Some(p) = parent {
            self.cache.require(p)?;
        }
        let filter = match parent {
            Some(_) => "a.parent_id = +?3 AND a.id <> +?3".to_owned(),
            None => format!("{ROOTS} AND +?3 IS NULL"),
        };
        let count_filter = match parent {
            Some(_) => "a.parent_id = ?1 AND a.id <> ?1".to_owned(),
            None => format!("{ROOTS} AND ?1 IS NULL"),
        };
        let total: i64 = self
            .cache
            .conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM accounts a WHERE {count_filter}"
            ))?
            .query_row([parent], |r| r.get(0))?;
        let order = match sort {
            ChildSort::Name => "a.name, a.id".to_owned(),
            ChildSort::SubtreeTotal(m) => {
                let c = metric_column(m);
                // Without aggregate rows, the subtree is the account and its leaf children:
                // their own values count when they exist in the month.
                format!(
                    "COALESCE(g.{c},
                         CASE WHEN a.created_at <= +?2 THEN coalesce(mu.{c}, 0) ELSE 0 END
                         + (SELECT coalesce(sum(cm.{c}), 0) FROM accounts c
                            JOIN month_usage cm ON cm.account_k = c.k AND cm.month = +?1
                            WHERE c.parent_id = a.id AND c.id <> a.id
                              AND c.created_at <= +?2)) DESC,
                     a.name, a.id"
                )
            }
        };
        let sql = format!("{ROW_SELECT} WHERE {filter} ORDER BY {order} LIMIT ?4 OFFSET ?5");
        let items = self.cache.rows(
            &sql,
            month,
            &[&parent, &saturating_i64(limit), &saturating_i64(offset)],
        )?;
        Ok(Page {
            items,
            total: codec::count(total)?,
            offset,
            limit,
        })
    }

    /// One account's tree-view row for a month (`None`: not in the cache).
    pub fn row(&self, id: &str, month: YearMonth) -> Result<Option<AccountRow>> {
        let sql = format!("{ROW_SELECT} WHERE a.id = +?3");
        let mut rows = self.cache.rows(&sql, month, &[&id])?;
        Ok(rows.pop())
    }

    /// The breadcrumb: the account's ancestors and itself, root first (empty when the
    /// account is not in the cache).
    pub fn path(&self, id: &str) -> Result<Vec<Account>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(id.to_owned());
        while let Some(at) = next.take() {
            if !seen.insert(at.clone()) {
                break; // a parent cycle: stop where it closes
            }
            let Some(a) = self.get(&at)? else { break };
            next = a.parent_id.clone();
            out.push(a);
        }
        out.reverse();
        Ok(out)
    }

    /// Accounts whose id starts with `text` or whose name contains it (case-insensitive):
    /// the exact id first, then id prefixes by id, then name matches by name, at most
    /// `limit` in all, each with its ancestors' names for display.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let text = text.trim();
        if text.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut found: Vec<(Account, SearchMatch)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut add = |a: Account, m: SearchMatch, found: &mut Vec<(Account, SearchMatch)>| {
            if found.len() < limit && seen.insert(a.id.clone()) {
                found.push((a, m));
            }
        };
        if let Some(a) = self.get(text)? {
            add(a, SearchMatch::ExactId, &mut found);
        }
        {
            // Every id that starts with `text` sorts in [text, text + U+10FFFF).
            let upper = format!("{text}\u{10FFFF}");
            let mut st = self.cache.conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id >= ?1 AND a.id < ?2
                 ORDER BY a.id LIMIT ?3"
            ))?;
            let mut rows = st.query(rusqlite::params![text, upper, saturating_i64(limit + 1)])?;
            while let Some(r) = rows.next()? {
                add(account_at(r, 0)?, SearchMatch::IdPrefix, &mut found);
            }
        }
        if found.len() < limit {
            let mut st = self.cache.conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE instr(a.name_fold, ?1) > 0
                 ORDER BY a.name, a.id LIMIT ?2"
            ))?;
            let mut rows = st.query(rusqlite::params![
                text.to_lowercase(),
                saturating_i64(limit + found.len())
            ])?;
            while let Some(r) = rows.next()? {
                add(account_at(r, 0)?, SearchMatch::Name, &mut found);
            }
        }
        found
            .into_iter()
            .map(|(account, matched)| {
                let mut path: Vec<String> = self
                    .path(&account.id)?
                    .into_iter()
                    .map(|a| a.name)
                    .collect();
                path.pop(); // the account itself
                Ok(SearchHit {
                    account,
                    matched,
                    path,
                })
            })
            .collect()
    }

    /// Walks `root`'s subtree (every root's when `None`) depth-first, siblings by name then
    /// id, at most `max_depth` levels below the start, calling `f` for each account. Walks
    /// of one or two levels query as they go; deeper ones read the tree once (100k accounts
    /// take ~10 MB) instead of querying every account's children.
    pub fn for_each_in_tree_order<E: From<CacheError>>(
        &self,
        root: Option<&str>,
        max_depth: Option<usize>,
        mut f: impl FnMut(&TreeEntry) -> Result<(), E>,
    ) -> Result<(), E> {
        if matches!(max_depth, Some(d) if d <= 1) || self.is_small_subtree(root)? {
            return self.walk_by_queries(root, max_depth, f);
        }
        let tree = self.cache.tree()?;
        let mut stack: Vec<(usize, usize)> = match root {
            Some(id) => {
                let at = tree
                    .index
                    .get(id)
                    .copied()
                    .ok_or_else(|| CacheError::UnknownAccount { id: id.to_owned() })?;
                vec![(at, 0)]
            }
            None => tree.roots.iter().rev().map(|&i| (i, 0)).collect(),
        };
        let mut seen = vec![false; tree.accounts.len()];
        while let Some((at, depth)) = stack.pop() {
            if std::mem::replace(&mut seen[at], true) {
                continue; // a parent cycle below an explicit start
            }
            let entry = TreeEntry {
                account: tree.accounts[at].clone(),
                depth,
            };
            f(&entry)?;
            if !matches!(max_depth, Some(m) if depth >= m) {
                stack.extend(tree.children[at].iter().rev().map(|&c| (c, depth + 1)));
            }
        }
        Ok(())
    }

    /// [`AccountsHandle::for_each_in_tree_order`] collected as (id, depth).
    pub fn tree_order(
        &self,
        root: Option<&str>,
        max_depth: Option<usize>,
    ) -> Result<Vec<(String, usize)>> {
        let mut out = Vec::new();
        self.for_each_in_tree_order(root, max_depth, |e| {
            out.push((e.account.id.clone(), e.depth));
            Ok::<_, CacheError>(())
        })?;
        Ok(out)
    }

    fn walk_by_queries<E: From<CacheError>>(
        &self,
        root: Option<&str>,
        max_depth: Option<usize>,
        mut f: impl FnMut(&TreeEntry) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stack: Vec<TreeEntry> = Vec::new();
        let push = |stack: &mut Vec<TreeEntry>, accounts: Vec<Account>, depth: usize| {
            stack.extend(
                accounts
                    .into_iter()
                    .rev()
                    .map(|account| TreeEntry { account, depth }),
            );
        };
        match root {
            Some(id) => push(&mut stack, vec![self.cache.require(id)?], 0),
            None => push(&mut stack, self.cache.accounts().all_children(None)?, 0),
        }
        while let Some(entry) = stack.pop() {
            f(&entry)?;
            if !matches!(max_depth, Some(m) if entry.depth >= m) {
                let kids = self
                    .cache
                    .accounts()
                    .all_children(Some(&entry.account.id))?;
                push(&mut stack, kids, entry.depth + 1);
            }
        }
        Ok(())
    }

    /// Whether `root`'s subtree had fewer than `SMALL_SUBTREE` accounts at the last rebuild
    /// (accounts without aggregate rows have at most `INLINE_FANOUT` leaf children).
    fn is_small_subtree(&self, root: Option<&str>) -> Result<bool> {
        const SMALL_SUBTREE: i64 = 10_000;
        let Some(id) = root else { return Ok(false) };
        let size: Option<i64> = self
            .cache
            .conn
            .prepare_cached(
                "SELECT g.ok + g.not_available + g.non_existent
                 FROM accounts a
                 JOIN subtree_month g ON g.account_k = a.k
                     AND g.month = (SELECT max(month) FROM months)
                 WHERE a.id = ?1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(!matches!(size, Some(n) if n >= SMALL_SUBTREE))
    }
}

#[cfg(test)]
mod tests {
    use usagedesk_domain::{Metric, Scope, UsageCounts};

    use super::*;
    use crate::test_support::*;

    /// ```text
    /// acme (Acme)                      globex (Globex)
    /// ├─ acme-eu (Zeta Europe)         └─ gx-1 (Alpha)
    /// │  ├─ acme-eu-1 (Paris)
    /// │  └─ acme-eu-2 (berlin)
    /// ├─ acme-us (Alpha US)
    /// ├─ b-2 (Beta)
    /// └─ b-1 (Beta)                    (same name: id breaks the tie)
    /// ```
    fn fixture() -> Cache {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(
            &mut cache,
            &[
                acc("acme", "Acme", None, "2020-01-01"),
                acc("acme-eu", "Zeta Europe", Some("acme"), "2020-01-01"),
                acc("acme-eu-1", "Paris", Some("acme-eu"), "2020-01-01"),
                acc("acme-eu-2", "berlin", Some("acme-eu"), "2024-02-10"),
                acc("acme-us", "Alpha US", Some("acme"), "2020-01-01"),
                acc("b-2", "Beta", Some("acme"), "2020-01-01"),
                acc("b-1", "Beta", Some("acme"), "2020-01-01"),
                acc("globex", "Globex", None, "2020-01-01"),
                acc("gx-1", "Alpha", Some("globex"), "2020-01-01"),
                usage("acme", "2024-01", "basic", 10),
                usage("acme-eu", "2024-01", "standard", 20),
                usage("acme-eu-1", "2024-01", "premium", 300),
                usage("acme-us", "2024-01", "premium", 40),
                usage("b-2", "2024-01", "basic", 1000),
                usage("b-1", "2024-01", "basic", 2),
                usage("acme-eu-1", "2024-02", "premium", 310),
                usage("acme-eu-2", "2024-02", "standard", 5),
                usage("gx-1", "2024-03", "basic", 1),
            ],
            "c1",
        );
        cache
    }

    fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
        items.iter().map(|i| id(i).to_owned()).collect()
    }

    #[test]
    fn children_pages_by_name_then_id() {
        let cache = fixture();
        let jan = ym("2024-01");
        let roots = cache
            .accounts()
            .children(None, jan, 0, 10, ChildSort::Name)
            .unwrap();
        assert_eq!(
            ids(&roots.items, |r| &r.usage.account_id),
            ["acme", "globex"]
        );
        assert_eq!(roots.items[0].child_count, 4, "acme can be expanded");

        let first = cache
            .accounts()
            .children(Some("acme"), jan, 0, 3, ChildSort::Name)
            .unwrap();
        assert_eq!(first.total, 4);
        assert_eq!(
            ids(&first.items, |r| &r.usage.account_id),
            ["acme-us", "b-1", "b-2"],
            "Alpha US < Beta (b-1) < Beta (b-2): equal names are ordered by id"
        );
        let second = cache
            .accounts()
            .children(Some("acme"), jan, 3, 3, ChildSort::Name)
            .unwrap();
        assert_eq!(ids(&second.items, |r| &r.usage.account_id), ["acme-eu"]);
        assert_eq!(second.items[0].child_count, 2);
        assert_eq!(
            second.items[0].usage.totals["premium"],
            UsageCounts::new(300, 150, 75)
        );
        assert_eq!(
            second.items[0].usage.totals["standard"],
            UsageCounts::new(20, 10, 5)
        );
        assert_eq!(
            second.items[0].usage.totals["basic"],
            UsageCounts::default()
        );
        assert_eq!(
            second.items[0].subtree,
            SubtreeCounts {
                ok: 2,
                not_available: 0,
                non_existent: 1
            },
            "berlin did not exist in January"
        );
        let leaf = &first.items[0];
        assert_eq!(leaf.child_count, 0);
        assert_eq!(leaf.subtree.ok, 1, "a leaf's subtree is itself");
        assert_eq!(leaf.usage.totals["premium"], UsageCounts::new(40, 20, 10));

        let empty = cache
            .accounts()
            .children(Some("acme"), jan, 10, 3, ChildSort::Name)
            .unwrap();
        assert!(empty.items.is_empty());
        assert_eq!(empty.total, 4, "the total does not depend on the page");
        assert!(matches!(
            cache
                .accounts()
                .children(Some("nope"), jan, 0, 3, ChildSort::Name),
            Err(CacheError::UnknownAccount { .. })
        ));
    }

    #[test]
    fn children_sort_by_a_metrics_subtree_total_largest_first() {
        let cache = fixture();
        let by = |m| ChildSort::SubtreeTotal(m);
        let page = cache
            .accounts()
            .children(
                Some("acme"),
                ym("2024-01"),
                0,
                10,
                by(Metric::UsersRegistered),
            )
            .unwrap();
        assert_eq!(
            ids(&page.items, |r| &r.usage.account_id),
            ["b-2", "acme-eu", "acme-us", "b-1"],
            "1000 > 20 + 300 > 40 > 2"
        );
        let feb = cache
            .accounts()
            .children(
                Some("acme"),
                ym("2024-02"),
                0,
                2,
                by(Metric::UsersWithActivity),
            )
            .unwrap();
        assert_eq!(
            ids(&feb.items, |r| &r.usage.account_id),
            ["acme-eu", "acme-us"],
            "no rows in February except under acme-eu; ties (0) by name"
        );
        assert_eq!(feb.total, 4);
    }

    #[test]
    fn account_month_lists_every_plan_in_catalog_order() {
        let cache = fixture();
        let m = cache.usage().account_month("acme", ym("2024-01")).unwrap();
        assert_eq!(
            m.totals.keys().collect::<Vec<_>>(),
            ["basic", "standard", "premium"]
        );
        assert_eq!(m.totals["basic"].users_registered, 10 + 1000 + 2);
        assert_eq!(m.own, Some(UsageCounts::new(10, 5, 2)));
        assert_eq!(m.plan.as_deref(), Some("basic"));
        assert!(matches!(
            cache.usage().account_month("nope", ym("2024-01")),
            Err(CacheError::UnknownAccount { .. })
        ));
        assert_eq!(
            cache
                .accounts()
                .get("acme-eu-2")
                .unwrap()
                .unwrap()
                .created_at,
            d("2024-02-10")
        );
        assert_eq!(cache.accounts().get("nope").unwrap(), None);
    }

    #[test]
    fn path_is_root_first() {
        let cache = fixture();
        let path = cache.accounts().path("acme-eu-2").unwrap();
        assert_eq!(ids(&path, |a| &a.id), ["acme", "acme-eu", "acme-eu-2"]);
        assert!(cache.accounts().path("nope").unwrap().is_empty());
    }

    #[test]
    fn search_ranks_exact_id_then_id_prefixes_then_names() {
        let cache = fixture();
        let hits = cache.accounts().search("acme-eu", 10).unwrap();
        let got: Vec<(&str, SearchMatch)> = hits
            .iter()
            .map(|h| (h.account.id.as_str(), h.matched))
            .collect();
        assert_eq!(
            got,
            [
                ("acme-eu", SearchMatch::ExactId),
                ("acme-eu-1", SearchMatch::IdPrefix),
                ("acme-eu-2", SearchMatch::IdPrefix),
            ]
        );
        assert_eq!(
            hits[2].path,
            ["Acme", "Zeta Europe"],
            "ancestors' names, root first"
        );

        let hits = cache.accounts().search("ALPHA", 10).unwrap();
        assert_eq!(
            ids(&hits, |h| &h.account.id),
            ["gx-1", "acme-us"],
            "case-insensitive name matches, by name: Alpha < Alpha US"
        );
        let hits = cache.accounts().search("BERLIN", 10).unwrap();
        assert_eq!(
            ids(&hits, |h| &h.account.id),
            ["acme-eu-2"],
            "lower-case names too"
        );
        let hits = cache.accounts().search("b", 10).unwrap();
        assert_eq!(
            hits.iter()
                .map(|h| (h.account.id.as_str(), h.matched))
                .collect::<Vec<_>>(),
            [
                ("b-1", SearchMatch::IdPrefix),
                ("b-2", SearchMatch::IdPrefix),
                ("globex", SearchMatch::Name),
                ("acme-eu-2", SearchMatch::Name),
            ],
            "listed once, at its best rank; names in byte order ('Globex' < 'berlin')"
        );
        assert_eq!(
            cache.accounts().search("b", 1).unwrap().len(),
            1,
            "the limit holds"
        );
        assert!(cache.accounts().search("  ", 10).unwrap().is_empty());
    }

    #[test]
    fn usage_rows_follow_tree_order_for_each_scope() {
        let cache = fixture();
        let jan = ym("2024-01");
        let rows = |scope| {
            let r = cache.usage().rows("acme", jan, scope).unwrap();
            ids(&r, |r| &r.account_id)
        };
        assert_eq!(rows(Scope::Own), ["acme"]);
        assert_eq!(
            rows(Scope::Children),
            ["acme", "acme-us", "b-1", "b-2", "acme-eu"]
        );
        assert_eq!(
            rows(Scope::Tree),
            [
                "acme",
                "acme-us",
                "b-1",
                "b-2",
                "acme-eu",
                "acme-eu-1",
                "acme-eu-2"
            ],
            "depth-first, siblings by name (byte order: 'Paris' < 'berlin') then id"
        );
        let all = cache.accounts().tree_order(None, None).unwrap();
        assert_eq!(all.len(), 9);
        assert_eq!(
            all.last().unwrap(),
            &("gx-1".to_owned(), 1),
            "globex's subtree comes last"
        );
        let months = cache
            .usage()
            .rows_for_months("acme-eu", &[ym("2024-01"), ym("2024-02")], Scope::Children)
            .unwrap();
        let got: Vec<(String, String)> = months
            .iter()
            .map(|r| (r.account_id.clone(), r.month.to_string()))
            .collect();
        assert_eq!(got[0], ("acme-eu".into(), "2024-01".into()));
        assert_eq!(
            got[1],
            ("acme-eu".into(), "2024-02".into()),
            "accounts, then months"
        );
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn the_tree_walk_stops_when_the_callback_fails() {
        let cache = fixture();
        let mut seen = 0;
        let r = cache
            .accounts()
            .for_each_in_tree_order(Some("acme"), None, |_| {
                seen += 1;
                if seen == 2 {
                    Err(CacheError::corrupt("stop"))
                } else {
                    Ok(())
                }
            });
        assert!(r.is_err());
        assert_eq!(seen, 2);
    }

    #[test]
    fn trend_gives_subtree_totals_per_month() {
        let cache = fixture();
        let months: Vec<YearMonth> = ym("2024-01").through(ym("2024-04")).collect();
        let t = cache.usage().trend("acme-eu", &months).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].totals["premium"].users_registered, 300);
        assert_eq!(t[1].totals["premium"].users_registered, 310);
        assert_eq!(t[1].totals["standard"].users_registered, 5);
        assert_eq!(
            t[1].subtree.not_available, 1,
            "acme-eu itself sent nothing in February"
        );
        assert_eq!(
            t[3].totals
                .values()
                .map(|c| c.users_registered)
                .sum::<u64>(),
            0,
            "a month without data is all zeros"
        );
        assert_eq!(t[3].subtree.not_available, 3);
    }

    #[test]
    fn months_and_completed_months() {
        let cache = fixture();
        assert_eq!(
            cache.usage().months().unwrap(),
            [ym("2024-01"), ym("2024-02"), ym("2024-03")]
        );
        assert_eq!(
            cache.usage().completed_months(d("2024-03-31")).unwrap(),
            [ym("2024-01"), ym("2024-02")],
            "March is still running on its last day"
        );
    }
}
