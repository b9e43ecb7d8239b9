//! Customer reporting (seed `001`): one license per account that runs the product, what each
//! instance last reported and the events that led there, and install attempts with their
//! progress steps. Everything is dated before `today` 00:00 UTC (the demo's "now").
//!
//! Each instance follows a story drawn from its account's stream: installed some time after
//! its license was created (an `unavailable` first check-in, `ready` minutes to hours later),
//! sometimes upgraded since, then in the last two and a half weeks healthy (now and then a
//! short `degraded` blip), upgraded (`ready → updating`, the new version, `ready` again),
//! flapping between `ready` and `degraded`, degraded, unavailable or missing now, silent for a
//! few days, or dead for weeks. Air-gapped instances report what their last monthly file
//! carried, so they look stale. Accounts that never report usage have instances that never
//! checked in. Recent licenses come with install attempts: succeeded, failed, stalled.
//!
//! A handful of accounts are forced into the stories a manager must be able to see, so even
//! a small demo has them: a recent customer with a failed then a succeeded install, flapping,
//! an upgrade, a long-dead instance, a stalled install, a degraded instance; licenses expiring
//! within 30 days and expired ones.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::instances::{DemoInstance, Reporting};
use crate::model::DemoAccount;
use crate::usage::PLAN_IDS;

/// Random streams of the customer data: this plus the account's tree index.
pub(crate) const CUSTOMER_STREAM: u64 = 3 << 32;
/// Random streams of the nested licenses (accounts with children): this plus the index.
pub(crate) const NESTED_STREAM: u64 = 5 << 32;

/// How far back the instance stories reach (the uptime graph shows 14 days).
const WINDOW_DAYS: i64 = 18;

/// The stories forced onto the first eligible accounts, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forced {
    /// License 20 days old; a failed install attempt, then a succeeded one; healthy since.
    RecentCustomer,
    /// Flapping between ready and degraded; its license expires in 12 days.
    Flapping,
    /// Upgraded twice in the last weeks; a trial license expiring in 9 days.
    Upgraded,
    /// Last check-in weeks ago; its license expired 20 days ago.
    LongDead,
    /// A license 6 days old whose only install attempt stalled: no instance checked in.
    StalledInstall,
    /// Degraded since yesterday.
    Degraded,
}

