//! The agent's state directory: set-up, opening, recording, and what it holds.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rand::{CryptoRng, RngCore};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use usagedesk_airgap::{PublicKey, SigningKey, UsageRecord};

use crate::db::{self, sql_err};
use crate::error::{AgentError, Result};
use crate::exchange::ExportInfo;
use crate::fsutil::{read_capped, read_limited, write_atomic};
use crate::license::{self, LicenseInfo};
use crate::record::{parse_daily_usage_csv, DailyUsage, RecordSummary, MAX_CSV_BYTES};

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

/// What `status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub state_dir: PathBuf,
    pub instance_id: String,
    pub license_id: String,
    pub public_key: String,
    pub vendor_key: String,
    /// `sha256:…` of the vendor key, as certificates name it.
    pub vendor_key_fingerprint: String,
    /// The license file's account path, air-gapped flag and validity (`None`: no license yet).
    pub license: Option<LicenseInfo>,
    /// Records the vendor has not confirmed.
    pub records_waiting: u64,
    /// The first and last day among them.
    pub waiting_first_date: Option<NaiveDate>,
    pub waiting_last_date: Option<NaiveDate>,
    /// The last seq given to a record.
    pub last_seq: u64,
    /// The vendor holds every record up to this seq (confirmed by a verification key).
    pub confirmed_mark: u64,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_export: Option<ExportInfo>,
}

