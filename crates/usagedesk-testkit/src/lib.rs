//! Test support shared by the integration tests of several crates.
//!
//! [`Expected`] recomputes month-end values and subtree aggregates straight from the CSV
//! rows with the plainest possible code (no shared logic with the product), so tests compare
//! the product against an independent model. [`Cloud`] runs the real cloud service on
//! `127.0.0.1:0` with a dataset loaded.

pub mod engine;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::{TokenKind, TokenScope};
use usagedesk_cloud::{load, tokens, RunningServer};
use usagedesk_domain::FixedClock;

mod entitlements;
pub use entitlements::{
    entitlements_fixture, month_back, ExpEntitlement, ExpLicense, ExpectedEntitlements, CUSTOMER_B,
};

/// "Today" in every test that uses the small fixture: July 2024 is running, June is the
/// last completed month.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 7, 15).expect("valid date")
}

pub fn clock() -> FixedClock {
    FixedClock::on(today())
}

/// The small hand-made dataset: depth 4, names that need CSV quoting, a plan change, a
/// not-available month, accounts created mid-period, a replaced daily row.
pub fn small_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/small")
}

#[derive(Debug, Clone)]
pub struct ExpAccount {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub status: String,
    pub created_at: String,
}

/// The expected numbers, computed naively from the CSV files.
pub struct Expected {
    pub accounts: BTreeMap<String, ExpAccount>,
    /// (account, "YYYY-MM") → (plan, [registered, with token, with activity]) of the last
    /// daily row dated in the month (a later row for the same date replaces an earlier one).
    pub month_end: BTreeMap<(String, String), (String, [u64; 3])>,
    pub plans: Vec<String>,
}

impl Expected {
    pub fn from_dir(dir: &Path) -> Self {
        let mut accounts = BTreeMap::new();
        let mut r = csv::Reader::from_path(dir.join("accounts.csv")).expect("accounts.csv");
        for rec in r.records() {
            let rec = rec.expect("record");
            accounts.insert(
                rec[0].to_string(),
                ExpAccount {
                    id: rec[0].to_string(),
                    name: rec[1].to_string(),
                    parent_id: (!rec[2].is_empty()).then(|| rec[2].to_string()),
                    status: rec[3].to_string(),
                    created_at: rec[4].to_string(),
                },
            );
        }
        let mut daily: HashMap<(String, String), (String, [u64; 3])> = HashMap::new();
        let mut r = csv::Reader::from_path(dir.join("daily_usage.csv")).expect("daily_usage.csv");
        for rec in r.records() {
            let rec = rec.expect("record");
            let n = |i: usize| rec[i].parse::<u64>().expect("count");
            daily.insert(
                (rec[0].to_string(), rec[1].to_string()),
                (rec[2].to_string(), [n(3), n(4), n(5)]),
            );
        }
        let mut month_end: BTreeMap<(String, String), (String, String, [u64; 3])> = BTreeMap::new();
        for ((acc, date), (plan, c)) in daily {
            let key = (acc, date[..7].to_string());
            let newer = month_end.get(&key).is_none_or(|(d, _, _)| *d < date);
            if newer {
                month_end.insert(key, (date, plan, c));
            }
        }
        let plans = if dir.join("plans.csv").exists() {
            csv::Reader::from_path(dir.join("plans.csv"))
                .expect("plans.csv")
                .records()
                .map(|r| r.expect("record")[0].to_string())
                .collect()
        } else {
            vec!["basic".into(), "standard".into(), "premium".into()]
        };
        Self {
            accounts,
            month_end: month_end
                .into_iter()
                .map(|(k, (_, p, c))| (k, (p, c)))
                .collect(),
            plans,
        }
    }

    pub fn small() -> Self {
        Self::from_dir(&small_fixture())
    }

