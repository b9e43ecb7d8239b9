//! The open state directory every feature works on: the database, who the instance is, its
//! key, and the reads the features share. It knows nothing of what the features do.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use usagedesk_airgap::{PublicKey, SigningKey, UsageRecord};

use crate::db::{self, sql_err};
use crate::error::{AgentError, Result};
use crate::fsutil::read_limited;
use crate::license::{self, LicenseInfo};

/// The state database, in the state directory.
pub const DB_FILE: &str = "agent.db";
/// The instance's secret key (`ed25519-secret:…`, mode 0600), in the state directory.
pub const KEY_FILE: &str = "instance.key";
/// The largest key file read.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Who this instance is and whom it trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub instance_id: String,
    pub license_id: String,
    /// The instance's own public key: it signs every usage data file.
    pub public_key: PublicKey,
    /// The vendor root public key: the only key whose certificates the agent trusts.
    pub vendor_key: PublicKey,
    pub created_at: DateTime<Utc>,
    /// From the vendor's license file; `None` in a state set up before license files (it
    /// records, but exchanges nothing until `usagedesk-agent license` gives it one).
    pub license: Option<LicenseInfo>,
}

/// One state directory, open: what [`crate::Agent`] wraps and the features work on.
pub(crate) struct State {
    pub(crate) dir: PathBuf,
    pub(crate) conn: Connection,
    pub(crate) identity: Identity,
    pub(crate) key: SigningKey,
}

impl State {
    /// Opens the state directory `dir` that `init` set up.
    pub(crate) fn open(dir: &Path) -> Result<State> {
        let db_path = dir.join(DB_FILE);
        let key_path = dir.join(KEY_FILE);
        if !db_path.is_file() {
            return Err(AgentError::NotInitialised {
                dir: dir.to_path_buf(),
                file: DB_FILE,
            });
        }
        let conn = db::open(&db_path, dir, false)?;
        let row = conn
            .query_row(
                "SELECT instance_id, license_id, vendor_key, public_key, created_at FROM instance",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| sql_err(dir, e))?;
        let Some((instance_id, license_id, vendor_key, public_key, created_at)) = row else {
            return Err(AgentError::corrupt(
                dir,
                "agent.db names no instance: `init` was interrupted",
            ));
        };
        let parse_key = |s: &str| {
            s.parse::<PublicKey>()
                .map_err(|e| AgentError::corrupt(dir, format!("agent.db holds the key `{s}`: {e}")))
        };
        let (vendor_key, public_key) = (parse_key(&vendor_key)?, parse_key(&public_key)?);
        let license = license::load(
            &conn,
            dir,
            &instance_id,
            &license_id,
            &public_key,
            &vendor_key,
        )?;
        let identity = Identity {
            instance_id,
            license_id,
            vendor_key,
            public_key,
            created_at: parse_time(dir, &created_at)?,
            license,
        };
        if !key_path.exists() {
            return Err(AgentError::corrupt(dir, format!("{KEY_FILE} is missing")));
        }
        let bytes = read_limited(&key_path, MAX_KEY_FILE_BYTES, "an instance key")?;
        let key = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| SigningKey::from_secret_text(s).ok())
            .ok_or_else(|| AgentError::corrupt(dir, format!("{KEY_FILE} is not a secret key")))?;
        if key.public_key() != identity.public_key {
            return Err(AgentError::corrupt(
                dir,
                format!(
                    "{KEY_FILE} holds the key {}, but this state belongs to {}",
                    key.public_key(),
                    identity.public_key
                ),
            ));
        }
        Ok(State {
            dir: dir.to_path_buf(),
            conn,
            identity,
            key,
        })
    }

    /// The license the state holds; refuses a state set up before license files.
    pub(crate) fn license(&self) -> Result<&LicenseInfo> {
        self.identity
            .license
            .as_ref()
            .ok_or_else(|| AgentError::NoLicense {
                dir: self.dir.clone(),
            })
    }

    /// How many records wait for the vendor.
    pub(crate) fn pending_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The last seq given out, and the vendor's confirmed mark.
    pub(crate) fn marks(&self) -> Result<(u64, u64)> {
        let (last, confirmed): (i64, i64) =
            self.conn
                .query_row("SELECT last_seq, confirmed_mark FROM instance", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok((last as u64, confirmed as u64))
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn parse_time(dir: &Path, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AgentError::corrupt(dir, format!("agent.db holds the time `{s}`")))
}

pub(crate) fn parse_day(dir: &Path, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| AgentError::corrupt(dir, format!("agent.db holds the date `{s}`")))
}

/// The waiting records with a seq above `mark`, in seq order.
pub(crate) fn load_records(conn: &Connection, dir: &Path, mark: u64) -> Result<Vec<UsageRecord>> {
    let mark = i64::try_from(mark).unwrap_or(i64::MAX);
    let mut st = conn.prepare(
        "SELECT seq, account_id, date, plan, users_registered, users_with_token,
                users_with_activity
         FROM records WHERE seq > ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([mark], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, account_id, date, plan, reg, tok, act) = row?;
        out.push(UsageRecord {
            seq: seq as u64,
            account_id,
            date: parse_day(dir, &date)?,
            plan,
            users_registered: reg as u64,
            users_with_token: tok as u64,
            users_with_activity: act as u64,
        });
    }
    Ok(out)
}
