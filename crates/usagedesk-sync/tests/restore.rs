//! A cloud restored from an older backup: a cache that synced past the backup's head is
//! answered 410 and resyncs in full, ending equal to a fresh sync (real cloud on loopback,
//! real client, real cache files).

use std::path::Path;
use std::sync::Arc;

use usagedesk_cache::Cache;
use usagedesk_cloud::storage::{DailyRow, TokenKind};
use usagedesk_cloud::SqliteStorage;
use usagedesk_domain::{UsageCounts, YearMonth};
use usagedesk_sync::{sync, Client, SyncOptions, SyncReport};
use usagedesk_testkit::{clock, small_fixture, Cloud};

mod common;
use common::{contents, difference};

async fn sync_into(url: &str, token: &str, cache: &mut Cache) -> SyncReport {
    let client = Client::new(url, token).expect("client");
    // The restored cloud listens on another port here; in real life it is the same URL.
    cache
        .sync_mut()
        .set_server_url(client.base_url())
        .expect("url");
    sync(cache, &client, &clock(), &SyncOptions::default(), |_| {})
        .await
        .expect("sync")
}

fn row(account: &str, date: &str, registered: u64) -> DailyRow {
    DailyRow {
        account_id: account.into(),
        date: date.parse().expect("date"),
        plan: "premium".into(),
        counts: UsageCounts::new(registered, 1, 1),
    }
}

fn backup(db: &Path, to: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute("VACUUM INTO ?1", [to.display().to_string()])
        .expect("backup");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_ahead_of_a_restored_cloud_resyncs_in_full() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let work = tempfile::tempdir().expect("tempdir");
    let backup_file = work.path().join("backup.db");
    backup(&cloud.dir.path().join("cloud.db"), &backup_file);

    // After the backup the cloud accepts more usage, and the cache syncs it.
    cloud
        .storage
        .ingest(&[
            row("acme-fr", "2024-06-30", 777),
            row("globex-1", "2024-06-30", 888),
        ])
        .expect("ingest");
    let mut cache = Cache::open(work.path().join("cache.db")).expect("cache");
    sync_into(&cloud.url(), &token, &mut cache).await;
    let june: YearMonth = "2024-06".parse().expect("month");
    assert_eq!(
        cache
            .usage()
            .account_month("acme-fr", june)
            .expect("row")
            .own
            .map(|c| c.users_registered),
        Some(777)
    );

    // The operator restores the backup (without rotating the epoch): the restored feed's head
    // is behind the cache's cursor. The token was created before the backup.
    let restored = Arc::new(SqliteStorage::open(&backup_file).expect("open the restored database"));
    let server = usagedesk_cloud::spawn(
        restored.clone(),
        Arc::new(clock()),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("serve the restored database");
    let report = sync_into(&server.url(), &token, &mut cache).await;
    assert!(
        report.full_resync,
        "a cursor beyond the restored head is answered 410 and the client starts over"
    );
    assert_eq!(
        cache
            .usage()
            .account_month("acme-fr", june)
            .expect("row")
            .own
            .map(|c| c.users_registered),
        Some(240),
        "the value the restored cloud holds (the fixture's 2024-06-29 row), not the lost one"
    );

    let mut fresh = Cache::open(work.path().join("fresh.db")).expect("cache");
    sync_into(&server.url(), &token, &mut fresh).await;
    assert_eq!(
        difference(
            &contents(&work.path().join("cache.db")),
            &contents(&work.path().join("fresh.db"))
        ),
        Vec::<String>::new(),
        "the resynced cache holds exactly what a fresh sync of the restored cloud gives"
    );
    server.stop().await.expect("stop");
}