    fn last_day(month: &str) -> String {
        let y: i32 = month[..4].parse().expect("year");
        let m: u32 = month[5..].parse().expect("month");
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        };
        next.and_then(|d| d.pred_opt())
            .expect("valid month")
            .to_string()
    }

    /// "ok", "not_available" or "non_existent".
    pub fn availability(&self, account: &str, month: &str) -> &'static str {
        if self.accounts[account].created_at > Self::last_day(month) {
            "non_existent"
        } else if self
            .month_end
            .contains_key(&(account.to_string(), month.to_string()))
        {
            "ok"
        } else {
            "not_available"
        }
    }

    pub fn is_descendant_or_self(&self, account: &str, of: &str) -> bool {
        let mut at = Some(account.to_string());
        while let Some(a) = at {
            if a == of {
                return true;
            }
            at = self.accounts.get(&a).and_then(|x| x.parent_id.clone());
        }
        false
    }

    /// The accounts a report on `account` with `scope` ("self", "children" or "tree") covers.
    pub fn in_scope(&self, account: &str, scope: &str) -> Vec<String> {
        self.accounts
            .keys()
            .filter(|id| match scope {
                "self" => *id == account,
                "children" => {
                    *id == account || self.accounts[*id].parent_id.as_deref() == Some(account)
                }
                _ => self.is_descendant_or_self(id, account),
            })
            .cloned()
            .collect()
    }

    /// The subtree aggregate: plan → summed counts over every account of the subtree whose
    /// month-end plan is that plan. Every catalog plan is present.
    pub fn totals(&self, account: &str, month: &str) -> BTreeMap<String, [u64; 3]> {
        let mut out: BTreeMap<String, [u64; 3]> =
            self.plans.iter().map(|p| (p.clone(), [0; 3])).collect();
        for id in self.accounts.keys() {
            if !self.is_descendant_or_self(id, account) || self.availability(id, month) != "ok" {
                continue;
            }
            let (plan, c) = &self.month_end[&(id.clone(), month.to_string())];
            let t = out.get_mut(plan).expect("plan in catalog");
            for k in 0..3 {
                t[k] += c[k];
            }
        }
        out
    }

    /// Months present in the data, sorted.
    pub fn months(&self) -> Vec<String> {
        let mut m: Vec<String> = self.month_end.keys().map(|(_, m)| m.clone()).collect();
        m.sort();
        m.dedup();
        m
    }
}

/// The real cloud service on loopback with a dataset loaded and tokens created.
pub struct Cloud {
    pub dir: tempfile::TempDir,
    /// Where the store is: a SQLite file in `dir`, or a PostgreSQL database's URL.
    pub db: String,
    /// The store of the engine [`engine::engine`] chose (SQLite unless set otherwise).
    pub storage: Arc<dyn Store>,
    pub server: RunningServer,
    clock: Arc<dyn usagedesk_domain::Clock>,
}

impl Cloud {
    /// Starts the service on a free port with `dataset` loaded (as of [`today`]).
    pub async fn start(dataset: &Path) -> Self {
        Self::start_on(dataset, Arc::new(clock())).await
    }

    /// The same on another clock: [`SystemClock`](usagedesk_domain::SystemClock) for tests
    /// that run the built binaries, which read the real time.
    pub async fn start_on(dataset: &Path, clock: Arc<dyn usagedesk_domain::Clock>) -> Self {
        Self::start_with(dataset, clock, usagedesk_cloud::limits::Limits::default()).await
    }

    /// The same with the given limits.
    pub async fn start_with(
        dataset: &Path,
        clock: Arc<dyn usagedesk_domain::Clock>,
        limits: usagedesk_cloud::limits::Limits,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = engine::database(dir.path());
        let storage = engine::open(&db);
        let data = load::read_dataset(dataset).expect("read dataset");
        storage.load(data, clock.today()).expect("load dataset");
        let server = usagedesk_cloud::spawn_with(
            storage.clone(),
            clock.clone(),
            "127.0.0.1:0".parse().expect("addr"),
            limits,
        )
        .await
        .expect("start server");
        Self {
            dir,
            db,
            storage,
            server,
            clock,
        }
    }

    /// A license file for registered instance `instance_id`, as `usagedesk-cloud
    /// license-file` writes it: issued a day before the cloud's now, for 90 days.
    pub fn license_file(&self, instance_id: &str) -> String {
        usagedesk_cloud::airgap::identity::issue_license_file(
            self.storage.as_ref(),
            instance_id,
            chrono::Duration::days(90),
            "testkit",
            self.clock.now() - chrono::Duration::days(1),
            &mut rand::thread_rng(),
        )
        .expect("a license file for a registered instance")
        .text
    }

