//! The computer's time zone as a table of UTC offsets, for the UI's local dates and times.
//!
//! The UI shows some instants in local time (instance events, install attempts, a file name's
//! day). JavaScript's local-time functions made WebKit's web process read its time zone through
//! ICU, which kept 1.3 MiB of ICU's data and code resident for the rest of the session; with
//! this table the UI computes local time with UTC arithmetic alone (`ui/src/lib/ui/localtime.ts`).
//! The offsets come from the same place as JavaScript's: the `TZ` variable or the OS's zone.

use chrono::{DateTime, Days, Local, Offset, TimeZone, Utc};
use serde::Serialize;

use crate::Desk;

/// From `from_ms` until the next change, local time is UTC plus `offset_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ZoneChange {
    /// Milliseconds since 1970-01-01 UTC (JavaScript's `Date` value).
    pub from_ms: i64,
    pub offset_seconds: i32,
}

/// The local time zone's offsets over the years the app shows. The first change's offset
/// also holds before it, the last one's after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LocalZone {
    pub changes: Vec<ZoneChange>,
}

/// Instants the table starts at: nothing the app shows is older.
const FIRST_YEAR: i32 = 1970;
/// Years past `now` the table covers: a sync key's validity and renewals are shorter.
const YEARS_AHEAD: u64 = 30;

/// The computer's time zone from 1970 to 30 years after `now`.
pub fn local_zone(now: DateTime<Utc>) -> LocalZone {
    let from = Utc.with_ymd_and_hms(FIRST_YEAR, 1, 1, 0, 0, 0).single();
    let to = now.checked_add_days(Days::new(YEARS_AHEAD * 366));
    match (from, to) {
        (Some(from), Some(to)) => zone_changes(&Local, from, to),
        _ => zone_changes(&Local, now, now),
    }
}

impl Desk {
    /// [`local_zone`] at the desk's clock.
    pub fn local_zone(&self) -> LocalZone {
        local_zone(self.clock().now())
    }
}

