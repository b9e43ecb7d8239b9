//! Daily usage rows: the `daily_usage.csv` load format (`docs/load-format.md`), checked in
//! full before anything is written, and recorded in one transaction with a `seq` each; rows
//! recorded by mistake discarded.

use std::io::Read;

use chrono::NaiveDate;
use indexmap::IndexMap;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usagedesk_airgap::UsageRecord;
use usagedesk_domain::load_format::DAILY_USAGE_HEADER;

use crate::db::sql_err;
use crate::error::{AgentError, Result};
use crate::fsutil::read_capped;
use crate::state::{load_records, State};

/// The largest CSV file `record` reads (64 MiB, some 1.5 million rows).
pub const MAX_CSV_BYTES: u64 = 64 << 20;

/// Counts are stored as SQLite integers (signed 64-bit).
const MAX_COUNT: u64 = i64::MAX as u64;

/// One daily usage snapshot of one account, as the vendor's product reports it: a row of
/// `daily_usage.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub account_id: String,
    pub date: NaiveDate,
    pub plan: String,
    pub users_registered: u64,
    pub users_with_token: u64,
    pub users_with_activity: u64,
}

impl DailyUsage {
    /// The rules of a row: ids per the exchange format's id rule (the load format's account id
    /// rule), a date not after `today`, counts that fit the store.
    pub fn check(&self, today: NaiveDate) -> std::result::Result<(), String> {
        check_id("account_id", &self.account_id)?;
        check_id("plan", &self.plan)?;
        if self.date > today {
            return Err(format!(
                "date {} is after today ({today}): usage is recorded for days that have begun",
                self.date
            ));
        }
        for (name, value) in [
            (DAILY_USAGE_HEADER[3], self.users_registered),
            (DAILY_USAGE_HEADER[4], self.users_with_token),
            (DAILY_USAGE_HEADER[5], self.users_with_activity),
        ] {
            if value > MAX_COUNT {
                return Err(format!("{name} {value} is too large (at most {MAX_COUNT})"));
            }
        }
        Ok(())
    }

    /// What identifies the values of a day (the key, account and date, excluded): equal
    /// digests mean recording the row again changes nothing.
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.plan.as_bytes());
        h.update([0]);
        for n in [
            self.users_registered,
            self.users_with_token,
            self.users_with_activity,
        ] {
            h.update(n.to_be_bytes());
        }
        h.finalize().into()
    }
}

/// What `record` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// Rows read (after the header).
    pub rows: u64,
    /// Rows replaced by a later row for the same account and date in the same input.
    pub superseded_in_input: u64,
    /// Account-days not recorded before.
    pub new: u64,
    /// Account-days recorded before with other values: they get a new seq and go out again.
    pub changed: u64,
    /// Account-days recorded before with the same values: skipped.
    pub unchanged: u64,
    /// The seqs given out, when any.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Records now waiting for the vendor.
    pub waiting: u64,
}

fn check_id(field: &str, value: &str) -> std::result::Result<(), String> {
    usagedesk_domain::account::validate_id(value)
        .map_err(|e| format!("{field}: {}", e.0.replacen("account id", "id", 1)))
}

/// `YYYY-MM-DD` and no other spelling.
fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    let err = || format!("date '{}' is not a date YYYY-MM-DD", s.escape_debug());
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| err())?;
    if d.format("%Y-%m-%d").to_string() != s {
        return Err(err());
    }
    Ok(d)
}

fn parse_count(field: &str, value: &str) -> std::result::Result<u64, String> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_COUNT)
            .ok_or_else(|| format!("{field} {value} is too large (at most {MAX_COUNT})"));
    }
    Err(if value.starts_with('-') {
        format!("{field} is {value}; counts must be 0 or more")
    } else {
        format!("{field} '{}' is not a whole number", value.escape_debug())
    })
}

