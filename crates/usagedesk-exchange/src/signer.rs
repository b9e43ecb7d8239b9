//! This manager's delegated signing key (in the OS keyring, next to the API token) and the
//! certificate the cloud gave it (in the cache): what signs sync keys and verification keys
//! offline.

use chrono::{DateTime, Duration, Utc};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::{DelegationCertificate, PublicKey, SigningKey};
use usagedesk_cache::Cache;
use usagedesk_domain::airgap_api::CertificateRequest;
use usagedesk_secrets::SecretStore;
use usagedesk_sync::Client;

use crate::ExchangeError;

/// Cache `sync_state` keys.
const KEY_CERTIFICATE: &str = "airgap_certificate";
const KEY_VENDOR_KEY: &str = "airgap_vendor_key";
/// The certificate scope's account and its ancestors (JSON array), from the cloud.
const KEY_SCOPE_PATH: &str = "airgap_scope_path";
/// A certificate closer to its end than this is renewed at the next sync.
const RENEW_BEFORE: Duration = Duration::days(7);

/// The keyring entry of the delegated key for the cloud at `url`.
fn keyring_name(url: &str) -> String {
    format!("{url}#airgap-signing-key")
}

/// What signs exchange files here.
pub struct Signer {
    pub key: SigningKey,
    pub certificate: DelegationCertificate,
    /// The vendor's root public key: what every file's chain ends in.
    pub vendor_key: PublicKey,
    /// The certificate scope's account and its ancestors, root first (empty for `*`).
    pub scope_path: Vec<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("subject", &self.certificate.subject)
            .field("expires_at", &self.certificate.expires_at)
            .finish_non_exhaustive()
    }
}

/// The certificate in force after [`refresh_certificate`], for status displays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CertificateStatus {
    pub subject: String,
    /// `*` or the account id whose subtree the certificate covers.
    pub scope: String,
    pub expires_at: DateTime<Utc>,
    /// Whether this call fetched a new one.
    pub renewed: bool,
}

impl Signer {
    /// The key and certificate for the cache's cloud, valid at `now`.
    pub fn load(
        cache: &Cache,
        secrets: &dyn SecretStore,
        now: DateTime<Utc>,
    ) -> Result<Self, ExchangeError> {
        let url = cache
            .sync()
            .server_url()?
            .ok_or(ExchangeError::NoCertificate)?;
        let (Some(cert), Some(vendor)) = (
            cache.sync().value(KEY_CERTIFICATE)?,
            cache.sync().value(KEY_VENDOR_KEY)?,
        ) else {
            return Err(ExchangeError::NoCertificate);
        };
        let certificate = DelegationCertificate::from_json(cert.as_bytes())?;
        let vendor_key: PublicKey = vendor.parse()?;
        let key = match secrets.get(&keyring_name(&url))? {
            Some(text) => SigningKey::from_secret_text(&text)?,
            None => return Err(ExchangeError::NoCertificate),
        };
        if key.public_key() != certificate.public_key {
            return Err(ExchangeError::NoCertificate);
        }
        if now >= certificate.expires_at {
            return Err(ExchangeError::CertificateExpired(certificate.expires_at));
        }
        certificate.verify(&vendor_key, now)?;
        let scope_path = stored_scope_path(cache)?;
        if !scope_path_fits(&certificate, scope_path.as_deref()) {
            return Err(ExchangeError::NoCertificate);
        }
        Ok(Self {
            key,
            certificate,
            vendor_key,
            scope_path: scope_path.unwrap_or_default(),
        })
    }

    /// The account path of `account_id` in the vendor's whole tree, root first, as sync keys
    /// and license files name it. The cache holds the token's subtree only: the scope's
    /// ancestors come from the cloud with the certificate.
    pub fn account_path(
        &self,
        cache: &Cache,
        account_id: &str,
    ) -> Result<Vec<String>, ExchangeError> {
        let inside: Vec<String> = cache
            .accounts()
            .path(account_id)?
            .into_iter()
            .map(|a| a.id)
            .collect();
        let Some(first) = inside.first() else {
            return Err(ExchangeError::Invalid(format!(
                "account '{account_id}' is not in the local cache: sync, then try again"
            )));
        };
        match &self.certificate.scope {
            usagedesk_airgap::CertScope::All => Ok(inside),
            usagedesk_airgap::CertScope::Subtree(root) => {
                if first != root || self.scope_path.last() != Some(root) {
                    return Err(ExchangeError::Invalid(format!(
                        "account '{account_id}' is not under this certificate's account \
                         '{root}' in the local cache: sync while online, then try again"
                    )));
                }
                let above = &self.scope_path[..self.scope_path.len() - 1];
                Ok(above.iter().cloned().chain(inside).collect())
            }
        }
    }
}

