//! Paging of the customer list against an answer worked out in this test from the
//! definitions (CustomerSummary's doc comments), over a generated dataset stored in a real
//! cache file the way a sync stores it (pages of feed changes, in shuffled order, with
//! tombstones): every sort, filter and search, page sizes that do and do not divide the
//! list, offset and cursor paging, and a sync landing between two pages.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use usagedesk_cache::Cache;
use usagedesk_customers::{
    customers, customers_after, CustomerFilter, CustomerSort, CustomerSummary,
};
use usagedesk_domain::api::{Change, ChangePage};
use usagedesk_domain::customer::{
    ClusterDetails, InstanceReport, InstanceStatus, License, LicenseFeatures, LicenseType,
};
use usagedesk_domain::{Account, AccountStatus, Instance};

/// xorshift64*: the same dataset on every run.
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
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap() + Duration::milliseconds(250)
}

const TYPES: [LicenseType; 4] = [
    LicenseType::Prod,
    LicenseType::Trial,
    LicenseType::Dev,
    LicenseType::Community,
];
const STATUSES: [InstanceStatus; 5] = [
    InstanceStatus::Ready,
    InstanceStatus::Updating,
    InstanceStatus::Degraded,
    InstanceStatus::Unavailable,
    InstanceStatus::Missing,
];

/// What the cloud holds, as the test models it.
#[derive(Default, Clone)]
struct World {
    accounts: BTreeMap<String, Account>,
    licenses: BTreeMap<String, License>,
    instances: BTreeMap<String, Instance>,
    reports: BTreeMap<String, InstanceReport>,
}

fn account(id: &str, name: &str) -> Account {
    Account {
        id: id.to_owned(),
        name: name.to_owned(),
        parent_id: None,
        status: AccountStatus::Active,
        created_at: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
    }
}

/// A time near `now`: whole days away, sometimes exactly on the boundaries the definitions
/// name (now, 24 h, 30 and 31 days), sometimes a fraction of a second off them.
fn near(g: &mut Gen, days: i64) -> DateTime<Utc> {
    let base = now() + Duration::days(g.below(2 * days as u64 + 1) as i64 - days);
    match g.below(6) {
        0 => now(),
        1 => now() - Duration::hours(24),
        2 => now() + Duration::days(30),
        3 => now() - Duration::days(31),
        4 => base + Duration::nanoseconds(g.below(2_000_000_000) as i64 - 1_000_000_000),
        _ => base,
    }
}

fn generate(seed: u64, accounts: usize) -> World {
    let mut g = Gen(seed);
    let names = [
        "Acme",
        "acme",
        "Beta Corp",
        "Zeta",
        "Ünïcode GmbH",
        "Omega",
        "beta",
    ];
    let mut w = World::default();
    for i in 0..accounts {
        let id = format!("a{i:03}");
        // Shared names: ties go by id.
        let name = format!("{} {}", g.pick(&names), g.below(4));
        w.accounts.insert(id.clone(), account(&id, &name));
    }
    let ids: Vec<String> = w.accounts.keys().cloned().collect();
    let mut owners: Vec<String> = ids.clone();
    owners.push("ghost".to_owned()); // licenses of an account outside the cache
    for owner in &owners {
        if !g.chance(70) {
            continue;
        }
        for k in 0..=g.below(3) {
            let id = format!("LIC-{owner}-{k}");
            let expires_at = (!g.chance(20)).then(|| near(&mut g, 90));
            w.licenses.insert(
                id.clone(),
                License {
                    id,
                    account_id: owner.clone(),
                    license_type: *g.pick(&TYPES),
                    channel: "stable".to_owned(),
                    created_at: now() - Duration::days(400),
                    expires_at,
                    features: LicenseFeatures::default(),
                    seats: Default::default(),
                },
            );
        }
    }
    let license_ids: Vec<String> = w.licenses.keys().cloned().collect();
    for n in 0..accounts * 2 {
        let id = format!("inst-{n:04}");
        let license_id = if g.chance(85) {
            g.pick(&license_ids).clone()
        } else {
            "LIC-nowhere".to_owned()
        };
        let airgapped = g.chance(30);
        let last_report_at = g.chance(60).then(|| near(&mut g, 60).min(now()));
        w.instances.insert(
            id.clone(),
            Instance {
                id: id.clone(),
                license_id,
                account_id: g.pick(&ids).clone(),
                airgapped,
                public_key: None,
                high_water_mark: 0,
                last_report_at,
            },
        );
        if g.chance(80) {
            let last = near(&mut g, 3).min(now());
            w.reports.insert(
                id.clone(),
                InstanceReport {
                    instance_id: id,
                    status: *g.pick(&STATUSES),
                    app_version: "1.0".to_owned(),
                    cluster: ClusterDetails::default(),
                    first_check_in: last - Duration::days(5),
                    last_check_in: last,
                },
            );
        }
    }
    w
}

