//! The air-gapped exchange's tables: signing keys, delegations, instances, the sync keys the
//! cloud issued itself, and accepted usage data files.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use usagedesk_airgap::RootKey;
use usagedesk_domain::{Instance, UsageCounts};

use super::{
    counts_cols, identity, instance_row, refresh_month_usage, time_text, touch, write_daily,
    INSTANCE_COLS,
};
use crate::airgap::records::{mark_after, Record};
use crate::storage::{
    AcceptedFile, Conflict, DailyRow, Delegation, ImportCounts, OnlineSyncKey, PinGrant,
    ReceiptWriter, StoreError, StoredSigner, TokenScope, UsageFile, UsageVia,
};

const ROOT: &str = "vendor_root";
const CLOUD: &str = "cloud";

pub(super) fn root_key(conn: &Connection) -> Result<Option<RootKey>, StoreError> {
    let secret: Option<String> = conn
        .prepare_cached("SELECT secret FROM signing_keys WHERE role = ?1")?
        .query_row([ROOT], |r| r.get(0))
        .optional()?;
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

/// Stores `key` unless a root key is stored (OR IGNORE: another process may have stored its
/// own first); returns the stored one.
pub(super) fn insert_root_key(
    conn: &Connection,
    key: &RootKey,
    now: DateTime<Utc>,
) -> Result<RootKey, StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO signing_keys(role, secret, created_at) VALUES (?1, ?2, ?3)",
        params![ROOT, key.to_secret_text(), time_text(&now)],
    )?;
    root_key(conn)?.ok_or_else(|| StoreError::other("the vendor root key could not be stored"))
}

pub(super) fn cloud_signer(conn: &Connection) -> Result<Option<StoredSigner>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT secret, certificate FROM signing_keys WHERE role = ?1")?
        .query_row([CLOUD], |r| {
            Ok(StoredSigner {
                secret: r.get(0)?,
                certificate: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            })
        })
        .optional()?)
}

pub(super) fn save_cloud_signer(
    conn: &Connection,
    signer: &StoredSigner,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO signing_keys(role, secret, certificate, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![CLOUD, signer.secret, signer.certificate, time_text(&now)],
    )?;
    Ok(())
}

/// Stores `signer` unless a cloud signer is stored (OR IGNORE: another process may have
/// stored its own first); returns the stored one.
pub(super) fn insert_cloud_signer(
    conn: &Connection,
    signer: &StoredSigner,
    now: DateTime<Utc>,
) -> Result<StoredSigner, StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO signing_keys(role, secret, certificate, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![CLOUD, signer.secret, signer.certificate, time_text(&now)],
    )?;
    cloud_signer(conn)?
        .ok_or_else(|| StoreError::other("the cloud's signing key could not be stored"))
}

pub(super) fn record_delegation(conn: &Connection, d: &Delegation) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO delegations(public_key, subject, scope, token_name, issued_at, expires_at,
           token_id, certificate_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            d.public_key,
            d.subject,
            d.scope,
            d.token_name,
            time_text(&d.issued_at),
            time_text(&d.expires_at),
            d.token_id,
            d.certificate_sha256
        ],
    )?;
    Ok(())
}

pub(super) fn instance(
    conn: &Connection,
    scope: &TokenScope,
    id: &str,
) -> Result<Option<Instance>, StoreError> {
    let (sql, root) = match scope {
        TokenScope::All => (
            format!("SELECT {INSTANCE_COLS} FROM instances i WHERE i.id = ?1 AND ?2 IS NULL"),
            None,
        ),
        TokenScope::Subtree(root) => (
            format!(
                "SELECT {INSTANCE_COLS} FROM instances i
                 JOIN closure c ON c.descendant = i.account_id AND c.ancestor = ?2
                 WHERE i.id = ?1"
            ),
            Some(root.as_str()),
        ),
    };
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, root], |r| instance_row(r, 0))
        .optional()?)
}

