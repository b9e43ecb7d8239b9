//! Non-secret settings shared by the CLI and the desktop app: which cloud to sync from.
//! Kept in `settings.json` in the data directory, apart from the cache (clearing the cache
//! keeps them). Tokens are never stored here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "settings.json";
/// Larger files are not settings written by us: refuse them.
const MAX_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The cloud URL given at sign-in (never with a user name or password: refused).
    pub cloud_url: Option<String>,
    /// `http://` to a host other than this computer was allowed explicitly at sign-in
    /// (`--allow-insecure-http`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
    /// Desktop reminders of new attention items were switched off (on by default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminders_off: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read or write the settings file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the settings file {path} is damaged ({reason}); delete it and sign in again")]
    Invalid { path: PathBuf, reason: String },
}

impl Settings {
    /// How to reach the configured cloud.
    pub fn client_options(&self) -> crate::ClientOptions {
        crate::ClientOptions {
            allow_insecure_http: self.allow_insecure_http,
        }
    }

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE)
    }

    /// The saved settings, or the defaults when there are none yet.
    pub fn load(data_dir: &Path) -> Result<Self, SettingsError> {
        let path = Self::path(data_dir);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io(e)),
            Ok(m) if m.len() > MAX_BYTES => {
                return Err(SettingsError::Invalid {
                    path,
                    reason: format!("larger than {MAX_BYTES} bytes"),
                })
            }
            Ok(_) => {}
        }
        let text = std::fs::read(&path).map_err(io)?;
        serde_json::from_slice(&text).map_err(|e| SettingsError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })
    }

    /// Writes atomically (a temporary file renamed over the old one). Each save has a
    /// temporary file of its own: two at the same time (the app and the CLI, or two of the
    /// app's commands) each rename a whole file, never one the other is still writing.
    pub fn save(&self, data_dir: &Path) -> Result<(), SettingsError> {
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = Self::path(data_dir);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("json.{}-{n}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_default_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap(), Settings::default());
        let s = Settings {
            cloud_url: Some("http://127.0.0.1:8787/".into()),
            ..Settings::default()
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap(), s);
    }

    #[test]
    fn saves_at_the_same_time_each_write_a_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for i in 0..8 {
                let dir = dir.path();
                s.spawn(move || {
                    for _ in 0..25 {
                        let settings = Settings {
                            cloud_url: Some(format!("http://127.0.0.1:{}/", 8000 + i)),
                            ..Settings::default()
                        };
                        // With one temporary name for all, a rename could find it gone
                        // (another save renamed it) or take a file still being written.
                        settings.save(dir).unwrap();
                    }
                });
            }
        });
        let url = Settings::load(dir.path()).unwrap().cloud_url.unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:80"),
            "one save's whole file: {url}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }

    #[test]
    fn a_damaged_file_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(Settings::path(dir.path()), b"{not json").unwrap();
        let err = Settings::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("damaged") && err.contains("delete it"),
            "{err}"
        );
    }
}
