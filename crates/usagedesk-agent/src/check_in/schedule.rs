//! The loop of `usagedesk-agent run`: a check-in on start, whenever what the product reports
//! changes, and every 4 hours, retried with a growing wait; the clock and the sleeping are
//! passed in.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use usagedesk_domain::customer::CheckIn;
use usagedesk_domain::Clock;

use super::message::CheckInReceipt;
use crate::error::{AgentError, Result};

/// How often the loop checks in when nothing changes.
pub const CHECK_IN_INTERVAL: Duration = Duration::hours(4);

/// Why the loop checks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The loop started (until the first check-in succeeds).
    Start,
    /// What the product reports changed since the last check-in.
    Changed,
    /// The interval passed since the last check-in.
    Interval,
}

/// What the loop tells its caller.
#[derive(Debug)]
pub enum LoopEvent<'a> {
    /// A check-in was accepted.
    Sent {
        at: DateTime<Utc>,
        trigger: Trigger,
        receipt: &'a CheckInReceipt,
    },
    /// A check-in failed; the loop tries again after `retry_in`.
    Failed {
        at: DateTime<Utc>,
        trigger: Trigger,
        error: &'a AgentError,
        retry_in: Duration,
    },
    /// The status could not be read (reported once until it changes); no check-in is sent
    /// until it can be.
    StatusUnreadable {
        at: DateTime<Utc>,
        error: &'a AgentError,
    },
}

/// The loop's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopOptions {
    /// A check-in at least this often (4 hours).
    pub interval: Duration,
    /// How often the status is read to notice changes.
    pub poll: Duration,
    /// The first wait after a failed check-in; doubled after each failure up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        Self {
            interval: CHECK_IN_INTERVAL,
            poll: Duration::seconds(15),
            retry_min: Duration::seconds(30),
            retry_max: Duration::minutes(15),
        }
    }
}

/// Sends check-ins (the cloud, or a stand-in in tests).
pub trait CheckInSender {
    fn send(
        &mut self,
        check_in: &CheckIn,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CheckInReceipt>>;
}

/// Waits (the real time, or a test's clock). Returns `false` to stop the loop.
pub trait Sleeper {
    fn sleep(&mut self, duration: Duration) -> impl Future<Output = bool>;
}

/// Checks in on start, whenever the status `read_status` returns differs from the last one
/// sent (status, version or cluster), and when `options.interval` passed since the last
/// accepted check-in. The status is read every `options.poll`; a failed check-in is tried
/// again after a growing wait (the interval still counts from the last accepted one). Runs
/// until `sleeper` says stop.
pub async fn run_check_ins<S, Z, R, O>(
    sender: &mut S,
    sleeper: &mut Z,
    clock: &dyn Clock,
    mut read_status: R,
    options: &LoopOptions,
    mut observe: O,
) where
    S: CheckInSender,
    Z: Sleeper,
    R: FnMut() -> Result<CheckIn>,
    O: FnMut(LoopEvent<'_>),
{
    let mut last_sent: Option<(DateTime<Utc>, CheckIn)> = None;
    let mut retry: Option<(DateTime<Utc>, Duration)> = None;
    let mut last_error: Option<String> = None;
    loop {
        let now = clock.now();
        let mut wait = options.poll;
        match read_status() {
            Err(error) => {
                let text = error.to_string();
                if last_error.as_deref() != Some(text.as_str()) {
                    observe(LoopEvent::StatusUnreadable {
                        at: now,
                        error: &error,
                    });
                    last_error = Some(text);
                }
            }
            Ok(current) => {
                last_error = None;
                let trigger = match &last_sent {
                    None => Some(Trigger::Start),
                    Some((_, sent)) if *sent != current => Some(Trigger::Changed),
                    Some((at, _)) if now - *at >= options.interval => Some(Trigger::Interval),
                    Some(_) => None,
                };
                let due = retry.is_none_or(|(at, _)| now >= at);
                match trigger {
                    Some(trigger) if due => match sender.send(&current, now).await {
                        Ok(receipt) => {
                            observe(LoopEvent::Sent {
                                at: now,
                                trigger,
                                receipt: &receipt,
                            });
                            last_sent = Some((now, current));
                            retry = None;
                        }
                        Err(error) => {
                            let backoff = match retry {
                                None => options.retry_min,
                                Some((_, b)) => (b * 2).min(options.retry_max),
                            };
                            observe(LoopEvent::Failed {
                                at: now,
                                trigger,
                                error: &error,
                                retry_in: backoff,
                            });
                            retry = Some((now + backoff, backoff));
                        }
                    },
                    _ => {}
                }
            }
        }
        // Wake for the next poll, or earlier when a retry or the interval falls due.
        if let Some((at, _)) = retry {
            wait = wait.min(at - now);
        }
        if let Some((at, _)) = &last_sent {
            wait = wait.min(*at + options.interval - now);
        }
        let wait = wait.max(Duration::milliseconds(1));
        if !sleeper.sleep(wait).await {
            return;
        }
    }
}
