//! Accounts that move several times between two syncs of a scope. Caches parked at every
//! intermediate cursor, for every scope, must end exactly equal to a fresh sync of the same
//! scope: the real cloud on loopback, the real sync client, real cache files compared whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use usagedesk_cache::Cache;
use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::{DailyRow, TokenKind};
use usagedesk_domain::{Clock, UsageCounts};
use usagedesk_sync::{sync, Client, SyncOptions};
use usagedesk_testkit::{clock, customers_fixture, Cloud};

mod common;
use common::{contents, difference};

/// Every scope a token can have around the moving accounts (`None`: all accounts).
const SCOPES: [Option<&str>; 8] = [
    None,
    Some("sp-acme"),
    Some("acme-eu"),
    Some("acme-us"),
    Some("acme-fr"),
    Some("sp-globex"),
    Some("globex-2"),
    Some("globex-1"),
];

/// The moves, one load each: (account, new parent). `acme-fr` (with its instances, licenses,
/// reports, events and install attempts) moves three times and ends in a scope it never
/// was in; `acme-de` (with its children) leaves and comes back.
const MOVES: [&[(&str, &str)]; 3] = [
    &[("acme-fr", "acme-us"), ("acme-de", "sp-globex")],
    &[("acme-fr", "globex-2")],
    &[("acme-fr", "globex-1"), ("acme-de", "acme-eu")],
];

/// Writes the fixture's accounts with `parents` applied, and no daily rows, into `dir`.
fn accounts_with(fixture: &Path, parents: &BTreeMap<String, String>, dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    let mut reader = csv::Reader::from_path(fixture.join("accounts.csv")).expect("accounts.csv");
    let mut writer = csv::Writer::from_path(dir.join("accounts.csv")).expect("write");
    writer
        .write_record(reader.headers().expect("header"))
        .expect("header");
    for row in reader.records() {
        let mut row: Vec<String> = row.expect("row").iter().map(ToString::to_string).collect();
        if let Some(p) = parents.get(&row[0]) {
            row[2] = p.clone();
        }
        writer.write_record(&row).expect("row");
    }
    writer.flush().expect("flush");
    std::fs::write(
        dir.join("daily_usage.csv"),
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n",
    )
    .expect("daily_usage.csv");
}

fn scope_name(scope: Option<&str>) -> &str {
    scope.unwrap_or("all")
}

async fn sync_into(cloud: &Cloud, token: &str, path: &Path) {
    let mut cache = Cache::open(path).expect("open cache");
    let client = Client::new(&cloud.url(), token).expect("client");
    let opts = SyncOptions {
        page_size: 5,
        ..SyncOptions::default()
    };
    sync(&mut cache, &client, &clock(), &opts, |_| {})
        .await
        .expect("sync");
}

#[tokio::test(flavor = "multi_thread")]
async fn caches_parked_between_repeated_moves_end_equal_to_fresh_syncs() {
    let now = clock().now();
    let fixture = customers_fixture(now);
    let cloud = Cloud::start_on(fixture.path(), Arc::new(clock())).await;
    let work = tempfile::tempdir().expect("tempdir");
    let tokens: Vec<String> = SCOPES
        .iter()
        .map(|s| cloud.token(*s, TokenKind::Manager))
        .collect();

    // Park a cache of every scope before each move: caches at every intermediate cursor.
    let mut parked: Vec<(usize, PathBuf)> = Vec::new();
    let mut parents = BTreeMap::new();
    for (step, moves) in MOVES.iter().enumerate() {
        for (i, scope) in SCOPES.iter().enumerate() {
            let path = work
                .path()
                .join(format!("parked-{}-{step}.db", scope_name(*scope)));
            sync_into(&cloud, &tokens[i], &path).await;
            parked.push((i, path));
        }
        // The moving subtree's numbers change between moves too.
        cloud
            .storage
            .ingest(&[DailyRow {
                account_id: "acme-fr".into(),
                date: "2024-06-30".parse().expect("date"),
                plan: "premium".into(),
                counts: UsageCounts::new(500 + step as u64, 400, 300),
            }])
            .expect("ingest");
        for (account, parent) in *moves {
            parents.insert(account.to_string(), parent.to_string());
        }
        let dir = work.path().join(format!("move-{step}"));
        accounts_with(fixture.path(), &parents, &dir);
        cloud
            .storage
            .load(read_dataset(&dir).expect("dataset"), clock().today())
            .expect("the move loads");
    }

    for (i, path) in &parked {
        sync_into(&cloud, &tokens[*i], path).await;
    }
    let mut compared = 0;
    for (i, scope) in SCOPES.iter().enumerate() {
        let fresh_path = work.path().join(format!("fresh-{}.db", scope_name(*scope)));
        sync_into(&cloud, &tokens[i], &fresh_path).await;
        let fresh = contents(&fresh_path);
        let accounts = &fresh["accounts"];
        // What each scope must hold after the last move, as the tree says.
        let holds_fr = matches!(*scope, None | Some("sp-globex" | "globex-1" | "acme-fr"));
        assert_eq!(
            accounts.iter().any(|r| r.contains("\"acme-fr\"")),
            holds_fr,
            "acme-fr ended under globex-1: scope {} {} it",
            scope_name(*scope),
            if holds_fr { "holds" } else { "does not hold" }
        );
        for (j, path) in parked.iter().filter(|(j, _)| *j == i) {
            assert_eq!(*j, i);
            let got = contents(path);
            assert_eq!(
                difference(&got, &fresh),
                Vec::<String>::new(),
                "the cache of scope {} parked at {} holds exactly what a fresh sync holds",
                scope_name(*scope),
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            compared += 1;
        }
    }
    assert_eq!(compared, SCOPES.len() * MOVES.len());
}
