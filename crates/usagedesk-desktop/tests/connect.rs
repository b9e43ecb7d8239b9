//! The app's connect: remote http:// and credentials in the URL are refused before anything
//! is stored; a revoked token is named with what to do. The real cloud on loopback, the
//! keyring an in-memory store.

use std::sync::Arc;

use usagedesk_cloud::storage::TokenKind;
use usagedesk_desktop::{Desk, DeskOptions, ErrorKind};
use usagedesk_domain::Clock;
use usagedesk_secrets::MemoryStore;
use usagedesk_testkit::{clock, small_fixture, Cloud};

fn desk(dir: &tempfile::TempDir) -> Desk {
    let opts = DeskOptions {
        data_dir: dir.path().to_path_buf(),
        demo: false,
        demo_accounts: 120,
    };
    Desk::open(opts, Arc::new(MemoryStore::default()), Arc::new(clock())).expect("open desk")
}

#[tokio::test]
async fn connect_refuses_unsafe_urls_and_names_a_revoked_token() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().expect("tempdir");
    let desk = desk(&dir);
    let port = cloud.server.addr.port();

    for (url, says) in [
        ("http://cloud.example".to_string(), "https://"),
        (
            format!("http://bob:hunter2@127.0.0.1:{port}"),
            "user name or password",
        ),
        (
            "https://bob:hunter2@cloud.example".to_string(),
            "user name or password",
        ),
    ] {
        let err = desk.connect(&url, &token, false).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadUrl, "{url}: {err}");
        assert!(err.message.contains(says), "{url}: {}", err.message);
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        assert!(!dir.path().join("settings.json").exists(), "{url}");
    }

    let id = cloud.storage.tokens().expect("tokens")[0].id.clone();
    cloud
        .storage
        .revoke_token(&id, clock().now())
        .expect("revoke");
    let err = desk.connect(&cloud.url(), &token, false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(
        err.message.contains("was revoked on") && err.message.contains("new token"),
        "{}",
        err.message
    );
}
