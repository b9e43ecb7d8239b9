//! Uptime over a window, and the uptime graph.

use crate::customer::InstanceEvent;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::timeline::{earlier, later};
use crate::customer::{Band, StatusTimeline};

/// Time in each band over a window.
#[derive(Default)]
struct Tally {
    up: Duration,
    degraded: Duration,
    down: Duration,
    no_data: Duration,
}

/// `t` without its fraction of a second.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl Tally {
    /// Time in each band over `[from, until)`, counted in whole seconds: every boundary
    /// (the window's and each status change's) is taken at the start of the second it falls
    /// in. The parts then telescope to exactly `whole(until) − whole(from)`, so they still
    /// add up to the window once each is written as whole seconds on the wire. Counting
    /// each part to the nanosecond and truncating each apart on the wire lost up to a
    /// second per part whenever `now` (or a change) fell inside a second.
    fn of(timeline: &StatusTimeline, from: DateTime<Utc>, until: DateTime<Utc>) -> Tally {
        let mut t = Tally::default();
        for s in timeline.segments(from, until) {
            let d = whole_second(s.end) - whole_second(s.start);
            match s.band() {
                Band::Up => t.up += d,
                Band::Degraded => t.degraded += d,
                Band::Down => t.down += d,
                Band::NoData => t.no_data += d,
            }
        }
        t
    }

    /// Up (Degraded included) over up and down; `None` when both are zero.
    fn ratio(&self) -> Option<f64> {
        let up = (self.up + self.degraded).as_seconds_f64();
        let known = up + self.down.as_seconds_f64();
        (known > 0.0).then(|| up / known)
    }
}

/// An instance's uptime over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Uptime {
    /// Ready, Updating or Degraded.
    #[serde(rename = "up_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub up: Duration,
    /// Missing or Unavailable.
    #[serde(rename = "down_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub down: Duration,
    /// Neither: before the first check-in, or after 24 hours without one.
    #[serde(rename = "no_data_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub no_data: Duration,
    /// `up / (up + down)`, in 0..=1; `None` when there is no data in the window at all.
    pub ratio: Option<f64>,
}

/// The uptime over `[now − window, now)` (usually [`UPTIME_WINDOW`](crate::customer::UPTIME_WINDOW), 14
/// days): Up = Ready, Updating, Degraded; Down = Missing, Unavailable; time with no data
/// (see [`StatusTimeline`]) is neither, and is counted apart. Time is counted in whole
/// seconds (each boundary at the start of its second), and `up + down + no_data` is exactly
/// the window. The window is half-open: a status change exactly at `now − window` counts from
/// then, one exactly at `now` contributes nothing. A negative window counts as empty.
pub fn uptime(timeline: &StatusTimeline, now: DateTime<Utc>, window: Duration) -> Uptime {
    let from = earlier(now, window.max(Duration::zero()));
    let t = Tally::of(timeline, from, now);
    Uptime {
        up: t.up + t.degraded,
        down: t.down,
        no_data: t.no_data,
        ratio: t.ratio(),
    }
}

/// One bar of the uptime graph: the time in each band over `[start, end)`, and the events
/// received in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UptimeBar {
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    /// Ready or Updating (Degraded is apart here, unlike in [`Uptime::up`]).
    #[serde(rename = "up_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub up: Duration,
    #[serde(rename = "degraded_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub degraded: Duration,
    /// Missing or Unavailable.
    #[serde(rename = "down_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub down: Duration,
    #[serde(rename = "no_data_secs", with = "crate::customer::secs")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub no_data: Duration,
    /// The bar's own uptime ratio, Degraded counted as up; `None` when it has no data.
    pub ratio: Option<f64>,
    /// The instance's events (any field) received in `[start, end)`, oldest first.
    pub events: Vec<InstanceEvent>,
}

/// The offset `i / n` of the way through `window`, to the nanosecond.
fn fraction(window: Duration, i: usize, n: usize) -> Duration {
    let nanos =
        i128::from(window.num_seconds()) * 1_000_000_000 + i128::from(window.subsec_nanos());
    let part = nanos * i as i128 / n as i128;
    let secs = (part / 1_000_000_000) as i64;
    let sub = (part % 1_000_000_000) as i64;
    Duration::seconds(secs) + Duration::nanoseconds(sub)
}

