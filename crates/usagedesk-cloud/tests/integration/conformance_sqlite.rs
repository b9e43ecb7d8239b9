//! The storage conformance suite (`tests/conformance/`) on the embedded SQLite engine.

use usagedesk_cloud::SqliteStorage;

conformance_suite!(|dir: &std::path::Path| {
    SqliteStorage::open(&dir.join("cloud.db")).expect("open a new SQLite database")
});
