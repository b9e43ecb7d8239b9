//! Instance identity: the license files issued (their enrollment public keys only), the pin
//! of an instance's first key under an enrollment, key resets, and each instance's key history.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{parse_time, time_text, touch};
use crate::storage::{
    Conflict, EnrollmentKeyState, KeyEvent, KeyReset, LicenseFileRecord, PinGrant, StoreError,
};

/// Appends an event to the instance's key history.
pub(super) fn record_event(
    tx: &Transaction<'_>,
    instance_id: &str,
    at: DateTime<Utc>,
    event: &str,
    actor: &str,
    public_key: Option<&str>,
    detail: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO instance_key_events(instance_id, at, event, actor, public_key, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        instance_id,
        time_text(&at),
        event,
        actor,
        public_key,
        detail
    ])?;
    Ok(())
}

pub(super) fn record_license_file(
    conn: &mut Connection,
    r: &LicenseFileRecord,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let exists: Option<String> = tx
        .query_row(
            "SELECT id FROM instances WHERE id = ?1",
            [&r.instance_id],
            |row| row.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Err(Conflict::InstanceRemoved {
            instance: r.instance_id.clone(),
        }
        .into());
    }
    let path = serde_json::to_string(&r.account_path)
        .map_err(|e| StoreError::other(format!("cannot write an account path: {e}")))?;
    tx.execute(
        "INSERT INTO license_files(instance_id, license_id, enrollment_key, account_path,
           airgapped, issued_at, expires_at, issued_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            r.instance_id,
            r.license_id,
            r.enrollment_key,
            path,
            r.airgapped,
            time_text(&r.issued_at),
            time_text(&r.expires_at),
            r.issued_by
        ],
    )?;
    let id = tx.last_insert_rowid();
    record_event(
        &tx,
        &r.instance_id,
        r.issued_at,
        "license_file_issued",
        &r.issued_by,
        Some(&r.enrollment_key),
        &format!(
            "license file #{id} for license {}, account {}, {}, enrolls until {}",
            r.license_id,
            r.account_path.join(" > "),
            if r.airgapped { "air-gapped" } else { "online" },
            time_text(&r.expires_at)
        ),
    )?;
    tx.commit()?;
    Ok(())
}

fn key_state(
    conn: &Connection,
    instance_id: &str,
    enrollment_key: &str,
) -> Result<(EnrollmentKeyState, Option<i64>), StoreError> {
    let row: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, revoked_at FROM license_files
             WHERE instance_id = ?1 AND enrollment_key = ?2",
        )?
        .query_row(params![instance_id, enrollment_key], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(match row {
        None => (EnrollmentKeyState::Unknown, None),
        Some((id, None)) => (EnrollmentKeyState::Usable, Some(id)),
        Some((id, Some(at))) => (
            EnrollmentKeyState::Revoked(parse_time(&at).map_err(|e| {
                StoreError::other(format!("a stored time '{at}' is unreadable: {e}"))
            })?),
            Some(id),
        ),
    })
}

pub(super) fn enrollment_key_state(
    conn: &Connection,
    instance_id: &str,
    enrollment_key: &str,
) -> Result<EnrollmentKeyState, StoreError> {
    key_state(conn, instance_id, enrollment_key).map(|(s, _)| s)
}

/// Pins `public_key` to an instance that has no key, under `grant`, inside `tx`: the grant's
/// enrollment key must still be a usable license file of the instance. `via` says how the key
/// came (`online`, `usage data file`). Records the event and moves the instance on the feed.
pub(super) fn pin_first_key(
    tx: &Transaction<'_>,
    instance_id: &str,
    account_id: &str,
    public_key: &str,
    grant: &PinGrant,
    via: &str,
) -> Result<(), StoreError> {
    let (state, file) = key_state(tx, instance_id, &grant.enrollment_key)?;
    match state {
        EnrollmentKeyState::Usable => {}
        EnrollmentKeyState::Revoked(_) | EnrollmentKeyState::Unknown => {
            return Err(Conflict::EnrollmentRevoked {
                instance: instance_id.into(),
            }
            .into());
        }
    }
    tx.execute(
        "UPDATE instances SET public_key = ?2 WHERE id = ?1 AND public_key IS NULL",
        params![instance_id, public_key],
    )?;
    touch(tx, "instance", account_id, instance_id)?;
    record_event(
        tx,
        instance_id,
        grant.now,
        "enrolled",
        &grant.actor,
        Some(public_key),
        &format!(
            "first contact by {via}, enrolled with license file #{}",
            file.unwrap_or_default()
        ),
    )?;
    Ok(())
}

pub(super) fn reset_instance_key(
    conn: &mut Connection,
    instance_id: &str,
    revoke: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<KeyReset, StoreError> {
    let tx = conn.transaction()?;
    let row: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT account_id, public_key FROM instances WHERE id = ?1",
            [instance_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((account_id, previous_key)) = row else {
        return Err(StoreError::Invalid(format!(
            "no instance '{instance_id}' is registered: check the id (instances.csv)"
        )));
    };
    tx.execute(
        "UPDATE instances SET public_key = NULL WHERE id = ?1",
        [instance_id],
    )?;
    // Sync keys handed out online went to the holder of the old key.
    tx.execute(
        "DELETE FROM online_sync_keys WHERE instance_id = ?1",
        [instance_id],
    )?;
    touch(&tx, "instance", &account_id, instance_id)?;
    record_event(
        &tx,
        instance_id,
        now,
        "reset",
        actor,
        previous_key.as_deref(),
        if previous_key.is_some() {
            "pinned key removed: the next first contact must enroll with a license file"
        } else {
            "no key was pinned"
        },
    )?;
    let revoked = if revoke {
        let n = tx.execute(
            "UPDATE license_files SET revoked_at = ?2 WHERE instance_id = ?1 AND revoked_at IS NULL",
            params![instance_id, time_text(&now)],
        )? as u64;
        record_event(
            &tx,
            instance_id,
            now,
            "license_files_revoked",
            actor,
            None,
            &format!("{n} license files revoked: they can no longer enroll the instance"),
        )?;
        n
    } else {
        0
    };
    let usable: i64 = tx.query_row(
        "SELECT COUNT(*) FROM license_files
         WHERE instance_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![instance_id, time_text(&now)],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(KeyReset {
        previous_key,
        revoked,
        usable_license_files: usable.max(0) as u64,
    })
}

pub(super) fn instance_key_events(
    conn: &Connection,
    instance_id: &str,
) -> Result<Vec<KeyEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, event, actor, public_key, detail FROM instance_key_events
         WHERE instance_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([instance_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, event, actor, public_key, detail) = row?;
        out.push(KeyEvent {
            instance_id: instance_id.to_owned(),
            at: parse_time(&at).map_err(|e| {
                StoreError::other(format!("a stored time '{at}' is unreadable: {e}"))
            })?,
            event,
            actor,
            public_key,
            detail,
        });
    }
    Ok(out)
}
