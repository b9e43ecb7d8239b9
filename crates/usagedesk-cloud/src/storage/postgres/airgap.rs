//! The air-gapped exchange on PostgreSQL: signing keys, delegations, instances, the sync keys
//! the cloud issued itself, and accepted usage data files.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::postgres::{PgConnection, PgRow};
use usagedesk_airgap::RootKey;
use usagedesk_domain::{Instance, UsageCounts};

use super::daily::{refresh_month_usage, write_daily};
use super::feed::touch;
use super::{
    col, counts_cols, identity, instance_row, time_col, time_text, u64_col, INSTANCE_COLS,
};
use crate::airgap::records::{mark_after, Record};
use crate::storage::{
    AcceptedFile, Conflict, DailyRow, Delegation, ImportCounts, OnlineSyncKey, PinGrant,
    ReceiptWriter, StoreError, StoredSigner, TokenScope, UsageFile, UsageVia,
};

const ROOT: &str = "vendor_root";
const CLOUD: &str = "cloud";

pub(super) async fn root_key(conn: &mut PgConnection) -> Result<Option<RootKey>, StoreError> {
    let secret: Option<String> =
        sqlx::query_scalar("SELECT secret FROM signing_keys WHERE role = $1")
            .bind(ROOT)
            .fetch_optional(&mut *conn)
            .await?;
    secret
        .map(|s| {
            RootKey::from_secret_text(&s).map_err(|e| {
                StoreError::other(format!(
                    "the database's vendor root key cannot be read ({e}); restore the database \
                     from a backup"
                ))
            })
        })
        .transpose()
}

/// Stores `key` unless a root key is stored (another process may have stored its own first);
/// returns the stored one.
pub(super) async fn insert_root_key(
    conn: &mut PgConnection,
    key: &RootKey,
    now: DateTime<Utc>,
) -> Result<RootKey, StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys(role, secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (role) DO NOTHING",
    )
    .bind(ROOT)
    .bind(key.to_secret_text())
    .bind(time_text(&now))
    .execute(&mut *conn)
    .await?;
    root_key(conn)
        .await?
        .ok_or_else(|| StoreError::other("the vendor root key could not be stored"))
}

pub(super) async fn cloud_signer(
    conn: &mut PgConnection,
) -> Result<Option<StoredSigner>, StoreError> {
    let row = sqlx::query("SELECT secret, certificate FROM signing_keys WHERE role = $1")
        .bind(CLOUD)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(StoredSigner {
            secret: col(&r, 0)?,
            certificate: col::<Option<String>>(&r, 1)?.unwrap_or_default(),
        })
    })
    .transpose()
}

