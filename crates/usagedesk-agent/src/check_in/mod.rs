//! Check-ins (online mode): the instance tells the cloud its status, app version and cluster,
//! signed with its own key (`docs/agent.md`, "Check-ins").
//!
//! `POST {url}/api/v1/instances/{id}/check-in` with a [`CheckIn`] as the JSON body and two
//! headers:
//!
//! - `X-Usagedesk-Timestamp`: the time of signing, RFC 3339 UTC with milliseconds;
//! - `X-Usagedesk-Signature`: `ed25519 ` and the standard base64 of the Ed25519 signature of
//!   `usagedesk-check-in-v1\n{instance id}\n{timestamp}\n{body bytes}`.
//!
//! [`run_check_ins`] is the loop of `usagedesk-agent run`: a check-in on start, whenever what
//! the product reports changes, and every 4 hours; the clock and the sleeping are passed in.

// `message` holds what one check-in sends and its signing (the `Agent` facade uses it),
// `schedule` the loop; this module adds `OnlineCheckIns`, the loop's sender over an `Agent`,
// and names the public items.
pub(crate) mod message;
mod schedule;

use chrono::{DateTime, Utc};
use usagedesk_domain::customer::CheckIn;

use crate::cloud::CloudClient;
use crate::error::Result;
pub use crate::signing::{timestamp_text, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::Agent;
pub use message::{
    fill_agent_version, parse_resources, read_status_file, signed_message, CheckInReceipt,
    MAX_STATUS_FILE_BYTES, SIGNING_CONTEXT,
};
pub use schedule::{
    run_check_ins, CheckInSender, LoopEvent, LoopOptions, Sleeper, Trigger, CHECK_IN_INTERVAL,
};

/// An agent and the cloud: the real [`CheckInSender`].
pub struct OnlineCheckIns<'a> {
    pub agent: &'a Agent,
    pub client: &'a CloudClient,
}

impl CheckInSender for OnlineCheckIns<'_> {
    async fn send(&mut self, check_in: &CheckIn, now: DateTime<Utc>) -> Result<CheckInReceipt> {
        self.agent.check_in(self.client, check_in, now).await
    }
}
