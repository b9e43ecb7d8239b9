//! The vendor root key, the certificates it gives managers' keys, and the cloud's own
//! delegated key (for the sync keys and verification keys the cloud issues itself).

use chrono::{DateTime, Duration, Utc};
use rand::{CryptoRng, RngCore};
use usagedesk_airgap::{
    AirgapError, CertScope, DelegationCertificate, PublicKey, RootKey, SigningKey,
};
use usagedesk_domain::airgap_api::{CertificateRequest, CertificateResponse, VendorKey};

use sha2::{Digest, Sha256};

use super::Refusal;
use crate::storage::{AirGap, Delegation, Store, StoreError, StoredSigner, TokenGrant, TokenScope};

/// The subject of the cloud's own certificate: the `issued_by` of the files it signs.
pub const CLOUD_SUBJECT: &str = "usagedesk-cloud";
/// How long the cloud's own certificate lasts.
pub const CLOUD_CERTIFICATE_LIFETIME: Duration = Duration::days(90);
/// The cloud renews its certificate when less than this is left.
pub const CLOUD_RENEW_BEFORE: Duration = Duration::days(30);
/// How long a manager's certificate lasts.
pub const MANAGER_CERTIFICATE_LIFETIME: Duration = Duration::days(30);

/// The vendor root key: the stored one, or (the first time, for a new database) one drawn
/// from `rng` and stored, unless another process stored its own first: then that one.
pub fn root_key<S, R>(store: &S, rng: &mut R, now: DateTime<Utc>) -> Result<RootKey, StoreError>
where
    S: AirGap + ?Sized,
    R: RngCore + CryptoRng,
{
    match store.root_key()? {
        Some(key) => Ok(key),
        None => store.insert_root_key(&RootKey::generate(rng), now),
    }
}

/// The vendor root public key, as `GET /api/v1/airgap/vendor-key` shows it.
pub fn vendor_key(storage: &dyn Store) -> Result<VendorKey, StoreError> {
    let public = storage.vendor_root_key()?.public_key();
    Ok(VendorKey {
        public_key: public.to_string(),
        fingerprint: public.fingerprint(),
    })
}

/// The cloud's own delegated key and the root's certificate for it (scope `*`).
#[derive(Debug, Clone)]
pub struct CloudSigner {
    pub key: SigningKey,
    pub certificate: DelegationCertificate,
}

/// The stored signer, when it is intact, certified by `root` and far enough from expiry.
fn usable(stored: &StoredSigner, root: &PublicKey, now: DateTime<Utc>) -> Option<CloudSigner> {
    let key = SigningKey::from_secret_text(&stored.secret).ok()?;
    let certificate = DelegationCertificate::from_json(stored.certificate.as_bytes()).ok()?;
    let fits = certificate.public_key == key.public_key()
        && certificate.subject == CLOUD_SUBJECT
        && certificate.scope == CertScope::All
        && certificate.verify(root, now).is_ok()
        && certificate.expires_at - now > CLOUD_RENEW_BEFORE;
    fits.then_some(CloudSigner { key, certificate })
}

/// The cloud's signer: the stored one, or a new key certified by the root (the first time,
/// and whenever the stored certificate nears its expiry).
pub fn cloud_signer<R: RngCore + CryptoRng>(
    storage: &dyn Store,
    now: DateTime<Utc>,
    rng: &mut R,
) -> Result<CloudSigner, Refusal> {
    let root = storage.vendor_root_key()?;
    let stored = storage.cloud_signer()?;
    if let Some(signer) = stored
        .as_ref()
        .and_then(|s| usable(s, &root.public_key(), now))
    {
        return Ok(signer);
    }
    let key = SigningKey::generate(rng);
    let certificate = root.certify(
        &key.public_key(),
        CLOUD_SUBJECT,
        CertScope::All,
        now,
        now + CLOUD_CERTIFICATE_LIFETIME,
    )?;
    let new = StoredSigner {
        secret: key.to_secret_text(),
        certificate: certificate.to_json(),
    };
    if stored.is_none() {
        // The first signer: whichever process stores one first, every process uses that one.
        let first = storage.insert_cloud_signer(&new, now)?;
        if first != new {
            if let Some(signer) = usable(&first, &root.public_key(), now) {
                return Ok(signer);
            }
        }
    } else {
        storage.save_cloud_signer(&new, now)?;
    }
    tracing::info!(
        "renewed the cloud's signing key {} (certified until {})",
        key.public_key(),
        certificate.expires_at
    );
    Ok(CloudSigner { key, certificate })
}

/// How the cloud names a certificate: the SHA-256 (hex) of its compact JSON.
pub fn certificate_sha256(certificate: &DelegationCertificate) -> String {
    hex::encode(Sha256::digest(certificate.to_json().as_bytes()))
}

/// Refuses a sync key signed under a certificate issued to a token that is now revoked.
pub fn check_not_revoked(
    storage: &dyn Store,
    certificate: &DelegationCertificate,
) -> Result<(), Refusal> {
    if let Some(r) = storage.revoked_certificate(&certificate_sha256(certificate))? {
        return Err(Refusal::Revoked(format!(
            "the sync key was signed by '{}' under a certificate of token {}, which was revoked \
             on {}: files answering it are not accepted. Issue a new sync key from an app \
             signed in with a valid token, and ask the customer to export again",
            r.subject,
            r.token_id,
            super::when(&r.revoked_at)
        )));
    }
    Ok(())
}

/// The airgap scope of a token's scope.
pub fn scope_of(scope: &TokenScope) -> CertScope {
    match scope {
        TokenScope::All => CertScope::All,
        TokenScope::Subtree(account) => CertScope::Subtree(account.clone()),
    }
}

/// Certifies a manager's delegated key for the token's scope, for
/// [`MANAGER_CERTIFICATE_LIFETIME`] from `now`, and records it.
pub fn certify_manager(
    storage: &dyn Store,
    grant: &TokenGrant,
    request: &CertificateRequest,
    now: DateTime<Utc>,
) -> Result<CertificateResponse, Refusal> {
    let key: PublicKey = request.public_key.parse().map_err(|e: AirgapError| {
        Refusal::Invalid(format!("public_key is not an Ed25519 public key: {e}"))
    })?;
    if request.subject == CLOUD_SUBJECT {
        return Err(Refusal::Invalid(format!(
            "the subject `{CLOUD_SUBJECT}` names the cloud itself; send the manager's name or \
             e-mail address"
        )));
    }
    let root = storage.vendor_root_key()?;
    let scope = scope_of(&grant.scope);
    let certificate = root
        .certify(
            &key,
            &request.subject,
            scope.clone(),
            now,
            now + MANAGER_CERTIFICATE_LIFETIME,
        )
        .map_err(|e| {
            Refusal::Invalid(format!(
                "{e}; send the manager's name or e-mail address as the subject"
            ))
        })?;
    storage.record_delegation(&Delegation {
        public_key: key.to_string(),
        subject: certificate.subject.clone(),
        scope: scope.to_string(),
        token_name: grant.name.clone(),
        token_id: grant.id.clone(),
        certificate_sha256: certificate_sha256(&certificate),
        issued_at: certificate.issued_at,
        expires_at: certificate.expires_at,
    })?;
    let scope_path = match &grant.scope {
        TokenScope::All => Vec::new(),
        TokenScope::Subtree(account) => storage.account_path(account)?,
    };
    Ok(CertificateResponse {
        certificate: certificate.to_json(),
        vendor_key: root.public_key().to_string(),
        scope_path,
    })
}