    /// Starts another server on the same database (after the first was stopped).
    pub async fn restart(&mut self) {
        let storage = self.storage.clone();
        self.server = usagedesk_cloud::spawn(
            storage,
            Arc::new(clock()),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .await
        .expect("restart server");
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A new token for `account`'s subtree (`None`: every account).
    pub fn token(&self, account: Option<&str>, kind: TokenKind) -> String {
        let token = tokens::generate(&mut rand::thread_rng());
        let scope = account.map_or(TokenScope::All, |a| TokenScope::Subtree(a.to_string()));
        self.storage
            .create_token(tokens::hash(&token), &scope, kind, "test", clock_now())
            .expect("create token");
        token
    }

    /// Revokes every token the cloud holds, as `usagedesk-cloud token revoke` does: their
    /// requests are refused from now on, and so are files answering sync keys issued under
    /// their certificates.
    pub fn revoke_all_tokens(&self) {
        let live = self.storage.tokens().expect("list tokens");
        for t in live.iter().filter(|t| t.revoked_at.is_none()) {
            self.storage
                .revoke_token(&t.id, self.clock.now())
                .expect("revoke token");
        }
    }
}

fn clock_now() -> chrono::DateTime<chrono::Utc> {
    use usagedesk_domain::Clock;
    clock().now()
}

/// The small fixture plus customer reporting, dated relative to `now` (the app and the
/// binaries read the real clock, so a fixed dataset would age): licenses, two reporting
/// instances of `acme-fr`, their events, and install attempts. Expected, by hand:
///
/// - `inst-fr`: first check-in `now − 10 d` (Updating), Ready at `+2 h`, Unavailable from
///   `now − 5 d` for 12 h, Ready since; last check-in `now − 1 h`. Over the last 14 days:
///   4 d no data, 9 d 12 h up, 12 h down: ratio 95.0 %.
/// - `spare-fr2`: first check-in `now − 12 d`, Ready from `+1 h` (its first event), Degraded
///   `now − 2 d` → Ready `now − 1 d`: ratio 100 %, but its first Ready is older.
/// - Time to install of `acme-fr`: shown for `inst-fr` (the most recent *first* Ready):
///   license created `now − 12 d` → `now − 10 d + 2 h` = 2 d 2 h; instance 2 h.
/// - Licenses: `lic-acme-fr` prod (200 days left), `lic-acme-de` trial ending in 9 days,
///   `lic-globex` community without end.
pub fn customers_fixture(now: chrono::DateTime<chrono::Utc>) -> tempfile::TempDir {
    use chrono::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["accounts.csv", "daily_usage.csv"] {
        std::fs::copy(small_fixture().join(f), dir.path().join(f)).expect("copy fixture");
    }
    let t = |d: Duration| (now + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (h, d) = (Duration::hours, Duration::days);
    let write =
        |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write");
    write(
        "instances.csv",
        "id,license_id,account_id,airgapped,public_key\n\
         inst-de,lic-acme-de,acme-de,true,\n\
         inst-fr,lic-acme-fr,acme-fr,false,\n\
         spare-fr2,lic-acme-fr,acme-fr,false,\n\
         inst-gx,lic-globex,globex-2,true,\n"
            .into(),
    );
    write(
        "licenses.csv",
        format!(
            "id,account_id,type,channel,created_at,expires_at,features,seats\n\
             lic-acme-fr,acme-fr,prod,Stable,{},{},gitops;snapshots,standard=50\n\
             lic-acme-de,acme-de,trial,Beta,{},{},airgap,premium=10\n\
             lic-globex,globex-2,community,Stable,{},,,\n",
            t(-d(12)),
            t(d(200)),
            t(-d(40)),
            t(d(9)),
            t(-d(300)),
        ),
    );
    write(
        "instance_reports.csv",
        format!(
            "instance_id,status,app_version,distribution,kubernetes_version,embedded_cluster,nodes_ready,nodes_total,agent_version,cloud_provider,region,first_check_in,last_check_in\n\
             inst-fr,ready,2.3.1,eks,1.29,false,,,1.4.0,aws,eu-west-1,{},{}\n\
             spare-fr2,ready,2.3.1,k3s,1.30,true,3,3,1.4.0,,,{},{}\n",
            t(-d(10)),
            t(-h(1)),
            t(-d(12)),
            t(-Duration::minutes(30)),
        ),
    );
    write(
        "instance_events.csv",
        format!(
            "instance_id,field,previous,new,received_at\n\
             inst-fr,status,,updating,{}\n\
             inst-fr,status,updating,ready,{}\n\
             inst-fr,status,ready,unavailable,{}\n\
             inst-fr,status,unavailable,ready,{}\n\
             inst-fr,app_version,2.3.0,2.3.1,{}\n\
             spare-fr2,status,,ready,{}\n\
             spare-fr2,status,ready,degraded,{}\n\
             spare-fr2,status,degraded,ready,{}\n",
            t(-d(10)),
            t(-d(10) + h(2)),
            t(-d(5)),
            t(-d(5) + h(12)),
            t(-d(5) + h(13)),
            t(-d(12) + h(1)),
            t(-d(2)),
            t(-d(1)),
        ),
    );
    write(
        "install_attempts.csv",
        format!(
            "id,license_id,status,started_at,user_email,environment,mode,registry\n\
             att-1,lic-acme-fr,succeeded,{},ops@acme.example,EKS 1.29,online,online\n\
             att-2,lic-acme-fr,stalled,{},dev@acme.example,Ubuntu 22.04,airgap,offline\n",
            t(-d(11)),
            t(-d(3)),
        ),
    );
    write(
        "install_steps.csv",
        format!(
            "attempt_id,name,at\n\
             att-1,Started,{}\n\
             att-1,Images pulled,{}\n\
             att-1,Completed,{}\n\
             att-2,Started,{}\n\
             att-2,Assets downloaded,{}\n",
            t(-d(11)),
            t(-d(11) + h(1)),
            t(-d(11) + h(2)),
            t(-d(3)),
            t(-d(3) + h(1)),
        ),
    );
    dir
}
