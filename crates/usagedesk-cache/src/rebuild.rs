//! Folding staged month-end rows in and rebuilding the subtree aggregates.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use usagedesk_domain::rollup::{rollup, Own, Tree};
use usagedesk_domain::{UsageCounts, YearMonth};

use crate::codec;
use crate::stage::{self, StageReader, StageWriter};
use crate::{CacheError, RebuildStats, Result, SyncHandle, SyncHandleMut};

/// The `dirty_months` entry that stands for every month.
pub(crate) const ALL_MONTHS: &str = "*";

/// Memory the per-month `Own` arrays of one scan may take; more dirty months than fit are
/// rolled up in several scans of `month_usage`.
const OWN_BUDGET_BYTES: usize = 192 << 20;
/// Staged rows sorted and folded at a time (48 bytes each in memory). An initial sync of
/// 2.4M rows fits in one, so `month_usage` is written front to back once.
const FOLD_CHUNK: usize = 1 << 22;
/// Accounts with more direct children than this get aggregate rows even when all their
/// children are leaves (see [`materialized`]).
pub(crate) const INLINE_FANOUT: u32 = 64;

/// Which accounts get aggregate rows: those with a grandchild, or with more than
/// [`INLINE_FANOUT`] children. Every other account's subtree is itself and at most
/// `INLINE_FANOUT` leaf children, which a read sums directly from their `month_usage` rows.
/// (Leaves are 75-95% of a tenant tree; this keeps a full rebuild to a fraction of the rows.)
fn materialized(parent: &[Option<usize>]) -> Vec<bool> {
    let mut children = vec![0u32; parent.len()];
    for p in parent.iter().flatten() {
        children[*p] += 1;
    }
    let mut out: Vec<bool> = children.iter().map(|&c| c > INLINE_FANOUT).collect();
    for (i, p) in parent.iter().enumerate() {
        if let (Some(p), true) = (p, children[i] > 0) {
            out[*p] = true;
        }
    }
    out
}

/// FxHash: a fast, non-cryptographic hash for the id -> key map of a fold (ids come from
/// our own server; no hash flooding to fear).
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// One staged row, ready to be sorted by (account, month): 48 bytes.
pub(crate) struct Staged {
    pub k: i64,
    pub counts: [i64; 3],
    /// A month key ([`codec::month_key`]).
    pub month: u32,
    /// `YYYYMMDD`, or `ASIDE` + an index into the fold's list of other dates.
    snapshot: u32,
    /// An index of [`FoldedRows::plans`].
    pub plan: u16,
}

const ASIDE: u32 = 100_000_000;

/// What a fold did.
#[derive(Default)]
pub(crate) struct Fold {
    pub folded: u64,
    pub waiting: u64,
    /// With `keep_rows`, when `month_usage` was empty before and the fold took one chunk
    /// (an initial sync): every row now in `month_usage`, so the rebuild need not read them
    /// back.
    pub all_rows: Option<FoldedRows>,
}

/// Rows sorted by (account, month); of equal keys, the last is the one stored.
pub(crate) struct FoldedRows {
    rows: Vec<Staged>,
    plans: Vec<String>,
}

impl FoldedRows {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn plans(&self) -> &[String] {
        &self.plans
    }

    /// The rows as `month_usage` holds them, in key order: of one key, the last received.
    pub(crate) fn stored(&self) -> impl Iterator<Item = &Staged> {
        let rows = &self.rows;
        rows.iter().enumerate().filter_map(move |(i, s)| {
            let replaced = rows
                .get(i + 1)
                .is_some_and(|n| (n.k, n.month) == (s.k, s.month));
            (!replaced).then_some(s)
        })
    }
}

/// Rows one statement of the fold writes (seven parameters each).
const FOLD_BATCH: usize = 64;

/// The upsert of `n` month-end rows: one statement for many rows, so the per-statement
/// work of SQLite is paid once per batch.
fn upsert_sql(n: usize) -> String {
    format!(
        "INSERT INTO month_usage (account_k, month, plan, snapshot_date,
             users_registered, users_with_token, users_with_activity)
         VALUES {}
         ON CONFLICT (account_k, month) DO UPDATE SET
             plan = excluded.plan, snapshot_date = excluded.snapshot_date,
             users_registered = excluded.users_registered,
             users_with_token = excluded.users_with_token,
             users_with_activity = excluded.users_with_activity",
        vec!["(?, ?, ?, ?, ?, ?, ?)"; n].join(", ")
    )
}

/// Binds and runs one [`upsert_sql`] of `rows` (distinct keys).
fn bind_folded(
    stmt: &mut rusqlite::Statement<'_>,
    rows: &[&Staged],
    plans: &[String],
    other: &[String],
) -> Result<()> {
    for (i, s) in rows.iter().enumerate() {
        let at = i * 7;
        let packed;
        let snapshot = if s.snapshot >= ASIDE {
            other[(s.snapshot - ASIDE) as usize].as_str()
        } else {
            packed = stage::date_text(s.snapshot);
            packed.as_str()
        };
        let month = stage::month_text(s.month);
        stmt.raw_bind_parameter(at + 1, s.k)?;
        stmt.raw_bind_parameter(at + 2, month.as_str())?;
        stmt.raw_bind_parameter(at + 3, plans[s.plan as usize].as_str())?;
        stmt.raw_bind_parameter(at + 4, snapshot)?;
        stmt.raw_bind_parameter(at + 5, s.counts[0])?;
        stmt.raw_bind_parameter(at + 6, s.counts[1])?;
        stmt.raw_bind_parameter(at + 7, s.counts[2])?;
    }
    stmt.raw_execute()?;
    Ok(())
}

/// The local keys of account ids during a fold: all read at once for a big fold, or looked
/// up one id at a time (and remembered) for a small one, so folding a few pages while a sync
/// runs does not read every account each time.
enum AccountKeys<'c> {
    All(FxMap<String, i64>),
    Each {
        stmt: rusqlite::CachedStatement<'c>,
        seen: FxMap<String, Option<i64>>,
    },
}