impl World {
    fn changes(&self) -> Vec<Change> {
        let mut out: Vec<Change> = Vec::new();
        out.extend(self.accounts.values().cloned().map(Change::Account));
        out.extend(self.licenses.values().cloned().map(Change::License));
        out.extend(self.instances.values().cloned().map(Change::Instance));
        out.extend(self.reports.values().cloned().map(Change::InstanceReport));
        out
    }

    /// Drops an account as a tombstone does: it, its licenses, its instances and their
    /// reports.
    fn forget(&mut self, id: &str) {
        self.accounts.remove(id);
        self.licenses.retain(|_, l| l.account_id != id);
        let gone: Vec<String> = self
            .instances
            .values()
            .filter(|i| i.account_id == id)
            .map(|i| i.id.clone())
            .collect();
        for i in gone {
            self.instances.remove(&i);
            self.reports.remove(&i);
        }
    }

    /// Every customer, from the definitions.
    fn expected(&self, now: DateTime<Utc>) -> Vec<CustomerSummary> {
        let mut owned: HashMap<String, Vec<&Instance>> = HashMap::new();
        for i in self.instances.values() {
            // An instance belongs to the account holding its license, else its own.
            let owner = self
                .licenses
                .get(&i.license_id)
                .map_or(&i.account_id, |l| &l.account_id);
            owned.entry(owner.clone()).or_default().push(i);
        }
        let mut out = Vec::new();
        for a in self.accounts.values() {
            let licenses: Vec<License> = self
                .licenses
                .values()
                .filter(|l| l.account_id == a.id)
                .cloned()
                .collect();
            if licenses.is_empty() {
                continue;
            }
            let in_force: Vec<&License> = licenses
                .iter()
                .filter(|l| l.expires_at.is_none_or(|e| e > now))
                .collect();
            let expires_at = if in_force.is_empty() {
                licenses.iter().filter_map(|l| l.expires_at).max()
            } else {
                in_force.iter().filter_map(|l| l.expires_at).min()
            };
            let mine = owned.get(&a.id).cloned().unwrap_or_default();
            let report = |i: &Instance| self.reports.get(&i.id);
            let checking_in = |r: &InstanceReport| now - r.last_check_in < Duration::hours(24);
            let rank = |s: InstanceStatus| STATUSES.iter().position(|x| *x == s).unwrap();
            out.push(CustomerSummary {
                account_id: a.id.clone(),
                account_name: a.name.clone(),
                expired: in_force.is_empty(),
                expires_at,
                instances: mine.len() as u32,
                not_ready: mine
                    .iter()
                    .filter(|i| report(i).is_none_or(|r| r.status != InstanceStatus::Ready))
                    .count() as u32,
                inactive: mine
                    .iter()
                    .filter(|i| report(i).is_some_and(|r| !checking_in(r)))
                    .count() as u32,
                reporting_overdue: mine.iter().any(|i| {
                    i.airgapped
                        && i.last_report_at
                            .is_none_or(|t| now - t > Duration::days(31))
                }),
                worst_status: mine
                    .iter()
                    .filter_map(|i| report(i))
                    .filter(|r| checking_in(r))
                    .map(|r| r.status)
                    .max_by_key(|s| rank(*s)),
                licenses,
            });
        }
        out
    }
}

