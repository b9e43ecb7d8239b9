//! Importing a usage data file: every check first (nothing is written on a refusal), then
//! one transaction, then the verification key for the customer.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::{
    Acceptance, ImportCounts, KnownInstance, PublicKey, SyncKey, UsageData, VerificationKey,
    Verified,
};
use usagedesk_cache::{Cache, ImportRecord, LedgerEntry, LedgerEvent, UploadState};
use usagedesk_domain::exchange_file::{exchange_file_name, VERIFICATION_KEY_EXTENSION};
use usagedesk_domain::UsageCounts;

use crate::{ExchangeError, Signer};

/// What a usage data file holds and what importing it would do; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportPreview {
    pub instance_id: String,
    pub license_id: String,
    pub account_id: String,
    pub account_name: Option<String>,
    /// First and last day of the records (none when the file holds no record).
    pub period_first: Option<NaiveDate>,
    pub period_last: Option<NaiveDate>,
    /// Distinct accounts the records are for.
    pub accounts: u64,
    pub records: u64,
    pub new: u64,
    pub already_present: u64,
    pub changed: u64,
    /// Records the instance still holds beyond this file (ask for another one).
    pub remaining_records: u64,
    pub created_at: DateTime<Utc>,
    pub file_sha256: String,
    pub sync_key_issued_at: DateTime<Utc>,
    pub sync_key_expires_at: DateTime<Utc>,
    /// The mark the verification key will accept.
    pub accepted_high_water_mark: u64,
}

/// An import done: the ledger entry and the verification key for the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportOutcome {
    pub preview: ImportPreview,
    pub ledger_id: i64,
    /// The armored verification key.
    pub verification_key: String,
    pub suggested_file_name: String,
}

struct Checked {
    sync_key: Verified<SyncKey>,
    sync_key_text: String,
    usage: Verified<UsageData>,
    records: Vec<ImportRecord>,
    /// How the records compare with what is known: the verification key reports them.
    counts: ImportCounts,
    preview: ImportPreview,
}

