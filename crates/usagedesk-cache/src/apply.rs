//! Applying pages of the server's change feed.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use usagedesk_domain::api::{Change, ChangePage, MonthUsage};
use usagedesk_domain::{Account, Plan, YearMonth};

use crate::codec::{self, DateText};
use crate::rebuild::ALL_MONTHS;
use crate::stage::{self, StageWriter, StagedRow};
use crate::state::{self, KEY_CURSOR, KEY_LAST_APPLIED_AT, KEY_LAST_SYNCED_AT};
use crate::{rebuild, ApplyStats, Cache, CacheError, Result, SyncHandleMut};

impl Cache {
    fn apply(
        &mut self,
        changes: &[Change],
        plans: &[Plan],
        next_cursor: &str,
        now: DateTime<Utc>,
        end: PageEnd,
    ) -> Result<ApplyStats> {
        let tx = self.write_tx()?;
        let mut stats = ApplyStats::default();
        let mut months = MonthTexts::default();
        let mut dirty: BTreeSet<YearMonth> = BTreeSet::new();
        // Whether every staged row whose account is cached has been folded in.
        let mut folded = false;
        let mut stage = StageWriter::default();
        // Whether licenses or the tree changed (the entitlement tables follow both).
        let mut entitlements = false;
        store_plans(&tx, plans)?;
        let mut events = crate::customers::Events::default();
        let marks = crate::customer_index::Marks::read(&tx)?;
        for change in changes {
            // Events wait to be stored together; anything else goes after them.
            if !matches!(change, Change::InstanceEvent(_)) {
                events.flush(&tx)?;
            }
            match change {
                Change::InstanceEvent(e) => {
                    events.push(e);
                    stats.customer_records += 1;
                }
                Change::Account(a) => match upsert_account(&tx, a)? {
                    Upsert::Unchanged => stats.accounts_unchanged += 1,
                    Upsert::Changed { tree } => {
                        marks.account(&tx, &a.id)?;
                        stats.accounts_written += 1;
                        stats.tree_changed |= tree;
                        entitlements |= tree;
                    }
                },
                Change::MonthUsage(m) => {
                    stage_month_row(&mut stage, m, months.text(m.month))?;
                    folded = false;
                    dirty.insert(m.month);
                    stats.month_rows += 1;
                }
                Change::Tombstone { account_id } => {
                    stats.tombstones += 1;
                    if !folded {
                        // Staged rows of the subtree must go with it.
                        flush_stage(&tx, &mut stage)?;
                        rebuild::fold_pending(&tx, false)?;
                        folded = true;
                    }
                    let deleted = delete_subtree(&tx, account_id)?;
                    entitlements |= deleted > 0;
                    stats.accounts_deleted += deleted;
                    stats.tree_changed |= deleted > 0;
                }
                Change::Instance(i) => {
                    crate::airgap::upsert_instance(&tx, i)?;
                    marks.instance(&tx, &i.id)?;
                    stats.instances += 1;
                }
                Change::License(_) | Change::InstanceReport(_) | Change::InstallAttempt(_) => {
                    entitlements |= matches!(change, Change::License(_));
                    crate::customers::apply(&tx, change, marks)?;
                    stats.customer_records += 1;
                }
            }
        }
        events.flush(&tx)?;
        flush_stage(&tx, &mut stage)?;
        {
            let mut mark = tx.prepare_cached("INSERT OR IGNORE INTO dirty_months VALUES (?1)")?;
            if stats.tree_changed {
                mark.execute([ALL_MONTHS])?;
            }
            for m in &dirty {
                mark.execute([months.text(*m)])?;
            }
        }
        let now = codec::time_text(now);
        state::set(&tx, KEY_CURSOR, next_cursor)?;
        state::set(&tx, KEY_LAST_APPLIED_AT, &now)?;
        if entitlements {
            crate::entitlements::mark_dirty(&tx)?;
        }
        if !changes.is_empty() {
            crate::health::mark_dirty(&tx)?;
        }
        if let PageEnd::CaughtUp { synced_at } = end {
            refresh_derived(&tx)?;
            if synced_at {
                state::set(&tx, KEY_LAST_SYNCED_AT, &now)?;
            }
        }
        tx.commit()?;
        Ok(stats)
    }
}

