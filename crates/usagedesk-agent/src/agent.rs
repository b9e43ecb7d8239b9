//! [`Agent`], the crate's one handle: a facade over an open state directory whose methods
//! hand each task to the module that does it. Nothing below imports this module.
//!
//! | task | module |
//! |---|---|
//! | set up a state, take a newer license file | [`crate::enrollment`] |
//! | open a state, who the instance is | [`crate::state`] |
//! | record daily usage, discard rows | [`crate::record`] |
//! | answer a sync key, apply a verification key | [`crate::exchange`] |
//! | what `status` shows | [`crate::status`] |
//! | the same exchange online (`push`) | [`crate::push`], [`crate::cloud`] |
//! | sign requests, check in | [`crate::signing`], [`crate::check_in`] |

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rand::{CryptoRng, RngCore};
use usagedesk_airgap::{PublicKey, UsageRecord};
#[cfg(feature = "online")]
use usagedesk_domain::{customer::CheckIn, Clock};

#[cfg(feature = "online")]
use crate::check_in::message::CheckInReceipt;
#[cfg(feature = "online")]
use crate::cloud::CloudClient;
use crate::error::Result;
use crate::exchange::{Confirmation, Export, ExportInfo};
use crate::license::{LicenseChange, LicenseInfo};
#[cfg(feature = "online")]
use crate::push::PushSummary;
use crate::record::{DailyUsage, RecordSummary};
use crate::state::{Identity, State};
use crate::status::Status;

/// One agent state directory, open. Not shared between threads; several processes may open
/// the same directory (SQLite serialises their writes).
pub struct Agent {
    pub(crate) state: State,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("dir", &self.state.dir)
            .field("identity", &self.state.identity)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Sets up a new state directory `dir` (created if missing) for the instance the vendor's
    /// `license_file` names (verified against `vendor_key` at `now`): the database, a new
    /// instance key from `rng`, and its enrollment. Refuses a directory that already holds a
    /// state; on failure leaves none behind.
    pub fn init<R: RngCore + CryptoRng>(
        dir: &Path,
        license_file: &[u8],
        vendor_key: &PublicKey,
        now: DateTime<Utc>,
        rng: &mut R,
    ) -> Result<Agent> {
        let state = State::init(dir, license_file, vendor_key, now, rng)?;
        Ok(Agent { state })
    }

