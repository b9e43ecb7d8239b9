//! Loading `instances.csv` and keeping instances on the change feed.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, OptionalExtension, Transaction};
use usagedesk_domain::Account;

use super::feed_writer::FeedWriter;
use super::{identity, touch};
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

type Stored = (String, String, bool, Option<String>);

/// Validates the rows against `accounts` (the file's merged over the database's) and what is
/// stored, then writes the changed ones. A row leaves the high-water mark and the last report
/// alone; an empty `public_key` keeps the pinned key, a given one replaces it. Returns
/// the ids of the instances that changed.
pub(super) fn load(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
    rows: &[Located<InstanceRow>],
) -> Result<Vec<String>, LoadError> {
    let mut seen = HashSet::new();
    let mut changed = Vec::new();
    let mut feed = FeedWriter::new(tx).map_err(StoreError::from)?;
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
                "SELECT license_id, account_id, airgapped, public_key FROM instances WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([&r.id], |x| {
                    Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?))
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
        )?;
        let key = r
            .public_key
            .clone()
            .or_else(|| old.as_ref().and_then(|o| o.3.clone()));
        let new: Stored = (
            r.license_id.clone(),
            r.account_id.clone(),
            r.airgapped,
            key.clone(),
        );
        if old.as_ref() == Some(&new) {
            continue;
        }
        tx.prepare_cached(
            "INSERT INTO instances(id, license_id, account_id, airgapped, public_key)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET license_id = excluded.license_id,
               airgapped = excluded.airgapped, public_key = excluded.public_key",
        )
        .and_then(|mut s| s.execute(params![r.id, r.license_id, r.account_id, r.airgapped, key]))
        .map_err(StoreError::from)?;
        let old_key = old.as_ref().and_then(|o| o.3.as_deref());
        if let Some(given) = r.public_key.as_deref().filter(|k| Some(*k) != old_key) {
            // The load runs as of the wall clock, like the rest of what it writes.
            identity::record_event(
                tx,
                &r.id,
                chrono::Utc::now(),
                "registered",
                "instances.csv",
                Some(given),
                &format!("loaded from {}", located.file),
            )
            .map_err(StoreError::from)?;
        }
        feed.touch("instance", &r.account_id, &r.id)
            .map_err(StoreError::from)?;
        changed.push(r.id.clone());
    }
    feed.finish().map_err(StoreError::from)?;
    Ok(changed)
}
