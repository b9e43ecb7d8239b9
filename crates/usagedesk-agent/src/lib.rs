//! The customer-side UsageDesk agent, the part a vendor embeds in its self-hosted product
//! (see `docs/agent.md`; the files are in `docs/airgap-format.md`).
//!
//! An [`Agent`] is one state directory: the instance's identity and key, the daily usage
//! records the vendor has not confirmed, and the exports that answered sync keys.
//!
//! ```text
//! Agent::init(dir, license_file, vendor_key, now, rng)        once, from the vendor's file
//! agent.set_license(license_file, now)                         a newer license file
//! agent.record(file, reader, today)                             daily usage in, each with a seq
//! agent.discard(account, date)                                  rows recorded by mistake out
//! agent.export_for(sync_key_bytes, now) -> Export               usage data file out
//! agent.confirm(verification_key_bytes, now) -> Confirmation    drop what the vendor holds
//! agent.push(&CloudClient, clock).await                         the same, online
//! agent.check_in(&CloudClient, &CheckIn, now).await             status, version, cluster
//! check_in::run_check_ins(sender, sleeper, clock, read, opts)   on start, change, every 4 h
//! ```
//!
//! Nothing here reads the clock or the OS random source: time and randomness are arguments.

#![forbid(unsafe_code)]

// Layers, each using only those above it (scripts/module-cycles.py checks there is no cycle):
// plumbing (error, fsutil, db) → license → state → the features (enrollment, record,
// exchange, status; online: cloud, signing, push, check_in::message) → agent (the facade) →
// check_in (the loop's sender over an Agent).
mod agent;
#[cfg(feature = "online")]
pub mod check_in;
#[cfg(feature = "online")]
mod cloud;
mod db;
mod enrollment;
mod error;
mod exchange;
mod fsutil;
mod license;
#[cfg(feature = "online")]
mod push;
mod record;
#[cfg(feature = "online")]
mod signing;
mod state;
mod status;

pub use agent::Agent;
#[cfg(feature = "online")]
pub use check_in::CheckInReceipt;
#[cfg(feature = "online")]
pub use cloud::{parse_cloud_url, CloudClient};
pub use db::SCHEMA_VERSION;
pub use error::{AgentError, Result};
pub use exchange::{Confirmation, Export, ExportInfo, Via};
pub use fsutil::{read_limited, write_atomic};
pub use license::{LicenseChange, LicenseInfo};
#[cfg(feature = "online")]
pub use push::{PushRound, PushSummary};
pub use record::{parse_daily_usage_csv, DailyUsage, RecordSummary, MAX_CSV_BYTES};
#[cfg(feature = "online")]
pub use signing::{signed_message_for, SYNC_KEY_REQUEST_CONTEXT};
pub use state::{Identity, DB_FILE, KEY_FILE};
pub use status::Status;