/// One agent state directory, open. Not shared between threads; several processes may open
/// the same directory (SQLite serialises their writes).
pub struct Agent {
    pub(crate) dir: PathBuf,
    pub(crate) conn: Connection,
    pub(crate) identity: Identity,
    pub(crate) key: SigningKey,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("dir", &self.dir)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
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

fn check_id(what: &'static str, value: &str) -> Result<()> {
    usagedesk_domain::account::validate_id(value).map_err(|e| AgentError::InvalidArgument {
        what,
        value: value.to_owned(),
        reason: e.0.replacen("account id", "an id", 1),
    })
}

impl Agent {
    /// Sets up a new state directory `dir` (created if missing) for the instance the vendor's
    /// `license_file` names (verified against `vendor_key` at `now`): the database, a new
    /// instance key from `rng`, and its enrollment. Refuses a directory that already holds a
    /// state; on failure leaves none behind.
    pub fn init<R: RngCore + CryptoRng>(
        dir: &Path,
        license_file: &[u8],
        vendor_key: &PublicKey,
        now: DateTime<Utc>,
        rng: &mut R,
    ) -> Result<Agent> {
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
            Ok(conn) => Ok(Agent {
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

    /// Opens the state directory `dir` that `init` set up.
    pub fn open(dir: &Path) -> Result<Agent> {
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
        Ok(Agent {
            dir: dir.to_path_buf(),
            conn,
            identity,
            key,
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn instance_id(&self) -> &str {
        &self.identity.instance_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.identity.public_key
    }

    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// Records a `daily_usage.csv` read from `reader` (named `file` in errors; at most
    /// [`MAX_CSV_BYTES`]). Every row is checked first, with `today` as the latest date allowed;
    /// then all are written in one transaction (see [`RecordSummary`]).
    pub fn record<R: Read>(
        &mut self,
        file: &str,
        reader: R,
        today: NaiveDate,
    ) -> Result<RecordSummary> {
        let bytes = read_capped(reader, MAX_CSV_BYTES)
            .map_err(|e| AgentError::io("read", file, e))?
            .ok_or_else(|| AgentError::TooLarge {
                file: file.to_owned(),
                what: "a daily usage file",
                limit: MAX_CSV_BYTES,
                hint: ": split it into smaller files and record each",
            })?;
        let rows = parse_daily_usage_csv(file, &bytes, today)?;
        self.apply_rows(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// Records rows handed over by the embedding product, with the rules of
    /// [`Agent::record`]; an error names the row (1-based) and nothing is written.
    pub fn record_rows(&mut self, rows: &[DailyUsage], today: NaiveDate) -> Result<RecordSummary> {
        for (i, row) in rows.iter().enumerate() {
            row.check(today).map_err(|message| AgentError::Csv {
                file: "the rows given".into(),
                line: i as u64 + 1,
                message,
            })?;
        }
        self.apply_rows(rows.to_vec())
    }

    /// The records the vendor has not confirmed, in `seq` order.
    pub fn pending(&self) -> Result<Vec<UsageRecord>> {
        load_records(&self.conn, &self.dir, 0)
    }

    /// Discards the waiting records of `account_id` (on `date` only, when given): for rows
    /// recorded by mistake, e.g. an account the vendor refuses for this instance, which would
    /// otherwise block every export. The days are forgotten, so recording them again sends
    /// them. Returns how many records were discarded.
    pub fn discard(&mut self, account_id: &str, date: Option<NaiveDate>) -> Result<u64> {
        let date = date.map(|d| d.format("%Y-%m-%d").to_string());
        let filter = "account_id = ?1 AND (?2 IS NULL OR date = ?2)";
        let dir = self.dir.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&dir, e))?;
        tx.execute(
            &format!(
                "DELETE FROM recorded WHERE (account_id, date, seq) IN
                     (SELECT account_id, date, seq FROM records WHERE {filter})"
            ),
            params![account_id, date],
        )?;
        let n = tx.execute(
            &format!("DELETE FROM records WHERE {filter}"),
            params![account_id, date],
        )?;
        tx.commit().map_err(|e| sql_err(&dir, e))?;
        Ok(n as u64)
    }

    /// How many records wait for the vendor.
    pub fn pending_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The last seq given out, and the vendor's confirmed mark.
    pub fn marks(&self) -> Result<(u64, u64)> {
        let (last, confirmed): (i64, i64) =
            self.conn
                .query_row("SELECT last_seq, confirmed_mark FROM instance", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok((last as u64, confirmed as u64))
    }

    pub fn status(&self) -> Result<Status> {
        let (last_seq, confirmed_mark) = self.marks()?;
        let confirmed_at: Option<String> =
            self.conn
                .query_row("SELECT confirmed_at FROM instance", [], |r| r.get(0))?;
        let (waiting, first, last): (i64, Option<String>, Option<String>) = self.conn.query_row(
            "SELECT COUNT(*), MIN(date), MAX(date) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let id = &self.identity;
        Ok(Status {
            state_dir: self.dir.clone(),
            instance_id: id.instance_id.clone(),
            license_id: id.license_id.clone(),
            public_key: id.public_key.to_string(),
            vendor_key: id.vendor_key.to_string(),
            vendor_key_fingerprint: id.vendor_key.fingerprint(),
            license: id.license.clone(),
            records_waiting: waiting as u64,
            waiting_first_date: first.map(|d| parse_day(&self.dir, &d)).transpose()?,
            waiting_last_date: last.map(|d| parse_day(&self.dir, &d)).transpose()?,
            last_seq,
            confirmed_mark,
            confirmed_at: confirmed_at
                .map(|t| parse_time(&self.dir, &t))
                .transpose()?,
            last_export: self.exports(1)?.into_iter().next(),
        })
    }
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    fn root() -> usagedesk_airgap::RootKey {
        usagedesk_airgap::RootKey::generate(&mut ChaCha20Rng::seed_from_u64(1))
    }

    fn vendor() -> PublicKey {
        root().public_key()
    }

    fn license_file(instance_id: &str) -> String {
        usagedesk_airgap::LicenseFile::issue(
            &root(),
            &usagedesk_airgap::LicenseRequest {
                license_id: "lic-1".into(),
                instance_id: instance_id.into(),
                account_path: vec!["msp".into(), "acme".into()],
                airgapped: true,
                expires_at: now() + chrono::Duration::days(30),
            },
            &mut ChaCha20Rng::seed_from_u64(3),
            now() - chrono::Duration::days(1),
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn init(dir: &Path) -> Result<Agent> {
        Agent::init(
            dir,
            license_file("inst-1").as_bytes(),
            &vendor(),
            now(),
            &mut ChaCha20Rng::seed_from_u64(2),
        )
    }

    fn row(account: &str, date: &str, registered: u64) -> DailyUsage {
        DailyUsage {
            account_id: account.into(),
            date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            plan: "standard".into(),
            users_registered: registered,
            users_with_token: 1,
            users_with_activity: 1,
        }
    }

    fn today() -> NaiveDate {
        now().date_naive()
    }

    #[test]
    fn init_then_open_gives_the_same_identity_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let created = init(&state).unwrap();
        let opened = Agent::open(&state).unwrap();
        assert_eq!(opened.identity(), created.identity());
        assert_eq!(opened.key.to_bytes(), created.key.to_bytes());
        assert_eq!(opened.marks().unwrap(), (0, 0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode(&state.join(KEY_FILE)),
                0o600,
                "the secret is the owner's only"
            );
            assert_eq!(mode(&state), 0o700);
        }
    }

    #[test]
    fn init_refuses_an_initialised_directory_and_keeps_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = init(dir.path()).unwrap();
        let key_before = fs::read(dir.path().join(KEY_FILE)).unwrap();
        let e = init(dir.path()).unwrap_err();
        assert_eq!(e.code(), "already_initialised", "{e}");
        assert!(e.to_string().contains("agent.db exists"), "{e}");
        assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), key_before);
        assert_eq!(
            Agent::open(dir.path()).unwrap().identity(),
            first.identity()
        );
    }

    #[test]
    fn init_refuses_a_license_file_it_cannot_trust_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        // Another vendor's root; an expired file; one altered in transit.
        let other = usagedesk_airgap::RootKey::generate(&mut ChaCha20Rng::seed_from_u64(9));
        let e = Agent::init(
            &state,
            license_file("inst-1").as_bytes(),
            &other.public_key(),
            now(),
            &mut ChaCha20Rng::seed_from_u64(2),
        )
        .unwrap_err();
        assert_eq!(e.code(), "untrusted_key", "{e}");
        let e = Agent::init(
            &state,
            license_file("inst-1").as_bytes(),
            &vendor(),
            now() + chrono::Duration::days(30),
            &mut ChaCha20Rng::seed_from_u64(2),
        )
        .unwrap_err();
        assert_eq!(e.code(), "expired", "{e}");
        assert!(e.to_string().contains("license file"), "{e}");
        let altered = license_file("inst-1").replace("\"acme\"", "\"acmf\"");
        let e = Agent::init(
            &state,
            altered.as_bytes(),
            &vendor(),
            now(),
            &mut ChaCha20Rng::seed_from_u64(2),
        )
        .unwrap_err();
        assert_eq!(e.code(), "bad_signature", "{e}");
        assert!(!state.exists(), "nothing was written");
    }

    #[test]
    fn the_license_comes_from_the_file_and_is_checked_on_every_open() {
        let dir = tempfile::tempdir().unwrap();
        let agent = init(dir.path()).unwrap();
        let l = agent.license().unwrap();
        assert_eq!(l.account_path, ["msp", "acme"]);
        assert!(l.airgapped);
        assert_eq!(agent.identity().license_id, "lic-1");
        drop(agent);
        let opened = Agent::open(dir.path()).unwrap();
        assert_eq!(opened.license().unwrap().account_path, ["msp", "acme"]);

        // Editing the stored path without the vendor's key makes the state unusable, not
        // trusting.
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "UPDATE instance SET enrollment = replace(enrollment, '\"acme\"', '\"other\"')",
            [],
        )
        .unwrap();
        drop((opened, conn));
        let e = Agent::open(dir.path()).unwrap_err();
        assert_eq!(e.code(), "corrupt_state", "{e}");
        assert!(e.to_string().contains("license"), "{e}");
    }

    #[test]
    fn a_newer_license_file_replaces_the_license_and_keeps_key_and_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init(dir.path()).unwrap();
        agent
            .record_rows(&[row("acme", "2026-03-01", 1)], today())
            .unwrap();
        let key = agent.public_key();
        let moved = usagedesk_airgap::LicenseFile::issue(
            &root(),
            &usagedesk_airgap::LicenseRequest {
                license_id: "lic-2".into(),
                instance_id: "inst-1".into(),
                account_path: vec!["msp-2".into(), "acme".into()],
                airgapped: false,
                expires_at: now() + chrono::Duration::days(30),
            },
            &mut ChaCha20Rng::seed_from_u64(4),
            now(),
        )
        .unwrap();
        let change = agent.set_license(moved.as_bytes(), now()).unwrap();
        assert_eq!(change.previous.unwrap().account_path, ["msp", "acme"]);
        assert_eq!(change.current.account_path, ["msp-2", "acme"]);
        drop(agent);
        let agent = Agent::open(dir.path()).unwrap();
        assert_eq!(agent.identity().license_id, "lic-2");
        assert_eq!(agent.public_key(), key, "the instance keeps its key");
        assert_eq!(agent.pending_count().unwrap(), 1, "and its records");
        assert!(!agent.license().unwrap().airgapped);

        // The first file again is older: refused. Another instance's file: refused.
        let mut agent = agent;
        let e = agent
            .set_license(license_file("inst-1").as_bytes(), now())
            .unwrap_err();
        assert_eq!(e.code(), "older_license", "{e}");
        let e = agent
            .set_license(license_file("inst-2").as_bytes(), now())
            .unwrap_err();
        assert_eq!(e.code(), "wrong_instance", "{e}");
        assert_eq!(agent.license().unwrap().account_path, ["msp-2", "acme"]);
    }

    #[test]
    fn open_says_what_is_wrong_with_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let e = Agent::open(dir.path()).unwrap_err();
        assert_eq!(e.code(), "not_initialised");
        assert!(e.to_string().contains("run `usagedesk-agent init"), "{e}");

        drop(init(dir.path()).unwrap());
        let other = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(9));
        fs::write(dir.path().join(KEY_FILE), other.to_secret_text()).unwrap();
        let e = Agent::open(dir.path()).unwrap_err();
        assert_eq!(
            e.code(),
            "corrupt_state",
            "a key from another state must not sign: {e}"
        );

        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let e = Agent::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("instance.key is missing"), "{e}");
    }

