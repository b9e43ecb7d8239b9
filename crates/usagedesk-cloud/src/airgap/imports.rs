//! Accepting a usage data file: verified again from scratch against the cloud's own root key,
//! tree and pinned instance keys, whoever brings it (a manager's upload, or the instance
//! online), then ingested in one transaction with a verification key of the cloud's own.

use chrono::{DateTime, Utc};
use rand::{CryptoRng, RngCore};
use usagedesk_airgap::{
    Acceptance, ImportCounts, PublicKey, Signed, SyncKey, UsageData, VerificationKey,
    MAX_CLOCK_SKEW,
};
use usagedesk_domain::airgap_api::{AirgapAccepted, AirgapUpload};
use usagedesk_domain::Instance;

use super::identity::{self, Contact, FirstContact};
use super::instances::{self, Asker};
use super::{keys, when, Now, Refusal};
use crate::storage::{AcceptedFile, Store, StoreError, TokenGrant, UsageFile, UsageVia};

/// A usage data file and the sync key it answers, for one instance.
pub struct Submission {
    /// The instance as the cloud knows it (and the asker may see).
    pub instance: Instance,
    pub sync_key: Signed<SyncKey>,
    pub usage: Signed<UsageData>,
    pub via: UsageVia,
    /// The token's name, or `instance` online.
    pub accepted_by: String,
}

/// `POST /api/v1/airgap/imports`: a manager uploads a usage data file with the sync key it
/// answers (imported on the desktop, maybe days ago, maybe offline).
pub fn upload<R: RngCore + CryptoRng>(
    storage: &dyn Store,
    clock: Now,
    grant: &TokenGrant,
    upload: &AirgapUpload,
    rng: &mut R,
) -> Result<AirgapAccepted, Refusal> {
    let usage = UsageData::parse(upload.usage_data.as_bytes())?;
    let sync_key = SyncKey::parse(upload.sync_key.as_bytes())?;
    // The token must see the instance's account; since the sync key must then name the
    // instance's real account path, the token's scope covers it.
    let instance = instances::find(
        storage,
        Asker::Token(&grant.scope),
        &sync_key.unverified().instance_id,
    )?;
    accept(
        storage,
        clock,
        Submission {
            instance,
            sync_key,
            usage,
            via: UsageVia::Import,
            accepted_by: grant.name.clone(),
        },
        rng,
    )
}

/// When the file says it was made: the time its sync key is verified at. Refused when ahead
/// of the cloud's clock by more than the allowed skew.
fn created_at(usage: &Signed<UsageData>, now: DateTime<Utc>) -> Result<DateTime<Utc>, Refusal> {
    let created = usage.unverified().created_at;
    if created > now + MAX_CLOCK_SKEW {
        return Err(Refusal::Invalid(format!(
            "the usage data file says it was created on {}, later than the cloud's clock ({}): \
             check the clock of the instance's computer and export again",
            when(&created),
            when(&now)
        )));
    }
    Ok(created)
}

