use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn plans() -> Vec<Plan> {
    ["basic", "standard", "premium"]
        .iter()
        .zip([
            Metric::UsersRegistered,
            Metric::UsersWithToken,
            Metric::UsersWithActivity,
        ])
        .map(|(p, m)| Plan::new(*p, p.to_uppercase()).with_seat_metric(m))
        .collect()
}

/// The page of `docs/feed-encoding.md`'s example.
fn documented_page() -> ChangePage {
    ChangePage {
        changes: vec![
            Change::Account(Account {
                id: "acme".into(),
                name: "Acme".into(),
                parent_id: None,
                status: AccountStatus::Active,
                created_at: date("2024-01-15"),
            }),
            Change::MonthUsage(MonthUsage {
                account_id: "acme".into(),
                month: "2024-05".parse().unwrap(),
                plan: "basic".into(),
                snapshot_date: date("2024-05-31"),
                counts: UsageCounts::new(300, 2, 1),
            }),
            Change::Tombstone {
                account_id: "old".into(),
            },
        ],
        next_cursor: "c.7".into(),
        has_more: false,
        remaining: Some(3),
        plans: vec![Plan::new("basic", "Basic").with_seat_metric(Metric::UsersWithToken)],
        server_time: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
    }
}

/// A page with every kind of change and the edges of every value.
fn every_kind() -> ChangePage {
    let mut seats = BTreeMap::new();
    seats.insert("basic".to_string(), 25);
    seats.insert("premium".to_string(), u64::MAX);
    ChangePage {
        changes: vec![
            Change::Account(Account {
                id: "sp-01".into(),
                name: "Zoë \"Quotes\", Inc.\n東京".into(),
                parent_id: Some("root".into()),
                status: AccountStatus::Disabled,
                created_at: date("0001-01-01"),
            }),
            Change::MonthUsage(MonthUsage {
                account_id: "sp-01".into(),
                month: "1969-12".parse().unwrap(),
                plan: String::new(),
                snapshot_date: date("1969-12-31"),
                counts: UsageCounts::new(u64::MAX, 0, 127),
            }),
            Change::Tombstone {
                account_id: String::new(),
            },
            Change::Instance(Instance {
                id: "inst-1".into(),
                license_id: "lic-1".into(),
                account_id: "sp-01".into(),
                airgapped: true,
                public_key: Some("ed25519:AAAA".into()),
                high_water_mark: 1 << 40,
                last_report_at: Some(time("2024-02-29T23:59:59.123456789Z")),
            }),
            Change::Instance(Instance {
                id: "inst-2".into(),
                license_id: "lic-1".into(),
                account_id: "sp-01".into(),
                airgapped: false,
                public_key: None,
                high_water_mark: 0,
                last_report_at: None,
            }),
            Change::License(License {
                id: "lic-1".into(),
                account_id: "sp-01".into(),
                license_type: LicenseType::Community,
                channel: "Beta".into(),
                created_at: time("1960-03-01T00:00:00Z"),
                expires_at: Some(time("2100-01-01T12:00:00.5Z")),
                features: LicenseFeatures {
                    gitops: true,
                    airgap: false,
                    identity: true,
                    snapshots: true,
                },
                seats,
            }),
            Change::InstanceReport(InstanceReport {
                instance_id: "inst-1".into(),
                status: InstanceStatus::Updating,
                app_version: "2.32.2".into(),
                cluster: ClusterDetails {
                    distribution: "k3s".into(),
                    kubernetes_version: "1.31.1".into(),
                    embedded_cluster: true,
                    nodes_ready: Some(0),
                    nodes_total: Some(u32::MAX),
                    agent_version: "0.14.0".into(),
                    cloud_provider: None,
                    region: Some("eu-west-1".into()),
                },
                first_check_in: time("2024-01-01T00:00:00Z"),
                last_check_in: time("2024-06-01T10:00:00.001Z"),
            }),
            Change::InstanceEvent(InstanceEvent {
                instance_id: "inst-1".into(),
                field: "status".into(),
                previous: None,
                new: "ready".into(),
                received_at: time("2024-01-01T00:00:00Z"),
            }),
            Change::InstallAttempt(InstallAttempt {
                id: "att-1".into(),
                license_id: "lic-1".into(),
                status: InstallStatus::Stalled,
                started_at: time("2024-01-01T00:00:00Z"),
                user_email: "omar@example.com".into(),
                environment: "OpenShift".into(),
                mode: Connectivity::Offline,
                registry: Connectivity::Offline,
                steps: vec![
                    InstallStep {
                        name: "Started".into(),
                        at: time("2024-01-01T00:00:00Z"),
                    },
                    InstallStep {
                        name: "Registry accessed".into(),
                        at: time("2024-01-01T00:08:20Z"),
                    },
                ],
            }),
        ],
        next_cursor: "00000000deadbeef.123456789".into(),
        has_more: true,
        remaining: None,
        plans: plans(),
        server_time: time("2024-06-01T10:00:00.999999999Z"),
    }
}

