//! The Attention list and its reminders on a real cache file holding a dataset built here:
//! a tree with nested licenses, plans with different seat metrics, months not available,
//! licenses created after or expired before the month, air-gapped instances that never
//! reported, reported long ago or lately. What the list must hold is computed here from the
//! definitions (docs/attention.md, docs/entitlements.md), with loops over the dataset, not
//! by the code under test.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use usagedesk_attention::{
    check_reminders, counts, each_item, page, AttentionItem, AttentionKind, MAX_NOTICES,
};
use usagedesk_cache::Cache;
use usagedesk_domain::api::{Change, MonthUsage};
use usagedesk_domain::customer::{License, LicenseFeatures, LicenseType};
use usagedesk_domain::{Account, AccountStatus, Instance, Metric, Plan, UsageCounts, YearMonth};

/// A small deterministic generator (the dataset is the same every run).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn plans() -> Vec<Plan> {
    vec![
        Plan::new("basic", "Basic"),
        Plan::new("standard", "Standard").with_seat_metric(Metric::UsersWithToken),
        Plan::new("premium", "Premium").with_seat_metric(Metric::UsersWithActivity),
    ]
}

fn metric_of(plan: &str) -> Metric {
    plans()
        .into_iter()
        .find(|p| p.id == plan)
        .unwrap()
        .seat_metric
}

