//! What a manager's app and CLI do around the sync and the exchange, written once for both:
//! a sync that also renews the air-gap signing certificate, and the hand-made steps on a kept
//! file (retry, discard) with who did them. Account health is brought up to date by the caller
//! once the sync has landed (`usagedesk_health::ensure_current`): the CLI at once, the app in
//! the background.

use chrono::{DateTime, Utc};
use usagedesk_cache::{Cache, OutboxBinding};
use usagedesk_domain::Clock;
use usagedesk_secrets::SecretStore;
use usagedesk_sync::outbox::{current_binding, push_outbox, PushReport};
use usagedesk_sync::{Client, Progress, SyncError, SyncOptions, SyncReport};

use crate::{refresh_certificate, CertificateStatus, ExchangeError};

/// Who signs and acts here, as written in certificates and the ledger: the OS user, and the
/// account the token is for.
pub fn subject(account_id: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "manager".into());
    format!("{user} ({account_id})")
}

/// A sync, and what rides along with it: the certificate renewal.
pub struct Synced {
    pub report: SyncReport,
    /// Without a certificate only offline exchange steps fail, so its failure is not the
    /// sync's: callers show it as a warning.
    pub certificate: Result<CertificateStatus, ExchangeError>,
}

/// Syncs the cache (uploading the outbox), has the cloud certify this computer's signing key
/// for the token's scope when the certificate is missing or ends soon. The synced data marks
/// account health as lagging; the caller recomputes it.
pub async fn sync_and_certify(
    cache: &mut Cache,
    client: &Client,
    clock: &dyn Clock,
    secrets: &dyn SecretStore,
    opts: &SyncOptions,
    progress: impl FnMut(Progress),
) -> Result<Synced, SyncError> {
    let report = usagedesk_sync::sync(cache, client, clock, opts, progress).await?;
    let subject = subject(&report.account_id);
    let certificate = refresh_certificate(
        cache,
        client,
        secrets,
        &subject,
        clock.now(),
        &mut rand::rngs::OsRng,
    )
    .await;
    Ok(Synced {
        report,
        certificate,
    })
}

/// What became of a kept file queued again by hand.
#[derive(Debug)]
pub enum Retried {
    /// Not signed in to the cloud and account it belongs to: it goes at the next sync there.
    Queued { binding: OutboxBinding },
    /// The cloud cannot be reached now: it goes at a later sync.
    Offline { reason: String },
    /// Sent with the other files due for this cloud and account.
    Sent(PushReport),
}

/// Queues the kept file of ledger entry `ledger_id` again and, when `client` is signed in to
/// the cloud and account the file belongs to, sends it (with the others due) now.
pub async fn retry_upload(
    cache: &mut Cache,
    ledger_id: i64,
    client: Option<&Client>,
    now: DateTime<Utc>,
) -> Result<Retried, ExchangeError> {
    cache.outbox_mut().requeue(ledger_id)?;
    let kept = cache
        .outbox()
        .queued(ledger_id)?
        .ok_or_else(|| ExchangeError::Invalid("the file left the outbox meanwhile".into()))?;
    let current = current_binding(cache)?;
    let client = client.filter(|c| {
        current
            .as_ref()
            .is_some_and(|b| b == &kept.binding && b.cloud_url == c.base_url())
    });
    let Some(client) = client else {
        return Ok(Retried::Queued {
            binding: kept.binding,
        });
    };
    match push_outbox(cache, client, &kept.binding.account_id, now).await {
        Ok(report) => Ok(Retried::Sent(report)),
        Err(e) if e.is_offline() => Ok(Retried::Offline {
            reason: e.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Drops the kept file of ledger entry `ledger_id` for good (the caller has the person
/// confirm first); the ledger keeps the entry, marked discarded by this computer's subject.
pub fn discard_upload(
    cache: &mut Cache,
    ledger_id: i64,
    now: DateTime<Utc>,
) -> Result<(), ExchangeError> {
    let by = subject(
        cache
            .sync()
            .scope_account_id()?
            .as_deref()
            .unwrap_or("signed out"),
    );
    cache.outbox_mut().discard(ledger_id, &by, now)?;
    Ok(())
}