pub(super) fn account_path(conn: &Connection, account_id: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT ancestor FROM closure WHERE descendant = ?1 ORDER BY depth DESC")?;
    let path = stmt
        .query_map([account_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(path)
}

fn u64_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

pub(super) fn accepted_file(
    conn: &Connection,
    sha256: &str,
) -> Result<Option<AcceptedFile>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT instance_id, received, new, already_present, changed, high_water_mark,
                    verification_key
             FROM usage_files WHERE sha256 = ?1",
        )?
        .query_row([sha256], |r| {
            Ok(AcceptedFile {
                instance_id: r.get(0)?,
                counts: ImportCounts {
                    received: u64_col(r, 1)?,
                    new: u64_col(r, 2)?,
                    already_present: u64_col(r, 3)?,
                    changed: u64_col(r, 4)?,
                },
                high_water_mark: u64_col(r, 5)?,
                verification_key: r.get(6)?,
                replay: true,
            })
        })
        .optional()?)
}

/// Checks that the instance is pinned to `public_key`, or pins it when the instance has no key
/// and `grant` (a verified enrollment) allows it. Refuses another key, and a first key without
/// a grant. Never names a key in its refusals.
fn pin_key(
    tx: &rusqlite::Transaction<'_>,
    instance_id: &str,
    public_key: &str,
    grant: Option<&PinGrant>,
    via: &str,
) -> Result<(), StoreError> {
    let row: Option<(String, Option<String>)> = tx
        .prepare_cached("SELECT account_id, public_key FROM instances WHERE id = ?1")?
        .query_row([instance_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((account_id, pinned)) = row else {
        return Err(Conflict::InstanceRemoved {
            instance: instance_id.into(),
        }
        .into());
    };
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
            identity::pin_first_key(tx, instance_id, &account_id, public_key, grant, via)
        }
    }
}

pub(super) fn save_online_sync_key(
    conn: &mut Connection,
    key: &OnlineSyncKey,
    public_key: &str,
    pin: Option<&PinGrant>,
    keep: usize,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    pin_key(
        &tx,
        &key.instance_id,
        public_key,
        pin,
        "online sync key request",
    )?;
    // Sync keys expired for a day are never answered any more.
    tx.execute(
        "DELETE FROM online_sync_keys WHERE instance_id = ?1 AND expires_at < ?2",
        params![
            key.instance_id,
            time_text(&(key.issued_at - Duration::days(1)))
        ],
    )?;
    tx.execute(
        "INSERT INTO online_sync_keys(nonce, instance_id, sync_key, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key.nonce,
            key.instance_id,
            key.sync_key,
            time_text(&key.issued_at),
            time_text(&key.expires_at)
        ],
    )?;
    keep_newest_sync_keys(&tx, key, keep)?;
    tx.commit()?;
    Ok(())
}

/// Numbers `key` (just issued) after the instance's other sync keys and forgets all but the
/// `keep` newest: an agent answers its latest; older keys stay answerable while few are
/// asked for.
fn keep_newest_sync_keys(
    tx: &rusqlite::Transaction<'_>,
    key: &OnlineSyncKey,
    keep: usize,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE online_sync_keys SET position = (
           SELECT COALESCE(MAX(position), 0) + 1 FROM online_sync_keys WHERE instance_id = ?1)
         WHERE nonce = ?2",
    )?
    .execute(params![key.instance_id, key.nonce])?;
    tx.prepare_cached(
        "DELETE FROM online_sync_keys WHERE instance_id = ?1 AND nonce NOT IN (
           SELECT nonce FROM online_sync_keys WHERE instance_id = ?1
           ORDER BY position DESC LIMIT ?2)",
    )?
    .execute(params![key.instance_id, keep.max(1) as i64])?;
    Ok(())
}