fn offset_at<Tz: TimeZone>(tz: &Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The offsets of `tz` from `from` to `to`. It reads the offset once a day and narrows each
/// change down to the second; a change undone within the same day would not be seen.
pub fn zone_changes<Tz: TimeZone>(tz: &Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> LocalZone {
    let mut offset = offset_at(tz, from);
    let mut changes = vec![ZoneChange {
        from_ms: from.timestamp_millis(),
        offset_seconds: offset,
    }];
    let mut day_start = from;
    while day_start < to {
        let Some(day_end) = day_start.checked_add_days(Days::new(1)) else {
            break;
        };
        let next = offset_at(tz, day_end);
        if next != offset {
            let at = first_second_with(tz, day_start, day_end, next);
            changes.push(ZoneChange {
                from_ms: at.timestamp_millis(),
                offset_seconds: next,
            });
            offset = next;
        }
        day_start = day_end;
    }
    LocalZone { changes }
}

/// The first whole second in `(before, after]` at which `tz`'s offset is `offset` (which it is
/// at `after` and is not at `before`).
fn first_second_with<Tz: TimeZone>(
    tz: &Tz,
    before: DateTime<Utc>,
    after: DateTime<Utc>,
    offset: i32,
) -> DateTime<Utc> {
    let (mut lo, mut hi) = (before.timestamp(), after.timestamp());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match DateTime::from_timestamp(mid, 0) {
            Some(at) if offset_at(tz, at) == offset => hi = mid,
            Some(_) => lo = mid,
            None => break,
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(after)
}

#[cfg(test)]
mod tests {
    use chrono::{
        Datelike, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, Weekday,
    };

    use super::*;

    /// A zone written from the European Union's rule for Central European Time: UTC+1, and
    /// UTC+2 from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
    /// October.
    #[derive(Clone, Copy)]
    struct Cet;

    fn last_sunday_1am(year: i32, month: u32) -> NaiveDateTime {
        let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1)
            .unwrap()
            .pred_opt()
            .unwrap();
        while day.weekday() != Weekday::Sun {
            day = day.pred_opt().unwrap();
        }
        day.and_hms_opt(1, 0, 0).unwrap()
    }

    impl TimeZone for Cet {
        type Offset = FixedOffset;
        fn from_offset(_: &FixedOffset) -> Self {
            Cet
        }
        // The table reads offsets of UTC instants only; local times are read as winter time
        // (ambiguous or missing hours are not told apart), enough for chrono's other uses.
        fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<FixedOffset> {
            LocalResult::Single(self.offset_from_utc_date(local))
        }
        fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<FixedOffset> {
            LocalResult::Single(self.offset_from_utc_datetime(&(*local - TimeDelta::hours(1))))
        }
        fn offset_from_utc_date(&self, utc: &NaiveDate) -> FixedOffset {
            self.offset_from_utc_datetime(&utc.and_hms_opt(0, 0, 0).unwrap())
        }
        fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> FixedOffset {
            let summer =
                *utc >= last_sunday_1am(utc.year(), 3) && *utc < last_sunday_1am(utc.year(), 10);
            FixedOffset::east_opt(if summer { 7200 } else { 3600 }).unwrap()
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
    }

    #[test]
    fn a_zone_without_changes_is_one_offset() {
        let tz = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        let zone = zone_changes(&tz, utc(2000, 1, 1, 0), utc(2030, 1, 1, 0));
        assert_eq!(
            zone.changes,
            vec![ZoneChange {
                from_ms: utc(2000, 1, 1, 0).timestamp_millis(),
                offset_seconds: 19_800
            }]
        );
    }

    #[test]
    fn summer_time_changes_are_found_to_the_second() {
        let zone = zone_changes(&Cet, utc(2024, 1, 1, 0), utc(2026, 1, 1, 0));
        // The rule's dates, read off a calendar: the last Sundays of March and October.
        let expected = [
            (utc(2024, 1, 1, 0), 3600),
            (utc(2024, 3, 31, 1), 7200),
            (utc(2024, 10, 27, 1), 3600),
            (utc(2025, 3, 30, 1), 7200),
            (utc(2025, 10, 26, 1), 3600),
        ]
        .map(|(at, offset_seconds)| ZoneChange {
            from_ms: at.timestamp_millis(),
            offset_seconds,
        });
        assert_eq!(zone.changes, expected);
    }

    #[test]
    fn a_table_starting_in_summer_starts_with_summer_time() {
        let zone = zone_changes(&Cet, utc(2025, 7, 1, 12), utc(2025, 12, 1, 0));
        assert_eq!(zone.changes[0].offset_seconds, 7200, "July is summer time");
        assert_eq!(zone.changes.len(), 2, "one change back, in October");
        assert_eq!(
            zone.changes[1].from_ms,
            utc(2025, 10, 26, 1).timestamp_millis()
        );
    }

    #[test]
    fn the_computers_zone_is_read_from_1970_to_30_years_ahead() {
        let now = utc(2026, 12, 7, 12);
        let zone = local_zone(now);
        assert_eq!(
            zone.changes[0].from_ms,
            utc(1970, 1, 1, 0).timestamp_millis()
        );
        assert!(
            zone.changes.windows(2).all(|w| w[0].from_ms < w[1].from_ms),
            "in order"
        );
        assert!(
            zone.changes
                .windows(2)
                .all(|w| w[0].offset_seconds != w[1].offset_seconds),
            "each entry changes the offset"
        );
        // Whatever this machine's zone is, the table agrees with chrono's reading of it now.
        let at_now = zone
            .changes
            .iter()
            .rev()
            .find(|c| c.from_ms <= now.timestamp_millis());
        assert_eq!(
            at_now.map(|c| c.offset_seconds),
            Some(
                Local
                    .offset_from_utc_datetime(&now.naive_utc())
                    .local_minus_utc()
            )
        );
    }
}