impl<'c> AccountKeys<'c> {
    fn new(conn: &'c Connection, staged: i64) -> Result<Self> {
        // `k` only grows, so its maximum bounds the number of accounts. A lookup costs a
        // few microseconds per distinct account, reading them all a fraction of one per
        // account: read them all once the rows may name most of them.
        let accounts: i64 = conn
            .prepare_cached("SELECT coalesce(max(k), 0) FROM accounts")?
            .query_row([], |r| r.get(0))?;
        if staged >= accounts.saturating_mul(4) {
            let all = conn
                .prepare_cached("SELECT id, k FROM accounts")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            return Ok(Self::All(all));
        }
        Ok(Self::Each {
            stmt: conn.prepare_cached("SELECT k FROM accounts WHERE id = ?1")?,
            seen: FxMap::default(),
        })
    }

    fn get(&mut self, id: &str) -> Result<Option<i64>> {
        match self {
            Self::All(all) => Ok(all.get(id).copied()),
            Self::Each { stmt, seen } => {
                if let Some(k) = seen.get(id) {
                    return Ok(*k);
                }
                let k = stmt.query_row([id], |r| r.get(0)).optional()?;
                seen.insert(id.to_owned(), k);
                Ok(k)
            }
        }
    }
}

/// Moves staged month-end rows whose account is cached into `month_usage`: sorted by key
/// (sequential B-tree writes) and, for one key, the last one received wins. Accounts are
/// matched in memory: a lookup per row inside SQLite would cost more than the fold itself.
/// Rows whose account is not cached are staged again.
pub(crate) fn fold_pending(conn: &Connection, keep_rows: bool) -> Result<Fold> {
    Ok(fold::<()>(conn, keep_rows, None)?.0)
}

/// [`fold_pending`] keeping the rows, which `beside` reads on a second thread while they are
/// written, when the fold keeps them ([`Fold::all_rows`]: an initial sync). Its answer is
/// then returned with the fold's.
pub(crate) fn fold_pending_beside<T: Send>(
    conn: &Connection,
    beside: &(dyn Fn(&FoldedRows) -> T + Sync),
) -> Result<(Fold, Option<T>)> {
    fold(conn, true, Some(beside))
}

fn fold<T: Send>(
    conn: &Connection,
    keep_rows: bool,
    beside: Option<&(dyn Fn(&FoldedRows) -> T + Sync)>,
) -> Result<(Fold, Option<T>)> {
    let (first_seq, total): (Option<i64>, i64) = conn
        .prepare_cached("SELECT min(seq), coalesce(sum(rows), 0) FROM staged_pages")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let Some(first_seq) = first_seq else {
        return Ok((Fold::default(), None));
    };
    let was_empty: bool = conn
        .prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM month_usage)")?
        .query_row([], |r| r.get(0))?;
    let mut one_chunk = true;
    let mut keys = AccountKeys::new(conn, total)?;
    let mut plans: Vec<String> = Vec::new();
    let mut other_dates: Vec<String> = Vec::new();
    let mut waiting = StageWriter::default();
    let mut chunk: Vec<Staged> =
        Vec::with_capacity(usize::try_from(total).unwrap_or(0).min(FOLD_CHUNK));
    let mut folded = 0u64;
    let mut upsert = conn.prepare_cached(&upsert_sql(FOLD_BATCH))?;
    let mut write_sorted = |chunk: &[Staged], plans: &[String], other: &[String]| {
        let last_of_key = |i: usize| {
            chunk
                .get(i + 1)
                .is_none_or(|n| (n.k, n.month) != (chunk[i].k, chunk[i].month))
        };
        let rows: Vec<&Staged> = (0..chunk.len())
            .filter(|i| last_of_key(*i))
            .map(|i| &chunk[i])
            .collect();
        for batch in rows.chunks(FOLD_BATCH) {
            if batch.len() == FOLD_BATCH {
                bind_folded(&mut upsert, batch, plans, other)?;
            } else {
                let mut rest = conn.prepare_cached(&upsert_sql(batch.len()))?;
                bind_folded(&mut rest, batch, plans, other)?;
            }
        }
        Ok::<_, CacheError>(())
    };
    // Stable: rows of one key stay in arrival order, and the last one is written.
    let sort = |chunk: &mut [Staged]| chunk.sort_by_key(|s| (s.k, s.month));
    {
        let mut st = conn.prepare_cached("SELECT data FROM staged_pages ORDER BY seq")?;
        let mut pages = st.query([])?;
        while let Some(page) = pages.next()? {
            let mut rows = StageReader::new(page.get_ref(0)?.as_blob()?)?;
            while let Some(row) = rows.next_row()? {
                let Some(k) = keys.get(row.account_id)? else {
                    waiting.push(&row)?;
                    continue;
                };
                let plan = match plans.iter().position(|p| p == row.plan) {
                    Some(i) => i,
                    None => {
                        plans.push(row.plan.to_owned());
                        plans.len() - 1
                    }
                };
                let snapshot = match row.snapshot {
                    Some(d) => d,
                    None => {
                        other_dates.push(row.snapshot_text.to_owned());
                        ASIDE + (other_dates.len() - 1) as u32
                    }
                };
                chunk.push(Staged {
                    k,
                    counts: row.counts,
                    month: row.month,
                    snapshot,
                    plan: u16::try_from(plan)
                        .map_err(|_| CacheError::corrupt("more than 65535 plans"))?,
                });
                folded += 1;
            }
            if chunk.len() >= FOLD_CHUNK {
                sort(&mut chunk);
                write_sorted(&chunk, &plans, &other_dates)?;
                chunk.clear();
                one_chunk = false;
            }
        }
    }
    sort(&mut chunk);
    // The rows are kept only when they are all of `month_usage`: an initial sync's.
    let keep = keep_rows && was_empty && one_chunk;
    let (all_rows, beside) = match (keep, beside) {
        (false, _) => {
            write_sorted(&chunk, &plans, &other_dates)?;
            (None, None)
        }
        (true, None) => {
            write_sorted(&chunk, &plans, &other_dates)?;
            (Some(FoldedRows { rows: chunk, plans }), None)
        }
        (true, Some(beside)) => {
            let rows = FoldedRows { rows: chunk, plans };
            let answer = std::thread::scope(|s| {
                // Without a thread (the system refusing one) it runs after the write.
                let thread = std::thread::Builder::new()
                    .name("fold-beside".into())
                    .spawn_scoped(s, || beside(&rows))
                    .ok();
                write_sorted(&rows.rows, &rows.plans, &other_dates)?;
                Ok::<_, CacheError>(match thread {
                    Some(thread) => thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    None => beside(&rows),
                })
            })?;
            (Some(rows), Some(answer))
        }
    };
    conn.prepare_cached("DELETE FROM staged_pages")?
        .execute([])?;
    let left = u64::from(waiting.len());
    if !waiting.is_empty() {
        // Before any page staged later, as they arrived.
        conn.prepare_cached("INSERT INTO staged_pages (seq, rows, data) VALUES (?1, ?2, ?3)")?
            .execute(params![first_seq, left as i64, waiting.finish()?])?;
    }
    let fold = Fold {
        folded,
        waiting: left,
        all_rows,
    };
    Ok((fold, beside))
}

