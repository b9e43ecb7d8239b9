//! The covered period and allocation-free formatting of dates and counts.

use chrono::{Datelike, Days, NaiveDate};
use usagedesk_domain::YearMonth;

use crate::DemoError;

/// The longest history the generator accepts (100 years).
pub(crate) const MAX_MONTHS: u32 = 1200;

/// The months a dataset covers: `months` completed months before `today`'s month, plus the
/// running month when it already has a day before `today`.
#[derive(Debug, Clone)]
pub(crate) struct Period {
    /// Covered months in order; the last one is the running month when `partial` is set.
    pub months: Vec<YearMonth>,
    /// First day of the first covered month (or of today's month when no month is covered).
    pub start: NaiveDate,
    /// The last day that may carry data: the day before `today`.
    pub yesterday: NaiveDate,
    /// Whether the last entry of `months` is the running (not completed) month.
    pub partial: bool,
}

impl Period {
    pub fn new(today: NaiveDate, months: u32) -> Result<Self, DemoError> {
        if months > MAX_MONTHS {
            return Err(DemoError::InvalidOptions(format!(
                "{months} months of history were asked for; the generator makes at most {MAX_MONTHS}"
            )));
        }
        // Accounts are dated up to eight years before the first covered month, and every
        // date is written as YYYY-MM-DD: keep all of them inside four-digit years.
        let earliest_year = today.year() - (months / 12) as i32 - 10;
        if earliest_year < 1000 || today.year() > 9999 {
            return Err(DemoError::InvalidOptions(format!(
                "today ({today}) with {months} months of history reaches outside years 1000-9999"
            )));
        }
        let current = YearMonth::of(today);
        let mut first = current;
        for _ in 0..months {
            first = first.prev();
        }
        let yesterday = today.pred_opt().expect("today is well inside the calendar");
        let partial = yesterday >= current.first_day();
        let last = if partial { current } else { current.prev() };
        Ok(Self {
            months: first.through(last).collect(),
            start: first.first_day(),
            yesterday,
            partial,
        })
    }

    /// Number of covered months.
    pub fn len(&self) -> usize {
        self.months.len()
    }

    /// Index of the covered month holding `date`; negative before the period.
    pub fn month_index(&self, date: NaiveDate) -> i64 {
        let first = YearMonth::of(self.start);
        let m = YearMonth::of(date);
        (m.year() - first.year()) as i64 * 12 + m.month() as i64 - first.month() as i64
    }
}

/// `date + n days`.
pub(crate) fn add_days(date: NaiveDate, n: u64) -> NaiveDate {
    date.checked_add_days(Days::new(n))
        .expect("dates stay inside the calendar")
}

/// `date - n days`.
pub(crate) fn sub_days(date: NaiveDate, n: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(n))
        .expect("dates stay inside the calendar")
}

/// `YYYY-MM-DD` without going through chrono's formatter (millions of rows are written).
pub(crate) fn fmt_date(d: NaiveDate) -> [u8; 10] {
    usagedesk_domain::month::ymd_ascii(d.year() as u32, d.month(), d.day())
}

/// A non-negative integer formatted in decimal on the stack.
pub(crate) struct Num {
    buf: [u8; 20],
    start: usize,
}

impl Num {
    pub fn new(mut v: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        Self { buf, start: i }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn period_covers_completed_months_and_the_running_one() {
        let p = Period::new(d("2024-06-15"), 3).unwrap();
        let months: Vec<String> = p.months.iter().map(|m| m.to_string()).collect();
        assert_eq!(months, ["2024-03", "2024-04", "2024-05", "2024-06"]);
        assert!(p.partial, "June has days before the 15th");
        assert_eq!(p.start, d("2024-03-01"));
        assert_eq!(p.yesterday, d("2024-06-14"));
        assert_eq!(p.month_index(d("2024-05-31")), 2);
        assert_eq!(p.month_index(d("2023-12-31")), -3);
    }

    #[test]
    fn on_the_first_of_a_month_the_running_month_has_no_day_yet() {
        let p = Period::new(d("2024-01-01"), 2).unwrap();
        let months: Vec<String> = p.months.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            months,
            ["2023-11", "2023-12"],
            "January has no day before the 1st, so it is not covered"
        );
        assert!(!p.partial);
    }

    #[test]
    fn absurd_histories_are_refused() {
        assert!(Period::new(d("2024-01-01"), MAX_MONTHS + 1).is_err());
        assert!(Period::new(d("1005-01-01"), 12).is_err());
    }

    #[test]
    fn formatting_matches_chrono_and_std() {
        for s in ["2024-02-29", "1999-12-31", "2030-01-01"] {
            assert_eq!(&fmt_date(d(s)), s.as_bytes());
        }
        for v in [0u64, 7, 10, 12345, u64::MAX] {
            assert_eq!(Num::new(v).as_bytes(), v.to_string().as_bytes());
        }
    }
}
