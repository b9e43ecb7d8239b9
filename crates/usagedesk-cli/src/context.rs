//! What every command needs: the data directory, the cache, the clock and the token.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use usagedesk_cache::Cache;
use usagedesk_domain::{Clock, SystemClock};
use usagedesk_secrets::{KeyringStore, SecretStore, TOKEN_ENV};

pub struct Context {
    pub data_dir: PathBuf,
    pub clock: SystemClock,
}

impl Context {
    pub fn new(data_dir: Option<PathBuf>) -> Result<Self> {
        let data_dir = match data_dir {
            Some(d) => d,
            // Local, not roaming (Windows: %LOCALAPPDATA%): the cache is rebuilt by a sync.
            None => dirs::data_local_dir()
                .ok_or_else(|| {
                    anyhow!("no data directory is known for this user; pass --data-dir")
                })?
                .join("usagedesk"),
        };
        Ok(Self {
            data_dir,
            clock: SystemClock,
        })
    }

    pub fn cache_path(&self) -> PathBuf {
        self.data_dir.join("cache.db")
    }

    pub fn open_cache(&self) -> Result<Cache> {
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                self.data_dir.display()
            )
        })?;
        Cache::open(self.cache_path())
            .with_context(|| format!("cannot open the cache {}", self.cache_path().display()))
    }

    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The secret store; only touched when no token is in the environment.
    pub fn secrets(&self) -> KeyringStore {
        KeyringStore::detect()
    }

    /// The token for `url`: `USAGEDESK_TOKEN` (headless use), else the keyring.
    pub fn token(&self, url: &str) -> Result<String> {
        if let Some(t) = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            return Ok(t.trim().to_string());
        }
        self.secrets().get(url)?.ok_or_else(|| {
            anyhow!("no token for {url}: run `usagedesk-cli login --url {url}` or set {TOKEN_ENV}")
        })
    }

    pub fn forget_token(&self, url: &str) -> Result<()> {
        Ok(self.secrets().delete(url)?)
    }
}