/// Drops staged rows of an account that is not cached (its tombstone arrived first). Call
/// after [`fold_pending`], when only such rows are staged.
pub(crate) fn drop_waiting(conn: &Connection, account_id: &str) -> Result<()> {
    let staged: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, data FROM staged_pages ORDER BY seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, data) in staged {
        let mut kept = StageWriter::default();
        let mut dropped = false;
        let mut rows = StageReader::new(&data)?;
        while let Some(row) = rows.next_row()? {
            if row.account_id == account_id {
                dropped = true;
            } else {
                kept.push(&row)?;
            }
        }
        if !dropped {
            continue;
        }
        if kept.is_empty() {
            conn.prepare_cached("DELETE FROM staged_pages WHERE seq = ?1")?
                .execute([seq])?;
        } else {
            conn.prepare_cached("UPDATE staged_pages SET rows = ?2, data = ?3 WHERE seq = ?1")?
                .execute(params![seq, i64::from(kept.len()), kept.finish()?])?;
        }
    }
    Ok(())
}

/// The tree of all cached accounts, as dense indexes in local-key order.
struct Accounts {
    ks: Vec<i64>,
    created_at: Vec<NaiveDate>,
    tree: Tree,
    /// See [`materialized`].
    materialized: Vec<bool>,
}

fn load_accounts(conn: &Connection) -> Result<Accounts> {
    let mut ks = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut parent_ids: Vec<Option<String>> = Vec::new();
    let mut created_at = Vec::new();
    {
        let mut st =
            conn.prepare_cached("SELECT k, id, parent_id, created_at FROM accounts ORDER BY k")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            ks.push(r.get::<_, i64>(0)?);
            ids.push(r.get(1)?);
            parent_ids.push(r.get(2)?);
            created_at.push(codec::parse_date(r.get_ref(3)?.as_str()?)?);
        }
    }
    let index: FxMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut parent: Vec<Option<usize>> = parent_ids
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.as_deref()
                .and_then(|p| index.get(p).copied())
                .filter(|&p| p != i)
        })
        .collect();
    break_cycles(&mut parent);
    let materialized = materialized(&parent);
    let tree = Tree::new(parent)
        .map_err(|e| CacheError::corrupt(format!("account tree after breaking cycles: {e}")))?;
    Ok(Accounts {
        ks,
        created_at,
        tree,
        materialized,
    })
}

/// Cuts parent links that close a cycle (the server never sends one, but a half-applied
/// reparenting must not stop the app): the account where the cycle is found becomes a root.
fn break_cycles(parent: &mut [Option<usize>]) {
    // 0: not visited; otherwise the number of the walk that visited it.
    let mut walk_of = vec![0usize; parent.len()];
    for start in 0..parent.len() {
        if walk_of[start] != 0 {
            continue;
        }
        let walk = start + 1;
        let mut at = start;
        loop {
            walk_of[at] = walk;
            match parent[at] {
                None => break,
                Some(p) if walk_of[p] == walk => {
                    parent[at] = None;
                    break;
                }
                Some(p) if walk_of[p] != 0 => break,
                Some(p) => at = p,
            }
        }
    }
}

impl SyncHandle<'_> {
    /// Whether staged rows or dirty months wait for [`SyncHandleMut::rebuild_aggregates`] (e.g.
    /// after a sync that stopped between pages). Staged rows whose account has not arrived yet do
    /// not count.
    pub fn needs_rebuild(&self) -> Result<bool> {
        Ok(self
            .cache
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM dirty_months)", [], |r| {
                r.get(0)
            })?)
    }

    /// Staged month-end rows (those still waiting for their account included).
    pub fn staged_rows(&self) -> Result<u64> {
        let n: i64 = self
            .cache
            .conn
            .prepare_cached("SELECT coalesce(sum(rows), 0) FROM staged_pages")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether `month_usage` holds any row (an empty one: a first sync, which is best folded
    /// all at once by [`SyncHandleMut::rebuild_aggregates`]: written front to back, and its rows
    /// rolled up from memory instead of read back).
    pub fn has_month_rows(&self) -> Result<bool> {
        Ok(self
            .cache
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM month_usage)")?
            .query_row([], |r| r.get(0))?)
    }
}

