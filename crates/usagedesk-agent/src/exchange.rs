//! The exchange, seen from the instance: answer a sync key with a usage data file, then apply
//! the verification key that confirms it.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;
use usagedesk_airgap::{
    AirgapError, Artifact, ExpectedAnswer, FileKind, ImportCounts, Nonce, Period, Sha256Digest,
    SyncKey, UsageData, VerificationKey, MAX_SEQ_ADVANCE,
};

use crate::db::sql_err;
use crate::error::{AgentError, Result};
use crate::state::{load_records, parse_time, rfc3339, State};

/// How many unconfirmed usage data files keep their text in the state (the newest ones).
const KEEP_UNCONFIRMED_FILES: i64 = 8;

/// How a usage data file went to the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Written to a file, carried by hand (`airgap export`).
    File,
    /// Sent to the cloud (`push`).
    Online,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::File => "file",
            Via::Online => "online",
        }
    }
}

/// A usage data file just written, answering one sync key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    /// The armored file, to write out or send.
    pub text: String,
    pub instance_id: String,
    /// The manager who issued the sync key.
    pub issued_by: String,
    /// The sync key's nonce, which the file answers.
    pub nonce: Nonce,
    pub sync_key_sha256: Sha256Digest,
    pub usage_file_sha256: Sha256Digest,
    /// The sync key's mark: the file carries records above it.
    pub above_mark: u64,
    /// Records in the file.
    pub records: u64,
    /// The highest seq in the file (`above_mark` when it carries none).
    pub highest_seq_sent: u64,
    /// Records above the mark that did not fit under the size limit: they go in the next
    /// exchange, answering a new sync key.
    pub remaining_records: u64,
    pub period: Option<Period>,
    pub created_at: DateTime<Utc>,
    /// Records moved above the sync key's mark before the export, because the vendor already
    /// claimed seqs this instance had not used (a state restored from a backup).
    pub renumbered: u64,
}

/// What a verification key did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confirmation {
    pub instance_id: String,
    pub issued_by: String,
    pub nonce: Nonce,
    /// The vendor holds every record up to this seq.
    pub accepted_mark: u64,
    /// The agent's confirmed mark after this (never lower than before).
    pub confirmed_mark: u64,
    /// What the vendor's import did with the file's records.
    pub counts: ImportCounts,
    /// Records deleted here because the vendor has them.
    pub dropped: u64,
    /// Records still waiting.
    pub waiting: u64,
    /// This verification key had been applied before: nothing changed.
    pub replay: bool,
}

/// One export, as the state keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportInfo {
    pub via: Via,
    pub nonce: String,
    pub issued_by: String,
    pub usage_file_sha256: String,
    pub above_mark: u64,
    pub records: u64,
    pub highest_seq_sent: u64,
    pub remaining_records: u64,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub accepted_mark: Option<u64>,
}

const EXPORT_COLUMNS: &str = "via, nonce, issued_by, usage_file_sha256, above_mark, record_count,
     highest_seq_sent, remaining_records, created_at, confirmed_at, accepted_mark";

fn read_export(r: &Row<'_>) -> rusqlite::Result<(ExportRow, Option<String>)> {
    Ok((
        ExportRow {
            via: r.get(0)?,
            nonce: r.get(1)?,
            issued_by: r.get(2)?,
            usage_file_sha256: r.get(3)?,
            above_mark: r.get(4)?,
            records: r.get(5)?,
            highest_seq_sent: r.get(6)?,
            remaining_records: r.get(7)?,
            created_at: r.get(8)?,
            accepted_mark: r.get(10)?,
        },
        r.get(9)?,
    ))
}

struct ExportRow {
    via: String,
    nonce: String,
    issued_by: String,
    usage_file_sha256: String,
    above_mark: i64,
    records: i64,
    highest_seq_sent: i64,
    remaining_records: i64,
    created_at: String,
    accepted_mark: Option<i64>,
}