pub(super) fn online_sync_key(
    conn: &Connection,
    nonce: &str,
) -> Result<Option<OnlineSyncKey>, StoreError> {
    let row: Option<(String, String, String, String, String)> = conn
        .prepare_cached(
            "SELECT nonce, instance_id, sync_key, issued_at, expires_at
             FROM online_sync_keys WHERE nonce = ?1",
        )?
        .query_row([nonce], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((nonce, instance_id, sync_key, issued_at, expires_at)) = row else {
        return Ok(None);
    };
    let time = |s: &str| {
        super::parse_time(s)
            .map_err(|e| StoreError::other(format!("a stored time '{s}' is unreadable: {e}")))
    };
    Ok(Some(OnlineSyncKey {
        nonce,
        instance_id,
        sync_key,
        issued_at: time(&issued_at)?,
        expires_at: time(&expires_at)?,
    }))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{v} is too large to store")))
}

pub(super) fn accept_usage_file(
    conn: &mut Connection,
    file: &UsageFile,
    receipt: &mut ReceiptWriter<'_>,
) -> Result<AcceptedFile, StoreError> {
    let tx = conn.transaction()?;
    if let Some(earlier) = accepted_file(&tx, &file.sha256)? {
        // Nothing to write: the transaction is dropped (rolled back).
        return Ok(earlier);
    }
    let answered: Option<String> = tx
        .prepare_cached("SELECT sha256 FROM usage_files WHERE nonce = ?1")?
        .query_row([&file.nonce], |r| r.get(0))
        .optional()?;
    if let Some(other) = answered {
        return Err(Conflict::NonceAnswered {
            nonce: file.nonce.clone(),
            other,
        }
        .into());
    }
    pin_key(
        &tx,
        &file.instance_id,
        &file.instance_key,
        file.pin.as_ref(),
        match file.via {
            UsageVia::Import => "usage data file (imported)",
            UsageVia::Online => "usage data file (online)",
        },
    )?;

    // Each record is judged by the service's rule ([`Record::of`]) against what the cloud
    // holds, or what an earlier record of this file for the same (account, date) just replaced.
    let mut counts = ImportCounts {
        received: file.rows.len() as u64,
        ..ImportCounts::default()
    };
    let mut fresh: Vec<&DailyRow> = Vec::with_capacity(file.rows.len());
    {
        let mut current = tx.prepare_cached(
            "SELECT plan, users_registered, users_with_token, users_with_activity
             FROM daily_usage WHERE account_id = ?1 AND date = ?2",
        )?;
        let mut source = tx.prepare_cached(
            "SELECT seq FROM daily_sources WHERE account_id = ?1 AND date = ?2 AND instance_id = ?3",
        )?;
        let mut set_source = tx.prepare_cached(
            "INSERT OR REPLACE INTO daily_sources(account_id, date, instance_id, seq)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut held: HashMap<(&str, NaiveDate), (&str, UsageCounts)> = HashMap::new();
        for (row, &seq) in file.rows.iter().zip(&file.seqs) {
            let key = (row.account_id.as_str(), row.date);
            let date = row.date.to_string();
            let seq = to_i64(seq)?;
            let written_by: Option<i64> = source
                .query_row(params![row.account_id, date, file.instance_id], |r| {
                    r.get(0)
                })
                .optional()?;
            let before: Option<(String, UsageCounts)> = match held.get(&key) {
                Some((plan, c)) => Some((plan.to_string(), *c)),
                None => current
                    .query_row(params![row.account_id, date], |r| {
                        Ok((r.get::<_, String>(0)?, counts_cols(r, 1)?))
                    })
                    .optional()?,
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
            set_source.execute(params![row.account_id, date, file.instance_id, seq])?;
            fresh.push(row);
        }
    }
    let mut touched = BTreeSet::new();
    write_daily(&tx, fresh.into_iter(), &mut touched)?;
    refresh_month_usage(&tx, &touched)?;

    let (account_id, mark): (String, i64) = tx.query_row(
        "SELECT account_id, high_water_mark FROM instances WHERE id = ?1",
        [&file.instance_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mark = to_i64(mark_after(mark.max(0) as u64, file.highest_seq))?;
    tx.execute(
        "UPDATE instances SET high_water_mark = ?2, last_report_at = ?3 WHERE id = ?1",
        params![file.instance_id, mark, time_text(&file.now)],
    )?;
    touch(&tx, "instance", &account_id, &file.instance_id)?;

    let verification_key = receipt(&counts)?;
    tx.execute(
        "INSERT INTO usage_files(sha256, nonce, instance_id, via, accepted_by, received, new,
           already_present, changed, high_water_mark, verification_key, accepted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            file.sha256,
            file.nonce,
            file.instance_id,
            file.via.as_str(),
            file.accepted_by,
            to_i64(counts.received)?,
            to_i64(counts.new)?,
            to_i64(counts.already_present)?,
            to_i64(counts.changed)?,
            mark,
            verification_key,
            time_text(&file.now)
        ],
    )?;
    tx.commit()?;
    Ok(AcceptedFile {
        instance_id: file.instance_id.clone(),
        counts,
        high_water_mark: mark as u64,
        verification_key,
        replay: false,
    })
}
