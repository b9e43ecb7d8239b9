//! Operator's tools on a database file: a consistent backup while the service runs, and a
//! new dataset epoch after a restore (every cache then resyncs in full).

use std::path::Path;

use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension};

use super::{migrate, open_connection, WRITER_CACHE_KIB};
use crate::storage::StoreError;

/// Writes a consistent copy of the database at `db` to `to` (a new file), while the service
/// may keep running: SQLite's `VACUUM INTO` reads one snapshot.
pub fn backup(db: &Path, to: &Path) -> Result<(), StoreError> {
    if to.exists() {
        return Err(StoreError::Invalid(format!(
            "{} exists already; give a new file name for the backup",
            to.display()
        )));
    }
    let conn = open_connection(db, WRITER_CACHE_KIB)?;
    conn.execute("VACUUM INTO ?1", [to.display().to_string()])?;
    Ok(())
}

/// Gives the database at `db` a new dataset epoch drawn from `rng`, so every cursor issued
/// before is answered 410 and every cache starts a full sync. Returns the old and the new
/// epoch. Run it with the service stopped: a running service keeps the epoch it read at
/// start until it is restarted.
pub fn rotate_epoch(db: &Path, rng: &mut impl RngCore) -> Result<(String, String), StoreError> {
    if !db.is_file() {
        return Err(StoreError::Invalid(format!(
            "no database at {}: give the --db of the service",
            db.display()
        )));
    }
    let mut conn: Connection = open_connection(db, WRITER_CACHE_KIB)?;
    migrate(&mut conn, db)?;
    let tx = conn.transaction()?;
    let old: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let old = old.ok_or_else(|| {
        StoreError::Invalid(format!(
            "{} has no dataset epoch: it was never opened by usagedesk-cloud",
            db.display()
        ))
    })?;
    let new = loop {
        let e = format!("{:016x}", rng.next_u64());
        if e != old {
            break e;
        }
    };
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'epoch'",
        params![new],
    )?;
    tx.commit()?;
    Ok((old, new))
}