/// Checks `bytes` as a usage data file answering a sync key issued here, and says what an
/// import would do. Refusals: the file's own (size, format, signature), one imported
/// before ([`ExchangeError::AlreadyImported`], with its verification key), a sync key not
/// issued here or answered before, an expired sync key, another instance, a key other
/// than the instance's pinned one, and on first contact (no key pinned yet) a file without
/// a valid enrollment for the instance as the cache knows it (`enrollment_required`,
/// `wrong_account`, ...), as the cloud would refuse it.
pub fn preview_import(
    cache: &Cache,
    signer: &Signer,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<ImportPreview, ExchangeError> {
    Ok(check(cache, signer, bytes, now)?.preview)
}

/// Imports `bytes` (see [`preview_import`] for the checks): records and month-end rows go
/// to the cache at once, marked pending upload; the file is queued for the cloud; the
/// verification key is issued and kept in the ledger.
pub fn import(
    cache: &mut Cache,
    signer: &Signer,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<ImportOutcome, ExchangeError> {
    let c = check(cache, signer, bytes, now)?;
    let p = &c.preview;
    let verification_key = VerificationKey::issue(
        &c.sync_key,
        &c.usage,
        Acceptance {
            accepted_high_water_mark: p.accepted_high_water_mark,
            records: c.counts,
        },
        &signer.key,
        &signer.certificate,
        now,
    )?;
    let ledger_id = cache.airgap_mut().commit_import(
        &LedgerEntry {
            id: 0,
            instance_id: p.instance_id.clone(),
            event: LedgerEvent::UsageImported,
            at: now,
            by: signer.certificate.subject.clone(),
            nonce: c.usage.answers_nonce.to_string(),
            file_sha256: p.file_sha256.clone(),
            expires_at: None,
            high_water_mark: p.accepted_high_water_mark,
            records: p.records,
            new_records: p.new,
            already_present: p.already_present,
            changed: p.changed,
            document: verification_key.clone(),
            upload: Some(UploadState::Pending),
            upload_error: None,
        },
        &c.sync_key_text,
        c.usage.text(),
        &c.records,
        Some(&c.usage.instance_key.to_string()),
    )?;
    cache.sync_mut().rebuild_aggregates()?;
    Ok(ImportOutcome {
        suggested_file_name: exchange_file_name(
            &p.instance_id,
            now.date_naive(),
            VERIFICATION_KEY_EXTENSION,
        ),
        preview: c.preview,
        ledger_id,
        verification_key,
    })
}

fn check(
    cache: &Cache,
    signer: &Signer,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Checked, ExchangeError> {
    let vendor_key = &signer.vendor_key;
    let signed = UsageData::parse(bytes)?;
    let file_sha256 = signed.sha256().to_string();
    if let Some(earlier) = cache.airgap().import_by_file(&file_sha256)? {
        return Err(ExchangeError::AlreadyImported {
            at: earlier.at,
            verification_key: earlier.document,
        });
    }
    let nonce = signed.unverified().answers_nonce.to_string();
    let issued =
        cache
            .airgap()
            .sync_key_by_nonce(&nonce)?
            .ok_or_else(|| ExchangeError::UnknownSyncKey {
                nonce: nonce.clone(),
            })?;
    if let Some(other) = cache.airgap().import_by_nonce(&nonce)? {
        return Err(ExchangeError::AnsweredBefore { at: other.at });
    }
    let sync_key = SyncKey::parse(issued.document.as_bytes())?.verify(vendor_key, now)?;
    let instance = cache.airgap().instance(&sync_key.instance_id)?;
    let pinned: Option<PublicKey> = instance
        .as_ref()
        .and_then(|i| i.instance.public_key.as_deref())
        .map(str::parse)
        .transpose()?;
    let usage = signed.verify_for(&sync_key, pinned.as_ref())?;
    if pinned.is_none() {
        // First contact, as the cloud checks it: the file must prove the instance's license,
        // as the vendor knows the instance now. (The cloud also checks that it issued the
        // license file and did not revoke it, which only it knows.)
        let row = instance
            .as_ref()
            .ok_or_else(|| ExchangeError::UnknownInstance {
                id: sync_key.instance_id.clone(),
            })?;
        let account_path = signer.account_path(cache, &row.instance.account_id)?;
        usage.check_enrollment(
            &signer.vendor_key,
            &KnownInstance {
                instance_id: &row.instance.id,
                license_id: &row.instance.license_id,
                account_path: &account_path,
                airgapped: row.instance.airgapped,
            },
        )?;
    }
    let records: Vec<ImportRecord> = usage
        .records
        .iter()
        .map(|r| ImportRecord {
            seq: r.seq,
            account_id: r.account_id.clone(),
            date: r.date,
            plan: r.plan.clone(),
            counts: UsageCounts::new(
                r.users_registered,
                r.users_with_token,
                r.users_with_activity,
            ),
        })
        .collect();
    let instance_account = instance.as_ref().map_or_else(
        || sync_key.account_path.last().cloned().unwrap_or_default(),
        |i| i.instance.account_id.clone(),
    );
    check_records(cache, &usage.instance_id, &instance_account, &records, now)?;
    let cloud_mark = instance.as_ref().map_or(0, |i| i.instance.high_water_mark);
    let counts = cache
        .airgap()
        .classify_records(&usage.instance_id, cloud_mark, &records)?;
    let account_id = instance.as_ref().map_or_else(
        || sync_key.account_path.last().cloned().unwrap_or_default(),
        |i| i.instance.account_id.clone(),
    );
    let mut accounts: Vec<&str> = records.iter().map(|r| r.account_id.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let preview = ImportPreview {
        instance_id: usage.instance_id.clone(),
        license_id: usage.license_id.clone(),
        account_name: cache.accounts().get(&account_id)?.map(|a| a.name),
        account_id,
        period_first: usage.period.as_ref().map(|p| p.first),
        period_last: usage.period.as_ref().map(|p| p.last),
        accounts: accounts.len() as u64,
        records: counts.received,
        new: counts.new,
        already_present: counts.already_present,
        changed: counts.changed,
        remaining_records: usage.remaining_records,
        created_at: usage.created_at,
        file_sha256,
        sync_key_issued_at: sync_key.issued_at,
        sync_key_expires_at: sync_key.expires_at,
        accepted_high_water_mark: usage.highest_seq().max(sync_key.high_water_mark),
    };
    Ok(Checked {
        sync_key_text: issued.document,
        sync_key,
        usage,
        records,
        counts,
        preview,
    })
}

/// The checks the cloud makes on every record, made here first: a file the cloud would
/// refuse must not show here, nor earn a verification key that makes the agent drop its
/// records. Each record's account is the instance's account or below it, its plan is in
/// the catalog, and its date is neither after today nor before the account was created.
fn check_records(
    cache: &Cache,
    instance_id: &str,
    instance_account: &str,
    records: &[ImportRecord],
    now: DateTime<Utc>,
) -> Result<(), ExchangeError> {
    let catalog = cache.accounts().plans()?;
    let today = now.date_naive();
    let mut checked: std::collections::HashMap<&str, NaiveDate> = std::collections::HashMap::new();
    for r in records {
        let refuse = |why: String| {
            ExchangeError::Records(format!(
                "record {} (account '{}', {}) cannot be accepted: {why}. Nothing was imported; \
                 have the customer fix it in the agent (`usagedesk-agent discard --account {}`) \
                 and export again with a new sync key",
                r.seq, r.account_id, r.date, r.account_id
            ))
        };
        let created = match checked.get(r.account_id.as_str()) {
            Some(c) => *c,
            None => {
                let path = cache.accounts().path(&r.account_id)?;
                let Some(account) = path.last() else {
                    return Err(refuse(
                        "that account is not in the local cache (sync, then import again)".into(),
                    ));
                };
                if !path.iter().any(|a| a.id == instance_account) {
                    return Err(refuse(format!(
                        "instance '{instance_id}' reports for account '{instance_account}' and its subtree only"
                    )));
                }
                checked.insert(&r.account_id, account.created_at);
                account.created_at
            }
        };
        if !catalog.is_empty() && catalog.index_of(&r.plan).is_none() {
            return Err(refuse(format!(
                "plan '{}' is not in the catalog ({})",
                r.plan,
                catalog.describe()
            )));
        }
        if r.date > today {
            return Err(refuse("it is dated in the future".into()));
        }
        if r.date < created {
            return Err(refuse(format!("the account was created on {created}")));
        }
    }
    Ok(())
}