pub(super) async fn save_cloud_signer(
    conn: &mut PgConnection,
    signer: &StoredSigner,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys(role, secret, certificate, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (role) DO UPDATE SET secret = excluded.secret,
           certificate = excluded.certificate, created_at = excluded.created_at",
    )
    .bind(CLOUD)
    .bind(&signer.secret)
    .bind(&signer.certificate)
    .bind(time_text(&now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_cloud_signer(
    conn: &mut PgConnection,
    signer: &StoredSigner,
    now: DateTime<Utc>,
) -> Result<StoredSigner, StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys(role, secret, certificate, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (role) DO NOTHING",
    )
    .bind(CLOUD)
    .bind(&signer.secret)
    .bind(&signer.certificate)
    .bind(time_text(&now))
    .execute(&mut *conn)
    .await?;
    cloud_signer(conn)
        .await?
        .ok_or_else(|| StoreError::other("the cloud's signing key could not be stored"))
}

pub(super) async fn record_delegation(
    conn: &mut PgConnection,
    d: &Delegation,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO delegations(public_key, subject, scope, token_name, issued_at, expires_at,
           token_id, certificate_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&d.public_key)
    .bind(&d.subject)
    .bind(&d.scope)
    .bind(&d.token_name)
    .bind(time_text(&d.issued_at))
    .bind(time_text(&d.expires_at))
    .bind(&d.token_id)
    .bind(&d.certificate_sha256)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn instance(
    conn: &mut PgConnection,
    scope: &TokenScope,
    id: &str,
) -> Result<Option<Instance>, StoreError> {
    let row = match scope {
        TokenScope::All => {
            sqlx::query(&format!(
                "SELECT {INSTANCE_COLS} FROM instances i WHERE i.id = $1"
            ))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        }
        TokenScope::Subtree(root) => {
            sqlx::query(&format!(
                "SELECT {INSTANCE_COLS} FROM instances i
                 JOIN closure c ON c.descendant = i.account_id AND c.ancestor = $2
                 WHERE i.id = $1"
            ))
            .bind(id)
            .bind(root)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    row.map(|r| instance_row(&r, 0)).transpose()
}

pub(super) async fn account_path(
    conn: &mut PgConnection,
    account_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar(
            "SELECT ancestor FROM closure WHERE descendant = $1 ORDER BY depth DESC",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?,
    )
}

fn accepted_row(r: &PgRow) -> Result<AcceptedFile, StoreError> {
    Ok(AcceptedFile {
        instance_id: col(r, 0)?,
        counts: ImportCounts {
            received: u64_col(r, 1)?,
            new: u64_col(r, 2)?,
            already_present: u64_col(r, 3)?,
            changed: u64_col(r, 4)?,
        },
        high_water_mark: u64_col(r, 5)?,
        verification_key: col(r, 6)?,
        replay: true,
    })
}

pub(super) async fn accepted_file(
    conn: &mut PgConnection,
    sha256: &str,
) -> Result<Option<AcceptedFile>, StoreError> {
    sqlx::query(
        "SELECT instance_id, received, new, already_present, changed, high_water_mark,
                verification_key
         FROM usage_files WHERE sha256 = $1",
    )
    .bind(sha256)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| accepted_row(&r))
    .transpose()
}

/// Checks that the instance is pinned to `public_key`, or pins it when the instance has no key
/// and `grant` allows it. Never names a key in its refusals.
async fn pin_key(
    tx: &mut PgConnection,
    instance_id: &str,
    public_key: &str,
    grant: Option<&PinGrant>,
    via: &str,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT account_id, public_key FROM instances WHERE id = $1")
        .bind(instance_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Err(Conflict::InstanceRemoved {
            instance: instance_id.into(),
        }
        .into());
    };
    let account_id: String = col(&row, 0)?;
    let pinned: Option<String> = col(&row, 1)?;
    match (pinned, grant) {
        (Some(p), _) if p == public_key => Ok(()),
        (Some(_), _) => Err(Conflict::OtherKeyPinned {
            instance: instance_id.into(),
        }
        .into()),
        (None, None) => Err(Conflict::KeyReset {
            instance: instance_id.into(),
        }
        .into()),
        (None, Some(grant)) => {
            identity::pin_first_key(tx, instance_id, &account_id, public_key, grant, via).await
        }
    }
}

pub(super) async fn save_online_sync_key(
    tx: &mut PgConnection,
    key: &OnlineSyncKey,
    public_key: &str,
    pin: Option<&PinGrant>,
    keep: usize,
) -> Result<(), StoreError> {
    pin_key(
        tx,
        &key.instance_id,
        public_key,
        pin,
        "online sync key request",
    )
    .await?;
    // Sync keys expired for a day are never answered any more.
    sqlx::query("DELETE FROM online_sync_keys WHERE instance_id = $1 AND expires_at < $2")
        .bind(&key.instance_id)
        .bind(time_text(&(key.issued_at - Duration::days(1))))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO online_sync_keys(nonce, instance_id, sync_key, issued_at, expires_at,
           position)
         VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(position), 0) + 1
                                      FROM online_sync_keys WHERE instance_id = $2))",
    )
    .bind(&key.nonce)
    .bind(&key.instance_id)
    .bind(&key.sync_key)
    .bind(time_text(&key.issued_at))
    .bind(time_text(&key.expires_at))
    .execute(&mut *tx)
    .await?;
    // Only the newest `keep` stay answerable.
    sqlx::query(
        "DELETE FROM online_sync_keys WHERE instance_id = $1 AND nonce NOT IN (
           SELECT nonce FROM online_sync_keys WHERE instance_id = $1
           ORDER BY position DESC LIMIT $2)",
    )
    .bind(&key.instance_id)
    .bind(keep.max(1) as i64)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn online_sync_key(
    conn: &mut PgConnection,
    nonce: &str,
) -> Result<Option<OnlineSyncKey>, StoreError> {
    sqlx::query(
        "SELECT nonce, instance_id, sync_key, issued_at, expires_at
         FROM online_sync_keys WHERE nonce = $1",
    )
    .bind(nonce)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| {
        Ok(OnlineSyncKey {
            nonce: col(&r, 0)?,
            instance_id: col(&r, 1)?,
            sync_key: col(&r, 2)?,
            issued_at: time_col(&r, 3)?,
            expires_at: time_col(&r, 4)?,
        })
    })
    .transpose()
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{v} is too large to store")))
}