fn matches(c: &CustomerSummary, f: &CustomerFilter, now: DateTime<Utc>) -> bool {
    let text = f.text.as_deref().unwrap_or("").to_lowercase();
    (text.is_empty()
        || c.account_name.to_lowercase().contains(&text)
        || c.account_id.to_lowercase().contains(&text)
        || c.licenses
            .iter()
            .any(|l| l.id.to_lowercase().contains(&text)))
        && f.license_type
            .is_none_or(|t| c.licenses.iter().any(|l| l.license_type == t))
        && f.expiring_within_days.is_none_or(|d| {
            c.licenses.iter().any(|l| {
                l.expires_at
                    .is_some_and(|e| e <= now + Duration::days(d.into()))
            })
        })
        && (!f.not_ready || c.not_ready > 0)
        && (!f.reporting_overdue || c.reporting_overdue)
}

fn sorted(mut v: Vec<CustomerSummary>, sort: CustomerSort) -> Vec<CustomerSummary> {
    v.sort_by(|a, b| {
        let by_name = (&a.account_name, &a.account_id).cmp(&(&b.account_name, &b.account_id));
        match sort {
            CustomerSort::Name => by_name,
            // None (never ends) after every date.
            CustomerSort::Expiry => (a.expires_at.is_none(), a.expires_at)
                .cmp(&(b.expires_at.is_none(), b.expires_at))
                .then(by_name),
            CustomerSort::Attention => b.not_ready.cmp(&a.not_ready).then(by_name),
        }
    });
    v
}

fn filters() -> Vec<CustomerFilter> {
    let text = |t: &str| CustomerFilter {
        text: Some(t.to_owned()),
        ..Default::default()
    };
    let mut out = vec![
        CustomerFilter::default(),
        text("acme"),
        text("ACME 1"),
        text("ÜNÏCODE"),
        text("lic-a01"),
        text("a00"),
        text("nothing matches this"),
        text(""),
        CustomerFilter {
            expiring_within_days: Some(0),
            ..Default::default()
        },
        CustomerFilter {
            expiring_within_days: Some(30),
            ..Default::default()
        },
        CustomerFilter {
            not_ready: true,
            ..Default::default()
        },
        CustomerFilter {
            reporting_overdue: true,
            ..Default::default()
        },
        CustomerFilter {
            text: Some("beta".into()),
            license_type: Some(LicenseType::Prod),
            expiring_within_days: Some(60),
            not_ready: true,
            reporting_overdue: true,
        },
    ];
    out.extend(TYPES.iter().map(|t| CustomerFilter {
        license_type: Some(*t),
        ..Default::default()
    }));
    out
}

const SORTS: [CustomerSort; 3] = [
    CustomerSort::Name,
    CustomerSort::Expiry,
    CustomerSort::Attention,
];

/// A feed page of `changes`; `has_more`: not the last of its sync.
fn feed_page(changes: &[Change], cursor: String, has_more: bool) -> ChangePage {
    ChangePage {
        changes: changes.to_vec(),
        next_cursor: cursor,
        has_more,
        remaining: None,
        plans: vec![],
        server_time: now(),
    }
}

/// Stores `changes` as a sync would: in pages, each in one transaction, the last one
/// catching up.
fn sync_pages(cache: &mut Cache, changes: &[Change], page: usize) {
    let pages: Vec<&[Change]> = changes.chunks(page).collect();
    for (n, chunk) in pages.iter().enumerate() {
        let more = n + 1 < pages.len();
        cache
            .sync_mut()
            .apply_page(&feed_page(chunk, format!("c{n}"), more), now())
            .unwrap();
    }
}

