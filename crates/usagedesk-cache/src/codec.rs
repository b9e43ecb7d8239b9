//! How domain values are written to and read from SQLite columns.

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_domain::{AccountStatus, UsageCounts, YearMonth};

use crate::{CacheError, Result};

pub(crate) use usagedesk_domain::month::DateText;

/// `YYYY-MM` of a month key (see [`month_key`]) into a stack buffer.
pub(crate) struct MonthText([u8; 7]);

impl MonthText {
    pub(crate) fn from_key(key: u32) -> Self {
        let (y, m) = (key / 12, key % 12 + 1);
        Self(usagedesk_domain::month::ym_ascii(y, m))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and a dash are written.
        std::str::from_utf8(&self.0).unwrap_or("0000-00")
    }
}

pub(crate) fn parse_date(s: &str) -> Result<NaiveDate> {
    usagedesk_domain::month::parse_date(s).map_err(|_| CacheError::corrupt(format!("date '{s}'")))
}

pub(crate) fn parse_month(s: &str) -> Result<YearMonth> {
    s.parse()
        .map_err(|_| CacheError::corrupt(format!("month '{s}'")))
}

pub(crate) fn parse_status(s: &str) -> Result<AccountStatus> {
    s.parse()
        .map_err(|_| CacheError::corrupt(format!("account status '{s}'")))
}

pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CacheError::corrupt(format!("time '{s}'")))
}

pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A count or a limit as SQLite's integer, saturating past `i64::MAX` (a larger limit means
/// "all", a larger count is not a real one).
pub(crate) fn saturating_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// A count read back from SQLite (stored as i64, written from u64 <= i64::MAX).
pub(crate) fn count(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| CacheError::corrupt(format!("negative count {v}")))
}

pub(crate) fn counts(r: i64, t: i64, a: i64) -> Result<UsageCounts> {
    Ok(UsageCounts::new(count(r)?, count(t)?, count(a)?))
}

/// A count to store, or `None` when it does not fit SQLite's signed 64-bit integers.
pub(crate) fn store(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

/// Parses `YYYY-MM` into a sortable key `year * 12 + month - 1` without allocating.
pub(crate) fn month_key_of_text(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 7 || b[4] != b'-' {
        return None;
    }
    let mut y = 0u32;
    for &c in &b[..4] {
        if !c.is_ascii_digit() {
            return None;
        }
        y = y * 10 + u32::from(c - b'0');
    }
    if !b[5].is_ascii_digit() || !b[6].is_ascii_digit() {
        return None;
    }
    let m = u32::from(b[5] - b'0') * 10 + u32::from(b[6] - b'0');
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

pub(crate) fn month_key(m: YearMonth) -> u32 {
    m.year() as u32 * 12 + m.month() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_like_chrono() {
        for s in ["2024-02-29", "0001-01-01", "9999-12-31", "1970-10-05"] {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
            assert_eq!(DateText::new(d).as_str(), s);
            assert_eq!(parse_date(s).unwrap(), d);
        }
        let far = NaiveDate::from_ymd_opt(12000, 1, 1).unwrap();
        assert_eq!(
            DateText::new(far).as_str(),
            far.format("%Y-%m-%d").to_string()
        );
    }

    #[test]
    fn month_keys_sort_like_months() {
        let a: YearMonth = "2023-12".parse().unwrap();
        assert_eq!(month_key_of_text("2023-12"), Some(month_key(a)));
        assert_eq!(month_key_of_text("2024-01"), Some(month_key(a.next())));
        assert!(month_key(a) < month_key(a.next()));
        assert_eq!(MonthText::from_key(month_key(a)).as_str(), "2023-12");
        assert_eq!(MonthText::from_key(month_key(a.next())).as_str(), "2024-01");
        assert_eq!(month_key_of_text("2024-13"), None);
        assert_eq!(month_key_of_text("2024-1"), None);
    }

    #[test]
    fn counts_beyond_i64_are_not_stored() {
        assert_eq!(store(5), Some(5));
        assert_eq!(store(u64::MAX), None);
        assert!(count(-1).is_err());
    }
}
