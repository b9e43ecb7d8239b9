//! A load's transaction: the accounts merged by the service's rules, the closure table, the
//! tombstones and resends of moved subtrees, then instances, customer files and daily rows.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use usagedesk_domain::Account;
use usagedesk_sqlite::{insert_batched, values};

use super::feed_writer::FeedWriter;
use super::{customers, daily_load, instances, load_accounts, load_catalog, month_feed, touch};
use crate::load::rules;
use crate::storage::{Dataset, LoadError, LoadStats, StoreError};

/// Closure rows written by one statement.
const CLOSURE_BATCH: usize = 128;

/// `OR FAIL`: the table is empty and the rows distinct, and a load that fails is undone as a
/// whole, so SQLite needs no statement journal (see `daily_load`).
fn closure_sql(n: usize) -> String {
    format!(
        "INSERT OR FAIL INTO closure(ancestor, descendant, depth) VALUES {}",
        vec!["(?, ?, ?)"; n].join(", ")
    )
}

/// Rebuilds the closure table from the full account set. Validated to be a forest.
///
/// The rows are written in key order, [`CLOSURE_BATCH`] per statement: the table's B-tree
/// then only ever grows at its end.
fn rebuild_closure(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM closure", [])?;
    let mut rows: Vec<(&str, &str, i64)> = Vec::with_capacity(accounts.len() * 4);
    for a in accounts.values() {
        let mut at = Some(a);
        let mut depth = 0i64;
        while let Some(node) = at {
            rows.push((&node.id, &a.id, depth));
            depth += 1;
            at = node.parent_id.as_ref().and_then(|p| accounts.get(p));
        }
    }
    rows.sort_unstable();
    let mut full = tx.prepare(&closure_sql(CLOSURE_BATCH))?;
    for chunk in rows.chunks(CLOSURE_BATCH) {
        let mut rest;
        let stmt = if chunk.len() == CLOSURE_BATCH {
            &mut full
        } else {
            rest = tx.prepare(&closure_sql(chunk.len()))?;
            &mut rest
        };
        for (i, (ancestor, descendant, depth)) in chunk.iter().enumerate() {
            stmt.raw_bind_parameter(i * 3 + 1, ancestor)?;
            stmt.raw_bind_parameter(i * 3 + 2, descendant)?;
            stmt.raw_bind_parameter(i * 3 + 3, depth)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

fn ancestors(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT ancestor FROM closure WHERE descendant = ?1")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

fn descendants(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT descendant FROM closure WHERE ancestor = ?1")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

/// Records that `id`'s subtree left the view of every scope that saw it through `old_ancestors`.
///
/// An account has one tombstone on the feed, moved to the head on each move. The scopes of
/// its earlier tombstone move with it: a cache of a scope the account left two moves ago
/// may not have read that tombstone yet, and must still find one after its cursor.
fn tombstone(tx: &Transaction<'_>, id: &str, old_ancestors: &[String]) -> rusqlite::Result<()> {
    let earlier: Option<i64> = tx
        .prepare_cached(
            "SELECT seq FROM feed WHERE kind = 'tombstone' AND account_id = ?1 AND key = ''",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    touch(tx, "tombstone", id, "")?;
    let seq = tx.last_insert_rowid();
    if let Some(earlier) = earlier {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO tombstone_scope(ancestor, seq)
             SELECT ancestor, ?2 FROM tombstone_scope WHERE seq = ?1",
        )?
        .execute(params![earlier, seq])?;
        tx.prepare_cached("DELETE FROM tombstone_scope WHERE seq = ?1")?
            .execute([earlier])?;
    }
    let mut ins =
        tx.prepare_cached("INSERT OR IGNORE INTO tombstone_scope(ancestor, seq) VALUES (?1, ?2)")?;
    for a in old_ancestors {
        ins.execute(params![a, seq])?;
    }
    Ok(())
}

/// The body of [`Tenants::load`]: validate and write in one transaction.
pub(super) fn load_dataset(
    conn: &mut Connection,
    mut dataset: Dataset<'_>,
    today: NaiveDate,
) -> Result<LoadStats, LoadError> {
    let started = std::time::Instant::now();
    let tx = conn.transaction().map_err(StoreError::from)?;
    let mut stats = LoadStats::default();

    if let Some(plans) = &dataset.plans {
        let mut up = tx
            .prepare_cached(
                "INSERT INTO plans(id, name, position, seat_metric) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, position = excluded.position,
                     seat_metric = excluded.seat_metric",
            )
            .map_err(StoreError::from)?;
        for (i, p) in plans.iter().enumerate() {
            up.execute(params![p.id, p.name, i as i64, p.seat_metric.as_str()])
                .map_err(StoreError::from)?;
        }
    }
    let catalog = load_catalog(&tx)?;

    // Accounts: the file merged over what is stored, by the service's rules.
    let merge = rules::merge_accounts(load_accounts(&tx)?, &dataset.accounts)?;
    let all = &merge.all;
    let changed = &merge.changed;
    // Accounts that move leave the scopes of their old ancestors: tombstone them there.
    let mut moved_subtrees = Vec::new();
    for old in &merge.moved {
        let anc = ancestors(&tx, &old.id).map_err(StoreError::from)?;
        tombstone(&tx, &old.id, &anc).map_err(StoreError::from)?;
        moved_subtrees.push(old.id.clone());
    }
    // The changed accounts, many per statement, then on the feed in the same order.
    let rows: Vec<(&Account, String)> = changed
        .iter()
        .map(|a| (&a.row, a.row.created_at.to_string()))
        .collect();
    insert_batched(
        &tx,
        |n| {
            format!(
                "INSERT INTO accounts(id, name, parent_id, status, created_at) VALUES {}
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name,
                     parent_id = excluded.parent_id, status = excluded.status,
                     created_at = excluded.created_at",
                values(n, 5)
            )
        },
        5,
        &rows,
        |st, at, (r, created)| {
            st.raw_bind_parameter(at, &r.id)?;
            st.raw_bind_parameter(at + 1, &r.name)?;
            st.raw_bind_parameter(at + 2, &r.parent_id)?;
            st.raw_bind_parameter(at + 3, r.status.as_str())?;
            st.raw_bind_parameter(at + 4, created)
        },
    )
    .map_err(StoreError::from)?;
    {
        let mut feed = FeedWriter::new(&tx).map_err(StoreError::from)?;
        for (r, _) in &rows {
            feed.touch("account", &r.id, "").map_err(StoreError::from)?;
        }
        feed.finish().map_err(StoreError::from)?;
    }
    if merge.tree_changed {
        rebuild_closure(&tx, all)?;
    }
    // A moved subtree is sent again, in full, to the scopes that now see it.
    for id in &moved_subtrees {
        for d in descendants(&tx, id).map_err(StoreError::from)? {
            touch(&tx, "account", &d, "").map_err(StoreError::from)?;
            month_feed::move_account(&tx, &d).map_err(StoreError::from)?;
            instances::touch_instances_of(&tx, &d).map_err(StoreError::from)?;
            customers::touch_customer_data_of(&tx, &d).map_err(StoreError::from)?;
        }
    }
    stats.accounts_changed = changed.len();
    tracing::debug!("load: accounts, {:.2} s", started.elapsed().as_secs_f64());
    let changed_instances = instances::load(&tx, all, &dataset.instances, today)?;
    stats.instances_changed = changed_instances.len();
    customers::load(
        &tx,
        all,
        &catalog,
        customers::CustomerFiles::take(&mut dataset),
        &changed_instances,
        today,
        &mut stats,
    )?;

    tracing::debug!(
        "load: instances and customer data, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    // Daily usage, streamed and validated row by row; then the month-end rows it changes.
    daily_load::load_daily(&tx, dataset.daily, all, &catalog, today, &mut stats)?;
    tx.commit().map_err(StoreError::from)?;
    tracing::debug!("load: committed, {:.2} s", started.elapsed().as_secs_f64());
    Ok(stats)
}
