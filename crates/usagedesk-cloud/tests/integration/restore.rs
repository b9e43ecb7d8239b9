//! The restore procedure of docs/operations.md with the built binary: `backup` while the
//! service runs, restore the file, `epoch rotate`, and every cursor issued before is 410.

use crate::served::*;
use serde_json::json;

async fn cursor_after(served: &Served, token: &str, cursor: Option<&str>) -> Answer {
    let mut url = format!("{}/api/v1/changes?limit=20000", served.url);
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    get(&url, Some(token)).await
}

fn next_cursor(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["next_cursor"].as_str().expect("cursor").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restore_and_an_epoch_rotation_every_earlier_cursor_is_410() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let manager = token(&db, "*", &[]);
    let ingest = token(&db, "*", &["--kind", "ingest"]);
    let served = Served::start(&db, &[]);
    let c1 = next_cursor(&cursor_after(&served, &manager, None).await);

    // The backup is taken while the service runs.
    let backup = dir.path().join("backup.db");
    let said = ok(&["backup", "--db", path(&db), "-o", path(&backup)]);
    assert!(said.contains("backed up"), "{said}");
    let again = cloud(&["backup", "--db", path(&db), "-o", path(&backup)]);
    assert!(
        !again.status.success() && text(&again).contains("exists already"),
        "a backup never overwrites a file: {}",
        text(&again)
    );

    // Usage arrives after the backup; a cache syncs it.
    let posted = post(
        &format!("{}/api/v1/usage", served.url),
        Some(&ingest),
        &json!({"snapshots": [{"account_id": "acme-fr", "date": "2024-06-30", "plan": "premium",
            "users_registered": 4242, "users_with_token": 1, "users_with_activity": 1}]}),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let c2 = next_cursor(&cursor_after(&served, &manager, Some(&c1)).await);
    assert_ne!(c1, c2);
    served.stop();

    // The operator restores the backup.
    for suffix in ["", "-wal", "-shm"] {
        let f = dir.path().join(format!("cloud.db{suffix}"));
        if f.exists() {
            std::fs::remove_file(&f).expect("remove");
        }
    }
    std::fs::copy(&backup, &db).expect("restore");

    // Forgetting the rotation: a cursor past the restored head is refused, but one within it
    // is not, and its cache would keep numbers the restored cloud no longer has.
    let forgot = Served::start(&db, &[]);
    let ahead = cursor_after(&forgot, &manager, Some(&c2)).await;
    assert_eq!((ahead.status, ahead.code()), (410, "cursor_expired"));
    assert_eq!(cursor_after(&forgot, &manager, Some(&c1)).await.status, 200);
    forgot.stop();

    let rotated = ok(&["epoch", "rotate", "--db", path(&db)]);
    assert!(rotated.contains("->"), "{rotated}");
    let served = Served::start(&db, &[]);
    for c in [&c1, &c2] {
        let a = cursor_after(&served, &manager, Some(c)).await;
        assert_eq!((a.status, a.code()), (410, "cursor_expired"), "cursor {c}");
    }
    let fresh = cursor_after(&served, &manager, None).await;
    assert_eq!(fresh.status, 200);
    let lost = fresh.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .any(|c| c["users_registered"] == 4242);
    assert!(
        !lost,
        "the restored database does not have what came after the backup"
    );
}