/// Who signs an export of `account_id` at `now`, and the account's path in the vendor's tree;
/// or why no one can here (never synced, signed out, certificate ended, keyring unreadable):
/// the export is then written unsigned and says so.
pub fn export_signer(
    cache: &Cache,
    secrets: &dyn SecretStore,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<(Signer, Vec<String>), ExchangeError> {
    let signer = Signer::load(cache, secrets, now)?;
    let path = signer.account_path(cache, account_id)?;
    Ok((signer, path))
}

/// The vendor root public key stored with the certificate at the last sync (`None`: never
/// synced with a certificate, or signed out since): what exports are verified against.
pub fn cached_vendor_key(cache: &Cache) -> Result<Option<PublicKey>, ExchangeError> {
    match cache.sync().value(KEY_VENDOR_KEY)? {
        Some(text) => Ok(Some(text.parse()?)),
        None => Ok(None),
    }
}

fn stored_scope_path(cache: &Cache) -> Result<Option<Vec<String>>, ExchangeError> {
    Ok(cache
        .sync()
        .value(KEY_SCOPE_PATH)?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Whether `path` is the stored path of the certificate's scope (anything for `*`).
fn scope_path_fits(cert: &DelegationCertificate, path: Option<&[String]>) -> bool {
    match &cert.scope {
        usagedesk_airgap::CertScope::All => true,
        usagedesk_airgap::CertScope::Subtree(root) => path.is_some_and(|p| p.last() == Some(root)),
    }
}

/// Makes sure a valid certificate is at hand: creates the delegated key on first use (kept
/// in the keyring), and asks the cloud for a certificate when there is none, when it ends
/// within a week, or when it certifies another key. Call while online, after a sync.
pub async fn refresh_certificate<R: RngCore + CryptoRng>(
    cache: &mut Cache,
    client: &Client,
    secrets: &dyn SecretStore,
    subject: &str,
    now: DateTime<Utc>,
    rng: &mut R,
) -> Result<CertificateStatus, ExchangeError> {
    let url = client.base_url().to_owned();
    let vendor = client.vendor_key().await?;
    let vendor_key: PublicKey = vendor.public_key.parse()?;
    let key = match secrets.get(&keyring_name(&url))? {
        Some(text) => SigningKey::from_secret_text(&text)?,
        None => {
            let key = SigningKey::generate(rng);
            secrets.set(&keyring_name(&url), &key.to_secret_text())?;
            key
        }
    };
    let scope_path = stored_scope_path(cache)?;
    let current = cache
        .sync()
        .value(KEY_CERTIFICATE)?
        .and_then(|c| DelegationCertificate::from_json(c.as_bytes()).ok())
        .filter(|c| {
            c.public_key == key.public_key()
                && c.verify(&vendor_key, now).is_ok()
                && c.expires_at - now > RENEW_BEFORE
                && scope_path_fits(c, scope_path.as_deref())
        });
    let (certificate, renewed, scope_path) = match current {
        Some(c) => (c, false, scope_path.unwrap_or_default()),
        None => {
            let answer = client
                .airgap_certificate(&CertificateRequest {
                    public_key: key.public_key().to_string(),
                    subject: subject.to_owned(),
                })
                .await?;
            let cert = DelegationCertificate::from_json(answer.certificate.as_bytes())?;
            // Trust nothing unchecked, not even our own cloud's answer.
            cert.verify(&vendor_key, now)?;
            if cert.public_key != key.public_key() {
                return Err(ExchangeError::Invalid(
                    "the cloud certified another key than this computer's; sync again".into(),
                ));
            }
            if !scope_path_fits(&cert, Some(&answer.scope_path)) {
                return Err(ExchangeError::Invalid(
                    "the cloud did not say where the certificate's account sits in its tree: \
                     update the cloud service to this release"
                        .into(),
                ));
            }
            (cert, true, answer.scope_path)
        }
    };
    cache
        .sync_mut()
        .set_value(KEY_VENDOR_KEY, &vendor_key.to_string())?;
    cache
        .sync_mut()
        .set_value(KEY_CERTIFICATE, &certificate.to_json())?;
    cache.sync_mut().set_value(
        KEY_SCOPE_PATH,
        &serde_json::to_string(&scope_path).unwrap_or_default(),
    )?;
    Ok(CertificateStatus {
        subject: certificate.subject.clone(),
        scope: scope_text(&certificate),
        expires_at: certificate.expires_at,
        renewed,
    })
}

/// Sign-out: removes this computer's delegated signing key for the cloud at `url` from the
/// keyring and the certificate from the cache, so nothing can be signed here until the next
/// sign-in and sync. Files already imported stay queued (pushing them needs no signature).
/// Returns whether a key was in the keyring.
pub fn forget_signer(
    cache: &mut Cache,
    secrets: &dyn SecretStore,
    url: &str,
) -> Result<bool, ExchangeError> {
    let had_key = secrets.get(&keyring_name(url))?.is_some();
    if had_key {
        secrets.delete(&keyring_name(url))?;
    }
    cache.sync_mut().remove_value(KEY_CERTIFICATE)?;
    cache.sync_mut().remove_value(KEY_VENDOR_KEY)?;
    Ok(had_key)
}

fn scope_text(c: &DelegationCertificate) -> String {
    match &c.scope {
        usagedesk_airgap::CertScope::All => "*".into(),
        usagedesk_airgap::CertScope::Subtree(a) => a.clone(),
    }
}
