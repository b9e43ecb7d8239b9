//! Loading `instances.csv` and keeping instances on the change feed.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction};
use usagedesk_domain::Account;

use super::feed_writer::FeedWriter;
use super::{time_text, touch};
use crate::load::rules;
use crate::storage::{InstanceRow, LoadError, Located, StoreError};

/// Sends every instance of `account_id` again (its account moved into new scopes).
pub(super) fn touch_instances_of(tx: &Transaction<'_>, account_id: &str) -> rusqlite::Result<()> {
    let ids: Vec<String> = tx
        .prepare_cached("SELECT id FROM instances WHERE account_id = ?1")?
        .query_map([account_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        touch(tx, "instance", account_id, &id)?;
    }
    Ok(())
}

type Stored = (String, String, bool, Option<String>, Option<String>);

/// Instances written by one statement.
const BATCH: usize = 64;

fn upsert_sql(n: usize) -> String {
    format!(
        "INSERT INTO instances(id, license_id, account_id, airgapped, public_key, last_report_at)
         VALUES {}
         ON CONFLICT(id) DO UPDATE SET license_id = excluded.license_id,
           airgapped = excluded.airgapped, public_key = excluded.public_key,
           last_report_at = CASE
             WHEN instances.last_report_at IS NULL
               OR excluded.last_report_at > instances.last_report_at
             THEN coalesce(excluded.last_report_at, instances.last_report_at)
             ELSE instances.last_report_at END",
        vec!["(?, ?, ?, ?, ?, ?)"; n].join(", ")
    )
}

/// A checked row to write: the row, the key it keeps, whether the load registers a key.
type Write<'f> = (&'f Located<InstanceRow>, Option<String>, bool);

/// Validates the rows against `accounts` (the file's merged over the database's) and what is
/// stored, then writes the changed ones, [`BATCH`] per statement. A row leaves the
/// high-water mark alone and moves the last report only forward (`last_report_at`); an empty
/// `public_key` keeps the pinned key, a given one replaces it. Returns the ids of the
/// instances that changed.
pub(super) fn load(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
    rows: &[Located<InstanceRow>],
    today: chrono::NaiveDate,
) -> Result<Vec<String>, LoadError> {
    let mut seen = HashSet::new();
    let mut changed = Vec::new();
    let mut feed = FeedWriter::new(tx).map_err(StoreError::from)?;
    let mut full = tx.prepare(&upsert_sql(BATCH)).map_err(StoreError::from)?;
    let mut pending: Vec<Write<'_>> = Vec::with_capacity(BATCH);
    // Into an empty table (a first load) no row has a stored version to look up.
    let empty: bool = tx
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM instances)", [], |r| {
            r.get(0)
        })
        .map_err(StoreError::from)?;
    for located in rows {
        let r = &located.row;
        let old: Option<Stored> = if empty {
            None
        } else {
            tx.prepare_cached(
                "SELECT license_id, account_id, airgapped, public_key, last_report_at
                 FROM instances WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([&r.id], |x| {
                    Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?, x.get(4)?))
                })
                .optional()
            })
            .map_err(StoreError::from)?
        };
        rules::check_instance(
            located,
            &mut seen,
            accounts,
            old.as_ref().map(|o| o.1.as_str()),
            today,
        )?;
        let old_key = old.as_ref().and_then(|o| o.3.as_deref());
        let key = r.public_key.as_deref().or(old_key);
        if let Some(o) = &old {
            let report_moves = report_moves(o.4.as_deref(), r.last_report_at.as_ref());
            if !report_moves
                && (o.0.as_str(), o.1.as_str(), o.2, o.3.as_deref())
                    == (
                        r.license_id.as_str(),
                        r.account_id.as_str(),
                        r.airgapped,
                        key,
                    )
            {
                continue;
            }
        }
        let registers = r.public_key.as_deref().is_some_and(|k| Some(k) != old_key);
        pending.push((located, key.map(str::to_owned), registers));
        changed.push(r.id.clone());
        if pending.len() == BATCH {
            write(tx, &mut full, &pending, &mut feed).map_err(StoreError::from)?;
            pending.clear();
        }
    }
    if !pending.is_empty() {
        let mut rest = tx
            .prepare(&upsert_sql(pending.len()))
            .map_err(StoreError::from)?;
        write(tx, &mut rest, &pending, &mut feed).map_err(StoreError::from)?;
    }
    feed.finish().map_err(StoreError::from)?;
    Ok(changed)
}

/// Whether a row's `last_report_at` is later than the stored one (times as `time_text`).
fn report_moves(stored: Option<&str>, given: Option<&chrono::DateTime<chrono::Utc>>) -> bool {
    given.is_some_and(|t| stored.is_none_or(|s| time_text(t).as_str() > s))
}

/// Writes checked rows with an [`upsert_sql`] statement of their number, records the keys
/// they register, and moves them to the head of the feed, in file order.
fn write(
    tx: &Transaction<'_>,
    stmt: &mut rusqlite::Statement<'_>,
    rows: &[Write<'_>],
    feed: &mut FeedWriter<'_>,
) -> rusqlite::Result<()> {
    for (i, (located, key, _)) in rows.iter().enumerate() {
        let r = &located.row;
        let at = i * 6;
        stmt.raw_bind_parameter(at + 1, &r.id)?;
        stmt.raw_bind_parameter(at + 2, &r.license_id)?;
        stmt.raw_bind_parameter(at + 3, &r.account_id)?;
        stmt.raw_bind_parameter(at + 4, r.airgapped)?;
        stmt.raw_bind_parameter(at + 5, key)?;
        stmt.raw_bind_parameter(at + 6, r.last_report_at.as_ref().map(time_text))?;
    }
    stmt.raw_execute()?;
    // The load runs as of the wall clock, like the rest of what it writes.
    let now = time_text(&chrono::Utc::now());
    let registered: Vec<_> = rows.iter().filter(|w| w.2).collect();
    if !registered.is_empty() {
        let mut events = tx.prepare_cached(&format!(
            "INSERT INTO instance_key_events(instance_id, at, event, actor, public_key, detail)
             VALUES {}",
            vec!["(?, ?, 'registered', 'instances.csv', ?, ?)"; registered.len()].join(", ")
        ))?;
        for (i, (located, key, _)) in registered.iter().enumerate() {
            let at = i * 4;
            events.raw_bind_parameter(at + 1, &located.row.id)?;
            events.raw_bind_parameter(at + 2, &now)?;
            events.raw_bind_parameter(at + 3, key)?;
            events.raw_bind_parameter(at + 4, format!("loaded from {}", located.file))?;
        }
        events.raw_execute()?;
    }
    for (located, _, _) in rows {
        feed.touch("instance", &located.row.account_id, &located.row.id)?;
    }
    Ok(())
}