impl SyncHandleMut<'_> {
    /// Folds the staged month-end rows whose account is cached into `month_usage`, in one
    /// transaction, and leaves the aggregates (and the months to rebuild) to
    /// [`SyncHandleMut::rebuild_aggregates`]. A sync calls it while it waits for the next page, so
    /// the rebuild at its end has less left to do. Fills `rows_folded` and `rows_waiting`.
    pub fn fold_staged(&mut self) -> Result<RebuildStats> {
        let tx = self.cache.write_tx()?;
        let fold = fold_pending(&tx, false)?;
        tx.commit()?;
        Ok(RebuildStats {
            rows_folded: fold.folded,
            rows_waiting: fold.waiting,
            ..RebuildStats::default()
        })
    }

    /// Folds staged month-end rows into `month_usage` and rebuilds the aggregate tables of
    /// every dirty month (then clears the flags), in one transaction.
    ///
    /// SQLite does not check `month_usage`'s foreign key in that transaction: every row the
    /// fold writes has its account's key from `accounts`, read in the same transaction, and
    /// the transaction deletes no account (the key's only cascade). The check is a lookup per
    /// row: a third of the fold's write, half a second of a first sync at 100,000 accounts.
    pub fn rebuild_aggregates(&mut self) -> Result<RebuildStats> {
        // Only outside a transaction does SQLite take the setting.
        self.cache.conn.pragma_update(None, "foreign_keys", false)?;
        let rebuilt = self.rebuild_with_keys_unchecked();
        let restored = self.cache.conn.pragma_update(None, "foreign_keys", true);
        let stats = rebuilt?;
        restored?;
        Ok(stats)
    }

    fn rebuild_with_keys_unchecked(&mut self) -> Result<RebuildStats> {
        let tx = self.cache.write_tx()?;
        let mut stats = RebuildStats::default();
        let (all, months) = dirty_months(&tx)?;
        // The used seats of the licenses read the same month-end rows. A first sync's are in
        // memory (`all_rows`): they are summed on a second thread while the fold writes them
        // (at 100k accounts 1.9M uses, about half a second, against a second for the write).
        let used = if months.is_empty() {
            None
        } else {
            crate::entitlements::prepare_used(&tx, (!all).then_some(months.as_slice()))?
        };
        let (fold, summed) = match &used {
            Some(used) => fold_pending_beside(&tx, &|rows| used.sum_folded(rows))?,
            None => (fold_pending(&tx, true)?, None),
        };
        // Accounts flagged as roots whose parent has arrived since (see query.rs, ROOTS).
        tx.prepare_cached(
            "UPDATE accounts SET is_root = 0
             WHERE is_root = 1 AND parent_id IS NOT NULL AND parent_id <> id
               AND EXISTS (SELECT 1 FROM accounts p WHERE p.id = accounts.parent_id)",
        )?
        .execute([])?;
        (stats.rows_folded, stats.rows_waiting) = (fold.folded, fold.waiting);
        if fold.folded > 0 || !months.is_empty() {
            // Health reads the aggregates: computed before this rebuild, it lags.
            crate::health::mark_dirty(&tx)?;
        }
        if months.is_empty() {
            tx.execute("DELETE FROM dirty_months", [])?;
            tx.commit()?;
            return Ok(stats);
        }
        if all {
            // Every month with aggregate rows is being rebuilt.
            tx.execute("DELETE FROM subtree_month", [])?;
            tx.execute("DELETE FROM subtree_plan", [])?;
        } else {
            let mut a = tx.prepare_cached("DELETE FROM subtree_month WHERE month = ?1")?;
            let mut b = tx.prepare_cached("DELETE FROM subtree_plan WHERE month = ?1")?;
            for m in &months {
                let m = m.to_string();
                a.execute([&m])?;
                b.execute([&m])?;
            }
        }

        let accounts = load_accounts(&tx)?;
        stats.accounts = accounts.ks.len() as u64;
        let mut plan_ids: Vec<String> = crate::accounts::load_plans(&tx)?
            .ids()
            .map(str::to_owned)
            .collect();
        stats.aggregate_rows += write_aggregates(
            &tx,
            &accounts,
            &months,
            fold.all_rows.as_ref(),
            &mut plan_ids,
        )?;
        // The fold's rows (a first sync's, about 100 MB at 100k accounts) are done with.
        drop(fold);
        if let Some(used) = &used {
            let sums = match summed {
                Some(sums) => sums?,
                None => used.sum_table(&tx)?,
            };
            used.write(&tx, sums)?;
        }
        tx.execute("DELETE FROM dirty_months", [])?;
        tx.commit()?;
        stats.months = months;
        Ok(stats)
    }
}

/// The months whose aggregates are to be rebuilt, in order, and whether every month is
/// (`dirty_months` lists [`ALL_MONTHS`]: then every month with aggregates).
fn dirty_months(conn: &Connection) -> Result<(bool, Vec<YearMonth>)> {
    let mut all = false;
    let mut months: BTreeSet<YearMonth> = BTreeSet::new();
    let mut st = conn.prepare_cached("SELECT month FROM dirty_months")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let m = r.get_ref(0)?.as_str()?;
        if m == ALL_MONTHS {
            all = true;
        } else {
            months.insert(codec::parse_month(m)?);
        }
    }
    if all {
        let mut st = conn.prepare_cached("SELECT month FROM months")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            months.insert(codec::parse_month(r.get_ref(0)?.as_str()?)?);
        }
    }
    Ok((all, months.into_iter().collect()))
}