impl SyncHandleMut<'_> {
    /// Applies one page of the change feed and stores `page.next_cursor`, in one
    /// transaction: either all of it is stored or none of it. Re-applying a page is
    /// harmless. When the page is the feed's last (`has_more == false`), `last_synced_at`
    /// is set to `now` and the customer index is brought up to date, in the same
    /// transaction.
    ///
    /// The customer index (`customer_index.rs`) is refreshed only by the page that catches
    /// up: a full sync then indexes every customer once instead of once per page that
    /// touches it. Until then readers see the index of the last complete sync, and the
    /// marks of what changed are stored with each page, so an interrupted sync is caught up
    /// by the next one (or when the cache is next opened).
    ///
    /// Month-end rows are staged; call [`SyncHandleMut::rebuild_aggregates`] after the last page.
    pub fn apply_page(&mut self, page: &ChangePage, now: DateTime<Utc>) -> Result<ApplyStats> {
        let end = if page.has_more {
            PageEnd::MoreToCome
        } else {
            PageEnd::CaughtUp { synced_at: true }
        };
        self.cache
            .apply(&page.changes, &page.plans, &page.next_cursor, now, end)
    }

    /// [`SyncHandleMut::apply_page`] from its parts, for a batch that is complete on its own: the
    /// customer index is brought up to date; `last_synced_at` is left alone. An empty
    /// `plans` keeps the stored catalog.
    pub fn apply_changes(
        &mut self,
        changes: &[Change],
        plans: &[Plan],
        next_cursor: &str,
        now: DateTime<Utc>,
    ) -> Result<ApplyStats> {
        let end = PageEnd::CaughtUp { synced_at: false };
        self.cache.apply(changes, plans, next_cursor, now, end)
    }
}

/// Brings the customer index and the entitlement tables up to date with what is stored;
/// returns whether they lagged.
pub(crate) fn refresh_derived(conn: &Connection) -> Result<bool> {
    if !crate::customer_index::pending(conn)? && !crate::entitlements::pending(conn)? {
        return Ok(false);
    }
    // Scores read the customer index and the entitlement tables: when these are rebuilt
    // (changes of an earlier page, or of a sync that stopped before its last page), the
    // scores are out of date too.
    crate::health::mark_dirty(conn)?;
    crate::customer_index::refresh(conn)?;
    crate::entitlements::refresh(conn)?;
    Ok(true)
}

impl SyncHandleMut<'_> {
    /// Brings the customer index and the entitlement tables up to date with the pages
    /// applied so far, in one transaction, when they lag; returns whether they did. A sync
    /// calls it while it waits for the cloud, so the page that catches up has less to do;
    /// pages applied later mark what they change again. Readers see tables that agree
    /// with the stored records either way.
    pub fn refresh_derived(&mut self) -> Result<bool> {
        let tx = self.cache.write_tx()?;
        let done = refresh_derived(&tx)?;
        tx.commit()?;
        Ok(done)
    }
}

/// Where a page stands in its sync.
#[derive(Clone, Copy)]
enum PageEnd {
    /// More pages follow: the customer index waits for the last one.
    MoreToCome,
    /// Nothing more for now: the customer index is refreshed; `synced_at`: the feed's
    /// last page, which also sets `last_synced_at`.
    CaughtUp { synced_at: bool },
}

/// `YYYY-MM` texts of the few months a page holds, formatted once.
#[derive(Default)]
struct MonthTexts(Vec<(YearMonth, String)>);

impl MonthTexts {
    fn text(&mut self, m: YearMonth) -> &str {
        let i = match self.0.iter().position(|(k, _)| *k == m) {
            Some(i) => i,
            None => {
                self.0.push((m, m.to_string()));
                self.0.len() - 1
            }
        };
        &self.0[i].1
    }
}

/// Replaces the stored catalog when the page's differs (an empty list keeps it).
fn store_plans(conn: &Connection, plans: &[Plan]) -> Result<()> {
    if plans.is_empty() {
        return Ok(());
    }
    let stored = crate::accounts::load_plans(conn)?;
    if stored.0 == plans {
        return Ok(());
    }
    conn.execute("DELETE FROM plans", [])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO plans (position, id, name, seat_metric) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut seen = HashSet::new();
    for (i, p) in plans.iter().enumerate() {
        // A duplicated id would break the UNIQUE constraint; the first one wins.
        if seen.insert(p.id.as_str()) {
            ins.execute(params![i as i64, p.id, p.name, p.seat_metric.as_str()])?;
        }
    }
    Ok(())
}

enum Upsert {
    Unchanged,
    /// `tree`: the account is new, or its parent or creation date changed, so every
    /// month's aggregates and availability counts may change.
    Changed {
        tree: bool,
    },
}