#[test]
fn every_kind_of_change_and_every_edge_value_round_trips() {
    let page = every_kind();
    let bytes = encode_page(&page);
    assert_eq!(decode_page(&bytes).unwrap(), page);
    // The same page through JSON, the documented default, is the same value.
    let json: ChangePage = serde_json::from_slice(&serde_json::to_vec(&page).unwrap()).unwrap();
    assert_eq!(json, page);
    assert!(
        bytes.len() * 2 < serde_json::to_vec(&page).unwrap().len(),
        "the compact encoding is less than half the JSON"
    );
}

/// A small deterministic generator (xorshift), so the test is exact.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn text(&mut self) -> String {
        const PARTS: [&str; 6] = ["a", "é", "東", "\"", ",", "\n"];
        (0..self.next() % 12)
            .map(|_| PARTS[(self.next() % 6) as usize])
            .collect()
    }

    fn number(&mut self) -> u64 {
        // Small and huge values both.
        self.next() >> (self.next() % 64)
    }
}

#[test]
fn generated_pages_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut page = every_kind();
        page.changes.retain(|_| !rng.next().is_multiple_of(3));
        for c in &mut page.changes {
            match c {
                Change::Account(a) => {
                    a.name = rng.text();
                    a.created_at = NaiveDate::from_num_days_from_ce_opt(
                        (rng.next() % 3_000_000) as i32 - 1_000_000,
                    )
                    .unwrap();
                }
                Change::MonthUsage(m) => {
                    m.counts = UsageCounts::new(rng.number(), rng.number(), rng.number());
                    m.plan = rng.text();
                    m.month = YearMonth::new(
                        (rng.next() % 9999) as i32 + 1,
                        (rng.next() % 12 + 1) as u32,
                    )
                    .unwrap();
                }
                Change::InstanceEvent(e) => {
                    e.received_at =
                        DateTime::from_timestamp((rng.next() % (1 << 40)) as i64 - (1 << 39), 0)
                            .unwrap();
                    e.previous = rng.next().is_multiple_of(2).then(|| rng.text());
                }
                _ => {}
            }
        }
        page.remaining = rng.next().is_multiple_of(2).then(|| rng.number());
        let bytes = encode_page(&page);
        assert_eq!(decode_page(&bytes).unwrap(), page);
    }
}

#[test]
fn a_page_cut_short_anywhere_is_refused() {
    let bytes = encode_page(&every_kind());
    for n in 0..bytes.len() {
        let err = decode_page(&bytes[..n]).expect_err("a truncated page must be refused");
        assert!(err.at <= n, "the error points inside what was read: {err}");
    }
}

