//! SQLite plumbing shared by UsageDesk's databases (the desktop cache, the agent's state,
//! the cloud's store).
//!
//! ```text
//! let conn = usagedesk_sqlite::open(path, &Settings::new(busy_timeout).cache_kib(65536))?;
//! const MIGRATOR: Migrator = Migrator::new(&[include_str!("0001_init.sql"), …]);
//! MIGRATOR.migrate(&mut conn)?;          // how many migrations it applied
//! ```
//!
//! Every error is a [`SqliteError`]; the caller turns it into its own error, naming its file
//! and what the user should do (e.g. [`SqliteError::TooNew`]: update the program).

#![forbid(unsafe_code)]

mod bulk;
mod error;
mod migrate;
mod open;

pub use bulk::{drop_indexes, insert_batched, values, Dropped, ROWS_PER_STATEMENT};
pub use error::SqliteError;
pub use migrate::{user_version, Migrator};
pub use open::{open, open_in_memory, Settings, TempStore};