/// `world`'s changes in an order a feed may send them: licenses before their accounts,
/// reports before their instances.
fn shuffled(world: &World, seed: u64) -> Vec<Change> {
    let mut changes = world.changes();
    let mut g = Gen(seed);
    for i in (1..changes.len()).rev() {
        changes.swap(i, g.below(i as u64 + 1) as usize);
    }
    changes
}

fn stored(world: &World, seed: u64) -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    sync_pages(&mut cache, &shuffled(world, seed), 97);
    (dir, cache)
}

fn ids(v: &[CustomerSummary]) -> Vec<&str> {
    v.iter().map(|c| c.account_id.as_str()).collect()
}

#[test]
fn pages_of_every_sort_and_filter_concatenate_to_the_whole_answer() {
    let world = generate(7, 240);
    let (_dir, cache) = stored(&world, 11);
    let all = world.expected(now());
    assert!(
        all.len() > 150,
        "most accounts hold a license: {}",
        all.len()
    );
    let mut nonempty = 0;
    for sort in SORTS {
        for f in filters() {
            let want = sorted(
                all.iter()
                    .filter(|c| matches(c, &f, now()))
                    .cloned()
                    .collect(),
                sort,
            );
            nonempty += usize::from(!want.is_empty());
            for size in [1, 7, 64, 500] {
                let mut got = Vec::new();
                let mut offset = 0;
                loop {
                    let page = customers(&cache, now(), &f, sort, offset, size).unwrap();
                    assert_eq!(page.total as usize, want.len(), "{sort:?} {f:?}: the total");
                    if page.items.is_empty() {
                        break;
                    }
                    assert!(page.items.len() as u64 <= size);
                    offset += page.items.len() as u64;
                    got.extend(page.items);
                }
                assert_eq!(
                    ids(&got),
                    ids(&want),
                    "{sort:?} {f:?} by offset pages of {size}"
                );
                assert_eq!(got, want, "{sort:?} {f:?}: every field of every row");

                let mut got = Vec::new();
                let mut after = None;
                loop {
                    let rows =
                        customers_after(&cache, now(), &f, sort, after.as_ref(), size).unwrap();
                    let Some((_, last)) = rows.last() else { break };
                    after = Some(last.clone());
                    got.extend(rows.into_iter().map(|(c, _)| c));
                }
                assert_eq!(got, want, "{sort:?} {f:?} by cursor pages of {size}");
            }
        }
    }
    assert!(nonempty >= 30, "the filters select something: {nonempty}");
}

/// Every customer `filter` selects, in `sort` order, read in pages of 500.
fn every_page(cache: &Cache, filter: &CustomerFilter, sort: CustomerSort) -> Vec<CustomerSummary> {
    let mut got = Vec::new();
    loop {
        let page = customers(cache, now(), filter, sort, got.len() as u64, 500).unwrap();
        if page.items.is_empty() {
            break;
        }
        got.extend(page.items);
    }
    got
}

/// A full sync after the cache was cleared (another cloud or account: `Cache::clear`) marks
/// nothing row by row and indexes what it brought in one pass at its end. The index then
/// holds exactly the new source's customers, every field as the definitions give them:
/// nothing of the old source's customers (300 accounts against 240, ids in common) nor of
/// its instances (600 against 480) is left.
#[test]
fn a_full_sync_into_a_cleared_cache_indexes_exactly_what_it_brought() {
    let old = generate(3, 300);
    let world = generate(7, 240);
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    sync_pages(&mut cache, &shuffled(&old, 5), 97);
    let all = CustomerFilter::default();
    assert_eq!(
        ids(&every_page(&cache, &all, CustomerSort::Name)),
        ids(&sorted(old.expected(now()), CustomerSort::Name)),
        "the old source, indexed row by row"
    );

    cache.clear().unwrap();
    sync_pages(&mut cache, &shuffled(&world, 11), 97);
    let want = world.expected(now());
    assert!(
        old.expected(now())
            .iter()
            .any(|c| !want.iter().any(|w| w.account_id == c.account_id)),
        "the old source had customers the new one does not"
    );
    for sort in SORTS {
        for f in filters() {
            let want = sorted(
                want.iter()
                    .filter(|c| matches(c, &f, now()))
                    .cloned()
                    .collect(),
                sort,
            );
            let got = every_page(&cache, &f, sort);
            assert_eq!(ids(&got), ids(&want), "{sort:?} {f:?}: the customers");
            assert_eq!(got, want, "{sort:?} {f:?}: every field of every row");
        }
    }
}