impl State {
    /// Answers the sync key `sync_key` (the file's bytes) with a usage data file: verifies it
    /// against the vendor key at `now`, refuses one for another instance or license, and
    /// writes the records above its mark (as many as fit; see [`Export::remaining_records`]).
    /// The export is kept so that `confirm` can check its verification key. Nothing
    /// is written when the sync key is refused.
    pub(crate) fn export_for(&mut self, sync_key: &[u8], now: DateTime<Utc>) -> Result<Export> {
        self.export(sync_key, now, Via::File)
    }

    pub(crate) fn export(&mut self, bytes: &[u8], now: DateTime<Utc>, via: Via) -> Result<Export> {
        let license = self.license()?;
        let sync_key = SyncKey::parse(bytes)?.verify(&self.identity.vendor_key, now)?;
        let ours = &self.identity;
        if sync_key.instance_id != ours.instance_id {
            return Err(AgentError::WrongInstance {
                found: sync_key.instance_id.clone(),
                ours: ours.instance_id.clone(),
            });
        }
        if let Some(license) = &sync_key.license_id {
            if *license != ours.license_id {
                return Err(AgentError::WrongLicense {
                    instance: ours.instance_id.clone(),
                    found: license.clone(),
                    ours: ours.license_id.clone(),
                });
            }
        }
        // The sync key's certificate covers the path the sync key names (checked above); only
        // the path the vendor's license names is this instance's.
        check_account_path(
            Artifact::File(FileKind::SyncKey),
            &license.account_path,
            &sync_key.account_path,
        )?;
        let mark = sync_key.high_water_mark;
        let enrollment = license.enrollment.clone();

        let dir = self.dir.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&dir, e))?;
        let last_seq: i64 = tx.query_row("SELECT last_seq FROM instance", [], |r| r.get(0))?;
        let renumbered = if mark > last_seq as u64 {
            renumber_above(&tx, mark, last_seq as u64)?
        } else {
            0
        };
        // Read inside the transaction: a concurrent `record` cannot slip in between.
        let records = load_records(&tx, &dir, mark)?;

        let text = UsageData::answer(
            &sync_key,
            &ours.instance_id,
            &ours.license_id,
            &records,
            &self.key,
            Some(&enrollment),
            now,
        )?;
        // Read back what was written, exactly as the vendor will: the agent never hands out a
        // file the vendor would refuse, and the expected answer comes from the file itself.
        let usage =
            UsageData::parse(text.as_bytes())?.verify_for(&sync_key, Some(&ours.public_key))?;
        let expected = usage.expected_answer();
        let export = Export {
            instance_id: ours.instance_id.clone(),
            issued_by: sync_key.issued_by.clone(),
            nonce: sync_key.nonce,
            sync_key_sha256: sync_key.sha256(),
            usage_file_sha256: expected.usage_file_sha256,
            above_mark: mark,
            records: usage.records.len() as u64,
            highest_seq_sent: expected.highest_seq_sent,
            remaining_records: usage.remaining_records,
            period: usage.period,
            created_at: usage.created_at,
            renumbered,
            text,
        };

        tx.execute(
            "INSERT INTO exports (via, nonce, sync_key_sha256, issued_by, above_mark,
                                  usage_file_sha256, highest_seq_sent, record_count,
                                  remaining_records, created_at, sync_key, usage_file)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (usage_file_sha256) DO NOTHING",
            params![
                via.as_str(),
                export.nonce.to_hex(),
                export.sync_key_sha256.to_hex(),
                export.issued_by,
                export.above_mark as i64,
                export.usage_file_sha256.to_hex(),
                export.highest_seq_sent as i64,
                export.records as i64,
                export.remaining_records as i64,
                rfc3339(export.created_at),
                sync_key.text(),
                export.text,
            ],
        )?;
        // Keep the text of the newest unconfirmed files only: an export answered by nobody
        // must not grow the state without bound.
        tx.execute(
            "UPDATE exports SET usage_file = NULL
             WHERE usage_file IS NOT NULL
               AND id NOT IN (SELECT id FROM exports WHERE confirmed_at IS NULL
                              ORDER BY id DESC LIMIT ?1)",
            [KEEP_UNCONFIRMED_FILES],
        )?;
        tx.commit().map_err(|e| sql_err(&dir, e))?;
        Ok(export)
    }

    /// Applies the verification key `verification_key` (the file's bytes): finds the export
    /// it confirms by its nonce and file hash, verifies it against the vendor key and that
    /// export, then drops the records up to the accepted mark. Applying it again changes
    /// nothing.
    pub(crate) fn confirm(
        &mut self,
        verification_key: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Confirmation> {
        let license = self.license()?;
        let signed = VerificationKey::parse(verification_key)?;
        let claimed = signed.unverified();
        // Only a manager whose scope holds this instance's own account (the license's, not
        // the one the verification key names) may make it drop records.
        check_account_path(
            Artifact::File(FileKind::VerificationKey),
            &license.account_path,
            &claimed.account_path,
        )?;
        let ours = &self.identity;
        let nonce = claimed.answers_nonce.to_hex();
        // Of the exports answering that nonce, the one whose hash it names (the same sync key
        // may have been answered twice); else the latest, whose hash the check will refuse.
        let found = self
            .conn
            .query_row(
                &format!(
                    "SELECT {EXPORT_COLUMNS}, id FROM exports WHERE nonce = ?1
                     ORDER BY usage_file_sha256 = ?2 DESC, id DESC LIMIT 1"
                ),
                params![nonce, claimed.usage_file_sha256.to_hex()],
                |r| Ok((read_export(r)?, r.get::<_, i64>(11)?)),
            )
            .optional()?;
        let Some(((export, confirmed_at), export_id)) = found else {
            if claimed.instance_id != ours.instance_id {
                return Err(AgentError::Refused(AirgapError::WrongInstance {
                    what: Artifact::File(FileKind::VerificationKey),
                    expected: ours.instance_id.clone(),
                    found: claimed.instance_id.clone(),
                }));
            }
            return Err(AgentError::UnknownExport { nonce });
        };
        let corrupt = |what: &str| AgentError::corrupt(&self.dir, format!("an export's {what}"));
        let expected = ExpectedAnswer {
            instance_id: ours.instance_id.clone(),
            answers_nonce: export.nonce.parse().map_err(|_| corrupt("nonce"))?,
            usage_file_sha256: export
                .usage_file_sha256
                .parse()
                .map_err(|_| corrupt("file hash"))?,
            highest_seq_sent: export.highest_seq_sent as u64,
        };
        let vk = signed.verify(&ours.vendor_key, &expected, now)?;
        let accepted = vk.accepted_high_water_mark;
        let accepted_sql = i64::try_from(accepted).map_err(|_| corrupt("accepted mark"))?;

        let dir = self.dir.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&dir, e))?;
        let dropped = tx.execute("DELETE FROM records WHERE seq <= ?1", [accepted_sql])? as u64;
        tx.execute(
            "UPDATE instance SET confirmed_mark = ?1, confirmed_at = ?2 WHERE confirmed_mark < ?1",
            params![accepted_sql, rfc3339(now)],
        )?;
        tx.execute(
            "UPDATE exports SET confirmed_at = COALESCE(confirmed_at, ?2),
                                accepted_mark = MAX(COALESCE(accepted_mark, 0), ?3),
                                usage_file = NULL
             WHERE id = ?1",
            params![export_id, rfc3339(now), accepted_sql],
        )?;
        let confirmed_mark: i64 =
            tx.query_row("SELECT confirmed_mark FROM instance", [], |r| r.get(0))?;
        let waiting: i64 = tx.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))?;
        tx.commit().map_err(|e| sql_err(&dir, e))?;
        Ok(Confirmation {
            instance_id: vk.instance_id.clone(),
            issued_by: vk.issued_by.clone(),
            nonce: vk.answers_nonce,
            accepted_mark: accepted,
            confirmed_mark: confirmed_mark as u64,
            counts: vk.records,
            dropped,
            waiting: waiting as u64,
            replay: confirmed_at.is_some(),
        })
    }

    /// The latest `limit` exports, newest first.
    pub(crate) fn exports(&self, limit: usize) -> Result<Vec<ExportInfo>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {EXPORT_COLUMNS} FROM exports ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], read_export)?;
        let mut out = Vec::new();
        for row in rows {
            let (e, confirmed_at) = row?;
            out.push(ExportInfo {
                via: if e.via == "online" {
                    Via::Online
                } else {
                    Via::File
                },
                nonce: e.nonce,
                issued_by: e.issued_by,
                usage_file_sha256: e.usage_file_sha256,
                above_mark: e.above_mark as u64,
                records: e.records as u64,
                highest_seq_sent: e.highest_seq_sent as u64,
                remaining_records: e.remaining_records as u64,
                created_at: parse_time(&self.dir, &e.created_at)?,
                confirmed_at: confirmed_at
                    .map(|t| parse_time(&self.dir, &t))
                    .transpose()?,
                accepted_mark: e.accepted_mark.map(|m| m as u64),
            });
        }
        Ok(out)
    }

    /// The text of a usage data file exported here and not yet confirmed, by the nonce of the
    /// sync key it answers (the newest such file): to send it again when it was lost.
    pub(crate) fn exported_file(&self, nonce: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT usage_file FROM exports WHERE nonce = ?1 AND usage_file IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [nonce],
                |r| r.get(0),
            )
            .optional()?)
    }
}

