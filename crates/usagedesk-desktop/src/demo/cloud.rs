//! The demo cloud: the real cloud service, in-process on 127.0.0.1, with a generated
//! dataset. Nothing is faked: the app syncs from it like from any cloud.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::{TokenKind, TokenScope};
use usagedesk_cloud::{load, tokens, RunningServer, SqliteStorage};
use usagedesk_domain::Clock;

use crate::{AppError, ErrorKind};

const DEMO_MONTHS: u32 = 24;
const DEMO_SEED: u64 = 42;

pub struct DemoCloud {
    pub server: RunningServer,
    /// A token for every account, held in memory only.
    pub token: String,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::new(
        ErrorKind::Internal,
        format!("the demo cloud could not start: {e}"),
    )
}

impl DemoCloud {
    /// Generates (once per month) and loads the demo dataset under `dir`, then serves it.
    pub async fn start(
        dir: &Path,
        accounts: usize,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AppError> {
        let today = clock.today();
        let db = prepare(dir, accounts, today).await?;
        let storage = Arc::new(SqliteStorage::open(&db).map_err(internal)?);
        let token = tokens::generate(&mut rand::rngs::OsRng);
        storage
            .create_token(
                tokens::hash(&token),
                &TokenScope::All,
                TokenKind::Manager,
                "demo",
                clock.now(),
            )
            .map_err(internal)?;
        let addr = "127.0.0.1:0".parse().map_err(internal)?;
        let server = usagedesk_cloud::spawn(storage, clock, addr)
            .await
            .map_err(internal)?;
        Ok(Self { server, token })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The demo database for this day and size, generated and loaded if missing (daily: the
/// demo's instances check in relative to its "today", so a older dataset looks dead). The
/// datasets of other days are removed.
async fn prepare(dir: &Path, accounts: usize, today: NaiveDate) -> Result<PathBuf, AppError> {
    let stamp = format!("{}-{accounts}", today.format("%Y-%m-%d"));
    let db = dir.join(format!("cloud-{stamp}.db"));
    if db.exists() {
        return Ok(db);
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let old_db = name.starts_with("cloud-") && name.contains(".db");
            let old_data = name.starts_with("data-") && e.path().is_dir();
            if old_db {
                let _ = std::fs::remove_file(e.path());
            } else if old_data {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = dir.to_path_buf();
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || -> Result<(), AppError> {
        let data = dir.join(format!("data-{stamp}"));
        let opts = usagedesk_demo::DemoOptions::new(accounts, DEMO_MONTHS, DEMO_SEED, today);
        usagedesk_demo::write_demo(&opts, &data).map_err(internal)?;
        let tmp = dir.join(format!("cloud-{stamp}.db.partial"));
        let _ = std::fs::remove_file(&tmp);
        let storage = SqliteStorage::open(&tmp).map_err(internal)?;
        storage
            .load(load::read_dataset(&data).map_err(internal)?, today)
            .map_err(internal)?;
        drop(storage);
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", tmp.display()));
        }
        std::fs::rename(&tmp, &db2).map_err(internal)?;
        let _ = std::fs::remove_dir_all(&data);
        Ok(())
    })
    .await
    .map_err(internal)??;
    Ok(db)
}