#[test]
fn a_sync_between_two_pages_repeats_nothing_and_skips_nothing_that_stayed() {
    let before = generate(21, 200);
    for sort in SORTS {
        let (_dir, mut cache) = stored(&before, 5);
        let mut cache_world = before.clone();
        let filter = CustomerFilter::default();
        let old = sorted(before.expected(now()), sort);
        let first = customers_after(&cache, now(), &filter, sort, None, 60).unwrap();
        let cursor = first.last().unwrap().1.clone();

        // A sync lands: a shown customer and a not-yet-shown one are tombstoned, new
        // customers arrive on both sides of the cursor, a customer's instance report changes
        // (its attention rank moves), a license moves to another account.
        let mut g = Gen(99 + sort as u64);
        let mut changes = Vec::new();
        for gone in [&old[10].account_id, &old[120].account_id] {
            cache_world.forget(gone);
            changes.push(Change::Tombstone {
                account_id: gone.clone(),
            });
        }
        for (n, name) in ["Aardvark", "Zzz Last", "Beta Corp 2"].iter().enumerate() {
            let id = format!("new-{n}");
            let a = account(&id, name);
            let l = License {
                id: format!("LIC-new-{n}"),
                account_id: id.clone(),
                license_type: LicenseType::Prod,
                channel: "stable".into(),
                created_at: now() - Duration::days(1),
                expires_at: Some(near(&mut g, 90)),
                features: LicenseFeatures::default(),
                seats: Default::default(),
            };
            cache_world.accounts.insert(id.clone(), a.clone());
            cache_world.licenses.insert(l.id.clone(), l.clone());
            changes.push(Change::Account(a));
            changes.push(Change::License(l));
        }
        if let Some(r) = cache_world.reports.values_mut().next() {
            r.status = InstanceStatus::Missing;
            changes.push(Change::InstanceReport(r.clone()));
        }
        let moved = cache_world.licenses.values().nth(40).cloned().map(|mut l| {
            l.account_id = old[150].account_id.clone();
            l
        });
        if let Some(l) = moved {
            if cache_world.accounts.contains_key(&l.account_id) {
                cache_world.licenses.insert(l.id.clone(), l.clone());
                changes.push(Change::License(l));
            }
        }
        cache
            .sync_mut()
            .apply_page(
                &feed_page(&changes, format!("after-{sort:?}"), false),
                now(),
            )
            .unwrap();
        let new = sorted(cache_world.expected(now()), sort);
        assert_eq!(
            customers(&cache, now(), &filter, sort, 0, 500)
                .unwrap()
                .items,
            new,
            "{sort:?}: the index follows the sync exactly"
        );

        let mut shown: Vec<CustomerSummary> = first.into_iter().map(|(c, _)| c).collect();
        let mut after = Some(cursor);
        loop {
            let rows = customers_after(&cache, now(), &filter, sort, after.as_ref(), 60).unwrap();
            let Some((_, last)) = rows.last() else { break };
            after = Some(last.clone());
            shown.extend(rows.into_iter().map(|(c, _)| c));
        }
        let times = |id: &str| shown.iter().filter(|x| x.account_id == id).count();
        // A customer in both states whose place in the order did not change is shown
        // exactly once. (One whose sort key changed may move across the cursor: the stream
        // reads one snapshot for that reason, and the app reloads what it shows after a
        // sync.)
        let mut stayed = 0;
        for c in &old {
            let Some(n) = new.iter().find(|x| x.account_id == c.account_id) else {
                assert!(
                    times(&c.account_id) <= 1,
                    "{sort:?}: {} went, shown at most once",
                    c.account_id
                );
                continue;
            };
            let same_key = n.account_name == c.account_name
                && match sort {
                    CustomerSort::Name => true,
                    CustomerSort::Expiry => n.expires_at == c.expires_at,
                    CustomerSort::Attention => n.not_ready == c.not_ready,
                };
            if same_key {
                stayed += 1;
                assert_eq!(
                    times(&c.account_id),
                    1,
                    "{sort:?}: {} stayed in place, so it is shown once",
                    c.account_id
                );
            }
        }
        assert!(stayed > old.len() - 10, "{sort:?}: most stayed: {stayed}");
        // Those that arrived after the cursor are shown, once.
        for n in &new[new.len() / 2..] {
            if !old.iter().any(|c| c.account_id == n.account_id) {
                assert_eq!(
                    times(&n.account_id),
                    1,
                    "{sort:?}: {} arrived",
                    n.account_id
                );
            }
        }
    }
}