    /// Opens the state directory `dir` that `init` set up.
    pub fn open(dir: &Path) -> Result<Agent> {
        Ok(Agent {
            state: State::open(dir)?,
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.state.identity
    }

    pub fn instance_id(&self) -> &str {
        &self.state.identity.instance_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.state.identity.public_key
    }

    pub fn state_dir(&self) -> &Path {
        &self.state.dir
    }

    /// The license the state holds; refuses a state set up before license files.
    pub fn license(&self) -> Result<&LicenseInfo> {
        self.state.license()
    }

    /// Takes a new license file for this instance (the account moved, the license was renewed,
    /// the vendor revoked the old file, or the state predates license files): verified against
    /// the vendor key at `now`; it must name this instance and be no older than the license
    /// held. The instance keeps its key and its records; its license id, account path and
    /// enrollment are replaced.
    pub fn set_license(
        &mut self,
        license_file: &[u8],
        now: DateTime<Utc>,
    ) -> Result<LicenseChange> {
        self.state.set_license(license_file, now)
    }

    /// Records a `daily_usage.csv` read from `reader` (named `file` in errors; at most
    /// [`crate::MAX_CSV_BYTES`]). Every row is checked first, with `today` as the latest date
    /// allowed; then all are written in one transaction (see [`RecordSummary`]).
    pub fn record<R: Read>(
        &mut self,
        file: &str,
        reader: R,
        today: NaiveDate,
    ) -> Result<RecordSummary> {
        self.state.record(file, reader, today)
    }

    /// Records rows handed over by the embedding product, with the rules of
    /// [`Agent::record`]; an error names the row (1-based) and nothing is written.
    pub fn record_rows(&mut self, rows: &[DailyUsage], today: NaiveDate) -> Result<RecordSummary> {
        self.state.record_rows(rows, today)
    }

    /// The records the vendor has not confirmed, in `seq` order.
    pub fn pending(&self) -> Result<Vec<UsageRecord>> {
        self.state.pending()
    }

    /// Discards the waiting records of `account_id` (on `date` only, when given): for rows
    /// recorded by mistake, e.g. an account the vendor refuses for this instance, which would
    /// otherwise block every export. The days are forgotten, so recording them again sends
    /// them. Returns how many records were discarded.
    pub fn discard(&mut self, account_id: &str, date: Option<NaiveDate>) -> Result<u64> {
        self.state.discard(account_id, date)
    }

    /// How many records wait for the vendor.
    pub fn pending_count(&self) -> Result<u64> {
        self.state.pending_count()
    }

    /// The last seq given out, and the vendor's confirmed mark.
    pub fn marks(&self) -> Result<(u64, u64)> {
        self.state.marks()
    }

    pub fn status(&self) -> Result<Status> {
        self.state.status()
    }

    /// Answers the sync key `sync_key` (the file's bytes) with a usage data file: verifies it
    /// against the vendor key at `now`, refuses one for another instance or license, and
    /// writes the records above its mark (as many as fit; see [`Export::remaining_records`]).
    /// The export is kept so that [`Agent::confirm`] can check its verification key. Nothing
    /// is written when the sync key is refused.
    pub fn export_for(&mut self, sync_key: &[u8], now: DateTime<Utc>) -> Result<Export> {
        self.state.export_for(sync_key, now)
    }

    /// Applies the verification key `verification_key` (the file's bytes): finds the export
    /// it confirms by its nonce and file hash, verifies it against the vendor key and that
    /// export, then drops the records up to the accepted mark. Applying it again changes
    /// nothing.
    pub fn confirm(&mut self, verification_key: &[u8], now: DateTime<Utc>) -> Result<Confirmation> {
        self.state.confirm(verification_key, now)
    }

    /// The latest `limit` exports, newest first.
    pub fn exports(&self, limit: usize) -> Result<Vec<ExportInfo>> {
        self.state.exports(limit)
    }

    /// The text of a usage data file exported here and not yet confirmed, by the nonce of the
    /// sync key it answers (the newest such file): to send it again when it was lost.
    pub fn exported_file(&self, nonce: &str) -> Result<Option<String>> {
        self.state.exported_file(nonce)
    }
}

#[cfg(feature = "online")]
impl Agent {
    /// Signs `body` of a request of kind `context` (e.g. `usagedesk-check-in-v1`) for the time
    /// `now`: the values of the timestamp and signature headers.
    pub fn sign_request(&self, context: &str, body: &[u8], now: DateTime<Utc>) -> (String, String) {
        self.state.sign_request(context, body, now)
    }

    /// Answers the sync key the cloud sent (like [`Agent::export_for`], marked as online).
    pub fn export_online(&mut self, sync_key: &[u8], now: DateTime<Utc>) -> Result<Export> {
        self.state.export_online(sync_key, now)
    }

    /// The exchange with the cloud: asks for a sync key, answers it, applies the cloud's
    /// verification key; again while records remain. Every file is checked as in the
    /// air-gapped exchange: the cloud is trusted only through the vendor key.
    pub async fn push(&mut self, client: &CloudClient, clock: &dyn Clock) -> Result<PushSummary> {
        self.state.push(client, clock).await
    }

    /// Signs `body` (a check-in's JSON) for the time `now`: the two headers' values.
    pub fn sign_check_in(&self, body: &[u8], now: DateTime<Utc>) -> (String, String) {
        self.state.sign_check_in(body, now)
    }

    /// Sends one check-in, signed at `now`.
    pub async fn check_in(
        &self,
        client: &CloudClient,
        check_in: &CheckIn,
        now: DateTime<Utc>,
    ) -> Result<CheckInReceipt> {
        self.state.check_in(client, check_in, now).await
    }
}

#[cfg(feature = "online")]
impl CloudClient {
    /// Asks the cloud for a sync key for `agent`'s instance (`POST …/sync-key`), signed by
    /// its key at `now`, with its enrollment (the cloud takes the key on first contact only if
    /// the enrollment proves it, and ignores it afterwards).
    pub async fn request_sync_key(&self, agent: &Agent, now: DateTime<Utc>) -> Result<String> {
        self.sync_key_for(&agent.state, now).await
    }
}

#[cfg(test)]
mod tests;
