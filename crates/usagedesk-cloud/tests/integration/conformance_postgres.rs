//! The storage conformance suite (`tests/conformance/`) on the PostgreSQL engine: each test on
//! a fresh database of the server `USAGEDESK_TEST_POSTGRES_URL` names (skipped when it is unset,
//! failed when `CI` is set too).

use usagedesk_cloud::PgStorage;
use usagedesk_testkit::engine;

conformance_suite!(
    ready: || engine::postgres_server("the PostgreSQL conformance suite").is_some(),
    open: |_dir: &std::path::Path| {
        let server = engine::postgres_server("the PostgreSQL conformance suite")
            .expect("checked by ready()");
        let url = engine::fresh_postgres_database(&server).expect("a fresh database");
        PgStorage::open(&url).expect("open a new PostgreSQL database")
    }
);
