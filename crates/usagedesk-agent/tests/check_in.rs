//! The check-in loop's timing, with a clock and a sleeper the test drives: on start, on every
//! change of what the product reports, every 4 hours after the last accepted check-in, and
//! retries with a growing wait that do not move the 4-hour mark. (The signed round trip
//! against the real cloud is tested in `usagedesk-cloud`'s `tests/check_in.rs`.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use usagedesk_agent::check_in::{
    run_check_ins, CheckInReceipt, CheckInSender, LoopEvent, LoopOptions, Sleeper, Trigger,
};
use usagedesk_agent::AgentError;
use usagedesk_domain::customer::{CheckIn, ClusterDetails, InstanceReport, InstanceStatus};
use usagedesk_domain::Clock;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl Clock for TestClock {
    fn today(&self) -> chrono::NaiveDate {
        self.now().date_naive()
    }
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Moves the test clock forward instead of waiting; stops at `until`.
struct TestSleeper {
    clock: TestClock,
    until: DateTime<Utc>,
    slept: Vec<Duration>,
}

impl Sleeper for TestSleeper {
    async fn sleep(&mut self, d: Duration) -> bool {
        self.slept.push(d);
        let mut now = self.clock.0.lock().unwrap();
        *now += d;
        *now < self.until
    }
}

/// Records every check-in; fails those whose time is in `failing`.
struct TestSender {
    sent: Vec<(DateTime<Utc>, CheckIn)>,
    failing: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    attempts: usize,
}

impl CheckInSender for TestSender {
    async fn send(
        &mut self,
        c: &CheckIn,
        now: DateTime<Utc>,
    ) -> Result<CheckInReceipt, AgentError> {
        self.attempts += 1;
        if self.failing.iter().any(|(a, b)| (*a..*b).contains(&now)) {
            return Err(AgentError::Unreachable {
                url: "http://cloud.test/".into(),
                reason: "connection refused".into(),
            });
        }
        self.sent.push((now, c.clone()));
        Ok(CheckInReceipt {
            report: InstanceReport {
                instance_id: "inst-1".into(),
                status: InstanceStatus::Ready,
                app_version: c.app_version.clone(),
                cluster: c.cluster.clone(),
                first_check_in: now,
                last_check_in: now,
            },
            events: Vec::new(),
        })
    }
}

fn status(state: InstanceStatus, version: &str) -> CheckIn {
    CheckIn {
        resources: BTreeMap::from([("web".to_string(), state)]),
        app_version: version.into(),
        cluster: ClusterDetails {
            kubernetes_version: "1.30.2".into(),
            agent_version: "0.1.0".into(),
            ..ClusterDetails::default()
        },
    }
}

/// Runs the loop from `start` to `until` with the product reporting `timeline(now)`;
/// returns the sender, the triggers observed and the events.
async fn run(
    start: &str,
    until: &str,
    failing: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    timeline: impl Fn(DateTime<Utc>) -> Result<CheckIn, AgentError>,
) -> (TestSender, Vec<(DateTime<Utc>, Trigger)>, Vec<String>) {
    let clock = TestClock(Arc::new(Mutex::new(t(start))));
    let mut sleeper = TestSleeper {
        clock: clock.clone(),
        until: t(until),
        slept: Vec::new(),
    };
    let mut sender = TestSender {
        sent: Vec::new(),
        failing,
        attempts: 0,
    };
    let mut triggers = Vec::new();
    let mut log = Vec::new();
    let options = LoopOptions {
        poll: Duration::seconds(30),
        ..LoopOptions::default()
    };
    let reader_clock = clock.clone();
    run_check_ins(
        &mut sender,
        &mut sleeper,
        &clock,
        || timeline(reader_clock.now()),
        &options,
        |e| match e {
            LoopEvent::Sent { at, trigger, .. } => {
                triggers.push((at, trigger));
                log.push(format!("sent {trigger:?} at {at}"));
            }
            LoopEvent::Failed {
                at,
                trigger,
                retry_in,
                ..
            } => log.push(format!(
                "failed {trigger:?} at {at}, retry in {}s",
                retry_in.num_seconds()
            )),
            LoopEvent::StatusUnreadable { at, error } => {
                log.push(format!("unreadable at {at}: {}", error.code()))
            }
        },
    )
    .await;
    assert!(
        sleeper.slept.iter().all(|d| *d <= Duration::seconds(30)),
        "the loop never sleeps past a poll"
    );
    (sender, triggers, log)
}

#[tokio::test]
async fn checks_in_on_start_on_each_change_and_every_four_hours() {
    // Ready from 09:00; Degraded from 10:00:00 to 10:05:00; upgraded to 1.5.0 at 12:00.
    let (sender, triggers, _) = run(
        "2026-03-02T09:00:00Z",
        "2026-03-02T23:00:00Z",
        Vec::new(),
        |now| {
            let version = if now >= t("2026-03-02T12:00:00Z") {
                "1.5.0"
            } else {
                "1.4.2"
            };
            let degraded = (t("2026-03-02T10:00:00Z")..t("2026-03-02T10:05:00Z")).contains(&now);
            Ok(status(
                if degraded {
                    InstanceStatus::Degraded
                } else {
                    InstanceStatus::Ready
                },
                version,
            ))
        },
    )
    .await;
    let expected = [
        ("2026-03-02T09:00:00Z", Trigger::Start),
        ("2026-03-02T10:00:00Z", Trigger::Changed),
        ("2026-03-02T10:05:00Z", Trigger::Changed),
        ("2026-03-02T12:00:00Z", Trigger::Changed),
        ("2026-03-02T16:00:00Z", Trigger::Interval),
        ("2026-03-02T20:00:00Z", Trigger::Interval),
    ];
    let expected: Vec<(DateTime<Utc>, Trigger)> =
        expected.iter().map(|(s, tr)| (t(s), *tr)).collect();
    assert_eq!(triggers, expected);
    assert_eq!(sender.sent.len(), 6);
    assert_eq!(sender.sent[1].1.resources["web"], InstanceStatus::Degraded);
    assert_eq!(sender.sent[3].1.app_version, "1.5.0");
}

#[tokio::test]
async fn a_failed_check_in_is_retried_with_growing_waits_and_the_interval_counts_from_success() {
    // The cloud is unreachable from 09:00 to 09:05: the start check-in is tried at 09:00,
    // then after 30 s, 60 s, 120 s (09:03:30), and 240 s later (09:07:30) it goes through.
    let (sender, triggers, log) = run(
        "2026-03-02T09:00:00Z",
        "2026-03-02T13:30:00Z",
        vec![(t("2026-03-02T09:00:00Z"), t("2026-03-02T09:05:00Z"))],
        |_| Ok(status(InstanceStatus::Ready, "1.4.2")),
    )
    .await;
    assert_eq!(
        log[..5],
        [
            "failed Start at 2026-03-02 09:00:00 UTC, retry in 30s",
            "failed Start at 2026-03-02 09:00:30 UTC, retry in 60s",
            "failed Start at 2026-03-02 09:01:30 UTC, retry in 120s",
            "failed Start at 2026-03-02 09:03:30 UTC, retry in 240s",
            "sent Start at 2026-03-02 09:07:30 UTC",
        ]
    );
    assert_eq!(sender.attempts, 6);
    assert_eq!(
        triggers,
        vec![
            (t("2026-03-02T09:07:30Z"), Trigger::Start),
            (t("2026-03-02T13:07:30Z"), Trigger::Interval),
        ]
    );
}

#[tokio::test]
async fn an_unreadable_status_is_reported_once_and_nothing_is_sent_until_it_reads() {
    let (sender, triggers, log) = run(
        "2026-03-02T09:00:00Z",
        "2026-03-02T09:10:00Z",
        Vec::new(),
        |now| {
            if now < t("2026-03-02T09:02:00Z") {
                Err(AgentError::StatusFile {
                    file: "status.json".into(),
                    reason: "EOF while parsing".into(),
                })
            } else {
                Ok(status(InstanceStatus::Updating, "1.4.2"))
            }
        },
    )
    .await;
    assert_eq!(
        log,
        [
            "unreadable at 2026-03-02 09:00:00 UTC: invalid_status_file",
            "sent Start at 2026-03-02 09:02:00 UTC",
        ]
    );
    assert_eq!(triggers.len(), 1);
    assert_eq!(sender.sent.len(), 1);
}