/// Parses a whole `daily_usage.csv` (`bytes`, named `file` in errors), checking every row
/// against `today`. The first problem is the error, with its line.
pub fn parse_daily_usage_csv(
    file: &str,
    bytes: &[u8],
    today: NaiveDate,
) -> Result<Vec<(u64, DailyUsage)>> {
    let err = |line: u64, message: String| AgentError::Csv {
        file: file.to_owned(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| err(1, format!("cannot read the header: {e}")))?
        .clone();
    if header.iter().collect::<Vec<_>>() != DAILY_USAGE_HEADER {
        return Err(err(
            1,
            format!(
                "the header is '{}'; it must be exactly '{}'",
                header.iter().collect::<Vec<_>>().join(","),
                DAILY_USAGE_HEADER.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(err(line, format!("not valid CSV: {e}")));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != DAILY_USAGE_HEADER.len() {
            return Err(err(
                line,
                format!(
                    "{} fields; expected {} ({})",
                    record.len(),
                    DAILY_USAGE_HEADER.len(),
                    DAILY_USAGE_HEADER.join(",")
                ),
            ));
        }
        let row = (|| {
            let row = DailyUsage {
                account_id: record[0].to_owned(),
                date: parse_date(&record[1])?,
                plan: record[2].to_owned(),
                users_registered: parse_count(DAILY_USAGE_HEADER[3], &record[3])?,
                users_with_token: parse_count(DAILY_USAGE_HEADER[4], &record[4])?,
                users_with_activity: parse_count(DAILY_USAGE_HEADER[5], &record[5])?,
            };
            row.check(today)?;
            Ok(row)
        })()
        .map_err(|m| err(line, m))?;
        rows.push((line, row));
    }
    Ok(rows)
}

impl State {
    /// Records a `daily_usage.csv` read from `reader` (named `file` in errors; at most
    /// [`MAX_CSV_BYTES`]). Every row is checked first, with `today` as the latest date allowed;
    /// then all are written in one transaction (see [`RecordSummary`]).
    pub(crate) fn record<R: Read>(
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
    /// [`State::record`]; an error names the row (1-based) and nothing is written.
    pub(crate) fn record_rows(
        &mut self,
        rows: &[DailyUsage],
        today: NaiveDate,
    ) -> Result<RecordSummary> {
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
    pub(crate) fn pending(&self) -> Result<Vec<UsageRecord>> {
        load_records(&self.conn, &self.dir, 0)
    }

    /// Discards the waiting records of `account_id` (on `date` only, when given): for rows
    /// recorded by mistake, e.g. an account the vendor refuses for this instance, which would
    /// otherwise block every export. The days are forgotten, so recording them again sends
    /// them. Returns how many records were discarded.
    pub(crate) fn discard(&mut self, account_id: &str, date: Option<NaiveDate>) -> Result<u64> {
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

    /// Records `rows` (already checked): in one transaction, each account-day whose values are
    /// new or changed gets the next `seq` and replaces its waiting older version; identical
    /// values are skipped. A later row for the same account and date wins.
    pub(crate) fn apply_rows(&mut self, rows: Vec<DailyUsage>) -> Result<RecordSummary> {
        let mut summary = RecordSummary {
            rows: rows.len() as u64,
            ..Default::default()
        };
        let mut latest: IndexMap<(String, NaiveDate), DailyUsage> = IndexMap::new();
        for row in rows {
            if latest
                .insert((row.account_id.clone(), row.date), row)
                .is_some()
            {
                summary.superseded_in_input += 1;
            }
        }

        let dir = self.dir.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&dir, e))?;
        let mut last_seq: i64 = tx.query_row("SELECT last_seq FROM instance", [], |r| r.get(0))?;
        {
            let mut known =
                tx.prepare("SELECT digest FROM recorded WHERE account_id = ?1 AND date = ?2")?;
            let mut unqueue =
                tx.prepare("DELETE FROM records WHERE account_id = ?1 AND date = ?2")?;
            let mut insert = tx.prepare(
                "INSERT INTO records (seq, account_id, date, plan, users_registered,
                                      users_with_token, users_with_activity)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut remember = tx.prepare(
                "INSERT INTO recorded (account_id, date, seq, digest) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, date) DO UPDATE SET seq = ?3, digest = ?4",
            )?;
            for row in latest.values() {
                let date = row.date.format("%Y-%m-%d").to_string();
                let digest = row.digest();
                let before: Option<Vec<u8>> = known
                    .query_row(params![row.account_id, date], |r| r.get(0))
                    .optional()?;
                match before {
                    Some(d) if d == digest => {
                        summary.unchanged += 1;
                        continue;
                    }
                    Some(_) => summary.changed += 1,
                    None => summary.new += 1,
                }
                last_seq = last_seq
                    .checked_add(1)
                    .ok_or_else(|| AgentError::corrupt(&dir, "the record sequence is exhausted"))?;
                unqueue.execute(params![row.account_id, date])?;
                insert.execute(params![
                    last_seq,
                    row.account_id,
                    date,
                    row.plan,
                    row.users_registered as i64,
                    row.users_with_token as i64,
                    row.users_with_activity as i64,
                ])?;
                remember.execute(params![row.account_id, date, last_seq, &digest[..]])?;
                let seq = last_seq as u64;
                summary.first_seq.get_or_insert(seq);
                summary.last_seq = Some(seq);
            }
        }
        tx.execute("UPDATE instance SET last_seq = ?1", [last_seq])?;
        summary.waiting =
            tx.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))? as u64;
        tx.commit().map_err(|e| sql_err(&dir, e))?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    const HEADER: &str =
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n";

    fn parse(body: &str) -> Result<Vec<(u64, DailyUsage)>> {
        parse_daily_usage_csv(
            "u.csv",
            format!("{HEADER}{body}").as_bytes(),
            day("2026-03-02"),
        )
    }

    fn csv_error(body: &str) -> (u64, String) {
        match parse(body).unwrap_err() {
            AgentError::Csv { line, message, .. } => (line, message),
            other => panic!("expected a CSV error, got {other}"),
        }
    }

    #[test]
    fn parses_rows_with_their_line_numbers() {
        let rows =
            parse("acme,2026-03-01,standard,120,95,60\n\"acme, eu\",2026-03-02,basic,0,0,0\n")
                .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2, "line 1 is the header");
        assert_eq!(
            rows[0].1,
            DailyUsage {
                account_id: "acme".into(),
                date: day("2026-03-01"),
                plan: "standard".into(),
                users_registered: 120,
                users_with_token: 95,
                users_with_activity: 60,
            }
        );
        assert_eq!(rows[1].1.account_id, "acme, eu", "RFC 4180 quoting");
        assert!(
            parse("").unwrap().is_empty(),
            "a header alone is a valid, empty file"
        );
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_accepted() {
        // Spreadsheet programs write one; the header must still match.
        let bytes = format!("\u{feff}{HEADER}acme,2026-03-01,standard,1,1,1\n");
        let rows = parse_daily_usage_csv("u.csv", bytes.as_bytes(), day("2026-03-02")).unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn the_header_must_be_exact() {
        let e = parse_daily_usage_csv(
            "u.csv",
            b"account,date,plan,users_registered,users_with_token,users_with_activity\n",
            day("2026-03-02"),
        )
        .unwrap_err();
        assert!(matches!(e, AgentError::Csv { line: 1, .. }), "{e}");
        assert!(
            e.to_string()
                .contains("it must be exactly 'account_id,date,plan"),
            "{e}"
        );
        let e = parse_daily_usage_csv("u.csv", b"", day("2026-03-02")).unwrap_err();
        assert!(
            matches!(e, AgentError::Csv { line: 1, .. }),
            "an empty file has no header: {e}"
        );
    }

    #[test]
    fn every_rule_is_checked_and_the_line_named() {
        let ok = "acme,2026-03-01,standard,1,1,1\n";
        for (bad, expect) in [
            ("acme,2026-3-01,standard,1,1,1", "is not a date YYYY-MM-DD"),
            ("acme,2026-02-30,standard,1,1,1", "is not a date YYYY-MM-DD"),
            ("acme,2026-03-03,standard,1,1,1", "after today (2026-03-02)"),
            (" acme,2026-03-01,standard,1,1,1", "surrounding spaces"),
            (",2026-03-01,standard,1,1,1", "account_id: id is empty"),
            ("acme,2026-03-01,,1,1,1", "plan: id is empty"),
            (
                "acme,2026-03-01,standard,-1,1,1",
                "counts must be 0 or more",
            ),
            (
                "acme,2026-03-01,standard,1,1.5,1",
                "'1.5' is not a whole number",
            ),
            (
                "acme,2026-03-01,standard,1,1,+1",
                "'+1' is not a whole number",
            ),
            ("acme,2026-03-01,standard,1,1,", "'' is not a whole number"),
            (
                "acme,2026-03-01,standard,1,1,99999999999999999999",
                "too large",
            ),
            ("acme,2026-03-01,standard,1,1", "5 fields; expected 6"),
        ] {
            let (line, message) = csv_error(&format!("{ok}{bad}\n"));
            assert_eq!(line, 3, "{bad}: the header is line 1, the good row line 2");
            assert!(message.contains(expect), "{bad}: {message}");
        }
    }

    #[test]
    fn a_quoted_line_break_in_an_id_is_refused_at_the_rows_first_line() {
        // RFC 4180 allows it, the id rule does not (control character); the error points at
        // the line where the row starts.
        let (line, message) = csv_error(
            "acme,2026-03-01,standard,1,1,1\n\"acme\nnorth\",2026-03-01,standard,1,1,1\n",
        );
        assert_eq!(line, 3);
        assert!(message.contains("control characters"), "{message}");
    }

    #[test]
    fn the_digest_covers_plan_and_counts_and_separates_fields() {
        let a = DailyUsage {
            account_id: "a".into(),
            date: day("2026-03-01"),
            plan: "basic".into(),
            users_registered: 1,
            users_with_token: 2,
            users_with_activity: 3,
        };
        let mut b = a.clone();
        b.account_id = "b".into();
        assert_eq!(a.digest(), b.digest(), "the key is not part of the values");
        for change in [
            |r: &mut DailyUsage| r.plan = "standard".into(),
            |r: &mut DailyUsage| r.users_registered += 1,
            |r: &mut DailyUsage| r.users_with_token += 1,
            |r: &mut DailyUsage| r.users_with_activity += 1,
        ] {
            let mut c = a.clone();
            change(&mut c);
            assert_ne!(a.digest(), c.digest());
        }
    }
}
