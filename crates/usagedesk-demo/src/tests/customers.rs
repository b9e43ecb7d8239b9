//! The customer-reporting files: read back, checked against the load format's rules and
//! against each other (reports agree with their events, events chain), and for the stories
//! a manager must see (flapping, upgrades, long-dead instances, stalled installs, expiring
//! licenses).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    d(TODAY).and_hms_opt(0, 0, 0).unwrap().and_utc()
}

fn rows(dir: &Path, file: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut r = reader(&dir.join(file));
    assert_eq!(r.headers().unwrap(), header, "{file}");
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), header.len(), "{file}: {rec:?}");
            rec.iter().map(str::to_owned).collect()
        })
        .collect()
}

struct Customers {
    instances: Vec<Vec<String>>,
    licenses: Vec<Vec<String>>,
    reports: Vec<Vec<String>>,
    events: Vec<Vec<String>>,
    attempts: Vec<Vec<String>>,
    steps: Vec<Vec<String>>,
}

fn read_customers(dir: &Path) -> Customers {
    use usagedesk_domain::load_format::*;
    Customers {
        instances: rows(dir, INSTANCES_FILE, &INSTANCES_HEADER_LAST_REPORT),
        licenses: rows(dir, LICENSES_FILE, &LICENSES_HEADER),
        reports: rows(dir, INSTANCE_REPORTS_FILE, &INSTANCE_REPORTS_HEADER),
        events: rows(dir, INSTANCE_EVENTS_FILE, &INSTANCE_EVENTS_HEADER),
        attempts: rows(dir, INSTALL_ATTEMPTS_FILE, &INSTALL_ATTEMPTS_HEADER),
        steps: rows(dir, INSTALL_STEPS_FILE, &INSTALL_STEPS_HEADER),
    }
}

/// Status events of an instance, in order.
fn statuses<'a>(c: &'a Customers, instance: &str) -> Vec<(&'a str, DateTime<Utc>)> {
    c.events
        .iter()
        .filter(|e| e[0] == instance && e[1] == "status")
        .map(|e| (e[3].as_str(), t(&e[4])))
        .collect()
}

