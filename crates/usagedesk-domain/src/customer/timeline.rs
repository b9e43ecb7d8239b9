//! An instance's status over time, from its latest report and its events.

use crate::customer::{InstanceEvent, InstanceReport, InstanceStatus};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{Band, INACTIVE_AFTER, STATUS_FIELD};

/// `t + d`, saturating at the latest representable time.
pub(crate) fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t − d`, saturating at the earliest representable time.
pub(crate) fn earlier(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A stretch of time `[start, end)` with one status, `None` meaning no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StatusSpan {
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    /// `None` (`null`): no data.
    pub status: Option<InstanceStatus>,
}

impl StatusSpan {
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    pub fn band(&self) -> Band {
        Band::of(self.status)
    }
}

/// Appends `[start, end)` with `status`, skipping empty spans and merging with the previous
/// span when it ends at `start` with the same status.
fn push(
    spans: &mut Vec<StatusSpan>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: Option<InstanceStatus>,
) {
    if start >= end {
        return;
    }
    if let Some(last) = spans.last_mut() {
        if last.end == start && last.status == status {
            last.end = end;
            return;
        }
    }
    spans.push(StatusSpan { start, end, status });
}

/// An instance's status over time: consecutive spans from the instance's first check-in (or
/// first event, if earlier) to 24 hours after its last one ([`StatusTimeline::data_until`]);
/// everything outside is no data.
///
/// Built by replaying the instance's `status` events (field [`STATUS_FIELD`], `previous` and
/// `new` being status names):
/// - from the first check-in: the first status event's `previous`, or the report's status if
///   there is no status event; a first status event without `previous` leaves the time before
///   it unknown (no data);
/// - each status event sets `new` from its `received_at` (events with an unknown status name
///   set nothing, but still count as heard from the instance);
/// - the report's status holds from its `last_check_in` (it is what the instance said last,
///   even if an event in between was lost), unless a status event was received after it
///   (the report lags behind the events, which then tell the rest);
/// - a check-in vouches for its status for at most [`INACTIVE_AFTER`] (24 hours): after the
///   last check-in the last status holds 24 hours, then there is no data. Between the first
///   and the last check-in the report and the events cannot show a silence (events are
///   recorded only on change); [`StatusTimeline::from_check_in_history`] can, given every
///   check-in's time.
///
/// Events of other instances (by `instance_id`) are ignored; events of other fields count as
/// heard from the instance (they come with a check-in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StatusTimeline {
    instance_id: String,
    /// The first check-in, or the first event if earlier.
    first_seen: DateTime<Utc>,
    /// Consecutive, non-empty, neighbours differ; the first starts at `first_seen`.
    spans: Vec<StatusSpan>,
}

impl StatusTimeline {
    /// The timeline from an instance's report and events (any order), with no data only
    /// before the first check-in and from 24 hours after the last one.
    pub fn from_report(report: &InstanceReport, events: &[InstanceEvent]) -> Self {
        Self::build(report, events, None)
    }

    /// The timeline given, in addition, the time of every check-in the instance made (any
    /// order; the report's first and last check-in and the events' times are added): a
    /// silence of more than 24 hours between two check-ins is no data from 24 hours after the
    /// first of them to the second.
    pub fn from_check_in_history(
        report: &InstanceReport,
        events: &[InstanceEvent],
        check_ins: impl IntoIterator<Item = DateTime<Utc>>,
    ) -> Self {
        Self::build(report, events, Some(check_ins.into_iter().collect()))
    }

    fn build(
        report: &InstanceReport,
        events: &[InstanceEvent],
        check_ins: Option<Vec<DateTime<Utc>>>,
    ) -> Self {
        let mut events: Vec<&InstanceEvent> = events
            .iter()
            .filter(|e| e.instance_id == report.instance_id)
            .collect();
        events.sort_by_key(|e| e.received_at); // stable: same-time events keep their order

        // Every time the instance was heard from.
        let has_history = check_ins.is_some();
        let mut heard: Vec<DateTime<Utc>> = check_ins.unwrap_or_default();
        heard.extend([report.first_check_in, report.last_check_in]);
        heard.extend(events.iter().map(|e| e.received_at));
        heard.sort_unstable();
        heard.dedup();
        let first_seen = heard[0];
        let last_seen = heard[heard.len() - 1];

        // The status from each change on; the first entry is at `first_seen`.
        let status_events: Vec<&InstanceEvent> = events
            .iter()
            .copied()
            .filter(|e| e.field.eq_ignore_ascii_case(STATUS_FIELD))
            .collect();
        let initial = match status_events.first() {
            None => Some(report.status),
            Some(e) => e.previous.as_deref().and_then(|p| p.parse().ok()),
        };
        let mut changes: Vec<(DateTime<Utc>, Option<InstanceStatus>)> = vec![(first_seen, initial)];
        changes.extend(
            status_events
                .iter()
                .filter_map(|e| e.new.parse().ok().map(|s| (e.received_at, Some(s)))),
        );
        if !status_events
            .iter()
            .any(|e| e.received_at > report.last_check_in)
        {
            let at = changes.partition_point(|c| c.0 <= report.last_check_in);
            changes.insert(at, (report.last_check_in, Some(report.status)));
        }
        let status_at = |t: DateTime<Utc>| {
            let i = changes.partition_point(|c| c.0 <= t);
            if i == 0 {
                None
            } else {
                changes[i - 1].1
            }
        };

        // Where the status is known: each check-in vouches for 24 hours at most.
        let coverage: Vec<(DateTime<Utc>, DateTime<Utc>)> = if has_history {
            let mut cov: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
            for &p in &heard {
                let end = later(p, INACTIVE_AFTER);
                match cov.last_mut() {
                    Some(last) if p <= last.1 => last.1 = last.1.max(end),
                    _ => cov.push((p, end)),
                }
            }
            cov
        } else {
            vec![(first_seen, later(last_seen, INACTIVE_AFTER))]
        };

        let mut spans = Vec::new();
        let mut prev_end = first_seen;
        for (start, end) in coverage {
            push(&mut spans, prev_end, start, None);
            let mut from = start;
            let mut status = status_at(start);
            let inside =
                changes.partition_point(|c| c.0 <= start)..changes.partition_point(|c| c.0 < end);
            for &(t, s) in &changes[inside] {
                push(&mut spans, from, t, status);
                from = t;
                status = s;
            }
            push(&mut spans, from, end, status);
            prev_end = end;
        }
        StatusTimeline {
            instance_id: report.instance_id.clone(),
            first_seen,
            spans,
        }
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The instance's first check-in, or its first event if earlier: where "instance time to
    /// install" starts.
    pub fn first_seen(&self) -> DateTime<Utc> {
        self.first_seen
    }

    /// Where the data runs out: 24 hours after the last check-in.
    pub fn data_until(&self) -> DateTime<Utc> {
        self.spans.last().map_or(self.first_seen, |s| s.end)
    }

    /// The spans from [`first_seen`](Self::first_seen) to [`data_until`](Self::data_until),
    /// in order, with no gap between them.
    pub fn spans(&self) -> &[StatusSpan] {
        &self.spans
    }

    /// The status at `t`, `None` when there is no data then.
    pub fn status_at(&self, t: DateTime<Utc>) -> Option<InstanceStatus> {
        let i = self.spans.partition_point(|s| s.end <= t);
        self.spans
            .get(i)
            .filter(|s| s.start <= t)
            .and_then(|s| s.status)
    }

    /// When the instance first reached Ready.
    pub fn first_ready_at(&self) -> Option<DateTime<Utc>> {
        self.spans
            .iter()
            .find(|s| s.status == Some(InstanceStatus::Ready))
            .map(|s| s.start)
    }

    /// The spans covering exactly `[from, until)`, no data filling in before the first
    /// check-in and after the data runs out; empty when `until <= from`.
    pub fn segments(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<StatusSpan> {
        let mut out = Vec::new();
        if until <= from {
            return out;
        }
        push(&mut out, from, until.min(self.first_seen), None);
        for s in &self.spans {
            push(&mut out, s.start.max(from), s.end.min(until), s.status);
        }
        push(&mut out, from.max(self.data_until()), until, None);
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::customer::InstanceStatus::*;

    use super::*;
    use crate::customer::test_support::{event, report, status, t};

    fn span(start: &str, end: &str, status: Option<InstanceStatus>) -> StatusSpan {
        StatusSpan {
            start: t(start),
            end: t(end),
            status,
        }
    }

    #[test]
    fn without_status_events_the_report_s_status_holds_to_24h_after_the_last_check_in() {
        let r = report("i-1", Ready, "2024-05-01T10:00:00Z", "2024-05-03T10:00:00Z");
        let tl = StatusTimeline::from_report(&r, &[]);
        assert_eq!(tl.first_seen(), t("2024-05-01T10:00:00Z"));
        assert_eq!(
            tl.spans(),
            [span(
                "2024-05-01T10:00:00Z",
                "2024-05-04T10:00:00Z",
                Some(Ready)
            )],
            "Ready from the first check-in, vouched for 24 h past the last"
        );
        assert_eq!(tl.data_until(), t("2024-05-04T10:00:00Z"));
    }

    #[test]
    fn status_events_are_replayed_in_time_order() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-02T12:00:00Z");
        // Given out of order: the replay sorts by received_at.
        let events = [
            status("i-1", "2024-05-01T06:00:00Z", Some("degraded"), "ready"),
            status("i-1", "2024-05-01T00:00:00Z", None, "updating"),
            status("i-1", "2024-05-01T04:00:00Z", Some("updating"), "degraded"),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.spans(),
            [
                span(
                    "2024-05-01T00:00:00Z",
                    "2024-05-01T04:00:00Z",
                    Some(Updating)
                ),
                span(
                    "2024-05-01T04:00:00Z",
                    "2024-05-01T06:00:00Z",
                    Some(Degraded)
                ),
                span("2024-05-01T06:00:00Z", "2024-05-03T12:00:00Z", Some(Ready)),
            ],
            "the first event (no previous) gives the status at the first check-in; the report \
             agrees with the last event, so Ready runs on to last check-in + 24 h"
        );
    }

    #[test]
    fn the_first_event_s_previous_value_is_the_status_since_the_first_check_in() {
        let r = report(
            "i-1",
            Unavailable,
            "2024-05-01T00:00:00Z",
            "2024-05-01T10:00:00Z",
        );
        let events = [status(
            "i-1",
            "2024-05-01T08:00:00Z",
            Some("ready"),
            "unavailable",
        )];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.spans(),
            [
                span("2024-05-01T00:00:00Z", "2024-05-01T08:00:00Z", Some(Ready)),
                span(
                    "2024-05-01T08:00:00Z",
                    "2024-05-02T10:00:00Z",
                    Some(Unavailable)
                ),
            ]
        );
    }

    #[test]
    fn a_first_event_without_previous_after_the_first_check_in_leaves_no_data_before_it() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-01T10:00:00Z");
        let events = [status("i-1", "2024-05-01T02:00:00Z", None, "ready")];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.spans(),
            [
                span("2024-05-01T00:00:00Z", "2024-05-01T02:00:00Z", None),
                span("2024-05-01T02:00:00Z", "2024-05-02T10:00:00Z", Some(Ready)),
            ],
            "nothing says what the status was for the first two hours"
        );
    }

    #[test]
    fn the_report_s_status_holds_from_the_last_check_in_even_if_an_event_was_lost() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-01T10:00:00Z");
        // The Degraded → Ready event never arrived.
        let events = [status(
            "i-1",
            "2024-05-01T04:00:00Z",
            Some("ready"),
            "degraded",
        )];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.spans(),
            [
                span("2024-05-01T00:00:00Z", "2024-05-01T04:00:00Z", Some(Ready)),
                span(
                    "2024-05-01T04:00:00Z",
                    "2024-05-01T10:00:00Z",
                    Some(Degraded)
                ),
                span("2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z", Some(Ready)),
            ]
        );
    }

    #[test]
    fn a_report_older_than_the_events_does_not_override_them() {
        // Synced out of step: the report is from 10:00, the events go on to 14:00.
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-01T10:00:00Z");
        let events = [
            status("i-1", "2024-05-01T04:00:00Z", Some("ready"), "degraded"),
            status(
                "i-1",
                "2024-05-01T14:00:00Z",
                Some("degraded"),
                "unavailable",
            ),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.spans(),
            [
                span("2024-05-01T00:00:00Z", "2024-05-01T04:00:00Z", Some(Ready)),
                span(
                    "2024-05-01T04:00:00Z",
                    "2024-05-01T14:00:00Z",
                    Some(Degraded)
                ),
                span(
                    "2024-05-01T14:00:00Z",
                    "2024-05-02T14:00:00Z",
                    Some(Unavailable)
                ),
            ],
            "the 14:00 event says Degraded held until then, whatever the older report says"
        );
    }

    #[test]
    fn other_instances_events_are_ignored_other_fields_count_as_heard_from() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-01T10:00:00Z");
        let events = [
            status("i-2", "2024-05-01T05:00:00Z", Some("ready"), "unavailable"),
            event("i-2", "2024-04-01T00:00:00Z", "app_version", Some("1"), "2"),
            // Of i-1, a version change received after the report's last check-in.
            event(
                "i-1",
                "2024-05-01T20:00:00Z",
                "app_version",
                Some("1.0.0"),
                "1.1.0",
            ),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.first_seen(),
            t("2024-05-01T00:00:00Z"),
            "i-2's April event is not i-1's"
        );
        assert_eq!(
            tl.spans(),
            [span(
                "2024-05-01T00:00:00Z",
                "2024-05-02T20:00:00Z",
                Some(Ready)
            )],
            "i-2's outage does not show; i-1's 20:00 event extends its data to 20:00 + 24 h"
        );
    }

    #[test]
    fn an_event_before_the_first_check_in_is_where_the_instance_was_first_seen() {
        let r = report("i-1", Ready, "2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z");
        let events = [
            status("i-1", "2024-05-01T09:00:00Z", None, "updating"),
            status("i-1", "2024-05-01T11:00:00Z", Some("updating"), "ready"),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(tl.first_seen(), t("2024-05-01T09:00:00Z"));
        assert_eq!(
            tl.spans()[0],
            span(
                "2024-05-01T09:00:00Z",
                "2024-05-01T11:00:00Z",
                Some(Updating)
            )
        );
    }

    #[test]
    fn an_unknown_status_name_changes_nothing() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-01T10:00:00Z");
        let events = [
            status("i-1", "2024-05-01T02:00:00Z", Some("ready"), "exploded"),
            status("i-1", "2024-05-01T03:00:00Z", Some("exploded"), "READY"),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.spans(),
            [span(
                "2024-05-01T00:00:00Z",
                "2024-05-02T10:00:00Z",
                Some(Ready)
            )],
            "`exploded` is skipped; `READY` parses case-insensitively and repeats Ready"
        );
    }

    #[test]
    fn a_silence_of_more_than_24h_in_the_check_in_history_is_no_data() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-05T12:00:00Z");
        let check_ins = [
            t("2024-05-01T12:00:00Z"),
            // 12:00 → next day 12:00 is exactly 24 h: no gap.
            t("2024-05-02T12:00:00Z"),
            // 2024-05-02T12:00 → 05-05T00:00 is 60 h: no data from 05-03T12:00.
            t("2024-05-05T00:00:00Z"),
        ];
        let tl = StatusTimeline::from_check_in_history(&r, &[], check_ins);
        assert_eq!(
            tl.spans(),
            [
                span("2024-05-01T00:00:00Z", "2024-05-03T12:00:00Z", Some(Ready)),
                span("2024-05-03T12:00:00Z", "2024-05-05T00:00:00Z", None),
                span("2024-05-05T00:00:00Z", "2024-05-06T12:00:00Z", Some(Ready)),
            ]
        );
        assert_eq!(
            StatusTimeline::from_report(&r, &[]).spans(),
            [span(
                "2024-05-01T00:00:00Z",
                "2024-05-06T12:00:00Z",
                Some(Ready)
            )],
            "without the history the silence cannot be seen"
        );
    }

    #[test]
    fn a_status_change_after_a_silence_starts_at_its_check_in() {
        let r = report(
            "i-1",
            Unavailable,
            "2024-05-01T00:00:00Z",
            "2024-05-04T00:00:00Z",
        );
        let events = [status(
            "i-1",
            "2024-05-04T00:00:00Z",
            Some("ready"),
            "unavailable",
        )];
        let tl = StatusTimeline::from_check_in_history(&r, &events, []);
        assert_eq!(
            tl.spans(),
            [
                span("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", Some(Ready)),
                span("2024-05-02T00:00:00Z", "2024-05-04T00:00:00Z", None),
                span(
                    "2024-05-04T00:00:00Z",
                    "2024-05-05T00:00:00Z",
                    Some(Unavailable)
                ),
            ],
            "the only check-ins are the first and the last (the event's), 72 h apart"
        );
    }

    #[test]
    fn status_at_and_first_ready() {
        let r = report("i-1", Ready, "2024-05-01T00:00:00Z", "2024-05-01T10:00:00Z");
        let events = [
            status("i-1", "2024-05-01T00:00:00Z", None, "missing"),
            status("i-1", "2024-05-01T03:00:00Z", Some("missing"), "ready"),
            status("i-1", "2024-05-01T05:00:00Z", Some("ready"), "degraded"),
            status("i-1", "2024-05-01T07:00:00Z", Some("degraded"), "ready"),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.first_ready_at(),
            Some(t("2024-05-01T03:00:00Z")),
            "not the 07:00 return"
        );
        assert_eq!(
            tl.status_at(t("2024-04-30T23:59:59Z")),
            None,
            "before the first check-in"
        );
        assert_eq!(tl.status_at(t("2024-05-01T00:00:00Z")), Some(Missing));
        assert_eq!(tl.status_at(t("2024-05-01T02:59:59Z")), Some(Missing));
        assert_eq!(
            tl.status_at(t("2024-05-01T03:00:00Z")),
            Some(Ready),
            "a change counts from its instant"
        );
        assert_eq!(tl.status_at(t("2024-05-01T06:00:00Z")), Some(Degraded));
        assert_eq!(
            tl.status_at(t("2024-05-02T09:59:59Z")),
            Some(Ready),
            "still vouched for"
        );
        assert_eq!(
            tl.status_at(t("2024-05-02T10:00:00Z")),
            None,
            "24 h after the last check-in"
        );
    }

    #[test]
    fn never_ready_has_no_first_ready() {
        let r = report(
            "i-1",
            Updating,
            "2024-05-01T00:00:00Z",
            "2024-05-01T10:00:00Z",
        );
        let events = [status(
            "i-1",
            "2024-05-01T01:00:00Z",
            Some("missing"),
            "updating",
        )];
        assert_eq!(
            StatusTimeline::from_report(&r, &events).first_ready_at(),
            None
        );
    }

    #[test]
    fn segments_fill_with_no_data_and_clip() {
        let r = report("i-1", Ready, "2024-05-02T00:00:00Z", "2024-05-02T06:00:00Z");
        let events = [status(
            "i-1",
            "2024-05-02T06:00:00Z",
            Some("unavailable"),
            "ready",
        )];
        let tl = StatusTimeline::from_report(&r, &events);
        assert_eq!(
            tl.segments(t("2024-05-01T00:00:00Z"), t("2024-05-04T00:00:00Z")),
            [
                span("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", None),
                span(
                    "2024-05-02T00:00:00Z",
                    "2024-05-02T06:00:00Z",
                    Some(Unavailable)
                ),
                span("2024-05-02T06:00:00Z", "2024-05-03T06:00:00Z", Some(Ready)),
                span("2024-05-03T06:00:00Z", "2024-05-04T00:00:00Z", None),
            ],
            "the 06:00 check-in is the last, so Ready is vouched for until 05-03 06:00"
        );
        assert_eq!(
            tl.segments(t("2024-05-02T03:00:00Z"), t("2024-05-02T09:00:00Z")),
            [
                span(
                    "2024-05-02T03:00:00Z",
                    "2024-05-02T06:00:00Z",
                    Some(Unavailable)
                ),
                span("2024-05-02T06:00:00Z", "2024-05-02T09:00:00Z", Some(Ready)),
            ]
        );
        assert!(tl
            .segments(t("2024-05-02T03:00:00Z"), t("2024-05-02T03:00:00Z"))
            .is_empty());
        assert!(tl
            .segments(t("2024-05-03T00:00:00Z"), t("2024-05-02T00:00:00Z"))
            .is_empty());
    }
}
