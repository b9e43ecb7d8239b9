//! Customer reporting (seed `001` "Customer Reporting", DESIGN.md "License", "Instance"):
//! the wire types (licenses, instance status and cluster details, instance events, install
//! attempts) shared by the cloud (load format, feed, check-ins), the agent, the cache, the CLI
//! and the app, and the pure rules over them. No I/O and no clock: every function that
//! depends on the present takes `now`.
//!
//! - [`aggregate_status`]: an instance's status from its resources' states.
//! - [`StatusTimeline`]: an instance's status over time, from its report and its events.
//! - [`uptime`]: up, down and no-data time over the last 14 days, and the uptime ratio.
//! - [`uptime_graph`]: the two-week graph, one bar per day with its bands and events.
//! - [`time_to_install`]: license and instance time to install, for the instance that most
//!   recently reached its *first* Ready.
//! - [`activity`]: inactive after 24 hours without a check-in, and how stale the status is.
//! - [`short_id`], [`expires_within`], [`is_expired`]: small helpers for the app and the CLI.
//!
//! # The rules, and the choices made where the seeds leave room
//!
//! - **Aggregate status** ([`aggregate_status`]): the first matching rule of: none reported →
//!   Missing; any Unavailable → Unavailable; any Degraded → Degraded; any Updating →
//!   Updating; all Ready → Ready. The one combination the list leaves open, some resources
//!   Missing and all the others Ready, is **Missing** (a resource not created yet, or deleted,
//!   means the application is not all there). Missing and Unavailable both count as Down, so
//!   the choice does not change uptime.
//! - **Up, Down, no data** ([`Band`]): Up = Ready, Updating, Degraded; Down = Missing,
//!   Unavailable; time with no data is neither and is counted apart. The graph shows Degraded
//!   as its own band; the ratio counts it as Up.
//! - **What a check-in vouches for** ([`StatusTimeline`]): the agent checks in on every status
//!   change and every 4 hours, so a reported status holds until the next change, but a
//!   check-in vouches for it for at most [`INACTIVE_AFTER`] (24 hours), the same threshold
//!   that makes an instance inactive. Hence:
//!   - before the instance's first check-in (or first event, if earlier): no data;
//!   - from its last check-in: its last status for 24 hours, then no data. A healthy
//!     instance between two 4-hourly check-ins never shows a no-data sliver, an instance is
//!     inactive exactly when its data runs out, and a later `now` does not rewrite a past
//!     period unless new data about it arrives. The price: an instance that dies is counted
//!     in its last status for up to 24 hours;
//!   - between check-ins: events are recorded only on change, so the report and the events
//!     alone cannot show a silence between the first and the last check-in; given the
//!     complete check-in history ([`StatusTimeline::from_check_in_history`]), a silence of
//!     more than 24 hours is no data from 24 hours after the check-in before it to the one
//!     after it;
//!   - the report's status holds from its last check-in (an event may have been lost),
//!     unless a status event was received after it (the report lags behind the events).
//! - **Windows** are half-open, `[now − 14 days, now)`: an event exactly at `now − 14 days`
//!   counts from then, one exactly at `now` contributes nothing (and falls in no bar).
//! - **Graph bars** split the window into equal consecutive parts aligned to `now` (with the
//!   defaults: 14 bars of 24 hours, not calendar days, which would need a time zone), so the
//!   bars add up exactly to the ratio's window.
//! - **Time to install**: license time = license created → the instance's first Ready
//!   (clamped to zero when the license was created after it, e.g. re-issued); instance time =
//!   the instance's first event (its first check-in, or an earlier event) → its first Ready.
//!   Shown for the instance whose first Ready is the latest (ties: the smallest instance id);
//!   `None` ("No Ready Instances") when no instance was ever Ready.
//! - **Inactive**: no check-in for 24 hours or more; `stale_for` is never negative (a
//!   check-in stamped after `now`, from clock skew, is 0 old).
//! - **Durations in JSON** are whole seconds under a `_secs` name (`up_secs`, ...), numbers
//!   in TypeScript; times are RFC 3339 strings.

mod activity;
mod install;
mod secs;
mod status;
mod timeline;
mod types;
mod uptime;

use chrono::Duration;

pub use activity::{activity, expires_within, is_expired, short_id, Activity};
pub use install::{
    instance_time_to_install, license_time_to_install, time_to_install, TimeToInstall,
};
pub use status::{aggregate_status, counts_as_up, Band};
pub use timeline::{StatusSpan, StatusTimeline};
pub use types::*;
pub use uptime::{uptime, uptime_graph, Uptime, UptimeBar};

/// No check-in for this long makes an instance inactive; it is also how long a check-in
/// vouches for the status it reported.
pub const INACTIVE_AFTER: Duration = Duration::hours(24);

/// The uptime window: the last two weeks.
pub const UPTIME_WINDOW: Duration = Duration::days(14);

/// Bars in the uptime graph: one per day of [`UPTIME_WINDOW`].
pub const UPTIME_BARS: usize = 14;

/// The `field` of an [`InstanceEvent`] that records
/// a status change (`previous` and `new` are status names, e.g. `ready`).
pub const STATUS_FIELD: &str = "status";

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(all(test, feature = "ts"))]
mod ts_tests {
    use ts_rs::{Config, TS};

    /// The declarations as the desktop crate generates them (`with_large_int("number")`).
    fn decls() -> String {
        let cfg = Config::new().with_large_int("number");
        [
            super::Band::decl(&cfg),
            super::StatusSpan::decl(&cfg),
            super::StatusTimeline::decl(&cfg),
            super::Uptime::decl(&cfg),
            super::UptimeBar::decl(&cfg),
            super::TimeToInstall::decl(&cfg),
            super::Activity::decl(&cfg),
        ]
        .join("\n")
    }

    #[test]
    fn durations_are_whole_seconds_as_numbers() {
        let d = decls();
        println!("{d}");
        for field in [
            "up_secs: number",
            "down_secs: number",
            "no_data_secs: number",
            "degraded_secs: number",
            "license_secs: number",
            "instance_secs: number",
            "stale_for_secs: number",
            "ratio: number | null",
            "status: InstanceStatus | null",
            "events: Array<InstanceEvent>",
        ] {
            assert!(d.contains(field), "{field} in:\n{d}");
        }
    }
}