/// The rules the loader checks, and the agreement between the files.
fn check(c: &Customers, summary: &DemoSummary) {
    let now = now();
    assert_eq!(summary.licenses, c.licenses.len());
    assert_eq!(summary.instance_reports, c.reports.len());
    assert_eq!(summary.instance_events, c.events.len());
    assert_eq!(summary.install_attempts, c.attempts.len());

    // Licenses: one per account that runs the product, named by its instances.
    let instance_license: BTreeMap<&str, (&str, &str)> = c
        .instances
        .iter()
        .map(|i| (i[0].as_str(), (i[1].as_str(), i[2].as_str())))
        .collect();
    let licenses: BTreeMap<&str, &Vec<String>> =
        c.licenses.iter().map(|l| (l[0].as_str(), l)).collect();
    assert_eq!(licenses.len(), c.licenses.len(), "license ids are unique");
    for (license, account) in instance_license.values() {
        let l = licenses
            .get(license)
            .unwrap_or_else(|| panic!("{license} is in licenses.csv"));
        assert_eq!(
            l[1], *account,
            "{license} belongs to its instances' account"
        );
    }
    for l in &c.licenses {
        assert!(["prod", "trial", "dev", "community"].contains(&l[2].as_str()));
        assert!(["Stable", "Beta", "LTS", "Unstable"].contains(&l[3].as_str()));
        let created = t(&l[4]);
        assert!(created < now, "{l:?}");
        if !l[5].is_empty() {
            assert!(t(&l[5]) > created, "{l:?}");
        }
        if !l[6].is_empty() {
            let features: Vec<&str> = l[6].split(';').collect();
            let set: BTreeSet<&str> = features.iter().copied().collect();
            assert_eq!(set.len(), features.len(), "{l:?}");
            assert!(set.is_subset(&BTreeSet::from([
                "gitops",
                "airgap",
                "identity",
                "snapshots"
            ])));
        }
        for part in l[7].split(';').filter(|p| !p.is_empty()) {
            let (plan, n) = part.split_once('=').unwrap();
            assert!(usage::PLAN_IDS.contains(&plan), "{l:?}");
            assert!(n.parse::<u64>().unwrap() > 0);
        }
    }

    // Reports agree with their events; events chain (each previous is the value before).
    let mut current: BTreeMap<(&str, &str), (&str, DateTime<Utc>)> = BTreeMap::new();
    let mut first_event: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for e in &c.events {
        let at = t(&e[4]);
        assert!(at < now, "{e:?}");
        assert!(instance_license.contains_key(e[0].as_str()), "{e:?}");
        assert!(
            seen.insert((e[0].as_str(), e[1].as_str(), at)),
            "duplicate {e:?}"
        );
        assert_ne!(e[2], e[3], "an event is a change: {e:?}");
        if e[1] == "status" {
            assert!(["missing", "unavailable", "degraded", "ready", "updating"]
                .contains(&e[3].as_str()));
        }
        let key = (e[0].as_str(), e[1].as_str());
        let before = current.get(&key);
        match before {
            Some(b) => assert_eq!(b.0, e[2], "{e:?} follows the previous value"),
            // The status and the version start their history at the first check-in; the
            // cluster's first event starts from the value the first check-in reported.
            None if ["status", "app_version"].contains(&e[1].as_str()) => {
                assert_eq!(e[2], "", "{e:?} starts the history")
            }
            None => assert!(!e[2].is_empty(), "{e:?}"),
        }
        if let Some(b) = before {
            assert!(b.1 <= at, "events of a field are in time order: {e:?}");
        }
        current.insert(key, (e[3].as_str(), at));
        first_event.entry(e[0].as_str()).or_insert(at);
    }
    for r in &c.reports {
        let id = r[0].as_str();
        assert!(instance_license.contains_key(id), "{r:?}");
        assert_eq!(current[&(id, "status")].0, r[1], "{id}: status");
        assert_eq!(current[&(id, "app_version")].0, r[2], "{id}: version");
        for (field, col) in [("kubernetes_version", 4), ("nodes_ready", 6)] {
            if let Some((v, _)) = current.get(&(id, field)) {
                assert_eq!(*v, r[col], "{id}: {field}");
            }
        }
        let (first, last) = (t(&r[11]), t(&r[12]));
        assert_eq!(
            first_event[id], first,
            "{id}: the first check-in is the first event"
        );
        assert!(first <= last && last < now, "{r:?}");
        let latest = c
            .events
            .iter()
            .filter(|e| e[0] == id)
            .map(|e| t(&e[4]))
            .max()
            .unwrap();
        assert!(latest <= last, "{id}: no event after the last check-in");
        if r[5] == "true" {
            let (ready, total): (u32, u32) = (r[6].parse().unwrap(), r[7].parse().unwrap());
            assert!(ready <= total, "{r:?}");
        } else {
            assert!(r[6].is_empty() && r[7].is_empty(), "{r:?}");
        }
    }

    // Attempts: their license exists, steps in order from the start, completed only when
    // succeeded.
    let mut steps: BTreeMap<&str, Vec<(&str, DateTime<Utc>)>> = BTreeMap::new();
    for s in &c.steps {
        steps
            .entry(s[0].as_str())
            .or_default()
            .push((s[1].as_str(), t(&s[2])));
    }
    for a in &c.attempts {
        assert!(licenses.contains_key(a[1].as_str()), "{a:?}");
        assert!(a[4].contains('@'), "{a:?}");
        assert!(matches!(
            (a[6].as_str(), a[7].as_str()),
            ("online", "online") | ("online", "offline") | ("airgap", "offline")
        ));
        let s = &steps[a[0].as_str()];
        assert_eq!(s[0].0, "Started");
        assert_eq!(s[0].1, t(&a[3]));
        assert!(s.windows(2).all(|w| w[0].1 <= w[1].1), "{a:?}: {s:?}");
        assert!(s.last().unwrap().1 < now);
        assert_eq!(
            s.last().unwrap().0 == "Completed",
            a[2] == "succeeded",
            "{a:?}: {s:?}"
        );
    }
    assert_eq!(
        steps.len(),
        c.attempts.len(),
        "every step belongs to an attempt"
    );
}

