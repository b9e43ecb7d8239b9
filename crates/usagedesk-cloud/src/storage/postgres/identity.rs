//! Instance identity on PostgreSQL: license files issued, the pin of an instance's first key
//! under an enrollment, key resets, and each instance's key history.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;

use super::feed::touch;
use super::{col, parse_time, time_text};
use crate::storage::{
    Conflict, EnrollmentKeyState, KeyEvent, KeyReset, LicenseFileRecord, PinGrant, StoreError,
};

/// Appends an event to the instance's key history.
pub(super) async fn record_event(
    conn: &mut PgConnection,
    instance_id: &str,
    at: DateTime<Utc>,
    event: &str,
    actor: &str,
    public_key: Option<&str>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO instance_key_events(instance_id, at, event, actor, public_key, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(instance_id)
    .bind(time_text(&at))
    .bind(event)
    .bind(actor)
    .bind(public_key)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn record_license_file(
    tx: &mut PgConnection,
    r: &LicenseFileRecord,
) -> Result<(), StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM instances WHERE id = $1)")
        .bind(&r.instance_id)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(Conflict::InstanceRemoved {
            instance: r.instance_id.clone(),
        }
        .into());
    }
    let path = serde_json::to_string(&r.account_path)
        .map_err(|e| StoreError::other(format!("cannot write an account path: {e}")))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO license_files(instance_id, license_id, enrollment_key, account_path,
           airgapped, issued_at, expires_at, issued_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&r.instance_id)
    .bind(&r.license_id)
    .bind(&r.enrollment_key)
    .bind(path)
    .bind(r.airgapped)
    .bind(time_text(&r.issued_at))
    .bind(time_text(&r.expires_at))
    .bind(&r.issued_by)
    .fetch_one(&mut *tx)
    .await?;
    record_event(
        tx,
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
    )
    .await
}

async fn key_state(
    conn: &mut PgConnection,
    instance_id: &str,
    enrollment_key: &str,
) -> Result<(EnrollmentKeyState, Option<i64>), StoreError> {
    let row = sqlx::query(
        "SELECT id, revoked_at FROM license_files WHERE instance_id = $1 AND enrollment_key = $2",
    )
    .bind(instance_id)
    .bind(enrollment_key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok((EnrollmentKeyState::Unknown, None));
    };
    let id: i64 = col(&row, 0)?;
    Ok(match col::<Option<String>>(&row, 1)? {
        None => (EnrollmentKeyState::Usable, Some(id)),
        Some(at) => (EnrollmentKeyState::Revoked(parse_time(&at)?), Some(id)),
    })
}

pub(super) async fn enrollment_key_state(
    conn: &mut PgConnection,
    instance_id: &str,
    enrollment_key: &str,
) -> Result<EnrollmentKeyState, StoreError> {
    Ok(key_state(conn, instance_id, enrollment_key).await?.0)
}

/// Pins `public_key` to an instance that has no key, under `grant` (re-checked here).
pub(super) async fn pin_first_key(
    tx: &mut PgConnection,
    instance_id: &str,
    account_id: &str,
    public_key: &str,
    grant: &PinGrant,
    via: &str,
) -> Result<(), StoreError> {
    let (state, file) = key_state(tx, instance_id, &grant.enrollment_key).await?;
    if state != EnrollmentKeyState::Usable {
        return Err(Conflict::EnrollmentRevoked {
            instance: instance_id.into(),
        }
        .into());
    }
    sqlx::query("UPDATE instances SET public_key = $2 WHERE id = $1 AND public_key IS NULL")
        .bind(instance_id)
        .bind(public_key)
        .execute(&mut *tx)
        .await?;
    touch(tx, "instance", account_id, instance_id).await?;
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
    )
    .await
}

pub(super) async fn reset_instance_key(
    tx: &mut PgConnection,
    instance_id: &str,
    revoke: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<KeyReset, StoreError> {
    let row = sqlx::query("SELECT account_id, public_key FROM instances WHERE id = $1")
        .bind(instance_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::Invalid(format!(
            "no instance '{instance_id}' is registered: check the id (instances.csv)"
        )));
    };
    let account_id: String = col(&row, 0)?;
    let previous_key: Option<String> = col(&row, 1)?;
    sqlx::query("UPDATE instances SET public_key = NULL WHERE id = $1")
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM online_sync_keys WHERE instance_id = $1")
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    touch(tx, "instance", &account_id, instance_id).await?;
    record_event(
        tx,
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
    )
    .await?;
    let revoked = if revoke {
        let n = sqlx::query(
            "UPDATE license_files SET revoked_at = $2 WHERE instance_id = $1 AND revoked_at IS NULL",
        )
        .bind(instance_id)
        .bind(time_text(&now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        record_event(
            tx,
            instance_id,
            now,
            "license_files_revoked",
            actor,
            None,
            &format!("{n} license files revoked: they can no longer enroll the instance"),
        )
        .await?;
        n
    } else {
        0
    };
    let usable: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM license_files
         WHERE instance_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(instance_id)
    .bind(time_text(&now))
    .fetch_one(&mut *tx)
    .await?;
    Ok(KeyReset {
        previous_key,
        revoked,
        usable_license_files: usable.max(0) as u64,
    })
}

pub(super) async fn instance_key_events(
    conn: &mut PgConnection,
    instance_id: &str,
) -> Result<Vec<KeyEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT at, event, actor, public_key, detail FROM instance_key_events
         WHERE instance_id = $1 ORDER BY id",
    )
    .bind(instance_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyEvent {
                instance_id: instance_id.to_owned(),
                at: parse_time(&col::<String>(r, 0)?)?,
                event: col(r, 1)?,
                actor: col(r, 2)?,
                public_key: col(r, 3)?,
                detail: col(r, 4)?,
            })
        })
        .collect()
}