/// Verifies and ingests a submission. The same file again is a replay: the earlier answer,
/// nothing written.
pub fn accept<R: RngCore + CryptoRng>(
    storage: &dyn Store,
    clock: Now,
    submission: Submission,
    rng: &mut R,
) -> Result<AirgapAccepted, Refusal> {
    let Submission {
        instance,
        sync_key,
        usage,
        via,
        accepted_by,
    } = submission;
    // The very same bytes were verified and accepted before: answer as then, before any
    // check that could have changed since (the tree, the license), so a retried upload
    // whose answer was lost cannot get stuck.
    if let Some(earlier) = storage.accepted_file(&usage.sha256().to_hex())? {
        if earlier.instance_id == instance.id {
            return Ok(answer(earlier));
        }
    }
    keys::check_not_revoked(storage, &sync_key.unverified().certificate)?;
    let root = storage.vendor_root_key()?.public_key();
    let created = created_at(&usage, clock.now)?;
    let sync_key = sync_key.verify(&root, created)?;
    if sync_key.instance_id != instance.id {
        return Err(Refusal::Invalid(format!(
            "the sync key is for instance '{}', not '{}': use the files made for '{}'",
            sync_key.instance_id, instance.id, instance.id
        )));
    }
    check_place(storage, &instance, &sync_key)?;
    let pinned = instance
        .public_key
        .as_deref()
        .map(str::parse::<PublicKey>)
        .transpose()
        .map_err(|e| {
            Refusal::Invalid(format!(
                "the key pinned for instance '{}' is unreadable ({e}): the vendor must register \
                 its key again (instances.csv)",
                instance.id
            ))
        })?;
    let usage = usage.verify_for(&sync_key, pinned.as_ref())?;
    instances::check_license(&instance, &usage.license_id)?;
    // First contact: nothing is written unless the file proves the instance's license.
    let pin = match pinned {
        Some(_) => None,
        None => Some(identity::check_file_enrollment(
            storage,
            &instance,
            &sync_key.account_path,
            &usage,
            FirstContact {
                contact: Contact::File,
                actor: &accepted_by,
                now: clock.now,
            },
        )?),
    };
    let sha256 = usage.sha256().to_hex();
    if let Some(earlier) = storage.accepted_file(&sha256)? {
        return Ok(answer(earlier));
    }
    let rows = instances::daily_rows(storage, &instance, &usage, clock.today)?;
    let signer = keys::cloud_signer(storage, clock.now, rng)?;
    let file = UsageFile {
        sha256,
        nonce: usage.answers_nonce.to_hex(),
        instance_id: instance.id.clone(),
        instance_key: usage.instance_key.to_string(),
        pin,
        highest_seq: usage.highest_seq(),
        rows,
        seqs: usage.records.iter().map(|r| r.seq).collect(),
        via,
        accepted_by,
        now: clock.now,
    };
    let mut receipt = |counts: &ImportCounts| -> Result<String, StoreError> {
        let acceptance = Acceptance {
            accepted_high_water_mark: usage.highest_seq(),
            records: *counts,
        };
        VerificationKey::issue(
            &sync_key,
            &usage,
            acceptance,
            &signer.key,
            &signer.certificate,
            clock.now,
        )
        .map_err(|e| StoreError::other(format!("cannot write the verification key: {e}")))
    };
    let accepted = storage.accept_usage_file(&file, &mut receipt)?;
    if !accepted.replay {
        tracing::info!(
            instance = %accepted.instance_id,
            via = via.as_str(),
            received = accepted.counts.received,
            new = accepted.counts.new,
            changed = accepted.counts.changed,
            mark = accepted.high_water_mark,
            "accepted a usage data file"
        );
    }
    Ok(answer(accepted))
}

/// Checks the sync key's account path against the instance as the cloud knows it now.
///
/// The path is where the instance's account sat when the key was issued; the vendor may
/// have moved the account since (accounts.csv loaded again). A file answering such a key is
/// accepted under the path that held then: its signature chain proves that the issuing
/// manager's certificate covered that path, the customer was handed a verification key for
/// it, and the records belong to accounts, not to places in the tree (each is still checked
/// against the account's subtree as it is now, by [`instances::daily_rows`]). The sync key
/// must still name the instance's own account (an instance never changes accounts: the
/// loader refuses that) and its license.
fn check_place(
    storage: &dyn Store,
    instance: &Instance,
    sync_key: &SyncKey,
) -> Result<(), Refusal> {
    let path = instances::account_path(storage, instance)?;
    if sync_key.account_path != path {
        if sync_key.account_path.last() != Some(&instance.account_id) {
            return Err(Refusal::Invalid(format!(
                "the sync key names account '{}' for instance '{}', which belongs to \
                 account '{}' (an instance never changes accounts): this file does not answer \
                 a sync key issued for this instance; discard it, issue a new sync key and ask \
                 the customer for a new file",
                sync_key.account_path.last().map_or("?", String::as_str),
                instance.id,
                instance.account_id
            )));
        }
        tracing::info!(
            instance = %instance.id,
            issued_under = %sync_key.account_path.join(" > "),
            now_under = %path.join(" > "),
            "accepting a file whose sync key was issued before its account moved"
        );
    }
    match &sync_key.license_id {
        Some(license) => instances::check_license(instance, license),
        None => Ok(()),
    }
}

fn answer(a: AcceptedFile) -> AirgapAccepted {
    AirgapAccepted {
        instance_id: a.instance_id,
        received: a.counts.received,
        new: a.counts.new,
        already_present: a.counts.already_present,
        changed: a.counts.changed,
        high_water_mark: a.high_water_mark,
        replay: a.replay,
        verification_key: a.verification_key,
    }
}
