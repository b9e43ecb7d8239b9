//! Issuing a sync key for an instance, offline.

use chrono::{DateTime, Duration, Utc};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::{SyncKey, SyncKeyRequest};
use usagedesk_cache::{Cache, LedgerEntry, LedgerEvent};
use usagedesk_domain::exchange_file::{exchange_file_name, SYNC_KEY_EXTENSION};

use crate::{ExchangeError, Signer};

/// How long a sync key is valid unless asked otherwise.
pub const DEFAULT_SYNC_KEY_DAYS: i64 = 30;

/// A sync key, ready to save and hand to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IssuedSyncKey {
    pub instance_id: String,
    /// The armored file.
    pub text: String,
    pub suggested_file_name: String,
    pub nonce: String,
    pub high_water_mark: u64,
    pub expires_at: DateTime<Utc>,
    /// The validity asked for went past the signing certificate's end and was shortened.
    pub shortened: bool,
}

/// Issues a sync key for `instance_id`, valid for `valid_for` (at most until the signing
/// certificate ends), naming the highest mark known here, and records it in the ledger.
pub fn issue_sync_key<R: RngCore + CryptoRng>(
    cache: &mut Cache,
    signer: &Signer,
    instance_id: &str,
    valid_for: Duration,
    now: DateTime<Utc>,
    rng: &mut R,
) -> Result<IssuedSyncKey, ExchangeError> {
    if valid_for <= Duration::zero() {
        return Err(ExchangeError::Invalid(
            "a sync key must be valid for some time: give a positive duration, e.g. 30d".into(),
        ));
    }
    let row =
        cache
            .airgap()
            .instance(instance_id)?
            .ok_or_else(|| ExchangeError::UnknownInstance {
                id: instance_id.to_owned(),
            })?;
    let account_path = signer.account_path(cache, &row.instance.account_id)?;
    let wanted = now.checked_add_signed(valid_for).ok_or_else(|| {
        ExchangeError::Invalid("the validity is too long: give at most 365 days, e.g. 30d".into())
    })?;
    let expires_at = wanted.min(signer.certificate.expires_at);
    let text = SyncKey::issue(
        &SyncKeyRequest {
            instance_id: instance_id.to_owned(),
            license_id: Some(row.instance.license_id.clone()),
            account_path,
            high_water_mark: row.high_water_mark,
            expires_at,
        },
        &signer.key,
        &signer.certificate,
        rng,
        now,
    )?;
    let signed = SyncKey::parse(text.as_bytes())?;
    let nonce = signed.unverified().nonce.to_string();
    cache.airgap_mut().record_sync_key(&LedgerEntry {
        id: 0,
        instance_id: instance_id.to_owned(),
        event: LedgerEvent::SyncKeyIssued,
        at: now,
        by: signer.certificate.subject.clone(),
        nonce: nonce.clone(),
        file_sha256: signed.sha256().to_string(),
        expires_at: Some(expires_at),
        high_water_mark: row.high_water_mark,
        records: 0,
        new_records: 0,
        already_present: 0,
        changed: 0,
        document: text.clone(),
        upload: None,
        upload_error: None,
    })?;
    Ok(IssuedSyncKey {
        suggested_file_name: exchange_file_name(instance_id, now.date_naive(), SYNC_KEY_EXTENSION),
        instance_id: instance_id.to_owned(),
        text,
        nonce,
        high_water_mark: row.high_water_mark,
        expires_at,
        shortened: expires_at < wanted,
    })
}