    #[test]
    fn recording_gives_seqs_skips_identical_values_and_requeues_changed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init(dir.path()).unwrap();
        let s = agent
            .record_rows(
                &[row("a", "2026-03-01", 10), row("b", "2026-03-01", 20)],
                today(),
            )
            .unwrap();
        assert_eq!((s.new, s.changed, s.unchanged), (2, 0, 0));
        assert_eq!((s.first_seq, s.last_seq, s.waiting), (Some(1), Some(2), 2));

        // Same values again: nothing to send. One changed: a new seq, the old one leaves.
        let s = agent
            .record_rows(
                &[row("a", "2026-03-01", 10), row("b", "2026-03-01", 21)],
                today(),
            )
            .unwrap();
        assert_eq!((s.new, s.changed, s.unchanged), (0, 1, 1));
        assert_eq!(s.first_seq, Some(3));
        let pending = agent.pending().unwrap();
        let seqs: Vec<_> = pending
            .iter()
            .map(|r| (r.seq, r.account_id.as_str()))
            .collect();
        assert_eq!(
            seqs,
            [(1, "a"), (3, "b")],
            "one record per account-day waits"
        );
        assert_eq!(pending[1].users_registered, 21);
        assert_eq!(agent.marks().unwrap(), (3, 0));
    }