/// Refuses a file naming another account path than the instance's license.
fn check_account_path(what: Artifact, ours: &[String], named: &[String]) -> Result<()> {
    if named == ours {
        return Ok(());
    }
    Err(AgentError::Refused(AirgapError::WrongAccount {
        what,
        expected: ours.join(" > "),
        found: named.join(" > "),
    }))
}

/// The vendor says it holds records up to `mark`, yet this instance never numbered that far
/// (its state was restored from a backup, say): the waiting records would never be sent, as
/// they all sit at or below the mark. Move them just above it, in order, and continue the
/// numbering from there. Returns how many moved.
///
/// Only for a mark at most [`MAX_SEQ_ADVANCE`] beyond the last seq given out: a vendor cannot
/// legitimately hold more of this instance's numbers than one exchange's reach past what it
/// ever numbered, and a mark far beyond (a mistaken or hostile sync key) must not use up the
/// sequence. Such a sync key is refused and nothing moves.
fn renumber_above(tx: &rusqlite::Transaction<'_>, mark: u64, last_seq: u64) -> Result<u64> {
    let pending: i64 = tx.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))?;
    if mark - last_seq > MAX_SEQ_ADVANCE {
        return Err(AgentError::MarkAhead {
            mark,
            last_seq,
            pending: pending as u64,
            reason: "that is more than this instance could have numbered since (2^32 beyond its \
                     last seq): the sync key is mistaken; ask the vendor to check the instance's \
                     high-water mark and issue a new sync key",
        });
    }
    let new_last = mark
        .checked_add(pending as u64)
        .filter(|n| *n <= i64::MAX as u64)
        .ok_or(AgentError::MarkAhead {
            mark,
            last_seq,
            pending: pending as u64,
            reason: "the mark is too large to number new records above it: ask the vendor to \
                     check this instance's high-water mark",
        })?;
    let keys: Vec<(i64, String, String)> = {
        let mut st = tx.prepare("SELECT seq, account_id, date FROM records ORDER BY seq")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    // New seqs are all above `mark` >= every old seq: no collision while moving one by one.
    for (i, (old, account_id, date)) in keys.iter().enumerate() {
        let new = mark as i64 + 1 + i as i64;
        tx.execute(
            "UPDATE records SET seq = ?2 WHERE seq = ?1",
            params![old, new],
        )?;
        tx.execute(
            "UPDATE recorded SET seq = ?3 WHERE account_id = ?1 AND date = ?2",
            params![account_id, date, new],
        )?;
    }
    tx.execute("UPDATE instance SET last_seq = ?1", [new_last as i64])?;
    Ok(keys.len() as u64)
}