/// Writes the aggregates of `months` (and which months have rows) from `folded`, the rows a
/// fold just wrote into an empty `month_usage`, or else from `month_usage`, as many months
/// per scan as [`OWN_BUDGET_BYTES`] allows. Returns the aggregate rows written.
fn write_aggregates(
    conn: &Connection,
    accounts: &Accounts,
    months: &[YearMonth],
    folded: Option<&FoldedRows>,
    plan_ids: &mut Vec<String>,
) -> Result<u64> {
    let n = accounts.ks.len();
    let per_scan = (OWN_BUDGET_BYTES / (n.max(1) * std::mem::size_of::<Own>())).max(1);
    let mut written = 0;
    for chunk in months.chunks(per_scan) {
        let (own, present) = match folded {
            Some(rows) => own_from_fold(accounts, chunk, rows, plan_ids),
            None => read_own(conn, accounts, chunk, plan_ids)?,
        };
        for ((month, own), present) in chunk.iter().zip(&own).zip(present) {
            let month_text = month.to_string();
            if present {
                written += write_month(conn, accounts, &month_text, own, plan_ids)?;
                conn.prepare_cached("INSERT OR IGNORE INTO months VALUES (?1)")?
                    .execute([&month_text])?;
            } else {
                conn.prepare_cached("DELETE FROM months WHERE month = ?1")?
                    .execute([&month_text])?;
            }
        }
    }
    Ok(written)
}

/// Own values of every account in each month of a rebuild, filled in row by row.
struct OwnTable {
    keys: Vec<u32>,
    own: Vec<Vec<Own>>,
    present: Vec<bool>,
}

impl OwnTable {
    /// Everyone not available, or non-existent when created after the month.
    fn new(accounts: &Accounts, months: &[YearMonth]) -> Self {
        let own = months
            .iter()
            .map(|m| {
                let last = m.last_day();
                accounts
                    .created_at
                    .iter()
                    .map(|c| {
                        if *c > last {
                            Own::NonExistent
                        } else {
                            Own::NotAvailable
                        }
                    })
                    .collect()
            })
            .collect();
        Self {
            keys: months.iter().map(|m| codec::month_key(*m)).collect(),
            own,
            present: vec![false; months.len()],
        }
    }

    /// Account `at` has a row in month `month_key` on plan `plan` (an index of `plan_ids`).
    fn set(&mut self, at: usize, month_key: u32, plan: usize, counts: UsageCounts) {
        let Ok(slot) = self.keys.binary_search(&month_key) else {
            return; // a month this rebuild does not cover
        };
        self.present[slot] = true;
        let cell = &mut self.own[slot][at];
        if *cell != Own::NonExistent {
            // (A row dated before the account's creation does not count: DESIGN.md.)
            *cell = Own::Ok { plan, counts };
        }
    }

    fn finish(self) -> (Vec<Vec<Own>>, Vec<bool>) {
        (self.own, self.present)
    }
}

/// The index of `plan` in `plan_ids`, appending it when the catalog does not list it (its
/// sums are kept under its id).
fn plan_index(plan_ids: &mut Vec<String>, plan: &str) -> usize {
    match plan_ids.iter().position(|p| p == plan) {
        Some(i) => i,
        None => {
            plan_ids.push(plan.to_owned());
            plan_ids.len() - 1
        }
    }
}

/// Every account's own value in each month of `months` (sorted), from one scan of
/// `month_usage`, and whether each month has any row at all.
fn read_own(
    conn: &Connection,
    accounts: &Accounts,
    months: &[YearMonth],
    plan_ids: &mut Vec<String>,
) -> Result<(Vec<Vec<Own>>, Vec<bool>)> {
    let mut table = OwnTable::new(accounts, months);
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok(table.finish());
    };
    let mut st = conn.prepare_cached(
        "SELECT account_k, month, plan, users_registered, users_with_token, users_with_activity
         FROM month_usage WHERE month BETWEEN ?1 AND ?2",
    )?;
    let mut rows = st.query([first.to_string(), last.to_string()])?;
    // Rows come in (account_k, month) order and accounts are sorted by k: a merge join.
    let mut at = 0usize;
    while let Some(r) = rows.next()? {
        let k: i64 = r.get(0)?;
        while at < accounts.ks.len() && accounts.ks[at] < k {
            at += 1;
        }
        if at == accounts.ks.len() || accounts.ks[at] != k {
            continue; // the foreign key makes this unreachable
        }
        let Some(month) = codec::month_key_of_text(r.get_ref(1)?.as_str()?) else {
            continue;
        };
        let plan = plan_index(plan_ids, r.get_ref(2)?.as_str()?);
        let counts = codec::counts(r.get(3)?, r.get(4)?, r.get(5)?)?;
        table.set(at, month, plan, counts);
    }
    Ok(table.finish())
}

/// [`read_own`] from the rows a fold just wrote into an empty `month_usage`.
fn own_from_fold(
    accounts: &Accounts,
    months: &[YearMonth],
    folded: &FoldedRows,
    plan_ids: &mut Vec<String>,
) -> (Vec<Vec<Own>>, Vec<bool>) {
    let mut table = OwnTable::new(accounts, months);
    let plans: Vec<usize> = folded
        .plans
        .iter()
        .map(|p| plan_index(plan_ids, p))
        .collect();
    let mut at = 0usize;
    for s in folded.stored() {
        while at < accounts.ks.len() && accounts.ks[at] < s.k {
            at += 1;
        }
        if at == accounts.ks.len() || accounts.ks[at] != s.k {
            continue;
        }
        // Counts were checked to fit i64 from u64 when staged.
        let c = |v: i64| u64::try_from(v).unwrap_or(0);
        let counts = UsageCounts::new(c(s.counts[0]), c(s.counts[1]), c(s.counts[2]));
        table.set(at, s.month, plans[s.plan as usize], counts);
    }
    table.finish()
}