#[test]
fn damaged_bytes_are_refused_or_read_without_panicking() {
    let bytes = encode_page(&every_kind());
    let mut refused = 0;
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[i] ^= flip;
            if decode_page(&damaged).is_err() {
                refused += 1;
            }
        }
    }
    assert!(
        refused > bytes.len(),
        "most damage is detected ({refused} of {} changes refused)",
        bytes.len() * 3
    );
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(
        decode_page(&extra)
            .unwrap_err()
            .reason
            .contains("after the last change"),
        "trailing bytes are refused"
    );
}

#[test]
fn a_forged_count_cannot_reserve_memory() {
    let mut w = Writer(Vec::new());
    w.0.extend_from_slice(MAGIC);
    w.0.push(VERSION);
    w.str("c");
    w.bool(false);
    w.opt(None::<u64>, |w, n| w.varint(n));
    w.time(&Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
    w.varint(u64::MAX);
    let err = decode_page(&w.0).unwrap_err();
    assert!(err.reason.contains("items announced"), "{err}");
}

#[test]
fn another_encoding_or_version_is_named() {
    let mut bytes = encode_page(&documented_page());
    assert!(decode_page(b"{\"changes\":[]}")
        .unwrap_err()
        .reason
        .contains("UDCH"));
    bytes[4] = 3;
    let err = decode_page(&bytes).unwrap_err();
    assert!(
        err.reason.contains("version 3") && err.reason.contains("update"),
        "{err}"
    );
}

#[test]
fn version_1_leaves_out_the_seat_metrics_and_reads_as_users_registered() {
    let page = every_kind();
    let v1 = encode_page_version(&page, 1);
    let v2 = encode_page(&page);
    assert_eq!(v1[4], 1);
    assert_eq!(
        v2.len() - v1.len(),
        page.plans.len(),
        "version 2 adds one byte per plan"
    );
    let read = decode_page(&v1).unwrap();
    assert!(read
        .plans
        .iter()
        .all(|p| p.seat_metric == Metric::UsersRegistered));
    let mut expected = page;
    for p in &mut expected.plans {
        p.seat_metric = Metric::UsersRegistered;
    }
    assert_eq!(read, expected, "everything else is the same page");
}

#[test]
fn an_unknown_seat_metric_is_refused() {
    let mut bytes = encode_page(&documented_page());
    // The seat metric is the byte after the plan's name ("Basic").
    let at = bytes
        .windows(5)
        .position(|w| w == b"Basic")
        .expect("the plan's name")
        + 5;
    bytes[at] = 7;
    let err = decode_page(&bytes).unwrap_err();
    assert!(err.reason.contains("seat metric 7"), "{err}");
}

/// The bytes of the example in `docs/feed-encoding.md` (hex, between the markers).
fn documented_bytes() -> Vec<u8> {
    let doc = include_str!("../../../docs/feed-encoding.md");
    let start = doc
        .find("<!-- example-bytes -->")
        .expect("the example's start marker");
    let end = doc
        .find("<!-- /example-bytes -->")
        .expect("the example's end marker");
    let hex: String = doc[start..end]
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("```"))
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<String>()
        .split_whitespace()
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

#[test]
fn the_documented_example_is_what_the_code_writes_and_reads() {
    let bytes = documented_bytes();
    assert_eq!(
        bytes,
        encode_page(&documented_page()),
        "docs/feed-encoding.md shows the encoder's exact bytes"
    );
    assert_eq!(decode_page(&bytes).unwrap(), documented_page());
}

#[test]
fn the_head_alone_is_what_the_whole_page_says() {
    for version in [1, VERSION] {
        for page in [documented_page(), every_kind()] {
            let bytes = encode_page_version(&page, version);
            let head = decode_head(&bytes).unwrap();
            assert_eq!(
                (
                    head.next_cursor.as_str(),
                    head.has_more,
                    head.remaining,
                    head.changes
                ),
                (
                    page.next_cursor.as_str(),
                    page.has_more,
                    page.remaining,
                    page.changes.len() as u64
                ),
                "the head is the page's cursor, flags and number of changes"
            );
        }
    }
    assert!(
        decode_head(b"UDCX\x02").is_err(),
        "another magic is refused by the head reader too"
    );
}