fn value(c: &UsageCounts, m: Metric) -> u64 {
    match m {
        Metric::UsersRegistered => c.users_registered,
        Metric::UsersWithToken => c.users_with_token,
        Metric::UsersWithActivity => c.users_with_activity,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

#[derive(Default, Clone)]
struct World {
    accounts: Vec<Account>,
    licenses: Vec<License>,
    instances: Vec<Instance>,
    usage: Vec<MonthUsage>,
}

fn account(id: String, parent: Option<&str>) -> Account {
    Account {
        name: format!("Name of {id}"),
        id,
        parent_id: parent.map(Into::into),
        status: AccountStatus::Active,
        created_at: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
    }
}

fn world(seed: u64) -> World {
    let mut rng = Rng(seed);
    let mut w = World::default();
    let month: YearMonth = "2026-02".parse().unwrap();
    w.accounts.push(account("root".into(), None));
    for s in 0..4 {
        let sp = format!("sp{s}");
        w.accounts.push(account(sp.clone(), Some("root")));
        for c in 0..6 {
            let cu = format!("c{s}-{c}");
            w.accounts.push(account(cu.clone(), Some(&sp)));
            for k in 0..2 {
                w.accounts.push(account(format!("{cu}-{k}"), Some(&cu)));
            }
        }
    }
    let plan_ids = ["basic", "standard", "premium"];
    let mut n = 0;
    for a in w.accounts.clone() {
        let depth = a.id.matches('-').count() + usize::from(a.id != "root");
        let holds = match depth {
            0 => true,
            1 => rng.chance(50),
            2 => rng.chance(70),
            _ => rng.chance(15),
        };
        // A few accounts hold two licenses.
        for _ in 0..(if holds {
            1 + usize::from(rng.chance(15))
        } else {
            0
        }) {
            n += 1;
            let created = match rng.below(10) {
                0 => now() - Duration::days(10), // created after the month: not in force
                _ => now() - Duration::days(400 + rng.below(300) as i64),
            };
            let expires_at = match rng.below(10) {
                0 => None,
                1 => Some(now() - Duration::days(20 + rng.below(20) as i64)), // expired in Feb
                _ => Some(now() + Duration::seconds(rng.below(70 * 86_400) as i64 - 5 * 86_400)),
            };
            let mut seats = BTreeMap::new();
            for p in plan_ids {
                if rng.chance(60) {
                    seats.insert(p.to_string(), rng.below(60));
                }
            }
            w.licenses.push(License {
                id: format!("lic-{n:03}"),
                account_id: a.id.clone(),
                license_type: LicenseType::Prod,
                channel: "Stable".into(),
                created_at: created,
                expires_at,
                features: LicenseFeatures::default(),
                seats,
            });
        }
        if rng.chance(85) {
            let r = rng.below(40);
            w.usage.push(MonthUsage {
                account_id: a.id.clone(),
                month,
                plan: plan_ids[rng.below(3) as usize].into(),
                snapshot_date: month.last_day(),
                counts: UsageCounts::new(r, r * 3 / 4, r / 3),
            });
        }
        if depth == 2 {
            for i in 0..rng.below(3) {
                w.instances.push(Instance {
                    id: format!("inst-{}-{i}", a.id),
                    license_id: format!("lic-{n:03}"),
                    account_id: a.id.clone(),
                    airgapped: rng.chance(60),
                    public_key: None,
                    high_water_mark: 0,
                    last_report_at: match rng.below(10) {
                        0 => None,
                        _ => Some(now() - Duration::seconds(rng.below(90 * 86_400) as i64)),
                    },
                });
            }
        }
    }
    w
}

fn load(cache: &mut Cache, w: &World, cursor: &str) {
    let mut changes: Vec<Change> = w.accounts.iter().cloned().map(Change::Account).collect();
    changes.extend(w.licenses.iter().cloned().map(Change::License));
    changes.extend(w.instances.iter().cloned().map(Change::Instance));
    changes.extend(w.usage.iter().cloned().map(Change::MonthUsage));
    cache
        .sync_mut()
        .apply_changes(&changes, &plans(), cursor, now())
        .unwrap();
    cache.sync_mut().rebuild_aggregates().unwrap();
}

/// An item's identity: kind, subject, plan, occurrence.
type Key = (AttentionKind, String, String, String);

fn key_of(i: &AttentionItem) -> Key {
    let subject = match i.kind {
        AttentionKind::Overdue => i.instance_id.clone().unwrap(),
        _ => i.license_id.clone(),
    };
    (
        i.kind,
        subject,
        i.plan.clone().unwrap_or_default(),
        i.occurrence.clone(),
    )
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The list at `at`, from the definitions, in the documented order.
fn expected(w: &World, at: DateTime<Utc>) -> Vec<Key> {
    let mut out = Vec::new();
    // Overdue: air-gapped, never reported or last report more than 31 days before `at`;
    // never first, then the oldest report, then by id.
    let mut overdue: Vec<(Option<DateTime<Utc>>, String)> = w
        .instances
        .iter()
        .filter(|i| i.airgapped && i.last_report_at.is_none_or(|t| at - t > Duration::days(31)))
        .map(|i| (i.last_report_at, i.id.clone()))
        .collect();
    overdue.sort();
    for (t, id) in overdue {
        out.push((
            AttentionKind::Overdue,
            id,
            String::new(),
            t.map(millis).unwrap_or_default(),
        ));
    }
    // Expiring: after `at`, at the latest 30 days later; soonest first.
    let mut expiring: Vec<(DateTime<Utc>, String)> = w
        .licenses
        .iter()
        .filter_map(|l| l.expires_at.map(|e| (e, l.id.clone())))
        .filter(|(e, _)| *e > at && *e <= at + Duration::days(30))
        .collect();
    expiring.sort();
    for (e, id) in expiring {
        let text = e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        out.push((AttentionKind::Expiring, id, String::new(), text));
    }
    // Over seats in the last completed month.
    let month = YearMonth::last_completed(at.date_naive());
    let last = month.last_day();
    let in_force = |l: &License| {
        l.created_at.date_naive() <= last && l.expires_at.is_none_or(|e| e.date_naive() >= last)
    };
    let holds_in_force = |a: &str| w.licenses.iter().any(|l| l.account_id == a && in_force(l));
    let children = |a: &str| -> Vec<String> {
        w.accounts
            .iter()
            .filter(|c| c.parent_id.as_deref() == Some(a))
            .map(|c| c.id.clone())
            .collect()
    };
    let mut over: Vec<(i64, String, String)> = Vec::new();
    for l in w.licenses.iter().filter(|l| in_force(l)) {
        // Covered: the holder and descendants, except subtrees of descendants holding a
        // license in force.
        let mut covered = vec![l.account_id.clone()];
        let mut stack = children(&l.account_id);
        while let Some(a) = stack.pop() {
            if holds_in_force(&a) {
                continue;
            }
            stack.extend(children(&a));
            covered.push(a);
        }
        let mut used: BTreeMap<String, u64> = BTreeMap::new();
        for u in w
            .usage
            .iter()
            .filter(|u| u.month == month && covered.contains(&u.account_id))
        {
            *used.entry(u.plan.clone()).or_default() += value(&u.counts, metric_of(&u.plan));
        }
        let plans: BTreeSet<String> = l.seats.keys().chain(used.keys()).cloned().collect();
        for p in plans {
            let u = used.get(&p).copied().unwrap_or(0);
            let s = l.seats.get(&p).copied().unwrap_or(0);
            if u > s {
                over.push((-((u - s) as i64), l.id.clone(), p));
            }
        }
    }
    over.sort();
    for (_, id, plan) in over {
        out.push((AttentionKind::OverSeats, id, plan, month.to_string()));
    }
    out
}

fn open(dir: &tempfile::TempDir) -> Cache {
    Cache::open(dir.path().join("cache.db")).unwrap()
}

fn all_pages(
    cache: &Cache,
    at: DateTime<Utc>,
    kind: Option<AttentionKind>,
    limit: u64,
) -> (Vec<Key>, u64) {
    let b = usagedesk_attention::bounds(at);
    let mut keys = Vec::new();
    let mut offset = 0;
    let first = page(cache, &b, kind, 0, limit).unwrap();
    loop {
        let p = page(cache, &b, kind, offset, limit).unwrap();
        assert_eq!(
            p.total, first.total,
            "the total does not move between pages"
        );
        assert!(p.items.len() as u64 <= limit);
        if p.items.is_empty() {
            break;
        }
        offset += p.items.len() as u64;
        keys.extend(p.items.iter().map(key_of));
    }
    (keys, first.total)
}

#[test]
fn pages_concatenate_to_exactly_the_list_of_the_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = open(&dir);
    let w = world(7);
    load(&mut cache, &w, "c1");
    let want = expected(&w, now());
    let kinds_present: BTreeSet<AttentionKind> = want.iter().map(|k| k.0).collect();
    assert_eq!(
        kinds_present.len(),
        3,
        "the dataset has items of every kind: {want:?}"
    );

    for limit in [1, 7, 500] {
        let (got, total) = all_pages(&cache, now(), None, limit);
        assert_eq!(got, want, "pages of {limit}");
        assert_eq!(total, want.len() as u64);
    }
    let b = usagedesk_attention::bounds(now());
    let c = counts(&cache, &b).unwrap();
    for kind in AttentionKind::ALL {
        let want_kind: Vec<Key> = want.iter().filter(|k| k.0 == kind).cloned().collect();
        let (got, total) = all_pages(&cache, now(), Some(kind), 3);
        assert_eq!(got, want_kind, "{kind:?} alone");
        assert_eq!(total, want_kind.len() as u64);
        assert_eq!(c.of(kind), total, "the badge counts what the list shows");
    }
    assert_eq!(c.total, want.len() as u64);

    // The stream (the CLI) gives the same, also from an offset with a limit.
    let mut streamed = Vec::new();
    each_item(&cache, &b, None, 0, None, |i| {
        streamed.push(key_of(&i));
        Ok::<(), usagedesk_cache::CacheError>(())
    })
    .unwrap();
    assert_eq!(streamed, want);
    let mut window = Vec::new();
    each_item(&cache, &b, None, 5, Some(9), |i| {
        window.push(key_of(&i));
        Ok::<(), usagedesk_cache::CacheError>(())
    })
    .unwrap();
    assert_eq!(window, want[5..14].to_vec());

    // Items say whose they are and what to do.
    let p = page(&cache, &b, Some(AttentionKind::OverSeats), 0, 1).unwrap();
    let i = &p.items[0];
    assert!(i.account_name.as_deref().unwrap().starts_with("Name of "));
    assert!(
        i.title.contains(&i.license_id) && i.overage.unwrap() > 0,
        "{i:?}"
    );

    // Later, the same data gives another list: the conditions follow the time passed in.
    let later = now() + Duration::days(20);
    assert_eq!(all_pages(&cache, later, None, 50).0, expected(&w, later));
}

/// Checks at `at` and asserts that exactly the items of the definitions not seen before are
/// new; returns the new ones' notices count.
fn check(
    cache: &mut Cache,
    w: &World,
    at: DateTime<Utc>,
    enabled: bool,
    seen: &mut BTreeSet<Key>,
) -> usagedesk_attention::ReminderCheck {
    let now_items = expected(w, at);
    let want_new: Vec<&Key> = now_items.iter().filter(|k| !seen.contains(*k)).collect();
    let r = check_reminders(cache, at, enabled).unwrap();
    assert_eq!(
        r.new,
        want_new.len() as u64,
        "new occurrences at {at}: {want_new:?}"
    );
    if !enabled || r.new == 0 {
        assert!(r.notices.is_empty(), "nothing is sent: {r:?}");
    } else if r.new as usize <= MAX_NOTICES {
        assert_eq!(r.notices.len(), r.new as usize, "one notice each");
    } else {
        assert_eq!(r.notices.len(), 1, "one summary");
        assert!(
            r.notices[0].title.starts_with(&format!("{} items", r.new)),
            "{:?}",
            r.notices
        );
    }
    seen.extend(now_items);
    r
}

#[test]
fn reminders_fire_once_per_occurrence_across_checks_restarts_and_recurrences() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = world(11);
    let mut seen = BTreeSet::new();
    {
        let mut cache = open(&dir);
        load(&mut cache, &w, "c1");
        let first = check(&mut cache, &w, now(), true, &mut seen);
        assert!(
            first.new > MAX_NOTICES as u64,
            "the first check sees the whole list"
        );
        // Again, and an hour later: nothing new, nothing sent.
        assert_eq!(check(&mut cache, &w, now(), true, &mut seen).new, 0);
        assert_eq!(
            check(&mut cache, &w, now() + Duration::hours(1), true, &mut seen).new,
            0
        );
    }
    // A restart: the record is in the file.
    let mut cache = open(&dir);
    assert_eq!(
        check(&mut cache, &w, now() + Duration::hours(2), true, &mut seen).new,
        0
    );

    // An overdue instance reports (no longer overdue), then falls overdue again 32 days on:
    // a new occurrence, notified once.
    let back = now() + Duration::days(1);
    let inst = w
        .instances
        .iter_mut()
        .find(|i| {
            i.airgapped
                && i.last_report_at
                    .is_some_and(|t| now() - t > Duration::days(31))
        })
        .unwrap();
    inst.last_report_at = Some(back);
    let inst_id = inst.id.clone();
    load(&mut cache, &w, "c2");
    check(&mut cache, &w, back, true, &mut seen);
    let list = page(
        &cache,
        &usagedesk_attention::bounds(back),
        Some(AttentionKind::Overdue),
        0,
        500,
    )
    .unwrap();
    assert!(
        list.items
            .iter()
            .all(|i| i.instance_id.as_deref() != Some(&inst_id)),
        "reporting ends the condition"
    );
    let again = back + Duration::days(32);
    let r = check(&mut cache, &w, again, true, &mut seen);
    assert!(r.new > 0);
    let list = page(
        &cache,
        &usagedesk_attention::bounds(again),
        Some(AttentionKind::Overdue),
        0,
        500,
    )
    .unwrap();
    assert!(
        list.items
            .iter()
            .any(|i| i.instance_id.as_deref() == Some(&inst_id) && i.occurrence == millis(back)),
        "overdue again, since its new exchange"
    );
    assert_eq!(
        check(&mut cache, &w, again, true, &mut seen).new,
        0,
        "and only once"
    );

    // Reminders off: what arises is recorded, not sent; switched on, no burst later.
    let april = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let month: YearMonth = "2026-04".parse().unwrap();
    let holder = w
        .licenses
        .iter()
        .find(|l| l.expires_at.is_none())
        .unwrap()
        .clone();
    let plan = holder
        .seats
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "basic".into());
    let over_by = holder.seats.get(&plan).copied().unwrap_or(0) + 500;
    w.usage.retain(|u| u.account_id != holder.account_id);
    w.usage.push(MonthUsage {
        account_id: holder.account_id.clone(),
        month,
        plan: plan.clone(),
        snapshot_date: month.last_day(),
        counts: UsageCounts::new(over_by, over_by, over_by),
    });
    load(&mut cache, &w, "c3");
    let off = check(&mut cache, &w, april, false, &mut seen);
    assert!(
        off.new > 0 && off.notices.is_empty(),
        "recorded while off: {off:?}"
    );
    drop(cache);
    let mut cache = open(&dir);
    assert_eq!(
        check(&mut cache, &w, april, true, &mut seen).new,
        0,
        "no burst when switched on"
    );
    let (all, notified) = cache.attention().noticed_counts().unwrap();
    assert_eq!(all, seen.len() as u64, "every occurrence recorded once");
    assert_eq!(
        all - notified,
        off.new,
        "those seen while off are marked as never sent"
    );

    // The same license over its seats in a later month: a new occurrence.
    let may: YearMonth = "2026-05".parse().unwrap();
    w.usage.push(MonthUsage {
        account_id: holder.account_id.clone(),
        month: may,
        plan: plan.clone(),
        snapshot_date: may.last_day(),
        counts: UsageCounts::new(over_by, over_by, over_by),
    });
    load(&mut cache, &w, "c4");
    let june = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
    let r = check(&mut cache, &w, june, true, &mut seen);
    assert!(seen.contains(&(
        AttentionKind::OverSeats,
        holder.id.clone(),
        plan.clone(),
        "2026-05".into()
    )));
    assert!(r.new >= 1);
    assert_eq!(check(&mut cache, &w, june, true, &mut seen).new, 0, "once");
}

