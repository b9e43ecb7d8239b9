//! The cloud's integration tests, in one binary (one link instead of one per file): each
//! module drives the real service, its storage or its binary. `scripts/test.sh` runs this
//! binary a second time with `USAGEDESK_TEST_ENGINE=postgres`, skipping the modules about the
//! SQLite file (limits, restore, secrets, tokens, openapi) and the conformance suites.

// Shared helpers.
mod common;
#[macro_use]
mod conformance;
mod served;

// The storage conformance suite on each engine (`conformance/`).
mod conformance_postgres;
mod conformance_sqlite;

mod airgap_feed;
mod airgap_imports;
mod airgap_keys;
mod airgap_moved;
mod airgap_online;
mod api;
mod check_in;
mod customers;
mod feed_concurrency;
mod instance_identity;
mod limits;
mod load;
mod load_month_end;
mod lost_connection;
mod openapi;
mod restore;
mod secrets;
mod tokens;
mod two_processes;
