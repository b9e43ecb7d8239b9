//! The staging format: the month-end rows of one applied page, encoded as one compact blob
//! (one SQLite row per page instead of one per month row, so applying a page costs next to
//! nothing per row). Folded into `month_usage` by the rebuild.
//!
//! Layout (little-endian): version byte, row count (u32), plan count (u16), plans as
//! (u16 length, bytes); then per row: account id (u16 length, bytes), month key (u32,
//! see `codec::month_key`), plan index (u16), snapshot date (u32 `YYYYMMDD`, or `u32::MAX`
//! followed by (u16 length, bytes) for dates outside years 0..=9999), three counts (i64).

use crate::codec::{self, DateText};
use crate::{CacheError, Result};

const VERSION: u8 = 1;
const OTHER_DATE: u32 = u32::MAX;

/// Builds one staged blob.
#[derive(Default)]
pub(crate) struct StageWriter {
    plans: Vec<String>,
    rows: Vec<u8>,
    count: u32,
}

/// One staged row, borrowing from the blob it was read from.
pub(crate) struct StagedRow<'a> {
    pub account_id: &'a str,
    pub month: u32,
    pub plan: &'a str,
    /// `YYYYMMDD`, or `None` with the text in `snapshot_text`.
    pub snapshot: Option<u32>,
    pub snapshot_text: &'a str,
    pub counts: [i64; 3],
}

impl StageWriter {
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    pub(crate) fn push(&mut self, row: &StagedRow<'_>) -> Result<()> {
        let plan = match self.plans.iter().position(|p| p == row.plan) {
            Some(i) => i,
            None => {
                self.plans.push(row.plan.to_owned());
                self.plans.len() - 1
            }
        };
        let too_long = |what: &str| CacheError::corrupt(format!("{what} longer than 65535 bytes"));
        let id_len = u16::try_from(row.account_id.len()).map_err(|_| too_long("account id"))?;
        let plan = u16::try_from(plan).map_err(|_| too_long("plan list"))?;
        self.rows.extend_from_slice(&id_len.to_le_bytes());
        self.rows.extend_from_slice(row.account_id.as_bytes());
        self.rows.extend_from_slice(&row.month.to_le_bytes());
        self.rows.extend_from_slice(&plan.to_le_bytes());
        match row.snapshot {
            Some(d) => self.rows.extend_from_slice(&d.to_le_bytes()),
            None => {
                let len = u16::try_from(row.snapshot_text.len()).map_err(|_| too_long("date"))?;
                self.rows.extend_from_slice(&OTHER_DATE.to_le_bytes());
                self.rows.extend_from_slice(&len.to_le_bytes());
                self.rows.extend_from_slice(row.snapshot_text.as_bytes());
            }
        }
        for c in row.counts {
            self.rows.extend_from_slice(&c.to_le_bytes());
        }
        self.count += 1;
        Ok(())
    }

    /// The blob; the writer is empty again afterwards.
    pub(crate) fn finish(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.rows.len() + 64);
        out.push(VERSION);
        out.extend_from_slice(&self.count.to_le_bytes());
        let n = u16::try_from(self.plans.len())
            .map_err(|_| CacheError::corrupt("more than 65535 plans in one page"))?;
        out.extend_from_slice(&n.to_le_bytes());
        for p in &self.plans {
            let len = u16::try_from(p.len())
                .map_err(|_| CacheError::corrupt("plan id longer than 65535 bytes"))?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(p.as_bytes());
        }
        out.extend_from_slice(&self.rows);
        *self = Self::default();
        Ok(out)
    }
}

/// Packs `YYYY-MM-DD` as the number `YYYYMMDD` (`None` for any other shape).
pub(crate) fn pack_date(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    Some(digits(0..4)? * 10_000 + digits(5..7)? * 100 + digits(8..10)?)
}

/// `YYYY-MM-DD` of a packed date.
pub(crate) fn date_text(v: u32) -> DateText {
    DateText::from_parts(v / 10_000, v / 100 % 100, v % 100)
}

/// Reads the rows of one staged blob.
pub(crate) struct StageReader<'a> {
    buf: &'a [u8],
    plans: Vec<&'a str>,
    left: u32,
}

fn bad() -> CacheError {
    CacheError::corrupt("a staged page that cannot be decoded")
}

impl<'a> StageReader<'a> {
    pub(crate) fn new(blob: &'a [u8]) -> Result<Self> {
        let mut r = Self {
            buf: blob,
            plans: Vec::new(),
            left: 0,
        };
        if r.take(1)? != [VERSION] {
            return Err(bad());
        }
        r.left = r.u32()?;
        let n = r.u16()?;
        for _ in 0..n {
            let p = r.text()?;
            r.plans.push(p);
        }
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(bad());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    fn text(&mut self) -> Result<&'a str> {
        let n = self.u16()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| bad())
    }

    /// The next row, or `None` at the end.
    pub(crate) fn next_row(&mut self) -> Result<Option<StagedRow<'a>>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let account_id = self.text()?;
        let month = self.u32()?;
        let plan = self.u16()? as usize;
        let plan = *self.plans.get(plan).ok_or_else(bad)?;
        let (snapshot, snapshot_text) = match self.u32()? {
            OTHER_DATE => (None, self.text()?),
            d => (Some(d), ""),
        };
        let counts = [self.i64()?, self.i64()?, self.i64()?];
        Ok(Some(StagedRow {
            account_id,
            month,
            plan,
            snapshot,
            snapshot_text,
            counts,
        }))
    }
}

/// The month key of a staged row as text.
pub(crate) fn month_text(key: u32) -> codec::MonthText {
    codec::MonthText::from_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_rows_round_trip() {
        let mut w = StageWriter::default();
        let rows = [
            ("acme", 24_290, "basic", Some(20_240_131), "", [1, 2, 3]),
            (
                "é, \"x\"",
                24_291,
                "premium",
                None,
                "+12000-01-01",
                [i64::MAX, 0, 7],
            ),
            ("acme", 24_291, "basic", Some(20_240_229), "", [4, 5, 6]),
        ];
        for (id, month, plan, snapshot, text, counts) in rows {
            w.push(&StagedRow {
                account_id: id,
                month,
                plan,
                snapshot,
                snapshot_text: text,
                counts,
            })
            .unwrap();
        }
        let blob = w.finish().unwrap();
        assert!(w.is_empty(), "finish empties the writer");
        let mut r = StageReader::new(&blob).unwrap();
        for (id, month, plan, snapshot, text, counts) in rows {
            let row = r.next_row().unwrap().unwrap();
            assert_eq!(
                (
                    row.account_id,
                    row.month,
                    row.plan,
                    row.snapshot,
                    row.snapshot_text,
                    row.counts
                ),
                (id, month, plan, snapshot, text, counts)
            );
        }
        assert!(r.next_row().unwrap().is_none());
        assert!(
            StageReader::new(&blob[..blob.len() - 3])
                .and_then(|mut r| {
                    while r.next_row()?.is_some() {}
                    Ok(())
                })
                .is_err(),
            "a truncated blob is refused, not misread"
        );
        assert_eq!(pack_date("2024-02-29"), Some(20_240_229));
        assert_eq!(date_text(20_240_229).as_str(), "2024-02-29");
        assert_eq!(pack_date("2024-2-29"), None);
    }
}