impl Forced {
    pub const ALL: [Forced; 6] = [
        Self::RecentCustomer,
        Self::Flapping,
        Self::Upgraded,
        Self::LongDead,
        Self::StalledInstall,
        Self::Degraded,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoLicense {
    pub id: String,
    pub license_type: &'static str,
    pub channel: &'static str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// `gitops;airgap;…`
    pub features: String,
    /// `plan=N;…`
    pub seats: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoReport {
    pub instance_id: String,
    /// The tracked fields' final values, in `FIELDS` order ("" for none).
    pub values: [String; 10],
    pub first_check_in: DateTime<Utc>,
    pub last_check_in: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoEvent {
    pub instance_id: String,
    pub field: &'static str,
    pub previous: Option<String>,
    pub new: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoAttempt {
    pub id: String,
    pub status: &'static str,
    pub started_at: DateTime<Utc>,
    pub user_email: String,
    pub environment: String,
    pub mode: &'static str,
    pub registry: &'static str,
    pub steps: Vec<(&'static str, DateTime<Utc>)>,
}

/// Everything about one account that runs the product.
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomerData {
    pub license: Option<DemoLicense>,
    pub reports: Vec<DemoReport>,
    /// Instance by instance, each in time order.
    pub events: Vec<DemoEvent>,
    pub attempts: Vec<DemoAttempt>,
}

/// The tracked fields, as the load format's `instance_events.csv` names them.
pub(crate) use usagedesk_domain::customer::TRACKED_FIELDS as FIELDS;
const STATUS: usize = 0;
const APP: usize = 1;
const K8S: usize = 3;
const NODES_READY: usize = 5;
const NODES_TOTAL: usize = 6;

/// `2026-03-01T09:30:00Z`.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn minutes(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(rng.gen_range(lo * 60..=hi * 60))
}

fn days(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> Duration {
    Duration::seconds((rng.gen_range(lo..hi) * 86_400.0) as i64)
}

/// A working hour of `day` (UTC).
fn business_time(rng: &mut ChaCha8Rng, day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(
        rng.gen_range(7..18),
        rng.gen_range(0..60),
        rng.gen_range(0..60),
    )
    .expect("valid time")
    .and_utc()
}

/// The vendor's releases: one every 19 days, the latest 6 days before "now". Release `n`
/// (counting up) is version `2.{n / 4}.{n % 4}`.
struct Releases {
    latest_at: DateTime<Utc>,
}

impl Releases {
    const EVERY: i64 = 19;
    const LATEST: i64 = 131;

    /// The serial of the latest release at `t` (never below 0).
    fn at(&self, t: DateTime<Utc>) -> i64 {
        if t >= self.latest_at {
            return Self::LATEST;
        }
        let back = (self.latest_at - t).num_days() / Self::EVERY + 1;
        (Self::LATEST - back).max(0)
    }

    fn released(&self, serial: i64) -> DateTime<Utc> {
        self.latest_at - Duration::days((Self::LATEST - serial) * Self::EVERY)
    }

    fn version(serial: i64) -> String {
        format!("2.{}.{}", serial / 4, serial % 4)
    }
}

/// Kubernetes `1.{minor}.{patch}` current at `t` (a minor every four months, 1.31 now).
fn kubernetes_at(rng: &mut ChaCha8Rng, now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let months = (now - t).num_days() / 30;
    let minor = (31 - months / 4 - rng.gen_range(0..2)).max(20);
    format!("1.{minor}.{}", rng.gen_range(0..9))
}

/// The cluster an instance runs in: the tracked fields 2..=9 ("" for none).
fn cluster(
    rng: &mut ChaCha8Rng,
    airgapped: bool,
    now: DateTime<Utc>,
    installed: DateTime<Utc>,
) -> [String; 8] {
    const ONLINE: [(&str, u32); 7] = [
        ("eks", 26),
        ("gke", 17),
        ("aks", 13),
        ("openshift", 11),
        ("k3s", 8),
        ("rke2", 5),
        ("embedded-cluster", 20),
    ];
    const AIRGAPPED: [(&str, u32); 4] = [
        ("openshift", 25),
        ("rke2", 20),
        ("k3s", 15),
        ("embedded-cluster", 40),
    ];
    let table: &[(&str, u32)] = if airgapped { &AIRGAPPED } else { &ONLINE };
    let distribution = table.choose_weighted(rng, |(_, w)| *w).expect("weights").0;
    let embedded = distribution == "embedded-cluster";
    let (ready, total) = if embedded {
        let total = *[1u32, 1, 3, 3, 3, 5].choose(rng).expect("sizes");
        (total.to_string(), total.to_string())
    } else {
        (String::new(), String::new())
    };
    let months = (now - installed).num_days() / 30;
    let agent = format!("0.{}.{}", (14 - months / 3).max(1), rng.gen_range(0..4));
    let (provider, regions): (&str, &[&str]) = match distribution {
        "eks" => (
            "aws",
            &[
                "us-east-1",
                "us-west-2",
                "eu-west-1",
                "eu-central-1",
                "ap-southeast-2",
            ],
        ),
        "gke" => ("gcp", &["us-central1", "europe-west1", "asia-northeast1"]),
        "aks" => ("azure", &["eastus", "westeurope", "uksouth"]),
        _ if !airgapped && rng.gen_bool(0.15) => ("aws", &["us-east-1", "eu-west-1"]),
        _ => ("", &[""]),
    };
    [
        distribution.to_owned(),
        kubernetes_at(rng, now, installed),
        embedded.to_string(),
        ready,
        total,
        agent,
        provider.to_owned(),
        regions.choose(rng).expect("regions").to_string(),
    ]
}

/// One instance's tracked values and the events their changes make.
struct Timeline<'a> {
    instance_id: &'a str,
    values: [String; 10],
    events: Vec<DemoEvent>,
    /// The time of the latest event: later ones never go before it.
    last: DateTime<Utc>,
    /// The time of each field's latest event: one field changes at most once a second.
    field_last: [Option<DateTime<Utc>>; 10],
}

impl<'a> Timeline<'a> {
    /// The first check-in at `at`: the cluster's values are the report's starting values;
    /// the status and the app version start their history.
    fn install(
        instance_id: &'a str,
        at: DateTime<Utc>,
        status: &str,
        version: String,
        cluster: [String; 8],
    ) -> Self {
        let mut values: [String; 10] = Default::default();
        for (slot, v) in values[2..].iter_mut().zip(cluster) {
            *slot = v;
        }
        let mut t = Timeline {
            instance_id,
            values,
            events: Vec::new(),
            last: at,
            field_last: [None; 10],
        };
        t.set(at, STATUS, status.to_owned());
        t.set(at, APP, version);
        t
    }

    /// Sets a field at `at` (moved after the last event when earlier), recording an event
    /// when the value changes. Returns the time used.
    fn set(&mut self, at: DateTime<Utc>, field: usize, value: String) -> DateTime<Utc> {
        let mut at = at.max(self.last);
        if self.field_last[field] == Some(at) {
            at += Duration::seconds(1);
        }
        if self.values[field] != value {
            self.field_last[field] = Some(at);
            let previous = std::mem::replace(&mut self.values[field], value.clone());
            self.events.push(DemoEvent {
                instance_id: self.instance_id.to_owned(),
                field: FIELDS[field],
                previous: (!previous.is_empty()).then_some(previous),
                new: value,
                at,
            });
            self.last = at;
        }
        at
    }

    fn status(&mut self, at: DateTime<Utc>, status: &str) -> DateTime<Utc> {
        self.set(at, STATUS, status.to_owned())
    }

    fn embedded(&self) -> bool {
        self.values[4] == "true"
    }

    /// A degraded embedded cluster has lost a node; a ready one has them all.
    fn nodes_follow(&mut self, at: DateTime<Utc>, degraded: bool) {
        if !self.embedded() {
            return;
        }
        let total: u32 = self.values[NODES_TOTAL].parse().unwrap_or(1);
        let ready = if degraded {
            total.saturating_sub(1)
        } else {
            total
        };
        self.set(at, NODES_READY, ready.to_string());
    }

    /// `ready → updating`, the new version, `ready` again minutes later.
    fn upgrade(
        &mut self,
        rng: &mut ChaCha8Rng,
        at: DateTime<Utc>,
        version: String,
    ) -> DateTime<Utc> {
        let at = self.status(at, "updating");
        let at = self.set(at + Duration::seconds(rng.gen_range(20..120)), APP, version);
        self.status(at + minutes(rng, 4, 40), "ready")
    }
}

/// What drives one account's customer data.
pub(crate) struct Context<'a> {
    pub account: &'a DemoAccount,
    pub instances: &'a [DemoInstance],
    pub reporting: Reporting,
    pub forced: Option<Forced>,
    /// `today` 00:00 UTC: everything is dated before it.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Story {
    Healthy { blip: bool },
    Upgraded,
    Flapping,
    DegradedNow,
    UnavailableNow,
    MissingNow,
    Inactive,
    LongDead,
    StuckInstall,
}

fn draw_story(rng: &mut ChaCha8Rng, recent: bool, disabled: bool) -> Story {
    use Story::*;
    if disabled {
        return LongDead;
    }
    if recent {
        return [
            (Healthy { blip: false }, 80),
            (StuckInstall, 10),
            (Flapping, 10),
        ]
        .choose_weighted(rng, |s| s.1)
        .expect("weights")
        .0;
    }
    [
        (Healthy { blip: false }, 48),
        (Healthy { blip: true }, 12),
        (Upgraded, 15),
        (Flapping, 6),
        (DegradedNow, 4),
        (UnavailableNow, 2),
        (MissingNow, 1),
        (Inactive, 3),
        (LongDead, 7),
    ]
    .choose_weighted(rng, |s| s.1)
    .expect("weights")
    .0
}

/// Generates the account's license, its instances' reports and events, and its install
/// attempts.
pub(crate) fn of_account(ctx: &Context<'_>, rng: &mut ChaCha8Rng) -> CustomerData {
    let now = ctx.now;
    let account = ctx.account;
    let stem = account.id.strip_prefix("acc-").unwrap_or(&account.id);
    let Some(first) = ctx.instances.first() else {
        return CustomerData::default();
    };
    let releases = Releases {
        latest_at: now - Duration::days(6) + Duration::hours(rng.gen_range(9..17)),
    };
    let account_created = business_time(rng, account.created_at);
    let age_days = (now - account_created).num_days();

    // ---- The license ----
    let forced = ctx.forced;
    let license_created = match forced {
        Some(Forced::RecentCustomer) => now - days(rng, 19.5, 20.5),
        Some(Forced::StalledInstall) => now - days(rng, 6.0, 6.5),
        _ => (account_created + Duration::hours(rng.gen_range(1..24 * 10)))
            .min(now - Duration::hours(1)),
    };
    let license_type: &'static str = match forced {
        Some(Forced::Upgraded) => "trial",
        Some(_) => "prod",
        None if age_days < 120 => {
            [("trial", 55), ("prod", 35), ("dev", 10)]
                .choose_weighted(rng, |t| t.1)
                .expect("weights")
                .0
        }
        None => {
            [("prod", 72), ("dev", 12), ("community", 11), ("trial", 5)]
                .choose_weighted(rng, |t| t.1)
                .expect("weights")
                .0
        }
    };
    let license_created = if license_type == "trial" && forced.is_none() {
        // A trial is recent: 30 days from its creation.
        (now - days(rng, 1.0, 75.0)).max(license_created)
    } else {
        license_created
    };
    let expires_at = match (forced, license_type) {
        (Some(Forced::Flapping), _) => Some(now + days(rng, 11.5, 12.5)),
        (Some(Forced::Upgraded), _) => Some(now + days(rng, 8.5, 9.5)),
        (Some(Forced::LongDead), _) => Some(now - days(rng, 19.5, 20.5)),
        (_, "trial") => Some(license_created + Duration::days(30)),
        (_, "community") => None,
        (_, "dev") if rng.gen_bool(0.5) => None,
        (_, "dev") => Some(next_anniversary(license_created, now, 6)),
        _ if rng.gen_bool(0.10) => None,
        _ if rng.gen_bool(0.05) => {
            Some(next_anniversary(license_created, now, 12) - Duration::days(365))
        }
        _ => Some(next_anniversary(license_created, now, 12)),
    };
    let expires_at = expires_at.filter(|e| *e > license_created);
    let channel = match license_type {
        "prod" if rng.gen_bool(0.15) => "LTS",
        "prod" | "community" => "Stable",
        "trial" if rng.gen_bool(0.3) => "Beta",
        "trial" => "Stable",
        _ if rng.gen_bool(0.5) => "Beta",
        _ => "Unstable",
    };
    let any_airgapped = ctx.instances.iter().any(|i| i.airgapped);
    let mut features = Vec::new();
    let rich = matches!(license_type, "prod" | "trial");
    if rng.gen_bool(if rich { 0.4 } else { 0.15 }) {
        features.push("gitops");
    }
    if any_airgapped || rng.gen_bool(0.12) {
        features.push("airgap");
    }
    if rng.gen_bool(if rich { 0.5 } else { 0.1 }) {
        features.push("identity");
    }
    if rng.gen_bool(if rich { 0.6 } else { 0.3 }) {
        features.push("snapshots");
    }
    let seats = match license_type {
        "community" => format!("basic={}", [10, 25].choose(rng).expect("sizes")),
        _ => {
            let plan = ctx.reporting.plan as usize;
            let registered = ctx.reporting.registered.max(5) as f64;
            // Seats around what the plan's seat metric last counted: about a quarter of the
            // licenses are over their seats, the others under, some well under.
            let used = ctx.reporting.last_counts[plan].max(5) as f64;
            let mut parts = vec![(plan, seats_near(used * rng.gen_range(0.75..1.6)))];
            if rng.gen_bool(0.25) {
                let other = (plan + rng.gen_range(1..3)) % 3;
                parts.push((other, nice(registered * rng.gen_range(0.1..0.4))));
            }
            parts.sort();
            parts
                .iter()
                .map(|(p, n)| format!("{}={n}", PLAN_IDS[*p]))
                .collect::<Vec<_>>()
                .join(";")
        }
    };
    let license = DemoLicense {
        id: first.license_id.clone(),
        license_type,
        channel,
        created_at: license_created,
        expires_at,
        features: features.join(";"),
        seats,
    };

    // ---- Instances ----
    let mut data = CustomerData {
        license: Some(license),
        ..CustomerData::default()
    };
    let mut production_install: Option<(DateTime<Utc>, bool, bool)> = None;
    for (k, inst) in ctx.instances.iter().enumerate() {
        let installed = match (k, forced) {
            (0, Some(Forced::StalledInstall)) => None,
            (0, Some(Forced::RecentCustomer)) => Some(license_created + days(rng, 2.0, 3.0)),
            (0, _) if rng.gen_bool(0.7) => Some(license_created + minutes(rng, 60, 48 * 60)),
            (0, _) => Some(license_created + days(rng, 2.0, 21.0)),
            _ => Some(license_created + days(rng, 0.05, 60.0)),
        };
        let checks_in = if inst.airgapped {
            ctx.reporting.reported
        } else {
            ctx.reporting.reported || forced.is_some()
        };
        let Some(installed) = installed.filter(|t| *t < now - Duration::hours(6) && checks_in)
        else {
            continue;
        };
        let mut cluster = cluster(rng, inst.airgapped, now, installed);
        if k == 0 && matches!(forced, Some(Forced::Flapping | Forced::Degraded)) {
            // Forced stories show on an embedded cluster: nodes follow the status.
            cluster[0] = "embedded-cluster".into();
            cluster[2] = "true".into();
            cluster[3] = "3".into();
            cluster[4] = "3".into();
            cluster[6] = String::new();
            cluster[7] = String::new();
        }
        let serial = releases.at(installed) - i64::from(rng.gen_bool(0.2));
        let mut t = Timeline::install(
            &inst.id,
            installed,
            "unavailable",
            Releases::version(serial.max(0)),
            cluster,
        );
        let window = now - Duration::days(WINDOW_DAYS);
        let recent = installed > now - Duration::days(14);
        let story = match (k, forced) {
            (0, Some(Forced::RecentCustomer)) => Story::Healthy { blip: false },
            (0, Some(Forced::Flapping)) => Story::Flapping,
            (0, Some(Forced::Upgraded)) => Story::Upgraded,
            (0, Some(Forced::LongDead)) => Story::LongDead,
            (0, Some(Forced::Degraded)) => Story::DegradedNow,
            _ if inst.airgapped => Story::Healthy { blip: false },
            _ => draw_story(rng, recent, account.disabled),
        };
        // Ready some minutes (rarely hours) after the first check-in.
        let ready_after = match rng.gen_range(0..100) {
            0..=69 => minutes(rng, 4, 25),
            70..=94 => minutes(rng, 25, 120),
            _ => minutes(rng, 120, 20 * 60),
        };
        let first_ready = installed + ready_after;
        let story = if first_ready > now - Duration::minutes(5) {
            Story::StuckInstall
        } else {
            story
        };
        if story != Story::StuckInstall {
            t.status(first_ready, "ready");
        }
        if k == 0 {
            production_install = Some((installed, inst.airgapped, t.embedded()));
        }
        // An upgrade before the window, for some older instances.
        let mut serial = releases.at(installed).min(serial.max(0));
        if installed < window - Duration::days(30) && rng.gen_bool(0.25) {
            let at = installed + (window - installed) / 2 + days(rng, 0.0, 10.0);
            let newer = releases.at(at);
            if newer > serial && at < window {
                serial = newer;
                t.upgrade(rng, at, Releases::version(newer));
            }
        }
        let mut last = now - minutes(rng, 1, 4 * 60);
        let in_window = |rng: &mut ChaCha8Rng, from: DateTime<Utc>| {
            let from = from.max(window).max(first_ready + Duration::hours(1));
            let span = (now - Duration::hours(2) - from).num_seconds().max(1);
            from + Duration::seconds(rng.gen_range(0..span))
        };
        match story {
            Story::Healthy { blip } => {
                if blip {
                    let at = in_window(rng, window);
                    let at = t.status(at, "degraded");
                    t.nodes_follow(at, true);
                    let back = at + minutes(rng, 5, 90);
                    let at = t.status(back, "ready");
                    t.nodes_follow(at, false);
                }
                if inst.airgapped {
                    // What the last monthly file carried.
                    last = match ctx.reporting.last_report {
                        Some(d) => business_time(rng, d),
                        None => installed + minutes(rng, 60, 300),
                    };
                    last = last.max(t.last + Duration::minutes(1));
                }
            }
            Story::Upgraded => {
                let times: Vec<DateTime<Utc>> = {
                    let n = if forced.is_some() {
                        2
                    } else {
                        rng.gen_range(1..=2)
                    };
                    let mut v: Vec<_> = (0..n).map(|_| in_window(rng, window)).collect();
                    v.sort();
                    v
                };
                for at in times {
                    let newest = releases.at(at).max(serial + 1).min(Releases::LATEST);
                    if newest > serial && releases.released(newest) <= now {
                        serial = newest;
                        t.upgrade(rng, at, Releases::version(newest));
                    }
                }
                if rng.gen_bool(0.2) {
                    let at = in_window(rng, window);
                    let current = t.values[K8S].clone();
                    if let Some(next) = bump_minor(&current) {
                        t.set(at, K8S, next);
                    }
                }
            }
            Story::Flapping => {
                let from = (now - Duration::days(14)).max(first_ready + Duration::hours(1));
                let n = rng.gen_range(6..=30);
                let mut times: Vec<DateTime<Utc>> = (0..n).map(|_| in_window(rng, from)).collect();
                times.sort();
                times.dedup();
                for (j, at) in times.into_iter().enumerate() {
                    let degraded = j % 2 == 0;
                    let at = t.status(at, if degraded { "degraded" } else { "ready" });
                    t.nodes_follow(at, degraded);
                }
            }
            Story::DegradedNow => {
                let at = t.status(now - minutes(rng, 60, 3 * 24 * 60), "degraded");
                t.nodes_follow(at, true);
            }
            Story::UnavailableNow => {
                t.status(now - minutes(rng, 60, 2 * 24 * 60), "unavailable");
            }
            Story::MissingNow => {
                t.status(now - days(rng, 1.0, 5.0), "missing");
            }
            Story::Inactive | Story::LongDead => {
                let silent = if story == Story::Inactive {
                    days(rng, 1.1, 6.0)
                } else if forced == Some(Forced::LongDead) {
                    days(rng, 24.0, 26.0)
                } else {
                    days(rng, 15.0, 60.0)
                };
                // Not before it ran a while after its install.
                let earliest = t.last + minutes(rng, 30, 48 * 60);
                last = (now - silent).max(earliest);
                if rng.gen_bool(0.4) {
                    let at = (last - minutes(rng, 10, 120)).max(t.last + Duration::minutes(2));
                    if at < last {
                        t.status(at, "unavailable");
                    }
                }
            }
            Story::StuckInstall => {
                if rng.gen_bool(0.5) {
                    t.status(installed + minutes(rng, 20, 180), "degraded");
                }
            }
        }
        let last = last.max(t.last).min(now - Duration::seconds(1));
        data.reports.push(DemoReport {
            instance_id: inst.id.clone(),
            values: t.values.clone(),
            first_check_in: installed,
            last_check_in: last,
        });
        data.events.append(&mut t.events);
    }

    // ---- Install attempts (recent licenses and installs) ----
    let recent_license = license_created > now - Duration::days(120);
    let recent_install = production_install.is_some_and(|(t, _, _)| t > now - Duration::days(120));
    if recent_license
        || recent_install
        || forced.is_some_and(|f| matches!(f, Forced::RecentCustomer | Forced::StalledInstall))
    {
        let email = email(rng, &account.name, stem);
        let (airgapped, embedded) = match production_install {
            Some((_, a, e)) => (a, e),
            None => (first.airgapped, rng.gen_bool(0.3)),
        };
        let kind = InstallKind::new(rng, airgapped, embedded);
        let mut n = 0;
        let mut next_id = || {
            n += 1;
            format!("att-{stem}-{n}")
        };
        match production_install {
            Some((installed, _, _)) => {
                let end = installed - minutes(rng, 1, 10);
                let start = end - minutes(rng, 15, 150);
                let failed_first = forced == Some(Forced::RecentCustomer) || rng.gen_bool(0.3);
                let room = start - license_created;
                if failed_first && room > Duration::hours(2) {
                    let at = license_created
                        + room / 4
                        + Duration::seconds(rng.gen_range(0..room.num_seconds().max(1) / 2));
                    let status = if forced == Some(Forced::RecentCustomer) || rng.gen_bool(0.6) {
                        "failed"
                    } else {
                        "stalled"
                    };
                    data.attempts
                        .push(kind.attempt(rng, next_id(), status, at, None, &email));
                }
                if start > license_created {
                    data.attempts.push(kind.attempt(
                        rng,
                        next_id(),
                        "succeeded",
                        start,
                        Some(end),
                        &email,
                    ));
                }
            }
            None => {
                let room = (now - Duration::days(2)) - license_created;
                if room > Duration::hours(1) {
                    let at =
                        license_created + Duration::seconds(rng.gen_range(0..room.num_seconds()));
                    let status = if forced == Some(Forced::StalledInstall) || rng.gen_bool(0.6) {
                        "stalled"
                    } else {
                        "failed"
                    };
                    data.attempts
                        .push(kind.attempt(rng, next_id(), status, at, None, &email));
                }
            }
        }
    }
    data
}

/// The first date `months`-month terms from `created` end after `now`.
fn next_anniversary(created: DateTime<Utc>, now: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    let mut t = created;
    let mut n = 0;
    while t <= now && n < 400 {
        n += 1;
        t = created
            .checked_add_months(chrono::Months::new(months * n))
            .unwrap_or(now + Duration::days(365));
    }
    t.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

/// A round seat count at least `x`: 10, 25, 50, 100, 250, 500, …
/// Seats near `x`: a multiple of 5, at least 5.
fn seats_near(x: f64) -> u64 {
    ((x / 5.0).round() as u64).max(1) * 5
}

/// A license for an account with children, on about a quarter of those below the roots: a
/// production license for its own last plan (or basic), created after the account, renewed
/// yearly (its renewal falls in the coming 12 months).
pub(crate) fn nested_license(
    account: &DemoAccount,
    reporting: Reporting,
    now: DateTime<Utc>,
    rng: &mut ChaCha8Rng,
) -> Option<DemoLicense> {
    if account.parent.is_none() || account.disabled || !rng.gen_bool(0.25) {
        return None;
    }
    let stem = account.id.strip_prefix("acc-").unwrap_or(&account.id);
    let created = (business_time(rng, account.created_at)
        + Duration::hours(rng.gen_range(1..24 * 30)))
    .min(now - Duration::days(1));
    let plan = reporting.plan as usize;
    let used = reporting.last_counts[plan].max(5) as f64;
    Some(DemoLicense {
        id: format!("lic-{stem}-group"),
        license_type: "prod",
        channel: "Stable",
        created_at: created,
        expires_at: Some(next_anniversary(created, now, 12)),
        features: "gitops;identity".into(),
        seats: format!(
            "{}={}",
            PLAN_IDS[plan],
            seats_near(used * rng.gen_range(0.75..1.6))
        ),
    })
}

fn nice(x: f64) -> u64 {
    let mut scale = 1u64;
    loop {
        for m in [10, 25, 50] {
            if (m * scale) as f64 >= x || scale >= 1_000_000 {
                return m * scale;
            }
        }
        scale *= 10;
    }
}

/// `1.30.4` → `1.31.0`.
fn bump_minor(v: &str) -> Option<String> {
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?.parse::<u32>().ok()?);
    Some(format!("{major}.{}.0", minor + 1))
}

const FIRST: [&str; 24] = [
    "ana", "ben", "carla", "deepak", "elena", "femi", "grace", "hiro", "ines", "jonas", "kim",
    "lucia", "marco", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq", "uma", "victor",
    "wen", "yusuf",
];
const LAST: [&str; 20] = [
    "alvarez", "becker", "chen", "dubois", "eriksen", "fischer", "garcia", "haddad", "ito",
    "jensen", "kowalski", "larsen", "moreau", "nakamura", "okafor", "patel", "rossi", "schmidt",
    "tanaka", "weber",
];

/// `first.last@{company}.example`, the company from the account's name (ASCII letters and
/// digits of its first words), or its id when the name has none.
fn email(rng: &mut ChaCha8Rng, name: &str, stem: &str) -> String {
    let mut domain: String = name
        .split_whitespace()
        .take(2)
        .flat_map(|w| w.chars())
        .map(|c| match c {
            'ä' | 'á' | 'à' | 'â' | 'å' | 'ã' | 'Ä' | 'Å' | 'Á' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ö' | 'ó' | 'ò' | 'ô' | 'ø' | 'õ' | 'Ö' | 'Ø' => 'o',
            'ü' | 'ú' | 'ù' | 'û' | 'Ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ß' => 's',
            other => other,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(24)
        .collect();
    if domain.is_empty() {
        domain = format!("customer{stem}");
    }
    format!(
        "{}.{}@{domain}.example",
        FIRST.choose(rng).expect("names"),
        LAST.choose(rng).expect("names")
    )
}

/// How an installation runs: its environment text, mode and registry, and its steps.
struct InstallKind {
    environment: String,
    mode: &'static str,
    registry: &'static str,
    steps: &'static [&'static str],
}

impl InstallKind {
    fn new(rng: &mut ChaCha8Rng, airgapped: bool, embedded: bool) -> Self {
        let environment = if embedded {
            [
                "Ubuntu 22.04",
                "Ubuntu 24.04",
                "RHEL 9.4",
                "Rocky Linux 9",
                "Debian 12",
            ]
            .choose(rng)
            .expect("systems")
            .to_string()
        } else {
            ["EKS", "GKE", "AKS", "OpenShift", "K3s", "RKE2"]
                .choose(rng)
                .expect("distributions")
                .to_string()
        };
        let (mode, registry) = if airgapped {
            ("airgap", "offline")
        } else if rng.gen_bool(0.2) {
            ("online", "offline")
        } else {
            ("online", "online")
        };
        let steps: &'static [&'static str] = match (embedded, airgapped) {
            (true, false) => &["Started", "Assets downloaded", "Completed"],
            (true, true) => &["Started", "Air gap bundle downloaded", "Completed"],
            (false, false) => &["Started", "Registry accessed", "Images pulled", "Completed"],
            (false, true) => &[
                "Started",
                "Air gap bundle downloaded",
                "Images pushed to registry",
                "Completed",
            ],
        };
        Self {
            environment,
            mode,
            registry,
            steps,
        }
    }

    /// An attempt started at `start`: all its steps, ending at `end`, when it succeeded;
    /// otherwise the first ones only (it stopped).
    fn attempt(
        &self,
        rng: &mut ChaCha8Rng,
        id: String,
        status: &'static str,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        email: &str,
    ) -> DemoAttempt {
        let n = self.steps.len();
        let reached = match end {
            Some(_) => n,
            None => rng.gen_range(1..n),
        };
        let mut at = start;
        let mut steps = Vec::with_capacity(reached);
        for (j, name) in self.steps[..reached].iter().enumerate() {
            if j > 0 {
                at += minutes(rng, 1, 25);
            }
            if j + 1 == n {
                if let Some(end) = end {
                    at = end.max(at);
                }
            }
            steps.push((*name, at));
        }
        DemoAttempt {
            id,
            status,
            started_at: start,
            user_email: email.to_owned(),
            environment: self.environment.clone(),
            mode: self.mode,
            registry: self.registry,
            steps,
        }
    }
}
