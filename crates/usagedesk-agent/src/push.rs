//! Online mode: the air-gapped exchange over HTTP, the cloud acting as the manager.
//!
//! 1. `POST {url}/api/v1/instances/{id}/sync-key` with [`OnlineSyncKeyRequest`] →
//!    [`OnlineSyncKeyResponse`]: a sync key, verified exactly like one carried by hand;
//! 2. `POST {url}/api/v1/instances/{id}/usage-data` with [`OnlineUsageData`] (the answer) →
//!    [`AirgapAccepted`], whose verification key is applied exactly like `airgap confirm`;
//! 3. again while records remain (a file holds at most 4 MiB).

use chrono::{DateTime, Utc};
use serde::Serialize;
use usagedesk_domain::airgap_api::{
    AirgapAccepted, OnlineSyncKeyRequest, OnlineSyncKeyResponse, OnlineUsageData,
};
use usagedesk_domain::Clock;

use crate::cloud::CloudClient;
use crate::error::{AgentError, Result};
use crate::exchange::{Confirmation, Export, Via};
use crate::signing::{SIGNATURE_HEADER, SYNC_KEY_REQUEST_CONTEXT, TIMESTAMP_HEADER};
use crate::state::State;

/// At most this many rounds in one push (each carries up to ~20,000 records).
const MAX_ROUNDS: usize = 10_000;

/// One round of a push: the file sent, and the cloud's confirmation of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushRound {
    pub export: Export,
    /// The cloud had accepted the same file before.
    pub replay: bool,
    pub confirmation: Confirmation,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    pub rounds: Vec<PushRound>,
    /// Records still waiting after the push (recorded meanwhile, or refused by the cloud).
    pub waiting: u64,
}

impl PushSummary {
    /// Records sent, over all rounds.
    pub fn records_sent(&self) -> u64 {
        self.rounds.iter().map(|r| r.export.records).sum()
    }

    /// The confirmed mark after the push, when any round ran.
    pub fn confirmed_mark(&self) -> Option<u64> {
        self.rounds.last().map(|r| r.confirmation.confirmed_mark)
    }
}

impl CloudClient {
    /// Asks the cloud for a sync key for the instance of `agent` (`POST …/sync-key`), signed by
    /// its key at `now`, with its enrollment (the cloud takes the key on first contact only if
    /// the enrollment proves it, and ignores it afterwards).
    pub(crate) async fn sync_key_for(&self, agent: &State, now: DateTime<Utc>) -> Result<String> {
        let license = agent.license()?;
        let request = OnlineSyncKeyRequest {
            public_key: agent.identity.public_key.to_string(),
            enrollment: Some(license.enrollment.to_json()),
        };
        let body = serde_json::to_vec(&request).map_err(|e| AgentError::Protocol {
            url: self.base_url().to_owned(),
            step: "sync key request",
            reason: format!("the request cannot be written as JSON: {e}"),
        })?;
        let (timestamp, signature) = agent.sign_request(SYNC_KEY_REQUEST_CONTEXT, &body, now);
        let url = self.instance_url(&agent.identity.instance_id, "sync-key");
        let r: OnlineSyncKeyResponse = self
            .post_bytes(
                url,
                body,
                &[(TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)],
                "sync key request",
            )
            .await?;
        Ok(r.sync_key)
    }

    /// Sends a usage data file answering a sync key from the cloud (`POST …/usage-data`).
    pub async fn send_usage_data(
        &self,
        instance_id: &str,
        usage_data: &str,
    ) -> Result<AirgapAccepted> {
        let url = self.instance_url(instance_id, "usage-data");
        let body = OnlineUsageData {
            usage_data: usage_data.to_owned(),
        };
        self.post(url, &body, "usage data").await
    }
}

impl State {
    /// Answers the sync key the cloud sent (like [`State::export_for`], marked as online).
    pub(crate) fn export_online(&mut self, sync_key: &[u8], now: DateTime<Utc>) -> Result<Export> {
        self.export(sync_key, now, Via::Online)
    }

    /// The exchange with the cloud: asks for a sync key, answers it, applies the cloud's
    /// verification key; again while records remain. Every file is checked as in the
    /// air-gapped exchange: the cloud is trusted only through the vendor key.
    pub(crate) async fn push(
        &mut self,
        client: &CloudClient,
        clock: &dyn Clock,
    ) -> Result<PushSummary> {
        self.license()?;
        let instance_id = self.identity.instance_id.clone();
        let mut summary = PushSummary::default();
        for _ in 0..MAX_ROUNDS {
            let sync_key = client.sync_key_for(self, clock.now()).await?;
            let export = self.export_online(sync_key.as_bytes(), clock.now())?;
            let accepted = client.send_usage_data(&instance_id, &export.text).await?;
            let confirmation = self.confirm(accepted.verification_key.as_bytes(), clock.now())?;
            let progressed = confirmation.accepted_mark > export.above_mark;
            let remaining = export.remaining_records;
            summary.rounds.push(PushRound {
                export,
                replay: accepted.replay,
                confirmation,
            });
            if remaining == 0 {
                break;
            }
            if !progressed {
                return Err(AgentError::NoProgress {
                    mark: summary.rounds.last().map_or(0, |r| r.export.above_mark),
                    remaining,
                });
            }
        }
        summary.waiting = self.pending_count()?;
        Ok(summary)
    }
}