#[test]
fn customer_data_is_consistent_and_tells_every_story() {
    let o = opts(3_000, 12, 5, SnapshotDensity::MonthEndOnly);
    let dir = tempfile::tempdir().unwrap();
    let summary = write_demo(&o, dir.path()).unwrap();
    let c = read_customers(dir.path());
    check(&c, &summary);
    let now = now();

    let types: BTreeMap<&str, usize> = c.licenses.iter().fold(BTreeMap::new(), |mut m, l| {
        *m.entry(l[2].as_str()).or_default() += 1;
        m
    });
    assert!(
        types.len() == 4 && types["prod"] > c.licenses.len() / 2,
        "{types:?}"
    );
    let expiring = c
        .licenses
        .iter()
        .filter(|l| !l[5].is_empty() && (now..now + Duration::days(30)).contains(&t(&l[5])))
        .count();
    let expired = c
        .licenses
        .iter()
        .filter(|l| !l[5].is_empty() && t(&l[5]) < now)
        .count();
    assert!(
        expiring > 20 && expired > 20,
        "{expiring} expiring, {expired} expired"
    );

    let status: BTreeMap<&str, usize> = c.reports.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r[1].as_str()).or_default() += 1;
        m
    });
    let share = |n: usize| n as f64 / c.reports.len() as f64;
    assert!(share(status["ready"]) > 0.75, "mostly ready: {status:?}");
    for s in ["degraded", "unavailable", "missing"] {
        assert!(status.get(s).copied().unwrap_or(0) > 0, "{s}: {status:?}");
    }
    let stale = |r: &Vec<String>| now - t(&r[12]);
    let healthy = c
        .reports
        .iter()
        .filter(|r| r[1] == "ready" && stale(r) <= Duration::hours(4))
        .count();
    assert!(
        share(healthy) > 0.5,
        "most check in every 4 hours: {healthy}"
    );
    let online: BTreeSet<&str> = c
        .instances
        .iter()
        .filter(|i| i[3] == "false")
        .map(|i| i[0].as_str())
        .collect();
    let long_dead = c
        .reports
        .iter()
        .filter(|r| online.contains(r[0].as_str()) && stale(r) > Duration::days(14))
        .count();
    assert!(long_dead > 20, "long-dead online instances: {long_dead}");
    assert!(
        c.reports.len() < c.instances.len(),
        "some instances never checked in"
    );

    // Flapping: many ready ↔ degraded changes in the last 14 days.
    let window = now - Duration::days(14);
    let flapping = c
        .reports
        .iter()
        .filter(|r| {
            let s = statuses(&c, &r[0]);
            s.iter()
                .filter(|(v, at)| *v == "degraded" && *at > window)
                .count()
                >= 3
        })
        .count();
    assert!(flapping > 10, "flapping instances: {flapping}");
    // Upgrades: a new version inside an `updating` phase in the window.
    let upgraded: BTreeSet<&str> = c
        .events
        .iter()
        .filter(|e| e[1] == "app_version" && !e[2].is_empty() && t(&e[4]) > window)
        .map(|e| e[0].as_str())
        .collect();
    assert!(upgraded.len() > 50, "upgrades: {}", upgraded.len());
    for id in &upgraded {
        let s = statuses(&c, id);
        assert!(
            s.windows(2)
                .any(|w| w[0].0 == "updating" && w[1].0 == "ready"),
            "{id} goes through updating back to ready: {s:?}"
        );
    }

    let by_status = |st: &str| c.attempts.iter().filter(|a| a[2] == st).count();
    assert!(
        by_status("succeeded") > 20 && by_status("stalled") > 5 && by_status("failed") > 5,
        "attempts of every outcome"
    );
}