/// The identities of rows as the cache selected them.
fn keys(rows: Vec<usagedesk_cache::AttentionRow>) -> Vec<Key> {
    rows.into_iter()
        .map(|r| key_of(&AttentionItem::from_row(r)))
        .collect()
}

#[test]
fn a_check_records_all_new_occurrences_and_names_the_first_in_list_order() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(5);
    let mut cache = open(&dir);
    load(&mut cache, &w, "c1");
    let at = now();
    let want = expected(&w, at);
    let per_kind = |kind| want.iter().filter(|k| k.0 == kind).count() as u64;
    assert!(
        want.len() > 7,
        "the dataset has more items than are asked for"
    );

    let b = usagedesk_attention::bounds(at);
    let noted = cache.attention_mut().note(&b, at, true, 7).unwrap();
    // Every item is new on a fresh cache: counted per kind, and the first seven named, in
    // the list's order across the kinds.
    assert_eq!(
        noted.new_by_kind,
        AttentionKind::ALL.map(per_kind),
        "new per kind"
    );
    assert_eq!(noted.total(), want.len() as u64);
    assert_eq!(
        keys(noted.first),
        want[..7].to_vec(),
        "the first new ones, in list order"
    );
    assert_eq!(
        cache.attention().noticed_counts().unwrap(),
        (want.len() as u64, want.len() as u64),
        "all recorded, as notified"
    );

    // The same state again: nothing new, nobody named.
    let again = cache.attention_mut().note(&b, at, true, 7).unwrap();
    assert_eq!(again.total(), 0);
    assert!(again.first.is_empty());

    // Twenty days on, licenses come within the horizon and instances fall overdue: only what
    // was not seen is new, and the first named skip what the record holds.
    let later = at + Duration::days(20);
    let seen: BTreeSet<Key> = want.into_iter().collect();
    let want_later: Vec<Key> = expected(&w, later)
        .into_iter()
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(want_later.len() > 3, "the dataset changes in twenty days");
    let b = usagedesk_attention::bounds(later);
    let noted = cache.attention_mut().note(&b, later, false, 3).unwrap();
    assert_eq!(noted.total(), want_later.len() as u64);
    assert_eq!(
        keys(noted.first),
        want_later[..3].to_vec(),
        "the first of the new ones"
    );
}