/// The uptime graph over `[now − window, now)` (usually [`UPTIME_WINDOW`](crate::customer::UPTIME_WINDOW)
/// and [`UPTIME_BARS`](crate::customer::UPTIME_BARS): 14 bars of one day): `bars` equal consecutive
/// bars, the last ending at `now`, so that the bars add up exactly to [`uptime`]'s window
/// (not calendar days, which would need a time zone). Each bar has its Up (Ready, Updating),
/// Degraded, Down (Missing, Unavailable) and No data times, and the events of `events` that
/// are the timeline's instance's and were received in it. An event exactly at `now` is in no
/// bar. No bars when `bars` is 0; a negative window counts as empty.
pub fn uptime_graph(
    timeline: &StatusTimeline,
    events: &[InstanceEvent],
    now: DateTime<Utc>,
    window: Duration,
    bars: usize,
) -> Vec<UptimeBar> {
    let window = window.max(Duration::zero());
    let from = earlier(now, window);
    let mut events: Vec<&InstanceEvent> = events
        .iter()
        .filter(|e| e.instance_id == timeline.instance_id())
        .filter(|e| from <= e.received_at && e.received_at < now)
        .collect();
    events.sort_by_key(|e| e.received_at);
    (0..bars)
        .map(|i| {
            let start = later(from, fraction(window, i, bars)).min(now);
            let end = if i + 1 == bars {
                now
            } else {
                later(from, fraction(window, i + 1, bars)).min(now)
            };
            let t = Tally::of(timeline, start, end);
            UptimeBar {
                start,
                end,
                up: t.up,
                degraded: t.degraded,
                down: t.down,
                no_data: t.no_data,
                ratio: t.ratio(),
                events: events
                    .iter()
                    .filter(|e| start <= e.received_at && e.received_at < end)
                    .map(|e| (*e).clone())
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::customer::InstanceStatus::*;

    use super::*;
    use crate::customer::test_support::{event, report, status, t};
    use crate::customer::{UPTIME_BARS, UPTIME_WINDOW};

    /// `now` in every case: the window is [2024-05-01T00:00Z, 2024-05-15T00:00Z).
    const NOW: &str = "2024-05-15T00:00:00Z";
    const FROM: &str = "2024-05-01T00:00:00Z";

    fn hours(h: i64) -> Duration {
        Duration::hours(h)
    }

    fn check(u: Uptime, up: i64, down: i64, no_data: i64) {
        assert_eq!(
            (u.up, u.down, u.no_data),
            (hours(up), hours(down), hours(no_data))
        );
        assert_eq!(
            u.up + u.down + u.no_data,
            UPTIME_WINDOW,
            "the bands add up to the window"
        );
    }

    #[test]
    fn ready_throughout_is_all_up() {
        let r = report("i-1", Ready, "2024-04-01T00:00:00Z", "2024-05-14T22:00:00Z");
        let u = uptime(&StatusTimeline::from_report(&r, &[]), t(NOW), UPTIME_WINDOW);
        check(u, 336, 0, 0);
        assert_eq!(u.ratio, Some(1.0));
    }

    /// Flapping: Unavailable 6 h on May 3, Degraded 12 h then Missing 12 h on May 7.
    fn flapping() -> (StatusTimeline, Vec<InstanceEvent>) {
        let r = report("i-1", Ready, "2024-04-01T00:00:00Z", "2024-05-14T20:00:00Z");
        let events = vec![
            status("i-1", "2024-05-03T00:00:00Z", Some("ready"), "unavailable"),
            status("i-1", "2024-05-03T06:00:00Z", Some("unavailable"), "ready"),
            event(
                "i-1",
                "2024-05-05T10:00:00Z",
                "app_version",
                Some("1.0.0"),
                "1.1.0",
            ),
            status("i-1", "2024-05-07T00:00:00Z", Some("ready"), "degraded"),
            status("i-1", "2024-05-07T12:00:00Z", Some("degraded"), "missing"),
            status("i-1", "2024-05-08T00:00:00Z", Some("missing"), "ready"),
        ];
        (StatusTimeline::from_report(&r, &events), events)
    }

    #[test]
    fn flapping_counts_degraded_as_up_and_missing_and_unavailable_as_down() {
        let (tl, _) = flapping();
        let u = uptime(&tl, t(NOW), UPTIME_WINDOW);
        // Down: 6 h Unavailable + 12 h Missing = 18 h; up: the other 318 h, the 12 h
        // Degraded included.
        check(u, 318, 18, 0);
        assert_eq!(u.ratio, Some(318.0 / 336.0));
    }

    #[test]
    fn events_exactly_on_the_window_s_edges() {
        let r = report("i-1", Unavailable, "2024-04-20T00:00:00Z", NOW);
        let events = [
            // At the window's start: Unavailable counts from then (the Ready before it, not).
            status("i-1", FROM, Some("ready"), "unavailable"),
            status("i-1", "2024-05-02T00:00:00Z", Some("unavailable"), "ready"),
            // At now: contributes nothing.
            status("i-1", NOW, Some("ready"), "unavailable"),
        ];
        let tl = StatusTimeline::from_report(&r, &events);
        let u = uptime(&tl, t(NOW), UPTIME_WINDOW);
        check(u, 13 * 24, 24, 0);
        assert_eq!(u.ratio, Some(13.0 / 14.0));

        let graph = uptime_graph(&tl, &events, t(NOW), UPTIME_WINDOW, UPTIME_BARS);
        assert_eq!(
            graph[0].events,
            [events[0].clone()],
            "the event at the start is in bar 0"
        );
        assert_eq!(
            (graph[0].down, graph[0].up),
            (hours(24), hours(0)),
            "bar 0 is all Unavailable"
        );
        assert!(
            graph.iter().all(|b| !b.events.contains(&events[2])),
            "the event at now is in no bar"
        );
        assert_eq!(
            graph[13].up,
            hours(24),
            "the last bar ends at now, before the change"
        );
    }

    #[test]
    fn a_change_just_inside_the_window_start_counts_the_status_before_it() {
        let r = report("i-1", Unavailable, "2024-04-20T00:00:00Z", NOW);
        let events = [status(
            "i-1",
            "2024-05-01T00:00:01Z",
            Some("ready"),
            "unavailable",
        )];
        let u = uptime(
            &StatusTimeline::from_report(&r, &events),
            t(NOW),
            UPTIME_WINDOW,
        );
        assert_eq!(
            u.up,
            Duration::seconds(1),
            "Ready for the window's first second"
        );
        assert_eq!(u.down, UPTIME_WINDOW - Duration::seconds(1));
    }

    #[test]
    fn an_instance_first_seen_inside_the_window() {
        // First check-in 4 days before now: the 10 days before it are no data.
        let r = report("i-1", Ready, "2024-05-11T00:00:00Z", "2024-05-14T23:00:00Z");
        let events = [
            status("i-1", "2024-05-11T00:00:00Z", None, "updating"),
            status(
                "i-1",
                "2024-05-11T02:00:00Z",
                Some("updating"),
                "unavailable",
            ),
            status("i-1", "2024-05-11T03:00:00Z", Some("unavailable"), "ready"),
        ];
        let u = uptime(
            &StatusTimeline::from_report(&r, &events),
            t(NOW),
            UPTIME_WINDOW,
        );
        // Up: 2 h Updating + 93 h Ready (May 11 03:00 → May 15 00:00); down 1 h.
        check(u, 95, 1, 240);
        assert_eq!(
            u.ratio,
            Some(95.0 / 96.0),
            "the no-data days do not lower the ratio"
        );
    }

    #[test]
    fn an_instance_dead_long_before_the_window_is_all_no_data() {
        let r = report("i-1", Ready, "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z");
        let tl = StatusTimeline::from_report(&r, &[]);
        let u = uptime(&tl, t(NOW), UPTIME_WINDOW);
        check(u, 0, 0, 336);
        assert_eq!(u.ratio, None, "no data: no ratio, rather than 0% or 100%");
        let graph = uptime_graph(&tl, &[], t(NOW), UPTIME_WINDOW, UPTIME_BARS);
        assert!(graph
            .iter()
            .all(|b| b.no_data == hours(24) && b.ratio.is_none()));
    }

    #[test]
    fn a_stale_instance_keeps_its_last_status_for_24_hours_then_no_data() {
        // Last check-in May 10, 00:00: Ready until May 11, 00:00, then nothing.
        let r = report("i-1", Ready, "2024-04-01T00:00:00Z", "2024-05-10T00:00:00Z");
        let u = uptime(&StatusTimeline::from_report(&r, &[]), t(NOW), UPTIME_WINDOW);
        check(u, 10 * 24, 0, 4 * 24);
        assert_eq!(u.ratio, Some(1.0));
    }

    #[test]
    fn a_gap_between_check_ins_is_no_data() {
        // Check-ins every 4 h from Apr 20 to May 3 00:00, silence until May 6 00:00, then
        // every 4 h again until May 14 20:00; Unavailable on May 10 from 00:00 to 08:00.
        let r = report("i-1", Ready, "2024-04-20T00:00:00Z", "2024-05-14T20:00:00Z");
        let every_4h = |from: &str, until: &str| {
            let (mut at, until) = (t(from), t(until));
            std::iter::from_fn(move || {
                let this = at;
                at += hours(4);
                (this <= until).then_some(this)
            })
        };
        let check_ins: Vec<_> = every_4h("2024-04-20T00:00:00Z", "2024-05-03T00:00:00Z")
            .chain(every_4h("2024-05-06T00:00:00Z", "2024-05-14T20:00:00Z"))
            .collect();
        let events = [
            status("i-1", "2024-05-10T00:00:00Z", Some("ready"), "unavailable"),
            status("i-1", "2024-05-10T08:00:00Z", Some("unavailable"), "ready"),
        ];
        let tl = StatusTimeline::from_check_in_history(&r, &events, check_ins);
        let u = uptime(&tl, t(NOW), UPTIME_WINDOW);
        // No data: May 4 00:00 (24 h after the May 3 check-in) → May 6 00:00 = 48 h.
        // Down 8 h; up 336 − 48 − 8 = 280 h.
        check(u, 280, 8, 48);
        assert_eq!(u.ratio, Some(280.0 / 288.0));

        let graph = uptime_graph(&tl, &events, t(NOW), UPTIME_WINDOW, UPTIME_BARS);
        assert_eq!(
            graph[2].no_data,
            hours(0),
            "May 3 is vouched for by its 00:00 check-in"
        );
        assert_eq!(graph[3].no_data, hours(24), "May 4");
        assert_eq!(graph[4].no_data, hours(24), "May 5");
        assert_eq!(graph[5].no_data, hours(0), "May 6 starts with a check-in");
    }

    #[test]
    fn zero_or_negative_window_is_empty() {
        let r = report("i-1", Ready, "2024-04-01T00:00:00Z", NOW);
        let tl = StatusTimeline::from_report(&r, &[]);
        for w in [Duration::zero(), hours(-5)] {
            let u = uptime(&tl, t(NOW), w);
            assert_eq!(
                (u.up, u.down, u.no_data, u.ratio),
                (hours(0), hours(0), hours(0), None)
            );
        }
    }

    #[test]
    fn an_absurd_window_saturates_instead_of_panicking() {
        let r = report("i-1", Ready, "2024-04-01T00:00:00Z", NOW);
        let tl = StatusTimeline::from_report(&r, &[]);
        let u = uptime(&tl, t(NOW), Duration::MAX);
        assert_eq!(
            u.up,
            t(NOW) - t("2024-04-01T00:00:00Z"),
            "all of the data is in it"
        );
        assert_eq!(u.ratio, Some(1.0));
        let graph = uptime_graph(&tl, &[], t(NOW), Duration::MAX, 3);
        assert_eq!(graph.len(), 3);
        assert_eq!(graph[2].end, t(NOW));
    }

    #[test]
    fn degraded_is_up_in_the_ratio_but_its_own_band_in_the_graph() {
        let r = report(
            "i-1",
            Degraded,
            "2024-04-01T00:00:00Z",
            "2024-05-14T23:00:00Z",
        );
        let tl = StatusTimeline::from_report(&r, &[]);
        let u = uptime(&tl, t(NOW), UPTIME_WINDOW);
        check(u, 336, 0, 0);
        assert_eq!(u.ratio, Some(1.0), "Degraded the whole time is 100% up");
        let graph = uptime_graph(&tl, &[], t(NOW), UPTIME_WINDOW, UPTIME_BARS);
        assert_eq!(graph.len(), 14);
        for bar in &graph {
            assert_eq!(
                (bar.up, bar.degraded),
                (hours(0), hours(24)),
                "Degraded, not Up"
            );
            assert_eq!(bar.ratio, Some(1.0));
        }
    }

    #[test]
    fn the_graph_has_one_bar_per_day_ending_at_now() {
        let (tl, events) = flapping();
        let graph = uptime_graph(&tl, &events, t(NOW), UPTIME_WINDOW, UPTIME_BARS);
        assert_eq!(graph.len(), 14);
        assert_eq!(graph[0].start, t(FROM));
        assert_eq!(graph[13].end, t(NOW));
        for (i, bar) in graph.iter().enumerate() {
            assert_eq!(bar.end - bar.start, hours(24), "bar {i} is a day");
            if i > 0 {
                assert_eq!(bar.start, graph[i - 1].end, "bar {i} follows bar {}", i - 1);
            }
        }

        // May 3 (bar 2): 6 h Unavailable then 18 h Ready, with its two events.
        let may3 = &graph[2];
        assert_eq!(may3.start, t("2024-05-03T00:00:00Z"));
        assert_eq!(
            (may3.up, may3.degraded, may3.down, may3.no_data),
            (hours(18), hours(0), hours(6), hours(0))
        );
        assert_eq!(may3.ratio, Some(0.75));
        assert_eq!(may3.events, events[0..2]);
        // May 5 (bar 4): all Ready; the version change is an event of the bar too.
        assert_eq!(graph[4].up, hours(24));
        assert_eq!(graph[4].events, [events[2].clone()]);
        // May 7 (bar 6): 12 h Degraded, 12 h Missing; the Missing → Ready at May 8 00:00
        // belongs to bar 7.
        let may7 = &graph[6];
        assert_eq!(
            (may7.up, may7.degraded, may7.down),
            (hours(0), hours(12), hours(12))
        );
        assert_eq!(may7.ratio, Some(0.5), "Degraded up, Missing down");
        assert_eq!(may7.events, events[3..5]);
        assert_eq!(graph[7].events, [events[5].clone()]);

        // The bars add up to the ratio's numbers.
        let u = uptime(&tl, t(NOW), UPTIME_WINDOW);
        let sum = |f: fn(&UptimeBar) -> Duration| {
            graph.iter().map(f).fold(Duration::zero(), |a, b| a + b)
        };
        assert_eq!(sum(|b| b.up) + sum(|b| b.degraded), u.up);
        assert_eq!(sum(|b| b.down), u.down);
        assert_eq!(sum(|b| b.no_data), u.no_data);
    }

    #[test]
    fn bars_that_do_not_divide_the_window_evenly_still_tile_it() {
        let (tl, events) = flapping();
        let graph = uptime_graph(&tl, &events, t(NOW), UPTIME_WINDOW, 5);
        assert_eq!(graph.len(), 5);
        assert_eq!(graph[0].start, t(FROM));
        assert_eq!(graph[4].end, t(NOW));
        assert!(
            graph.windows(2).all(|w| w[0].end == w[1].start),
            "no gap, no overlap"
        );
        // 336 h / 5 = 67 h 12 min each.
        assert_eq!(graph[1].start, t(FROM) + hours(67) + Duration::minutes(12));
        let total: usize = graph.iter().map(|b| b.events.len()).sum();
        assert_eq!(
            total,
            events.len(),
            "every event in the window is in exactly one bar"
        );
        assert!(uptime_graph(&tl, &events, t(NOW), UPTIME_WINDOW, 0).is_empty());
    }

    #[test]
    fn the_graph_leaves_out_other_instances_events() {
        let (tl, mut events) = flapping();
        events.push(status(
            "i-2",
            "2024-05-05T00:00:00Z",
            Some("ready"),
            "missing",
        ));
        let graph = uptime_graph(&tl, &events, t(NOW), UPTIME_WINDOW, UPTIME_BARS);
        assert_eq!(
            graph[4].events,
            [events[2].clone()],
            "i-2's event is not i-1's"
        );
    }

    /// A small deterministic generator (xorshift64*), so the cases below are the same on
    /// every run.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A time `secs` seconds after `base`, with a random fraction of a second.
        fn time(&mut self, base: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
            let whole = self.below(secs.max(1)) as i64;
            base + Duration::seconds(whole)
                + Duration::nanoseconds(self.below(1_000_000_000) as i64)
        }
    }

    fn as_secs(v: &serde_json::Value, key: &str) -> i64 {
        v[key].as_i64().unwrap()
    }

    #[test]
    fn the_parts_written_in_seconds_add_up_to_the_window_for_any_timeline() {
        let statuses = ["ready", "updating", "degraded", "unavailable", "missing"];
        let window_secs = UPTIME_WINDOW.num_seconds();
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for case in 0..2000 {
            let base = t("2024-04-01T00:00:00Z");
            let first = g.time(base, 40 * 86_400);
            let now = g.time(first, 30 * 86_400);
            let last = g.time(first, (now - first).num_seconds() as u64);
            let mut times: Vec<DateTime<Utc>> = (0..g.below(12))
                .map(|_| g.time(first, (last - first).num_seconds() as u64))
                .collect();
            times.sort();
            let mut previous: Option<&str> = None;
            let mut events = Vec::new();
            for at in times {
                let new = statuses[g.below(5) as usize];
                let mut e = status("i-1", "2024-01-01T00:00:00Z", previous, new);
                e.received_at = at;
                events.push(e);
                previous = Some(new);
            }
            let current = match previous.unwrap_or("ready") {
                "ready" => Ready,
                "updating" => Updating,
                "degraded" => Degraded,
                "unavailable" => Unavailable,
                _ => Missing,
            };
            let mut r = report(
                "i-1",
                current,
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:00:00Z",
            );
            r.first_check_in = first;
            r.last_check_in = last;
            let tl = StatusTimeline::from_report(&r, &events);

            let u = serde_json::to_value(uptime(&tl, now, UPTIME_WINDOW)).unwrap();
            let sum =
                as_secs(&u, "up_secs") + as_secs(&u, "down_secs") + as_secs(&u, "no_data_secs");
            assert_eq!(
                sum, window_secs,
                "case {case} (now {now}): up + down + no data as written must be the 14 days"
            );

            let graph = uptime_graph(&tl, &events, now, UPTIME_WINDOW, UPTIME_BARS);
            let mut total = 0;
            for bar in serde_json::to_value(&graph).unwrap().as_array().unwrap() {
                total += ["up_secs", "degraded_secs", "down_secs", "no_data_secs"]
                    .iter()
                    .map(|k| as_secs(bar, k))
                    .sum::<i64>();
            }
            assert_eq!(
                total, window_secs,
                "case {case}: the bars as written tile the window to the second"
            );
        }
    }

    #[test]
    fn serialized_as_seconds() {
        let r = report("i-1", Ready, "2024-05-14T00:00:00Z", "2024-05-14T12:00:00Z");
        let u = uptime(&StatusTimeline::from_report(&r, &[]), t(NOW), UPTIME_WINDOW);
        let json = serde_json::to_value(u).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "up_secs": 24 * 3600,
                "down_secs": 0,
                "no_data_secs": 13 * 24 * 3600,
                "ratio": 1.0,
            })
        );
        assert_eq!(
            serde_json::from_value::<Uptime>(json).unwrap(),
            u,
            "and back"
        );
    }
}
