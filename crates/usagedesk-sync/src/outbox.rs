//! Pushing the usage data files imported offline to the cloud they were queued for.
//!
//! Nothing the customer was told we hold is dropped here: the cloud's answer decides only
//! whether a file leaves the outbox (accepted), waits (a transient failure: no connection,
//! timeout, 408, 429, 5xx, retried with backoff and never before the cloud's `Retry-After`)
//! or is kept marked refused (any other 4xx but 401) until someone retries or discards it.
//! A 401 fails the sync, the files stay queued. Files go only to the cloud URL and account
//! they were imported under.

use chrono::{DateTime, Utc};
use usagedesk_cache::{Cache, OutboxBinding};
use usagedesk_domain::airgap_api::AirgapUpload;

use crate::{Client, SyncError};

/// The first pause after a transient failure; it doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: chrono::Duration = chrono::Duration::seconds(30);
const MAX_BACKOFF: chrono::Duration = chrono::Duration::hours(1);

/// What one push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PushReport {
    /// Accepted by the cloud (gone from the outbox).
    pub uploaded: u64,
    /// Still queued after a transient failure; tried again at a later sync.
    pub deferred: u64,
    /// Refused for good by the cloud in this push; kept, shown with the reason.
    pub refused: u64,
}

/// The pause before trying a file again after its `attempts`-th transient failure: doubling
/// from 30 s, at most an hour, and never sooner than the cloud's `Retry-After`.
pub fn backoff(attempts: u32, retry_after: Option<std::time::Duration>) -> chrono::Duration {
    let doubled = FIRST_BACKOFF
        .checked_mul(1 << attempts.saturating_sub(1).min(16))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let asked = retry_after
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .unwrap_or_default();
    doubled.max(asked)
}

/// The binding of everything the cache holds now (its cloud and the token's account), if it
/// was synced.
pub fn current_binding(cache: &Cache) -> Result<Option<OutboxBinding>, SyncError> {
    Ok(
        match (cache.sync().server_url()?, cache.sync().scope_account_id()?) {
            (Some(cloud_url), Some(account_id)) => Some(OutboxBinding {
                cloud_url,
                account_id,
            }),
            _ => None,
        },
    )
}

/// Files kept for another cloud or account than `binding` (queued or refused): what a
/// switch to `binding` leaves behind. `None` when there are none.
pub fn kept_elsewhere(
    cache: &Cache,
    binding: &OutboxBinding,
) -> Result<Option<SyncError>, SyncError> {
    let mut files = 0;
    let mut others: Vec<String> = Vec::new();
    for item in cache.outbox().items()? {
        if &item.binding != binding {
            files += 1;
            let name = describe(&item.binding);
            if !others.contains(&name) {
                others.push(name);
            }
        }
    }
    Ok((files > 0).then(|| SyncError::PendingElsewhere {
        files,
        others: others.join(", "),
    }))
}

/// `https://cloud.example/ (account acme)`.
pub fn describe(b: &OutboxBinding) -> String {
    let account = if b.account_id == "*" {
        "all accounts".to_owned()
    } else {
        format!("account {}", b.account_id)
    };
    format!("{} ({account})", b.cloud_url)
}

/// Pushes the files queued for `client`'s cloud and `account_id` (the token's account)
/// that are due at `now`, oldest first. Stops at the first transient failure (the cloud or
/// the network is struggling: the rest wait too).
pub async fn push_outbox(
    cache: &mut Cache,
    client: &Client,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<PushReport, SyncError> {
    let mut report = PushReport::default();
    let binding = OutboxBinding {
        cloud_url: client.base_url().to_owned(),
        account_id: account_id.to_owned(),
    };
    let due = cache.outbox().due(&binding, now)?;
    for (i, item) in due.iter().enumerate() {
        let upload = AirgapUpload {
            sync_key: item.sync_key.clone(),
            usage_data: item.usage_data.clone(),
        };
        match client.upload_airgap(&upload).await {
            Ok(accepted) => {
                tracing::info!(
                    "uploaded the usage data file of {} ({} new records)",
                    accepted.instance_id,
                    accepted.new
                );
                cache.outbox_mut().mark_uploaded(item.ledger_id)?;
                report.uploaded += 1;
            }
            Err(e @ SyncError::Unauthorized { .. }) => return Err(e),
            Err(e) if e.is_transient() || matches!(e, SyncError::Protocol(_)) => {
                tracing::warn!(
                    "the usage data file of {} stays queued: {e}",
                    item.instance_id
                );
                for rest in &due[i..] {
                    let attempts = cache
                        .outbox()
                        .queued(rest.ledger_id)?
                        .map_or(0, |q| q.attempts)
                        + 1;
                    let retry_at = now + backoff(attempts, e.retry_after());
                    cache.outbox_mut().mark_deferred(
                        rest.ledger_id,
                        &e.to_string(),
                        now,
                        retry_at,
                    )?;
                    report.deferred += 1;
                }
                return Ok(report);
            }
            Err(SyncError::Api {
                status, message, ..
            }) => {
                tracing::warn!(
                    "the cloud refused the usage data file of {} imported here ({status}): {message}",
                    item.instance_id
                );
                cache
                    .outbox_mut()
                    .mark_refused(item.ledger_id, status, &message, now)?;
                report.refused += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour_and_never_undercuts_retry_after() {
        let secs =
            |a, r: Option<u64>| backoff(a, r.map(std::time::Duration::from_secs)).num_seconds();
        assert_eq!(
            [1, 2, 3, 4, 7, 8, 40].map(|a| secs(a, None)),
            [30, 60, 120, 240, 1920, 3600, 3600]
        );
        assert_eq!(secs(1, Some(120)), 120, "the cloud asked for longer");
        assert_eq!(secs(3, Some(5)), 120, "the backoff is longer");
    }
}
