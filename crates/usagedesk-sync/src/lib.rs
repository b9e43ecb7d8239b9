//! Talks to the UsageDesk cloud: the HTTP [`Client`] with version check, retries and clear
//! errors, and [`sync`], which pulls the change feed page by page into the local cache.

mod client;
mod error;
pub mod outbox;
mod retry;
mod run;
mod settings;

pub use client::{parse_base_url, Client, ClientOptions, RawPage};
pub use error::SyncError;
pub use retry::RetryPolicy;
pub use run::{sync, Phase, Progress, SyncOptions, SyncReport};
pub use settings::{Settings, SettingsError};