/// Writes one month's aggregates of the [`materialized`] accounts. Returns rows written.
fn write_month(
    conn: &Connection,
    accounts: &Accounts,
    month: &str,
    own: &[Own],
    plan_ids: &[String],
) -> Result<u64> {
    let r = rollup(&accounts.tree, own, plan_ids.len());
    let mut month_row = conn.prepare_cached(
        "INSERT INTO subtree_month (month, account_k, ok, not_available, non_existent,
             users_registered, users_with_token, users_with_activity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut plan_row = conn.prepare_cached(
        "INSERT INTO subtree_plan (month, account_k, plan,
             users_registered, users_with_token, users_with_activity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let sql_int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut written = 0;
    for (i, k) in accounts.ks.iter().enumerate() {
        if !accounts.materialized[i] {
            continue;
        }
        let totals = r.totals(i);
        let (mut sr, mut st, mut sa) = (0u64, 0u64, 0u64);
        for t in totals {
            sr = sr.saturating_add(t.users_registered);
            st = st.saturating_add(t.users_with_token);
            sa = sa.saturating_add(t.users_with_activity);
        }
        let c = r.counts(i);
        month_row.execute(params![
            month,
            k,
            c.ok,
            c.not_available,
            c.non_existent,
            sql_int(sr),
            sql_int(st),
            sql_int(sa)
        ])?;
        written += 1;
        for (p, t) in totals.iter().enumerate() {
            if t.users_registered == 0 && t.users_with_token == 0 && t.users_with_activity == 0 {
                continue;
            }
            plan_row.execute(params![
                month,
                k,
                plan_ids[p],
                sql_int(t.users_registered),
                sql_int(t.users_with_token),
                sql_int(t.users_with_activity)
            ])?;
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use usagedesk_domain::api::{Change, MonthUsage};
    use usagedesk_domain::{Account, Availability, UsageCounts, YearMonth};

    use super::*;
    use crate::test_support::*;
    use crate::Cache;
    use crate::SubtreeCounts;

    #[test]
    fn cycles_are_cut_where_found() {
        // 0 -> 1 -> 2 -> 0 is a cycle; 3 -> 0 hangs off it; 4 is a root.
        let mut parent = vec![Some(1), Some(2), Some(0), Some(0), None];
        break_cycles(&mut parent);
        assert!(
            Tree::new(parent.clone()).is_ok(),
            "no cycle is left: {parent:?}"
        );
        assert_eq!(
            parent.iter().filter(|p| p.is_none()).count(),
            2,
            "exactly one link was cut"
        );
        assert_eq!(
            parent[3],
            Some(0),
            "accounts outside the cycle keep their parent"
        );
    }

    /// What the cache should hold, applied change by change with the plainest semantics.
    #[derive(Default)]
    struct Model {
        accounts: BTreeMap<String, Account>,
        rows: BTreeMap<(String, YearMonth), MonthUsage>,
    }

    impl Model {
        fn apply(&mut self, c: &Change) {
            match c {
                Change::Account(a) => {
                    self.accounts.insert(a.id.clone(), a.clone());
                }
                Change::MonthUsage(m) => {
                    self.rows.insert((m.account_id.clone(), m.month), m.clone());
                }
                Change::Tombstone { account_id } => {
                    let mut gone = self.subtree(account_id);
                    gone.insert(account_id.clone());
                    self.accounts.retain(|id, _| !gone.contains(id));
                    self.rows.retain(|(id, _), _| !gone.contains(id));
                }
                // No bearing on usage or aggregates.
                Change::Instance(_)
                | Change::License(_)
                | Change::InstanceReport(_)
                | Change::InstanceEvent(_)
                | Change::InstallAttempt(_) => {}
            }
        }

        fn parent_of(&self, id: &str) -> Option<&str> {
            let p = self.accounts.get(id)?.parent_id.as_deref()?;
            (p != id && self.accounts.contains_key(p)).then_some(p)
        }

        fn children(&self, id: &str) -> Vec<&str> {
            self.accounts
                .keys()
                .map(String::as_str)
                .filter(|c| self.parent_of(c) == Some(id))
                .collect()
        }

        fn children_map(&self) -> BTreeMap<&str, Vec<&str>> {
            let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for id in self.accounts.keys() {
                if let Some(p) = self.parent_of(id) {
                    map.entry(p).or_default().push(id);
                }
            }
            map
        }

        /// `id` and all its descendants that are cached.
        fn subtree(&self, id: &str) -> BTreeSet<String> {
            self.subtree_with(id, &self.children_map())
        }

        fn subtree_with(&self, id: &str, children: &BTreeMap<&str, Vec<&str>>) -> BTreeSet<String> {
            let mut out = BTreeSet::new();
            if !self.accounts.contains_key(id) {
                return out;
            }
            let mut todo = vec![id.to_owned()];
            while let Some(at) = todo.pop() {
                if out.insert(at.clone()) {
                    let kids = children.get(at.as_str()).into_iter().flatten();
                    todo.extend(kids.map(|c| (*c).to_owned()));
                }
            }
            out
        }

        fn own(&self, id: &str, m: YearMonth) -> (Availability, Option<&MonthUsage>) {
            let a = &self.accounts[id];
            let row = self.rows.get(&(id.to_owned(), m));
            let av = Availability::of(a.created_at, m, row.is_some());
            (av, row.filter(|_| av == Availability::Ok))
        }

        fn months(&self) -> Vec<YearMonth> {
            let set: BTreeSet<YearMonth> = self
                .rows
                .keys()
                .filter(|(id, _)| self.accounts.contains_key(id))
                .map(|(_, m)| *m)
                .collect();
            set.into_iter().collect()
        }

        /// The naive subtree aggregate: walk every descendant and add.
        fn aggregate(
            &self,
            id: &str,
            m: YearMonth,
            children: &BTreeMap<&str, Vec<&str>>,
        ) -> (BTreeMap<String, UsageCounts>, SubtreeCounts) {
            let mut totals: BTreeMap<String, UsageCounts> = plans()
                .iter()
                .map(|p| (p.id.clone(), UsageCounts::default()))
                .collect();
            let mut counts = SubtreeCounts::default();
            for d in self.subtree_with(id, children) {
                match self.own(&d, m) {
                    (Availability::Ok, Some(row)) => {
                        counts.ok += 1;
                        *totals.entry(row.plan.clone()).or_default() += row.counts;
                    }
                    (Availability::NonExistent, _) => counts.non_existent += 1,
                    _ => counts.not_available += 1,
                }
            }
            (totals, counts)
        }
    }

    fn check_against_model(cache: &Cache, model: &Model, stage: &str) {
        let months = model.months();
        assert_eq!(
            cache.usage().months().unwrap(),
            months,
            "{stage}: months present"
        );
        let roots: Vec<String> = {
            let mut r: Vec<&Account> = model
                .accounts
                .values()
                .filter(|a| model.parent_of(&a.id).is_none())
                .collect();
            r.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            r.into_iter().map(|a| a.id.clone()).collect()
        };
        let got: Vec<String> = cache
            .accounts()
            .all_children(None)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(
            got, roots,
            "{stage}: roots are accounts without a cached parent"
        );
        let children = model.children_map();
        for m in &months {
            for id in model.accounts.keys() {
                let row = cache.accounts().row(id, *m).unwrap().unwrap();
                let (av, own) = model.own(id, *m);
                let what = format!("{stage}: {id} in {m}");
                assert_eq!(row.usage.availability, av, "{what}: availability");
                assert_eq!(
                    row.usage.plan.as_ref(),
                    own.map(|o| &o.plan),
                    "{what}: plan"
                );
                assert_eq!(row.usage.own, own.map(|o| o.counts), "{what}: own counts");
                let (totals, counts) = model.aggregate(id, *m, &children);
                let got: BTreeMap<String, UsageCounts> =
                    row.usage.totals.clone().into_iter().collect();
                assert_eq!(got, totals, "{what}: subtree totals equal the naive walk");
                assert_eq!(
                    row.usage
                        .totals
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                    ["basic", "standard", "premium"],
                    "{what}: totals list every plan in catalog order"
                );
                assert_eq!(row.subtree, counts, "{what}: availability counts");
                assert_eq!(
                    row.child_count,
                    children.get(id.as_str()).map_or(0, Vec::len) as u64,
                    "{what}: child count"
                );
            }
        }
    }

    fn random_changes(rng: &mut Lcg, n: usize, months: &[YearMonth]) -> Vec<Change> {
        let plan_ids = ["basic", "standard", "premium"];
        let mut changes = Vec::new();
        // The last WIDE accounts are leaves under one account, which so has more than
        // INLINE_FANOUT children and no grandchild.
        const WIDE: usize = INLINE_FANOUT as usize + 6;
        for i in 0..n {
            let parent = if i >= n - WIDE {
                Some(format!("a{:04}", n - WIDE - 1))
            } else if i < 3 || rng.chance(2) {
                None
            } else {
                Some(format!("a{:04}", rng.below(i as u64)))
            };
            // Names repeat, so ties are broken by id.
            let name = format!("Tenant {}", rng.below(n as u64 / 2));
            let created = months[0].first_day()
                + chrono::Duration::days(rng.below(months.len() as u64 * 30 + 60) as i64 - 30);
            changes.push(Change::Account(Account {
                id: format!("a{i:04}"),
                name,
                parent_id: parent,
                status: if rng.chance(10) {
                    usagedesk_domain::AccountStatus::Disabled
                } else {
                    usagedesk_domain::AccountStatus::Active
                },
                created_at: created,
            }));
            let mut plan = plan_ids[rng.below(3) as usize];
            for m in months {
                if rng.chance(10) {
                    plan = plan_ids[rng.below(3) as usize]; // plan changes across months
                }
                if rng.chance(80) {
                    let r = rng.below(1000);
                    changes.push(Change::MonthUsage(MonthUsage {
                        account_id: format!("a{i:04}"),
                        month: *m,
                        plan: plan.into(),
                        snapshot_date: m.last_day(),
                        counts: UsageCounts::new(r, r / 2, rng.below(r / 3 + 1)),
                    }));
                }
            }
        }
        changes
    }

    #[test]
    fn aggregates_equal_a_naive_recomputation_through_a_random_history() {
        let mut rng = Lcg::new(7);
        let months: Vec<YearMonth> = ym("2023-06").through(ym("2024-05")).collect();
        let mut changes = random_changes(&mut rng, 370, &months);
        // Children before parents, usage before its account, across page boundaries.
        rng.shuffle(&mut changes);
        let mut cache = Cache::open_in_memory().unwrap();
        let mut model = Model::default();
        for (k, page) in changes.chunks(97).enumerate() {
            cache
                .sync_mut()
                .apply_changes(page, &plans(), &format!("c{k}"), now())
                .unwrap();
            page.iter().for_each(|c| model.apply(c));
            if k % 7 == 3 {
                cache.sync_mut().rebuild_aggregates().unwrap(); // rebuilds between pages are fine too
            }
        }
        let stats = cache.sync_mut().rebuild_aggregates().unwrap();
        assert_eq!(stats.rows_waiting, 0, "every account arrived in the end");
        assert!(!cache.sync().needs_rebuild().unwrap());
        check_against_model(&cache, &model, "initial sync");
        let wide = "a0299";
        assert!(model.children(wide).len() > INLINE_FANOUT as usize);
        assert!(model
            .children(wide)
            .iter()
            .all(|c| model.children(c).is_empty()));
        let internal = |m: bool| {
            model.accounts.keys().any(|id| {
                let kids = model.children(id);
                !kids.is_empty()
                    && kids.iter().all(|c| model.children(c).is_empty()) != m
                    && kids.len() <= INLINE_FANOUT as usize
            })
        };
        assert!(
            internal(true) && internal(false),
            "the tree has parents of leaves only (summed on read) and of parents (materialized)"
        );

        // Later: plan changes, a reparent, a new creation date, renames, a tombstone, an
        // account that re-appears after its tombstone, and usage of a new month.
        let ids: Vec<String> = model.accounts.keys().cloned().collect();
        let mut later = Vec::new();
        for _ in 0..40 {
            let id = &ids[rng.below(ids.len() as u64) as usize];
            let m = months[rng.below(months.len() as u64) as usize];
            later.push(Change::MonthUsage(MonthUsage {
                account_id: id.clone(),
                month: m,
                plan: "premium".into(),
                snapshot_date: m.last_day(),
                counts: UsageCounts::new(5000, 10, 1),
            }));
        }
        let mover = ids.iter().find(|id| model.parent_of(id).is_some()).unwrap();
        let moved_under = ids
            .iter()
            .rev()
            .find(|p| !model.subtree(mover).contains(*p) && model.parent_of(mover) != Some(p))
            .unwrap();
        let mut moved = model.accounts[mover].clone();
        moved.parent_id = Some(moved_under.clone());
        later.push(Change::Account(moved));
        let mut redated = model.accounts[&ids[5]].clone();
        redated.created_at = d("2024-02-15");
        later.push(Change::Account(redated));
        let mut renamed = model.accounts[&ids[9]].clone();
        renamed.name = "Renamed".into();
        later.push(Change::Account(renamed));
        let victim = ids
            .iter()
            .find(|id| model.children(id).len() >= 2 && model.parent_of(id).is_some())
            .unwrap()
            .clone();
        later.push(Change::Tombstone {
            account_id: victim.clone(),
        });
        let mut back = model.accounts[&victim].clone();
        back.name = "Back again".into();
        later.push(Change::Account(back));
        later.push(usage(&victim, "2024-06", "basic", 77));
        for (k, page) in later.chunks(13).enumerate() {
            cache
                .sync_mut()
                .apply_changes(page, &plans(), &format!("d{k}"), now())
                .unwrap();
            page.iter().for_each(|c| model.apply(c));
        }
        cache.sync_mut().rebuild_aggregates().unwrap();
        check_against_model(&cache, &model, "after updates");
        assert!(
            cache
                .accounts()
                .row(&victim, ym("2024-06"))
                .unwrap()
                .unwrap()
                .child_count
                == 0,
            "the tombstone took the old children; the re-added account starts empty"
        );

        // A change of one month only rebuilds that month.
        let one = usage(&ids[0], "2024-01", "standard", 123);
        cache
            .sync_mut()
            .apply_changes(std::slice::from_ref(&one), &plans(), "e", now())
            .unwrap();
        model.apply(&one);
        let stats = cache.sync_mut().rebuild_aggregates().unwrap();
        assert_eq!(
            stats.months,
            [ym("2024-01")],
            "only the dirty month is rebuilt"
        );
        check_against_model(&cache, &model, "after a one-month change");
    }

    #[test]
    fn availability_follows_creation_date_and_rows() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(
            &mut cache,
            &[
                acc("p", "Provider", None, "2023-01-01"),
                acc("old", "Old", Some("p"), "2023-01-01"),
                acc("late", "Late", Some("p"), "2024-03-01"),
                acc("edge", "Edge", Some("p"), "2024-02-29"),
                usage("p", "2024-02", "basic", 10),
                usage("p", "2024-03", "basic", 10),
                usage("late", "2024-02", "premium", 99), // before creation: ignored
                usage("late", "2024-03", "premium", 8),
            ],
            "c1",
        );
        let feb = ym("2024-02");
        let row = |id: &str, m| cache.accounts().row(id, m).unwrap().unwrap();
        assert_eq!(
            row("late", feb).usage.availability,
            Availability::NonExistent,
            "created after the month's last day"
        );
        assert_eq!(
            row("late", feb).usage.own,
            None,
            "a row dated before creation counts for nothing"
        );
        assert_eq!(
            row("edge", feb).usage.availability,
            Availability::NotAvailable,
            "created on the last day: exists, but sent nothing"
        );
        let old = row("old", feb);
        assert_eq!(old.usage.availability, Availability::NotAvailable);
        assert_eq!(old.usage.own, None, "not available is no value, never a 0");
        assert_eq!(old.usage.plan, None);
        let p = row("p", feb);
        assert_eq!(
            p.subtree,
            SubtreeCounts {
                ok: 1,
                not_available: 2,
                non_existent: 1
            }
        );
        assert_eq!(
            p.usage.totals["premium"],
            UsageCounts::default(),
            "the non-existent account's row adds nothing"
        );
        let mar = row("p", ym("2024-03"));
        assert_eq!(mar.subtree.ok, 2);
        assert_eq!(mar.usage.totals["premium"], UsageCounts::new(8, 4, 2));
        assert_eq!(mar.usage.totals["basic"], UsageCounts::new(10, 5, 2));
    }

    /// The rebuild writes `month_usage` without SQLite checking its foreign key; the check
    /// is back on when it returns, so a tombstone's cascade still takes the account's rows,
    /// and a row of no account is refused.
    #[test]
    fn foreign_keys_are_checked_again_after_a_rebuild() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(
            &mut cache,
            &[
                acc("p", "Provider", None, "2023-01-01"),
                acc("c", "Child", Some("p"), "2023-01-01"),
                usage("c", "2024-02", "basic", 3),
            ],
            "c1",
        );
        let on: bool = cache
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(on, "enforced again after the rebuild");
        let orphan = cache.conn.execute(
            "INSERT INTO month_usage VALUES (999, '2024-02', 'basic', '2024-02-29', 1, 1, 1)",
            [],
        );
        assert!(orphan.is_err(), "a row of no account is refused");
        sync(&mut cache, &[tomb("c")], "c2");
        let left: i64 = cache
            .conn
            .query_row("SELECT count(*) FROM month_usage", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "the tombstone's cascade took the child's row");
    }
}