#[test]
fn a_small_demo_shows_every_forced_story() {
    for seed in [1, 2, 3] {
        let o = opts(60, 3, seed, SnapshotDensity::Weekly);
        let dir = tempfile::tempdir().unwrap();
        let summary = write_demo(&o, dir.path()).unwrap();
        let c = read_customers(dir.path());
        check(&c, &summary);
        let now = now();
        let window = now - Duration::days(14);
        assert!(
            c.reports.iter().any(|r| {
                statuses(&c, &r[0])
                    .iter()
                    .filter(|(v, at)| *v == "degraded" && *at > window)
                    .count()
                    >= 3
            }),
            "seed {seed}: a flapping instance"
        );
        assert!(
            c.events
                .iter()
                .any(|e| e[1] == "app_version" && !e[2].is_empty() && t(&e[4]) > window),
            "seed {seed}: an upgrade"
        );
        assert!(
            c.reports
                .iter()
                .any(|r| now - t(&r[12]) > Duration::days(14) && r[1] != "missing"),
            "seed {seed}: a long-dead instance"
        );
        assert!(
            c.reports.iter().any(|r| r[1] == "degraded"),
            "seed {seed}: a degraded instance"
        );
        for status in ["succeeded", "failed", "stalled"] {
            assert!(
                c.attempts.iter().any(|a| a[2] == status),
                "seed {seed}: a {status} install attempt"
            );
        }
        let expires = |l: &Vec<String>| (!l[5].is_empty()).then(|| t(&l[5]));
        assert!(
            c.licenses
                .iter()
                .any(|l| expires(l).is_some_and(|e| e > now && e < now + Duration::days(30))),
            "seed {seed}: a license expiring within 30 days"
        );
        assert!(
            c.licenses
                .iter()
                .any(|l| expires(l).is_some_and(|e| e < now)),
            "seed {seed}: an expired license"
        );
        // A recent customer: its license is weeks old and an instance reached Ready after it.
        assert!(
            c.licenses.iter().any(|l| {
                let created = t(&l[4]);
                created > now - Duration::days(30)
                    && c.instances.iter().any(|i| {
                        i[1] == l[0]
                            && statuses(&c, &i[0])
                                .iter()
                                .any(|(v, at)| *v == "ready" && *at > created)
                    })
            }),
            "seed {seed}: a recent customer with time to install"
        );
    }
}

/// The Air-gapped view must show both kinds: instances that sent their last usage file within
/// the 31 days after which one is overdue, and instances overdue (a file too long ago, or
/// never). `last_report_at` is what the instance's last file carried: its last check-in, on or
/// after the day of its account's last usage row; empty when the account sent no file or the
/// instance never checked in.
#[test]
fn air_gapped_instances_are_some_overdue_and_some_recent() {
    let o = opts(3_000, 12, 5, SnapshotDensity::MonthEndOnly);
    let dir = tempfile::tempdir().unwrap();
    write_demo(&o, dir.path()).unwrap();
    let c = read_customers(dir.path());
    let mut last_usage: BTreeMap<String, chrono::NaiveDate> = BTreeMap::new();
    for rec in reader(&dir.path().join(DAILY_USAGE_FILE)).records() {
        let rec = rec.unwrap();
        let date = d(&rec[1]);
        let e = last_usage.entry(rec[0].to_string()).or_insert(date);
        *e = (*e).max(date);
    }
    let last_check_in: BTreeMap<&str, DateTime<Utc>> = c
        .reports
        .iter()
        .map(|r| (r[0].as_str(), t(&r[12])))
        .collect();
    let overdue_before = now() - Duration::days(usagedesk_domain::overdue::OVERDUE_DAYS);
    let (mut recent, mut stale, mut never) = (0, 0, 0);
    for i in &c.instances {
        let (id, account, airgapped, last) = (&i[0], &i[2], i[3] == "true", &i[5]);
        if !airgapped {
            assert_eq!(
                last, "",
                "{id}: online instances report by check-in, not by file"
            );
            continue;
        }
        match last_usage.get(account) {
            None => {
                assert_eq!(last, "", "{id}: its account sent no usage file");
                never += 1;
            }
            Some(_) if !last_check_in.contains_key(id.as_str()) => {
                assert_eq!(last, "", "{id}: it never checked in");
                never += 1;
            }
            Some(day) => {
                let at = t(last);
                assert!(at < now(), "{id}: {at} is not in the past");
                assert!(
                    at.date_naive() >= *day,
                    "{id}: {at} is before its last usage row {day}"
                );
                assert_eq!(
                    Some(&at),
                    last_check_in.get(id.as_str()),
                    "{id}: its last check-in"
                );
                if at < overdue_before {
                    stale += 1;
                } else {
                    recent += 1;
                }
            }
        }
    }
    assert!(
        recent >= 20,
        "air-gapped instances that reported recently: {recent}"
    );
    assert!(
        stale + never >= 20,
        "overdue air-gapped instances: {stale} with an old file, {never} without"
    );
    assert!(stale >= 3, "overdue with a file too long ago: {stale}");
}
