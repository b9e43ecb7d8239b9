//! The agent's online mode: the same exchange over HTTP, the cloud issuing the sync key
//! itself (with its own delegated key) and remembering its nonce.

use chrono::Duration;
use rand::{CryptoRng, RngCore};
use usagedesk_airgap::{AirgapError, PublicKey, SyncKey, SyncKeyRequest, UsageData};
use usagedesk_domain::airgap_api::{
    AirgapAccepted, OnlineSyncKeyRequest, OnlineSyncKeyResponse, OnlineUsageData,
};

use super::imports::{self, Submission};
use super::instances::{self, Asker};
use super::{keys, Now, Refusal};
use crate::storage::{OnlineSyncKey, Storage, UsageVia};

/// How long a sync key issued online is valid.
pub const ONLINE_SYNC_KEY_LIFETIME: Duration = Duration::hours(1);

/// `POST /api/v1/instances/{id}/sync-key`: a sync key for the instance, with the cloud's
/// current mark. Pins the instance's key on first contact; refuses any other key afterwards.
pub fn issue_sync_key<R: RngCore + CryptoRng>(
    storage: &dyn Storage,
    clock: Now,
    instance_id: &str,
    request: &OnlineSyncKeyRequest,
    rng: &mut R,
) -> Result<OnlineSyncKeyResponse, Refusal> {
    let key: PublicKey = request.public_key.parse().map_err(|e: AirgapError| {
        Refusal::Invalid(format!("public_key is not an Ed25519 public key: {e}"))
    })?;
    let key = key.to_string();
    let instance = instances::find(storage, Asker::Instance, instance_id)?;
    if instance.airgapped && instance.public_key.is_none() {
        // Nobody may claim an air-gapped instance's key over the network: it is pinned by
        // its first usage data file, carried by hand and imported by a manager.
        return Err(Refusal::Forbidden(format!(
            "instance '{instance_id}' is air-gapped and reports by file: it cannot start an \
             online exchange until its key is registered (its first imported usage data file, \
             or instances.csv)"
        )));
    }
    if let Some(pinned) = instance.public_key.as_deref().filter(|p| *p != key) {
        return Err(Refusal::Forbidden(format!(
            "instance '{instance_id}' is pinned to another key ({pinned}): if the instance was \
             reinstalled with a new key, ask the vendor to register the new key for it \
             (instances.csv); otherwise this agent is not that instance"
        )));
    }
    let account_path = instances::account_path(storage, &instance)?;
    let signer = keys::cloud_signer(storage, clock.now, rng)?;
    let text = SyncKey::issue(
        &SyncKeyRequest {
            instance_id: instance.id.clone(),
            license_id: Some(instance.license_id.clone()),
            account_path,
            high_water_mark: instance.high_water_mark,
            expires_at: clock.now + ONLINE_SYNC_KEY_LIFETIME,
        },
        &signer.key,
        &signer.certificate,
        rng,
        clock.now,
    )?;
    let issued = SyncKey::parse(text.as_bytes())?;
    let body = issued.unverified();
    storage.save_online_sync_key(
        &OnlineSyncKey {
            nonce: body.nonce.to_hex(),
            instance_id: instance.id.clone(),
            sync_key: text.clone(),
            issued_at: body.issued_at,
            expires_at: body.expires_at,
        },
        &key,
    )?;
    Ok(OnlineSyncKeyResponse { sync_key: text })
}

/// `POST /api/v1/instances/{id}/usage-data`: the instance's answer to a sync key the cloud
/// issued it; verified and ingested as an upload is.
pub fn receive<R: RngCore + CryptoRng>(
    storage: &dyn Storage,
    clock: Now,
    instance_id: &str,
    body: &OnlineUsageData,
    rng: &mut R,
) -> Result<AirgapAccepted, Refusal> {
    let usage = UsageData::parse(body.usage_data.as_bytes())?;
    let named = usage.unverified().instance_id.clone();
    if named != instance_id {
        return Err(Refusal::Invalid(format!(
            "the usage data file is for instance '{named}', but was sent for instance \
             '{instance_id}': send it to /api/v1/instances/{named}/usage-data"
        )));
    }
    let instance = instances::find(storage, Asker::Instance, instance_id)?;
    let nonce = usage.unverified().answers_nonce.to_hex();
    let issued = storage
        .online_sync_key(&nonce)?
        .filter(|k| k.instance_id == instance.id)
        .ok_or_else(|| {
            Refusal::Invalid(format!(
                "the usage data file answers sync key nonce {nonce}, which this cloud did not \
                 issue to instance '{instance_id}' (or it expired long ago): request a new sync \
                 key (POST /api/v1/instances/{instance_id}/sync-key) and export again"
            ))
        })?;
    let sync_key = SyncKey::parse(issued.sync_key.as_bytes())?;
    imports::accept(
        storage,
        clock,
        Submission {
            instance,
            sync_key,
            usage,
            via: UsageVia::Online,
            accepted_by: "instance".into(),
        },
        rng,
    )
}
