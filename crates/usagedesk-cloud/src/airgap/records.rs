//! How the records of a usage data file count against what the cloud holds. The rules are
//! the service's; an engine reads what they need inside the transaction that writes the file.

use usagedesk_domain::UsageCounts;

use crate::storage::{DailyRow, ImportCounts};

/// What one record of a file is, compared with what the cloud holds for its (account, date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// The cloud holds no row for the day: written.
    New,
    /// The cloud holds the same plan and counts: written again (nothing changes).
    Same,
    /// The cloud holds another plan or other counts: replaced.
    Changed,
    /// The instance already wrote the day from a later record (a file that arrived late): held
    /// already, not written.
    Late,
}

impl Record {
    /// Classifies a record with sequence number `seq`: `written_by_seq` is the sequence number
    /// of the instance's record that last wrote the day, if it wrote it; `held` is the day's
    /// row as the cloud (or an earlier record of the same file) holds it.
    pub fn of(
        row: &DailyRow,
        seq: u64,
        written_by_seq: Option<u64>,
        held: Option<(&str, UsageCounts)>,
    ) -> Self {
        if written_by_seq.is_some_and(|s| s > seq) {
            return Self::Late;
        }
        match held {
            None => Self::New,
            Some((plan, counts)) if plan == row.plan && counts == row.counts => Self::Same,
            Some(_) => Self::Changed,
        }
    }

    /// Whether the record is written (and becomes the day's source).
    pub fn writes(self) -> bool {
        self != Self::Late
    }

    /// Adds the record to a file's counts (late and same records are both "already present").
    pub fn count(self, counts: &mut ImportCounts) {
        match self {
            Self::New => counts.new += 1,
            Self::Same | Self::Late => counts.already_present += 1,
            Self::Changed => counts.changed += 1,
        }
    }
}

/// An instance's mark after a file: it never goes down.
pub fn mark_after(stored: u64, file_highest: u64) -> u64 {
    stored.max(file_highest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn row(plan: &str, n: u64) -> DailyRow {
        DailyRow {
            account_id: "a".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            plan: plan.into(),
            counts: UsageCounts::new(n, n, n),
        }
    }

    #[test]
    fn a_record_is_new_same_changed_or_late() {
        let r = row("basic", 5);
        assert_eq!(Record::of(&r, 3, None, None), Record::New);
        assert_eq!(
            Record::of(&r, 3, None, Some(("basic", r.counts))),
            Record::Same
        );
        assert_eq!(
            Record::of(&r, 3, None, Some(("premium", r.counts))),
            Record::Changed,
            "another plan is a change"
        );
        assert_eq!(
            Record::of(&r, 3, Some(4), None),
            Record::Late,
            "record 4 of the instance wrote the day after record 3"
        );
        assert_eq!(
            Record::of(&r, 3, Some(3), Some(("basic", r.counts))),
            Record::Same
        );
        let mut counts = ImportCounts::default();
        for rec in [Record::New, Record::Same, Record::Late, Record::Changed] {
            rec.count(&mut counts);
        }
        assert_eq!(
            (counts.new, counts.already_present, counts.changed),
            (1, 2, 1)
        );
        assert!(!Record::Late.writes() && Record::Same.writes());
        assert_eq!(mark_after(7, 5), 7, "a mark never goes down");
    }
}
