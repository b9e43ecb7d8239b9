//! What the demo must show on the entitlement views: licenses over and under their seats
//! (against the plan's seat metric), nested licenses, renewals in every coming month.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};

use super::*;

#[test]
fn licenses_go_over_and_under_their_seats_nest_and_renew_in_every_coming_month() {
    let o = opts(3_000, 12, 5, SnapshotDensity::MonthEndOnly);
    let dir = tempfile::tempdir().unwrap();
    write_demo(&o, dir.path()).unwrap();

    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    for rec in reader(&dir.path().join(ACCOUNTS_FILE)).records() {
        let rec = rec.unwrap();
        if !rec[2].is_empty() {
            parent.insert(rec[0].to_string(), rec[2].to_string());
        }
    }
    let metric_of: BTreeMap<String, usize> = reader(&dir.path().join(PLANS_FILE))
        .records()
        .map(|r| {
            let r = r.unwrap();
            let at = [
                "users_registered",
                "users_with_token",
                "users_with_activity",
            ]
            .iter()
            .position(|m| *m == &r[2])
            .expect("a known seat metric");
            (r[0].to_string(), at)
        })
        .collect();
    // The last daily row of each account (rows are by account, then date).
    let mut last: BTreeMap<String, (String, [u64; 3])> = BTreeMap::new();
    for rec in reader(&dir.path().join(DAILY_USAGE_FILE)).records() {
        let r = rec.unwrap();
        let n = |i: usize| r[i].parse::<u64>().unwrap();
        last.insert(r[0].to_string(), (r[2].to_string(), [n(3), n(4), n(5)]));
    }

    let (mut over, mut under) = (0, 0);
    let mut holders = BTreeSet::new();
    let mut expiry_months = BTreeSet::new();
    let today = d(TODAY);
    for rec in reader(&dir.path().join(LICENSES_FILE)).records() {
        let l = rec.unwrap();
        holders.insert(l[1].to_string());
        if !l[5].is_empty() {
            let e: DateTime<Utc> = l[5].parse().unwrap();
            let months_ahead =
                (e.year() - today.year()) * 12 + e.month() as i32 - today.month() as i32;
            expiry_months.insert(months_ahead);
        }
        let Some((plan, counts)) = last.get(&l[1]) else {
            continue;
        };
        // The seats for the account's last plan against that plan's seat metric.
        let Some(seats) = l[7]
            .split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(p, _)| p == plan)
            .map(|(_, n)| n.parse::<u64>().unwrap())
        else {
            continue;
        };
        let used = counts[metric_of[plan]];
        if used > seats {
            over += 1;
        } else if used * 2 < seats {
            under += 1;
        }
    }
    assert!(over > 20, "licenses over their seats: {over}");
    assert!(under > 20, "licenses well under their seats: {under}");
    let nested = holders
        .iter()
        .filter(|h| {
            let mut a = parent.get(*h);
            while let Some(p) = a {
                if holders.contains(p) {
                    return true;
                }
                a = parent.get(p);
            }
            false
        })
        .count();
    assert!(
        nested >= 3,
        "accounts holding a license below another holder: {nested}"
    );
    for ahead in 0..12 {
        assert!(
            expiry_months.contains(&ahead),
            "a license renews {ahead} months from now: {expiry_months:?}"
        );
    }
}
