//! Enrollment: setting up a state directory from the vendor's license file (a new instance
//! key, enrolled by the license), and taking a newer license file for the same instance.

use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use rand::{CryptoRng, RngCore};
use rusqlite::{params, TransactionBehavior};
use usagedesk_airgap::{AirgapError, Artifact, FileKind, InstanceLicense, PublicKey, SigningKey};

use crate::db::{self, sql_err};
use crate::error::{AgentError, Result};
use crate::fsutil::write_atomic;
use crate::license::{self, LicenseChange, LicenseInfo};
use crate::state::{rfc3339, Identity, State, DB_FILE, KEY_FILE};

fn check_id(what: &'static str, value: &str) -> Result<()> {
    usagedesk_domain::account::validate_id(value).map_err(|e| AgentError::InvalidArgument {
        what,
        value: value.to_owned(),
        reason: e.0.replacen("account id", "an id", 1),
    })
}

impl State {
    /// Sets up a new state directory `dir` (created if missing) for the instance the vendor's
    /// `license_file` names (verified against `vendor_key` at `now`): the database, a new
    /// instance key from `rng`, and its enrollment. Refuses a directory that already holds a
    /// state; on failure leaves none behind.
    pub(crate) fn init<R: RngCore + CryptoRng>(
        dir: &Path,
        license_file: &[u8],
        vendor_key: &PublicKey,
        now: DateTime<Utc>,
        rng: &mut R,
    ) -> Result<State> {
        let file = license::read_license_file(license_file, vendor_key, now)?;
        let (instance_id, license_id) = (&file.license.instance_id, &file.license.license_id);
        check_id("instance id", instance_id)?;
        check_id("license id", license_id)?;
        create_private_dir(dir)?;
        let db_path = dir.join(DB_FILE);
        let key_path = dir.join(KEY_FILE);
        for (path, file) in [(&db_path, DB_FILE), (&key_path, KEY_FILE)] {
            if path.exists() {
                return Err(AgentError::AlreadyInitialised {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
        }
        let key = SigningKey::generate(rng);
        let enrollment = file.enroll(&key.public_key());
        let enrollment_json = license::column(&enrollment);
        let identity = Identity {
            instance_id: instance_id.to_owned(),
            license_id: license_id.to_owned(),
            public_key: key.public_key(),
            vendor_key: *vendor_key,
            created_at: now,
            license: Some(LicenseInfo::of(enrollment)),
        };

        let result = (|| {
            let mut conn = db::open(&db_path, dir, true)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_err(dir, e))?;
            tx.execute(
                "INSERT INTO instance (id, instance_id, license_id, vendor_key, public_key,
                                       created_at, enrollment)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    identity.instance_id,
                    identity.license_id,
                    identity.vendor_key.to_string(),
                    identity.public_key.to_string(),
                    rfc3339(now),
                    enrollment_json,
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                // Another `init` won the race for the same directory.
                Some(rusqlite::ErrorCode::ConstraintViolation) => AgentError::AlreadyInitialised {
                    dir: dir.to_path_buf(),
                    file: DB_FILE,
                },
                _ => sql_err(dir, e),
            })?;
            // The key is written inside the transaction: no committed state without its key.
            let mut secret = key.to_secret_text();
            secret.push('\n');
            write_atomic(&key_path, secret.as_bytes(), Some(0o600))?;
            if let Err(e) = tx.commit() {
                let _ = fs::remove_file(&key_path);
                return Err(sql_err(dir, e));
            }
            Ok(conn)
        })();
        match result {
            Ok(conn) => Ok(State {
                dir: dir.to_path_buf(),
                conn,
                identity,
                key,
            }),
            Err(e) => {
                if !matches!(e, AgentError::AlreadyInitialised { .. }) {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = fs::remove_file(dir.join(format!("{DB_FILE}{suffix}")));
                    }
                }
                Err(e)
            }
        }
    }

    /// Takes a new license file for this instance (the account moved, the license was renewed,
    /// the vendor revoked the old file, or the state predates license files): verified against
    /// the vendor key at `now`; it must name this instance and be no older than the license
    /// held. The instance keeps its key and its records; its license id, account path and
    /// enrollment are replaced.
    pub(crate) fn set_license(
        &mut self,
        license_file: &[u8],
        now: DateTime<Utc>,
    ) -> Result<LicenseChange> {
        let file = license::read_license_file(license_file, &self.identity.vendor_key, now)?;
        let new: &InstanceLicense = &file.license;
        if new.instance_id != self.identity.instance_id {
            return Err(AgentError::Refused(AirgapError::WrongInstance {
                what: Artifact::File(FileKind::License),
                expected: self.identity.instance_id.clone(),
                found: new.instance_id.clone(),
            }));
        }
        if let Some(current) = &self.identity.license {
            if new.issued_at < current.issued_at {
                return Err(AgentError::OlderLicense {
                    found: new.issued_at,
                    current: current.issued_at,
                });
            }
        }
        let enrollment = file.enroll(&self.identity.public_key);
        let enrollment_json = license::column(&enrollment);
        let dir = self.dir.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&dir, e))?;
        tx.execute(
            "UPDATE instance SET license_id = ?1, enrollment = ?2",
            params![new.license_id, enrollment_json],
        )?;
        tx.commit().map_err(|e| sql_err(&dir, e))?;
        let current = LicenseInfo::of(enrollment);
        let previous = self.identity.license.replace(current.clone());
        self.identity.license_id = new.license_id.clone();
        Ok(LicenseChange {
            previous,
            license_id: new.license_id.clone(),
            current,
        })
    }
}

/// Creates `dir` (and its parents) if missing; a new state directory is private (0700).
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    // Windows has no mode bits: a new folder takes its parent's ACL. The state must live where
    // only the agent's account can read (its profile's %LOCALAPPDATA%, or a folder it owns with
    // inheritance removed); docs/agent.md says so, as the agent cannot know who else should.
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| AgentError::io("create the state directory", dir, e))
}