#[test]
fn a_sync_interrupted_between_pages_is_caught_up_by_the_next_one() {
    let before = generate(31, 120);
    let (dir, mut cache) = stored(&before, 3);
    let want = |w: &World| sorted(w.expected(now()), CustomerSort::Name);
    let old = want(&before);
    let list = |cache: &Cache| {
        customers(
            cache,
            now(),
            &CustomerFilter::default(),
            CustomerSort::Name,
            0,
            1000,
        )
        .unwrap()
        .items
    };
    assert_eq!(list(&cache), old, "a complete sync indexes every customer");

    // The next sync has three pages: a tombstone, new customers and a moved license
    // arrive in the first two; it stops before its last.
    let mut after = before.clone();
    let gone = old[5].account_id.clone();
    after.forget(&gone);
    let mut changes = vec![Change::Tombstone { account_id: gone }];
    for n in 0..4 {
        let id = format!("late-{n}");
        let license = License {
            id: format!("LIC-late-{n}"),
            account_id: id.clone(),
            license_type: LicenseType::Trial,
            channel: "beta".into(),
            created_at: now() - Duration::days(3),
            expires_at: None,
            features: LicenseFeatures::default(),
            seats: Default::default(),
        };
        after.accounts.insert(id.clone(), account(&id, "Late Corp"));
        after.licenses.insert(license.id.clone(), license.clone());
        changes.push(Change::Account(account(&id, "Late Corp")));
        changes.push(Change::License(license));
    }
    let moved = after.licenses.values().nth(7).cloned().map(|mut l| {
        l.account_id = old[60].account_id.clone();
        l
    });
    if let Some(l) = moved {
        after.licenses.insert(l.id.clone(), l.clone());
        changes.push(Change::License(l));
    }
    let new = want(&after);
    assert_ne!(new, old, "the sync changes the list");
    let pages: Vec<&[Change]> = changes.chunks(4).collect();
    assert_eq!(pages.len(), 3);
    for (n, page) in pages[..2].iter().enumerate() {
        cache
            .sync_mut()
            .apply_page(&feed_page(page, format!("p{n}"), true), now())
            .unwrap();
    }
    // Until the sync catches up, which customers are listed, in which order and with which
    // counts is the last complete sync's (a row's licenses are read as stored, so they
    // may be the new ones already).
    let mid = list(&cache);
    assert_eq!(ids(&mid), ids(&old), "the rows of the last complete sync");
    let counts = |v: &[CustomerSummary]| -> Vec<(u32, u32)> {
        v.iter().map(|c| (c.instances, c.not_ready)).collect()
    };
    assert_eq!(counts(&mid), counts(&old));

    // Resumed: its last page catches up and indexes what it and the pages before it
    // marked.
    cache
        .sync_mut()
        .apply_page(&feed_page(pages[2], "p2".into(), false), now())
        .unwrap();
    assert_eq!(list(&cache), new, "the page that catches up makes it exact");

    // Interrupted again, and the app restarts: opening the cache catches up.
    let mut again = after.clone();
    let gone = new[0].account_id.clone();
    again.forget(&gone);
    let tomb = [Change::Tombstone { account_id: gone }];
    cache
        .sync_mut()
        .apply_page(&feed_page(&tomb, "again".into(), true), now())
        .unwrap();
    assert_eq!(ids(&list(&cache)), ids(&new), "not caught up yet");
    drop(cache);
    let reopened = Cache::open(dir.path().join("cache.db")).unwrap();
    assert_eq!(
        list(&reopened),
        want(&again),
        "opening the cache indexes what the interrupted sync's pages marked"
    );
}