fn upsert_account(conn: &Connection, a: &Account) -> Result<Upsert> {
    let created = DateText::new(a.created_at);
    let old: Option<(Option<String>, String, String, String)> = conn
        .prepare_cached("SELECT parent_id, created_at, name, status FROM accounts WHERE id = ?1")?
        .query_row([&a.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let tree = match &old {
        Some((parent, created_at, name, status)) => {
            let tree = *parent != a.parent_id || created_at != created.as_str();
            if !tree && *name == a.name && status == a.status.as_str() {
                return Ok(Upsert::Unchanged);
            }
            tree
        }
        None => true,
    };
    let is_root = match &a.parent_id {
        None => true,
        Some(p) if *p == a.id => true,
        Some(p) => conn
            .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
            .query_row([p], |_| Ok(()))
            .optional()?
            .is_none(),
    };
    conn.prepare_cached(
        "INSERT INTO accounts (id, name, name_fold, parent_id, status, created_at, is_root)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET
             name = excluded.name, name_fold = excluded.name_fold,
             parent_id = excluded.parent_id, status = excluded.status,
             created_at = excluded.created_at, is_root = excluded.is_root",
    )?
    .execute(params![
        a.id,
        a.name,
        a.name.to_lowercase(),
        a.parent_id,
        a.status.as_str(),
        created.as_str(),
        is_root
    ])?;
    // Children that arrived before this account keep `is_root = 1` until the next rebuild
    // clears it: readers check the parent (see query.rs, ROOTS), and an UPDATE per new
    // account would cost a third of applying it.
    Ok(Upsert::Changed { tree })
}

fn stage_month_row(stage: &mut StageWriter, m: &MonthUsage, month: &str) -> Result<()> {
    let too_large = |value: u64| CacheError::CountTooLarge {
        account_id: m.account_id.clone(),
        month: month.to_owned(),
        value,
    };
    let c = &m.counts;
    let r = codec::store(c.users_registered).ok_or_else(|| too_large(c.users_registered))?;
    let t = codec::store(c.users_with_token).ok_or_else(|| too_large(c.users_with_token))?;
    let a = codec::store(c.users_with_activity).ok_or_else(|| too_large(c.users_with_activity))?;
    let date = DateText::new(m.snapshot_date);
    stage.push(&StagedRow {
        account_id: &m.account_id,
        month: codec::month_key(m.month),
        plan: &m.plan,
        snapshot: stage::pack_date(date.as_str()),
        snapshot_text: date.as_str(),
        counts: [r, t, a],
    })
}

/// Stores the rows staged so far as one page.
fn flush_stage(conn: &Connection, stage: &mut StageWriter) -> Result<()> {
    if stage.is_empty() {
        return Ok(());
    }
    let rows = i64::from(stage.len());
    conn.prepare_cached("INSERT INTO staged_pages (rows, data) VALUES (?1, ?2)")?
        .execute(params![rows, stage.finish()?])?;
    Ok(())
}

/// Deletes an account and its whole subtree (their month rows cascade). The caller has
/// folded staged rows in, so those of the subtree go too. Returns how many accounts were
/// deleted.
fn delete_subtree(conn: &Connection, id: &str) -> Result<u64> {
    // Rows still staged belong to accounts not in the cache; drop the tombstoned one's.
    rebuild::drop_waiting(conn, id)?;
    let exists = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(0);
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut todo = vec![id.to_owned()];
    seen.insert(id.to_owned());
    let mut children = conn.prepare_cached("SELECT id FROM accounts WHERE parent_id = ?1")?;
    let mut delete = conn.prepare_cached("DELETE FROM accounts WHERE id = ?1")?;
    let mut deleted = 0;
    while let Some(at) = todo.pop() {
        let mut rows = children.query([&at])?;
        while let Some(r) = rows.next()? {
            let child: String = r.get(0)?;
            if seen.insert(child.clone()) {
                todo.push(child);
            }
        }
        drop(rows);
        deleted += delete.execute([&at])? as u64;
        crate::customers::forget_account(conn, &at)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use usagedesk_domain::api::ChangePage;
    use usagedesk_domain::UsageCounts;

    use super::*;
    use crate::test_support::*;

    fn sample() -> Vec<Change> {
        vec![
            usage("c1", "2024-01", "basic", 4), // before its account
            acc("c1", "Child 1", Some("root"), "2023-01-01"), // before its parent
            acc("root", "Root", None, "2023-01-01"),
            acc("c2", "Child 2", Some("root"), "2023-06-01"),
            usage("root", "2024-01", "premium", 100),
            usage("c2", "2024-01", "standard", 8),
            usage("c2", "2024-02", "standard", 9),
            usage("c2", "2024-01", "basic", 12), // a later value for the same key wins
        ]
    }

    #[test]
    fn applying_the_same_page_twice_changes_nothing() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(&mut cache, &sample(), "c1");
        let once = dump(&cache);
        let stats = cache
            .sync_mut()
            .apply_changes(&sample(), &plans(), "c1", now())
            .unwrap();
        assert_eq!(
            stats.accounts_written, 0,
            "identical accounts are not rewritten"
        );
        assert!(!stats.tree_changed, "so no month needs rebuilding for them");
        cache.sync_mut().rebuild_aggregates().unwrap();
        assert_eq!(dump(&cache), once, "a repeated page is a no-op once folded");
    }

    #[test]
    fn one_page_or_two_gives_identical_tables() {
        let changes = sample();
        let mut one = Cache::open_in_memory().unwrap();
        sync(&mut one, &changes, "end");
        for split in 1..changes.len() {
            let mut two = Cache::open_in_memory().unwrap();
            two.sync_mut()
                .apply_changes(&changes[..split], &plans(), "mid", now())
                .unwrap();
            two.sync_mut()
                .apply_changes(&changes[split..], &plans(), "end", now())
                .unwrap();
            two.sync_mut().rebuild_aggregates().unwrap();
            assert_eq!(dump(&two), dump(&one), "split after change {split}");
        }
        let c2 = one.usage().account_month("c2", ym("2024-01")).unwrap();
        assert_eq!(
            c2.plan.as_deref(),
            Some("basic"),
            "the last value of a key wins"
        );
        assert_eq!(c2.own, Some(UsageCounts::new(12, 6, 3)));
    }

    #[test]
    fn the_cursor_is_stored_with_its_page_and_a_failed_page_stores_nothing() {
        let mut cache = Cache::open_in_memory().unwrap();
        let page = ChangePage {
            changes: sample(),
            next_cursor: "cursor-1".into(),
            has_more: true,
            remaining: None,
            plans: plans(),
            server_time: now(),
        };
        cache.sync_mut().apply_page(&page, now()).unwrap();
        assert_eq!(cache.sync().cursor().unwrap().as_deref(), Some("cursor-1"));
        assert_eq!(
            cache.sync().last_synced_at().unwrap(),
            None,
            "the feed has more: the sync is not complete"
        );
        let before = dump(&cache);

        let mut bad = vec![acc("new", "New", None, "2024-01-01")];
        let mut huge = usage("new", "2024-01", "basic", 1);
        if let Change::MonthUsage(m) = &mut huge {
            m.counts.users_registered = u64::MAX;
        }
        bad.push(huge);
        let err = cache
            .sync_mut()
            .apply_changes(&bad, &plans(), "cursor-2", now())
            .unwrap_err();
        assert!(matches!(err, CacheError::CountTooLarge { .. }), "{err}");
        assert_eq!(dump(&cache), before, "nothing of a failed page is stored");
        assert_eq!(
            cache.sync().cursor().unwrap().as_deref(),
            Some("cursor-1"),
            "so the page is fetched again"
        );

        let last = ChangePage {
            changes: vec![],
            next_cursor: "cursor-3".into(),
            has_more: false,
            ..page
        };
        cache.sync_mut().apply_page(&last, now()).unwrap();
        assert_eq!(cache.sync().last_synced_at().unwrap(), Some(now()));
    }

    #[test]
    fn usage_waits_for_an_account_that_arrives_in_a_later_page() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(&mut cache, &[usage("x", "2024-01", "basic", 40)], "c1");
        assert_eq!(cache.stats().unwrap().pending_rows, 1, "kept, not dropped");
        assert!(cache.accounts().get("x").unwrap().is_none());
        sync(&mut cache, &[acc("x", "X", None, "2023-01-01")], "c2");
        let x = cache.usage().account_month("x", ym("2024-01")).unwrap();
        assert_eq!(x.own, Some(UsageCounts::new(40, 20, 10)));
        assert_eq!(cache.stats().unwrap().pending_rows, 0);
    }

    #[test]
    fn a_child_stops_being_a_root_when_its_parent_arrives() {
        let mut cache = Cache::open_in_memory().unwrap();
        let roots = |c: &Cache| -> Vec<String> {
            c.accounts()
                .all_children(None)
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect()
        };
        cache
            .sync_mut()
            .apply_changes(
                &[acc("kid", "Kid", Some("mum"), "2023-01-01")],
                &plans(),
                "c1",
                now(),
            )
            .unwrap();
        assert_eq!(roots(&cache), ["kid"], "its parent is not cached yet");
        cache
            .sync_mut()
            .apply_changes(
                &[acc("mum", "Mum", None, "2023-01-01")],
                &plans(),
                "c2",
                now(),
            )
            .unwrap();
        assert_eq!(roots(&cache), ["mum"], "at once, before any rebuild");
        let page = cache
            .accounts()
            .children(None, ym("2024-01"), 0, 10, crate::ChildSort::Name)
            .unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(cache.accounts().tree_order(None, None).unwrap().len(), 2);
        cache.sync_mut().rebuild_aggregates().unwrap();
        assert_eq!(roots(&cache), ["mum"]);
        cache
            .sync_mut()
            .apply_changes(&[tomb("mum")], &plans(), "c3", now())
            .unwrap();
        assert!(
            roots(&cache).is_empty(),
            "the tombstone took the whole subtree"
        );
    }

    #[test]
    fn a_tombstone_drops_usage_still_waiting_for_its_account() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(&mut cache, &[usage("ghost", "2024-01", "basic", 5)], "c1");
        sync(&mut cache, &[tomb("ghost")], "c2");
        sync(
            &mut cache,
            &[acc("ghost", "Ghost", None, "2023-01-01")],
            "c3",
        );
        assert_eq!(
            cache
                .usage()
                .account_month("ghost", ym("2024-01"))
                .unwrap()
                .own,
            None,
            "usage sent before the tombstone belonged to the account that was removed"
        );
        assert_eq!(cache.stats().unwrap().pending_rows, 0);
    }

    #[test]
    fn a_tombstone_removes_the_whole_subtree_and_its_rows() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(
            &mut cache,
            &[
                acc("r", "R", None, "2023-01-01"),
                acc("a", "A", Some("r"), "2023-01-01"),
                acc("a1", "A1", Some("a"), "2023-01-01"),
                acc("a11", "A11", Some("a1"), "2023-01-01"),
                acc("b", "B", Some("r"), "2023-01-01"),
                usage("a11", "2024-01", "basic", 8),
                usage("b", "2024-01", "basic", 4),
            ],
            "c1",
        );
        assert_eq!(
            cache
                .usage()
                .account_month("r", ym("2024-01"))
                .unwrap()
                .totals["basic"]
                .users_registered,
            12
        );
        // Staged and not yet folded: the tombstone must take this row too.
        cache
            .sync_mut()
            .apply_changes(
                &[usage("a1", "2024-02", "basic", 1), tomb("a")],
                &plans(),
                "c2",
                now(),
            )
            .unwrap();
        cache.sync_mut().rebuild_aggregates().unwrap();
        for id in ["a", "a1", "a11"] {
            assert!(
                cache.accounts().get(id).unwrap().is_none(),
                "{id} was in the subtree"
            );
        }
        let stats = cache.stats().unwrap();
        assert_eq!(stats.accounts, 2);
        assert_eq!(stats.month_rows, 1, "the subtree's month rows cascade away");
        assert_eq!(
            cache.usage().months().unwrap(),
            [ym("2024-01")],
            "February lost its only row"
        );
        let r = cache.accounts().row("r", ym("2024-01")).unwrap().unwrap();
        assert_eq!(r.usage.totals["basic"].users_registered, 4);
        assert_eq!(r.child_count, 1);
        assert_eq!(r.subtree.accounts(), 2);
        // A tombstone for an unknown account is harmless.
        cache
            .sync_mut()
            .apply_changes(&[tomb("nobody")], &plans(), "c3", now())
            .unwrap();
    }

    #[test]
    fn a_changed_catalog_replaces_the_stored_one() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(&mut cache, &[acc("r", "R", None, "2023-01-01")], "c1");
        assert_eq!(
            cache.accounts().plans().unwrap().describe(),
            "basic, standard, premium"
        );
        let gold = vec![usagedesk_domain::Plan::new("gold", "Gold")
            .with_seat_metric(usagedesk_domain::Metric::UsersWithActivity)];
        cache
            .sync_mut()
            .apply_changes(&[], &gold, "c2", now())
            .unwrap();
        assert_eq!(cache.accounts().plans().unwrap().describe(), "gold");
        assert_eq!(
            cache.accounts().plans().unwrap().0,
            gold,
            "the seat metric is kept with the plan"
        );
        cache
            .sync_mut()
            .apply_changes(&[], &[], "c3", now())
            .unwrap();
        assert_eq!(
            cache.accounts().plans().unwrap().describe(),
            "gold",
            "no plans: keep the catalog"
        );
    }
}
