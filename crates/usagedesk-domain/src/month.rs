//! Calendar months, completed months and the injectable clock.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    /// A month, or `None` when `month` is not 1..=12 or the year is out of range.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Self { year, month })
    }

    /// The month a date falls in.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("validated month")
    }

    pub fn last_day(self) -> NaiveDate {
        self.next()
            .first_day()
            .pred_opt()
            .expect("a day before any month start")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// A completed month is one whose last day is before `today`.
    pub fn is_completed(self, today: NaiveDate) -> bool {
        self.last_day() < today
    }

    /// The most recent completed month as of `today`.
    pub fn last_completed(today: NaiveDate) -> Self {
        Self::of(today).prev()
    }

    /// Months from `self` to `to`, both included (empty when `to` is before `self`).
    pub fn through(self, to: YearMonth) -> impl Iterator<Item = YearMonth> {
        std::iter::successors(Some(self), |m| Some(m.next())).take_while(move |m| *m <= to)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ParseError(format!(
                "'{s}' is not a month: write it as YYYY-MM, e.g. 2024-05"
            ))
        };
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Self::new(year, month).ok_or_else(bad)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// In the OpenAPI document: a string `YYYY-MM`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for YearMonth {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[0-9]{4}-(0[1-9]|1[0-2])$"))
            .description(Some("A calendar month, `YYYY-MM`"))
            .examples(["2024-05"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for YearMonth {}

/// `YYYY-MM` as ASCII bytes, without a formatter (hot paths write millions of these).
/// The year is taken modulo 10,000.
pub fn ym_ascii(year: u32, month: u32) -> [u8; 7] {
    let digit = |v: u32| b'0' + (v % 10) as u8;
    [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
    ]
}

/// `YYYY-MM-DD` as ASCII bytes, without a formatter; see [`ym_ascii`].
pub fn ymd_ascii(year: u32, month: u32, day: u32) -> [u8; 10] {
    let ym = ym_ascii(year, month);
    let digit = |v: u32| b'0' + (v % 10) as u8;
    [
        ym[0],
        ym[1],
        ym[2],
        ym[3],
        ym[4],
        ym[5],
        ym[6],
        b'-',
        digit(day / 10),
        digit(day),
    ]
}

/// `YYYY-MM-DD` of a date in a stack buffer (hot paths write millions of these); years
/// outside 0..=9999 fall back to chrono's formatting.
pub struct DateText {
    buf: [u8; 10],
    other: Option<String>,
}

impl DateText {
    pub fn new(d: NaiveDate) -> Self {
        let (y, m, day) = (d.year(), d.month(), d.day());
        if !(0..=9999).contains(&y) {
            return Self {
                buf: [0; 10],
                other: Some(d.format("%Y-%m-%d").to_string()),
            };
        }
        Self::from_parts(y as u32, m, day)
    }

    /// From year (0..=9999), month and day numbers.
    pub fn from_parts(y: u32, m: u32, day: u32) -> Self {
        Self {
            buf: ymd_ascii(y, m, day),
            other: None,
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.other {
            Some(s) => s,
            // Only ASCII digits and dashes are written into buf.
            None => std::str::from_utf8(&self.buf).unwrap_or("0000-00-00"),
        }
    }
}

/// `YYYY-MM-DD` with exactly four, two and two digits, without chrono's format parser (the
/// loader and the feed read millions); `None` for any other shape or an impossible date.
fn parse_date_fast(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
}

/// Parses a `YYYY-MM-DD` date with a message that says what is expected.
pub fn parse_date(s: &str) -> Result<NaiveDate, ParseError> {
    if let Some(d) = parse_date_fast(s) {
        return Ok(d);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        ParseError(format!(
            "'{s}' is not a date: write it as YYYY-MM-DD, e.g. 2024-05-31"
        ))
    })
}

/// Where "today" comes from. Logic never reads the system clock directly, so tests are exact.
pub trait Clock: Send + Sync {
    fn today(&self) -> NaiveDate;
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn today(&self) -> NaiveDate {
        chrono::Utc::now().date_naive()
    }
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// A clock stopped at one instant, for tests and reproducible runs.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub chrono::DateTime<chrono::Utc>);

impl FixedClock {
    /// Midday UTC on the given date.
    pub fn on(date: NaiveDate) -> Self {
        Self(date.and_hms_opt(12, 0, 0).expect("valid time").and_utc())
    }
}

impl Clock for FixedClock {
    fn today(&self) -> NaiveDate {
        self.0.date_naive()
    }
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn parses_and_prints_months() {
        let m: YearMonth = "2024-02".parse().unwrap();
        assert_eq!(m.to_string(), "2024-02");
        assert_eq!(m.last_day(), d("2024-02-29"), "2024 is a leap year");
        for bad in [
            "2024-13", "2024-00", "24-01", "2024/01", "2024-1", "", "abcd-ef",
        ] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn month_arithmetic_wraps_years() {
        let dec: YearMonth = "2023-12".parse().unwrap();
        assert_eq!(dec.next().to_string(), "2024-01");
        assert_eq!(dec.next().prev(), dec);
        let months: Vec<_> = dec
            .through("2024-03".parse().unwrap())
            .map(|m| m.to_string())
            .collect();
        assert_eq!(months, ["2023-12", "2024-01", "2024-02", "2024-03"]);
        assert_eq!(
            dec.through(dec.prev()).count(),
            0,
            "an inverted range is empty"
        );
    }

    #[test]
    fn a_month_completes_the_day_after_its_last_day() {
        let may: YearMonth = "2024-05".parse().unwrap();
        assert!(
            !may.is_completed(d("2024-05-31")),
            "on its last day the month is still running"
        );
        assert!(may.is_completed(d("2024-06-01")));
        assert_eq!(YearMonth::last_completed(d("2024-06-01")), may);
        assert_eq!(
            YearMonth::last_completed(d("2024-01-15")).to_string(),
            "2023-12"
        );
    }

    #[test]
    fn dates_parse_exactly_as_chrono_parses_them() {
        for s in [
            "2024-02-29",
            "2023-02-29",
            "2024-02-30",
            "2024-00-10",
            "2024-13-01",
            "2024-12-00",
            "0000-01-01",
            "9999-12-31",
            "2024-1-05",
            "2024-01-5",
            " 2024-01-01",
            "2024-01-01 ",
            "+2024-01-01",
            "10000-01-01",
            "2024/01/01",
            "2024-01-0x",
            "",
        ] {
            assert_eq!(
                parse_date(s).ok(),
                NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
                "{s:?}"
            );
        }
        assert_eq!(
            DateText::new(d("0999-01-05")).as_str(),
            "0999-01-05",
            "zero-padded"
        );
        let far = NaiveDate::from_ymd_opt(12000, 1, 1).unwrap();
        assert_eq!(
            DateText::new(far).as_str(),
            far.format("%Y-%m-%d").to_string()
        );
    }

    #[test]
    fn ascii_formatting_matches_chrono() {
        for s in ["0999-01-05", "2024-02-29", "2026-12-31"] {
            let date = d(s);
            assert_eq!(
                &ymd_ascii(date.year() as u32, date.month(), date.day()),
                s.as_bytes()
            );
            assert_eq!(
                &ym_ascii(date.year() as u32, date.month()),
                &s.as_bytes()[..7]
            );
        }
    }

    #[test]
    fn months_serialize_as_text() {
        let m: YearMonth = "2024-05".parse().unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"2024-05\"");
        assert_eq!(serde_json::from_str::<YearMonth>("\"2024-05\"").unwrap(), m);
        assert!(serde_json::from_str::<YearMonth>("\"2024-5\"").is_err());
    }
}