#[test]
fn a_usage_file_imported_here_clears_the_overdue_mark_at_once() {
    use usagedesk_cache::{LedgerEntry, LedgerEvent, UploadState};
    let mut world = World::default();
    world
        .accounts
        .insert("acme".into(), account("acme", "Acme"));
    let license = License {
        id: "LIC-acme".into(),
        account_id: "acme".into(),
        license_type: LicenseType::Prod,
        channel: "stable".into(),
        created_at: now() - Duration::days(100),
        expires_at: None,
        features: LicenseFeatures::default(),
        seats: Default::default(),
    };
    world.licenses.insert(license.id.clone(), license);
    for (id, last) in [
        ("gap-old", Some(now() - Duration::days(40))),
        ("gap-never", None),
    ] {
        world.instances.insert(
            id.into(),
            Instance {
                id: id.into(),
                license_id: "LIC-acme".into(),
                account_id: "acme".into(),
                airgapped: true,
                public_key: None,
                high_water_mark: 0,
                last_report_at: last,
            },
        );
    }
    let (_dir, mut cache) = stored(&world, 1);
    let overdue = |cache: &Cache| {
        let page = customers(
            cache,
            now(),
            &CustomerFilter::default(),
            CustomerSort::Name,
            0,
            10,
        )
        .unwrap();
        let counts = usagedesk_customers::customer_counts(cache, now()).unwrap();
        let header = usagedesk_customers::customer(cache, "acme", now()).unwrap();
        (
            page.items[0].reporting_overdue,
            counts.reporting_overdue,
            header.counts.reporting_overdue,
        )
    };
    assert_eq!(
        overdue(&cache),
        (true, 1, 2),
        "40 days without a file, and never"
    );

    let import = |instance: &str, n: u32| LedgerEntry {
        id: 0,
        instance_id: instance.into(),
        event: LedgerEvent::UsageImported,
        at: now() - Duration::days(1),
        by: "manager".into(),
        nonce: format!("nonce-{n}"),
        file_sha256: format!("{n:064}"),
        expires_at: None,
        high_water_mark: 1,
        records: 0,
        new_records: 0,
        already_present: 0,
        changed: 0,
        document: "verification key".into(),
        upload: Some(UploadState::Pending),
        upload_error: None,
    };
    cache
        .airgap_mut()
        .commit_import(&import("gap-never", 1), "sync key", "usage data", &[], None)
        .unwrap();
    assert_eq!(overdue(&cache), (true, 1, 1), "gap-old is still overdue");
    cache
        .airgap_mut()
        .commit_import(&import("gap-old", 2), "sync key", "usage data", &[], None)
        .unwrap();
    assert_eq!(overdue(&cache), (false, 0, 0), "both files are a day old");
    let filter = CustomerFilter {
        reporting_overdue: true,
        ..Default::default()
    };
    assert_eq!(
        customers(&cache, now(), &filter, CustomerSort::Name, 0, 10)
            .unwrap()
            .total,
        0
    );
}