    #[test]
    fn a_later_row_for_the_same_day_wins_within_one_input() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init(dir.path()).unwrap();
        let s = agent
            .record_rows(
                &[row("a", "2026-03-01", 10), row("a", "2026-03-01", 11)],
                today(),
            )
            .unwrap();
        assert_eq!((s.rows, s.superseded_in_input, s.new), (2, 1, 1));
        let pending = agent.pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].users_registered, 11);
    }

    #[test]
    fn discarding_an_accounts_waiting_records_forgets_those_days_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init_agent_with_rows(dir.path());
        // "typo" was recorded by mistake on two days; "a" is fine.
        assert_eq!(
            agent
                .discard("typo", NaiveDate::from_ymd_opt(2026, 3, 1))
                .unwrap(),
            1
        );
        assert_eq!(agent.discard("typo", None).unwrap(), 1);
        assert_eq!(
            agent.discard("typo", None).unwrap(),
            0,
            "nothing left to discard"
        );
        let left: Vec<_> = agent
            .pending()
            .unwrap()
            .into_iter()
            .map(|r| r.account_id)
            .collect();
        assert_eq!(left, ["a"]);
        // Forgotten, not remembered as sent: recording the day again queues it.
        let s = agent
            .record_rows(&[row("typo", "2026-03-01", 1)], today())
            .unwrap();
        assert_eq!((s.new, s.unchanged), (1, 0));
        // The account's other, kept day is still known.
        let s = agent
            .record_rows(&[row("a", "2026-03-01", 1)], today())
            .unwrap();
        assert_eq!(s.unchanged, 1);
    }

    fn init_agent_with_rows(dir: &Path) -> Agent {
        let mut agent = init(dir).unwrap();
        agent
            .record_rows(
                &[
                    row("a", "2026-03-01", 1),
                    row("typo", "2026-02-28", 1),
                    row("typo", "2026-03-01", 1),
                ],
                today(),
            )
            .unwrap();
        agent
    }

    #[test]
    fn a_bad_row_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init(dir.path()).unwrap();
        let e = agent
            .record_rows(
                &[row("a", "2026-03-01", 1), row("b", "2026-03-09", 1)],
                today(),
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: date 2026-03-09 is after today"),
            "{e}"
        );
        assert_eq!(agent.pending_count().unwrap(), 0, "all or nothing");
        assert_eq!(agent.marks().unwrap(), (0, 0));
    }

    #[test]
    fn an_oversized_csv_is_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init(dir.path()).unwrap();
        let huge = std::io::repeat(b'x').take(MAX_CSV_BYTES + 1);
        let e = agent.record("big.csv", huge, today()).unwrap_err();
        assert_eq!(e.code(), "too_large", "{e}");
        assert!(e.to_string().contains("split it into smaller files"), "{e}");
    }

    #[test]
    fn status_reports_what_waits() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = init(dir.path()).unwrap();
        agent
            .record_rows(
                &[row("a", "2026-02-27", 1), row("a", "2026-03-01", 1)],
                today(),
            )
            .unwrap();
        let s = agent.status().unwrap();
        assert_eq!(s.instance_id, "inst-1");
        assert_eq!(s.records_waiting, 2);
        assert_eq!(s.waiting_first_date, NaiveDate::from_ymd_opt(2026, 2, 27));
        assert_eq!(s.waiting_last_date, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!((s.last_seq, s.confirmed_mark), (2, 0));
        assert!(s.last_export.is_none());
        assert!(s.public_key.starts_with("ed25519:"));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["records_waiting"], 2);
        assert_eq!(json["waiting_first_date"], "2026-02-27");
    }
}
