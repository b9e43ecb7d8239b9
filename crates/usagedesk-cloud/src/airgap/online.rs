//! The agent's online mode: the same exchange over HTTP, the cloud issuing the sync key
//! itself (with its own delegated key) and remembering its nonce.

use chrono::Duration;
use rand::{CryptoRng, RngCore};
use usagedesk_airgap::{AirgapError, Enrollment, PublicKey, SyncKey, SyncKeyRequest, UsageData};
use usagedesk_domain::airgap_api::{
    AirgapAccepted, OnlineSyncKeyRequest, OnlineSyncKeyResponse, OnlineUsageData,
};

use super::identity::{self, Contact, FirstContact};
use super::imports::{self, Submission};
use super::instances::{self, Asker};
use super::signed_request::{self, Signature};
use super::{keys, Now, Refusal};
use crate::storage::{OnlineSyncKey, Store, UsageVia};

/// How long a sync key issued online is valid.
pub const ONLINE_SYNC_KEY_LIFETIME: Duration = Duration::hours(1);

/// The first line of what an instance signs for a sync key request.
pub const SYNC_KEY_REQUEST_CONTEXT: &str = "usagedesk-sync-key-request-v1";

/// Who asks online: the instance itself.
pub const ONLINE_ACTOR: &str = "instance (online)";

/// `POST /api/v1/instances/{id}/sync-key`: a sync key for the instance, with the cloud's
/// current mark. The request (`body`, an [`OnlineSyncKeyRequest`]) must be signed by the key
/// it names ([`signed_request`]); that key must be the one the cloud holds for the instance,
/// or, on first contact, be proven by the request's enrollment, which pins it. Refusals
/// never name a key.
pub fn issue_sync_key<R: RngCore + CryptoRng>(
    storage: &dyn Store,
    clock: Now,
    instance_id: &str,
    headers: Signature<'_>,
    body: &[u8],
    rng: &mut R,
) -> Result<OnlineSyncKeyResponse, Refusal> {
    let request: OnlineSyncKeyRequest = serde_json::from_slice(body).map_err(|e| {
        Refusal::Invalid(format!(
            "the sync key request is not valid: {e}; send {{\"public_key\": \"ed25519:…\"}} (and \
             \"enrollment\" on first contact), signed, as usagedesk-agent push does"
        ))
    })?;
    let key: PublicKey = request.public_key.parse().map_err(|e: AirgapError| {
        Refusal::Invalid(format!("public_key is not an Ed25519 public key: {e}"))
    })?;
    // Whoever asks must hold the key they name.
    signed_request::verify(
        SYNC_KEY_REQUEST_CONTEXT,
        "sync key request",
        &key,
        clock.now,
        instance_id,
        headers,
        body,
    )?;
    let key_text = key.to_string();
    let instance = instances::find(storage, Asker::Instance, instance_id)?;
    let grant = match instance.public_key.as_deref() {
        Some(pinned) if pinned == key_text => None,
        Some(_) => {
            return Err(Refusal::Forbidden(format!(
                "instance '{instance_id}' is registered with another key: this agent is not \
                 that instance, or the instance was reinstalled with a new state; then ask the \
                 vendor to reset the instance's key (usagedesk-cloud instance reset-key) and \
                 push again"
            )))
        }
        None if instance.airgapped => {
            // An air-gapped instance enrolls by its first usage data file, carried by hand.
            return Err(Refusal::Forbidden(format!(
                "instance '{instance_id}' is air-gapped and reports by file: it cannot start an \
                 online exchange until its key is registered (its first imported usage data \
                 file, or instances.csv)"
            )));
        }
        None => {
            let Some(enrollment) = request.enrollment.as_deref() else {
                return Err(Refusal::Forbidden(format!(
                    "instance '{instance_id}' has no registered key yet, and the request carries \
                     no enrollment: set the agent up with the license file the vendor issued for \
                     the instance (usagedesk-agent init --license-file, or usagedesk-agent \
                     license) and push again"
                )));
            };
            let enrollment = Enrollment::from_json(enrollment.as_bytes())?;
            Some(identity::check_enrollment(
                storage,
                &instance,
                &enrollment,
                &key,
                FirstContact {
                    contact: Contact::Online,
                    actor: ONLINE_ACTOR,
                    now: clock.now,
                },
            )?)
        }
    };
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
        &key_text,
        grant.as_ref(),
    )?;
    if grant.is_some() {
        tracing::info!(instance = %instance.id, "enrolled the instance's key online");
    }
    Ok(OnlineSyncKeyResponse { sync_key: text })
}

/// `POST /api/v1/instances/{id}/usage-data`: the instance's answer to a sync key the cloud
/// issued it; verified and ingested as an upload is.
pub fn receive<R: RngCore + CryptoRng>(
    storage: &dyn Store,
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