/// The body of [`crate::storage::AirGap::accept_usage_file`], in a transaction holding the
/// write lock (a replay returns the earlier answer and writes nothing).
pub(super) async fn accept_usage_file(
    tx: &mut PgConnection,
    file: &UsageFile,
    receipt: &mut ReceiptWriter<'_>,
) -> Result<AcceptedFile, StoreError> {
    if let Some(earlier) = accepted_file(tx, &file.sha256).await? {
        return Ok(earlier);
    }
    let answered: Option<String> =
        sqlx::query_scalar("SELECT sha256 FROM usage_files WHERE nonce = $1")
            .bind(&file.nonce)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(other) = answered {
        return Err(Conflict::NonceAnswered {
            nonce: file.nonce.clone(),
            other,
        }
        .into());
    }
    pin_key(
        tx,
        &file.instance_id,
        &file.instance_key,
        file.pin.as_ref(),
        match file.via {
            UsageVia::Import => "usage data file (imported)",
            UsageVia::Online => "usage data file (online)",
        },
    )
    .await?;

    // Each record is judged by the service's rule ([`Record::of`]) against what the cloud
    // holds, or what an earlier record of this file for the same (account, date) replaced.
    let mut counts = ImportCounts {
        received: file.rows.len() as u64,
        ..ImportCounts::default()
    };
    let mut fresh: Vec<&DailyRow> = Vec::with_capacity(file.rows.len());
    let mut held: HashMap<(&str, NaiveDate), (&str, UsageCounts)> = HashMap::new();
    for (row, &seq) in file.rows.iter().zip(&file.seqs) {
        let key = (row.account_id.as_str(), row.date);
        let date = row.date.to_string();
        let seq = to_i64(seq)?;
        let written_by: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM daily_sources WHERE account_id = $1 AND date = $2 AND instance_id = $3",
        )
        .bind(&row.account_id)
        .bind(&date)
        .bind(&file.instance_id)
        .fetch_optional(&mut *tx)
        .await?;
        let before: Option<(String, UsageCounts)> = match held.get(&key) {
            Some((plan, c)) => Some((plan.to_string(), *c)),
            None => sqlx::query(
                "SELECT plan, users_registered, users_with_token, users_with_activity
                 FROM daily_usage WHERE account_id = $1 AND date = $2",
            )
            .bind(&row.account_id)
            .bind(&date)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| Ok::<_, StoreError>((col(&r, 0)?, counts_cols(&r, 1)?)))
            .transpose()?,
        };
        let record = Record::of(
            row,
            seq as u64,
            written_by.map(|s| s.max(0) as u64),
            before.as_ref().map(|(plan, c)| (plan.as_str(), *c)),
        );
        record.count(&mut counts);
        if !record.writes() {
            continue;
        }
        held.insert(key, (row.plan.as_str(), row.counts));
        sqlx::query(
            "INSERT INTO daily_sources(account_id, date, instance_id, seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, date) DO UPDATE SET instance_id = excluded.instance_id,
               seq = excluded.seq",
        )
        .bind(&row.account_id)
        .bind(&date)
        .bind(&file.instance_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        fresh.push(row);
    }
    let mut touched = BTreeSet::new();
    write_daily(tx, &fresh, &mut touched).await?;
    refresh_month_usage(tx, &touched).await?;

    let row = sqlx::query("SELECT account_id, high_water_mark FROM instances WHERE id = $1")
        .bind(&file.instance_id)
        .fetch_one(&mut *tx)
        .await?;
    let account_id: String = col(&row, 0)?;
    let mark = to_i64(mark_after(u64_col(&row, 1)?, file.highest_seq))?;
    sqlx::query("UPDATE instances SET high_water_mark = $2, last_report_at = $3 WHERE id = $1")
        .bind(&file.instance_id)
        .bind(mark)
        .bind(time_text(&file.now))
        .execute(&mut *tx)
        .await?;
    touch(tx, "instance", &account_id, &file.instance_id).await?;

    let verification_key = receipt(&counts)?;
    sqlx::query(
        "INSERT INTO usage_files(sha256, nonce, instance_id, via, accepted_by, received, new,
           already_present, changed, high_water_mark, verification_key, accepted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&file.sha256)
    .bind(&file.nonce)
    .bind(&file.instance_id)
    .bind(file.via.as_str())
    .bind(&file.accepted_by)
    .bind(to_i64(counts.received)?)
    .bind(to_i64(counts.new)?)
    .bind(to_i64(counts.already_present)?)
    .bind(to_i64(counts.changed)?)
    .bind(mark)
    .bind(&verification_key)
    .bind(time_text(&file.now))
    .execute(&mut *tx)
    .await?;
    Ok(AcceptedFile {
        instance_id: file.instance_id.clone(),
        counts,
        high_water_mark: mark as u64,
        verification_key,
        replay: false,
    })
}
