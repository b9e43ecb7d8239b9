//! The UsageDesk cloud reporting service: receives usage, holds the tenant tree, serves the
//! manager API and the incremental change feed.

pub mod airgap;
pub mod customers;
pub mod feed;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod load;
pub mod server;
pub mod storage;
pub mod summary;
pub mod tokens;

pub use server::{spawn, spawn_with, RunningServer};
#[cfg(feature = "postgres")]
pub use storage::PgStorage;
pub use storage::{SqliteStorage, Store, TokenKind, TokenScope};
