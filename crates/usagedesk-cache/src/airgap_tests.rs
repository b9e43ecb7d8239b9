//! The Air-gapped view's pages against a model computed here from the generated data (not
//! from the queries), and the outbox's states.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, Utc};
use usagedesk_domain::api::Change;
use usagedesk_domain::Instance;

use crate::test_support::*;
use crate::{
    AirgapInstance, AirgapPage, Cache, InstanceKind, InstanceQuery, InstanceSort, LedgerEntry,
    LedgerEvent, LedgerQuery, OutboxBinding, UploadState,
};

const OVERDUE_DAYS: i64 = 31;

/// One instance as generated, with what the ledger of this test holds for it.
#[derive(Debug, Clone)]
struct Model {
    id: String,
    account_id: String,
    account_name: Option<String>,
    airgapped: bool,
    last_report_at: Option<DateTime<Utc>>,
    cloud_mark: u64,
    last_import_at: Option<DateTime<Utc>>,
    imported_mark: Option<u64>,
}

impl Model {
    fn last(&self) -> Option<DateTime<Utc>> {
        [self.last_report_at, self.last_import_at]
            .into_iter()
            .flatten()
            .max()
    }
    /// Overdue as the definition says: air-gapped, and no verified exchange for more than
    /// 31 days (or none).
    fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.airgapped
            && self
                .last()
                .is_none_or(|t| now - t > Duration::days(OVERDUE_DAYS))
    }
    fn mark(&self) -> u64 {
        self.cloud_mark.max(self.imported_mark.unwrap_or(0))
    }
}

fn entry(instance: &str, event: LedgerEvent, at: DateTime<Utc>, mark: u64, n: u64) -> LedgerEntry {
    LedgerEntry {
        id: 0,
        instance_id: instance.into(),
        event,
        at,
        by: "ann (root)".into(),
        nonce: format!("nonce-{n}"),
        file_sha256: format!("sha-{n}"),
        expires_at: None,
        high_water_mark: mark,
        records: 0,
        new_records: 0,
        already_present: 0,
        changed: 0,
        document: format!("document {n}"),
        upload: (event == LedgerEvent::UsageImported).then_some(UploadState::Pending),
        upload_error: None,
    }
}

/// A cache with `n` instances over accounts with mixed names, some not cached, and a
/// ledger for every fifth instance; the model of it.
fn generated(n: usize, seed: u64) -> (Cache, Vec<Model>) {
    let mut rng = Lcg::new(seed);
    let mut cache = Cache::open_in_memory().unwrap();
    cache
        .sync_mut()
        .set_server_url("https://cloud.example/")
        .unwrap();
    cache.sync_mut().set_scope_account_id("root").unwrap();
    let names = [
        "Acme GmbH",
        "acme corp",
        "Zürich AG",
        "ZÜRICH Süd",
        "Globex",
        "50% Off_Ltd",
    ];
    let mut changes = vec![acc("root", "Root", None, "2020-01-01")];
    for (k, name) in names.iter().enumerate() {
        changes.push(acc(&format!("acct-{k}"), name, Some("root"), "2020-01-01"));
    }
    let mut models = Vec::new();
    for i in 0..n {
        let k = rng.below(names.len() as u64 + 1) as usize;
        let (account_id, account_name) = if k == names.len() {
            (format!("gone-{i}"), None) // its account is not in this cache's view
        } else {
            (format!("acct-{k}"), Some(names[k].to_string()))
        };
        let last_report_at = rng
            .chance(60)
            .then(|| now() - Duration::hours(rng.below(24 * 90) as i64));
        let m = Model {
            id: format!(
                "inst-{:03}{}",
                rng.below(1000),
                ["", "-de", "_x", "-%"][i % 4]
            ) + &format!("-{i}"),
            account_id,
            account_name,
            airgapped: rng.chance(70),
            last_report_at,
            cloud_mark: rng.below(50),
            last_import_at: None,
            imported_mark: None,
        };
        changes.push(Change::Instance(Instance {
            id: m.id.clone(),
            license_id: format!("lic-{i}"),
            account_id: m.account_id.clone(),
            airgapped: m.airgapped,
            public_key: None,
            high_water_mark: m.cloud_mark,
            last_report_at: m.last_report_at,
        }));
        models.push(m);
    }
    rng.shuffle(&mut changes[1 + names.len()..]);
    sync(&mut cache, &changes, "1.1");
    let mut seq = 0;
    for m in models.iter_mut().step_by(5) {
        seq += 1;
        let at = now() - Duration::days(rng.below(60) as i64);
        cache
            .airgap_mut()
            .record_sync_key(&entry(&m.id, LedgerEvent::SyncKeyIssued, at, 0, seq))
            .unwrap();
        if rng.chance(70) {
            seq += 1;
            let mark = rng.below(100);
            let e = entry(
                &m.id,
                LedgerEvent::UsageImported,
                at + Duration::hours(1),
                mark,
                seq,
            );
            cache
                .airgap_mut()
                .commit_import(&e, "sk", "ud", &[], None)
                .unwrap();
            m.last_import_at = Some(at + Duration::hours(1));
            m.imported_mark = Some(mark);
        }
    }
    (cache, models)
}

fn cmp_opt_name(a: &Option<String>, b: &Option<String>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The full answer to `q`, from the model.
fn expected(models: &[Model], q: &InstanceQuery, now: DateTime<Utc>) -> Vec<String> {
    let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let mut rows: Vec<&Model> = models
        .iter()
        .filter(|m| q.kind == InstanceKind::All || m.airgapped)
        .filter(|m| !q.overdue_only || m.overdue(now))
        .filter(|m| {
            text.is_none_or(|t| {
                let ascii = t.to_ascii_lowercase();
                m.id.to_ascii_lowercase().contains(&ascii)
                    || m.account_id.to_ascii_lowercase().contains(&ascii)
                    || m.account_name
                        .as_ref()
                        .is_some_and(|n| n.to_lowercase().contains(&t.to_lowercase()))
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        let by_id = a.id.as_bytes().cmp(b.id.as_bytes());
        let o = match q.sort {
            InstanceSort::Status => b
                .airgapped
                .cmp(&a.airgapped)
                .then(b.overdue(now).cmp(&a.overdue(now)))
                .then(by_id),
            InstanceSort::Id => by_id,
            InstanceSort::Account => cmp_opt_name(&a.account_name, &b.account_name)
                .then(a.account_id.as_bytes().cmp(b.account_id.as_bytes()))
                .then(by_id),
            // None (never) before any time
            InstanceSort::LastExchange => a.last().cmp(&b.last()).then(by_id),
            InstanceSort::Mark => a.mark().cmp(&b.mark()).then(by_id),
        };
        if q.descending {
            o.reverse()
        } else {
            o
        }
    });
    rows.into_iter().map(|m| m.id.clone()).collect()
}

fn cutoff() -> DateTime<Utc> {
    now() - Duration::days(OVERDUE_DAYS)
}

/// Every page of `q` at `size`, concatenated; asserts each page's total and generation.
fn all_pages(cache: &Cache, q: &InstanceQuery, size: usize) -> (Vec<AirgapInstance>, u64) {
    let mut out = Vec::new();
    let mut first: Option<AirgapPage<AirgapInstance>> = None;
    loop {
        let page = cache
            .airgap()
            .instance_page(
                &InstanceQuery {
                    offset: out.len(),
                    limit: size,
                    ..q.clone()
                },
                cutoff(),
            )
            .unwrap();
        assert!(page.items.len() <= size);
        if let Some(f) = &first {
            assert_eq!(page.total, f.total, "every page has the list's total");
            assert_eq!(
                page.generation, f.generation,
                "nothing changed between pages"
            );
        }
        let done = page.items.len() < size;
        out.extend(page.items.iter().cloned());
        first.get_or_insert(page);
        if done {
            break;
        }
    }
    (out, first.map_or(0, |f| f.total))
}

#[test]
fn instance_pages_concatenate_to_the_model_under_every_filter_sort_and_search() {
    let (cache, models) = generated(240, 11);
    let texts = [
        None,
        Some("de"),
        Some("INST-1"),
        Some("zürich"),
        Some("ZÜRICH"),
        Some("%"),
        Some("_x"),
        Some("acme"),
        Some("gone"),
        Some("nothing-matches"),
    ];
    let sorts = [
        InstanceSort::Status,
        InstanceSort::Id,
        InstanceSort::Account,
        InstanceSort::LastExchange,
        InstanceSort::Mark,
    ];
    let mut checked = 0;
    for kind in [InstanceKind::Airgapped, InstanceKind::All] {
        for overdue_only in [false, true] {
            for text in texts {
                for sort in sorts {
                    for descending in [false, true] {
                        let q = InstanceQuery {
                            kind,
                            overdue_only,
                            text: text.map(Into::into),
                            sort,
                            descending,
                            offset: 0,
                            limit: 0,
                        };
                        let want = expected(&models, &q, now());
                        // Streamed in one statement (the CLI), from an offset, with a limit.
                        let mut streamed = Vec::new();
                        let window = InstanceQuery {
                            offset: 3,
                            limit: 40,
                            ..q.clone()
                        };
                        cache
                            .airgap()
                            .for_each_instance(&window, cutoff(), |r| {
                                streamed.push(r.instance.id);
                                Ok(true)
                            })
                            .unwrap();
                        let slice: Vec<String> = want.iter().skip(3).take(40).cloned().collect();
                        assert_eq!(streamed, slice, "{q:?} streamed");
                        assert_eq!(
                            cache.airgap().count_instances(&q, cutoff()).unwrap(),
                            want.len() as u64
                        );
                        for size in [7, 50] {
                            let (rows, total) = all_pages(&cache, &q, size);
                            let got: Vec<String> =
                                rows.iter().map(|r| r.instance.id.clone()).collect();
                            assert_eq!(got, want, "{q:?} in pages of {size}");
                            assert_eq!(
                                total,
                                want.len() as u64,
                                "{q:?}: the total counts the whole list"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 2 * texts.len() * sorts.len() * 2 * 2);
    // The searches above are not all empty: "zürich" finds both spellings of the name.
    let q = InstanceQuery {
        kind: InstanceKind::All,
        text: Some("zürich".into()),
        ..Default::default()
    };
    assert!(expected(&models, &q, now()).len() > 2);
}

#[test]
fn rows_carry_the_ledger_summary_and_the_overdue_count_matches_the_definition() {
    let (cache, models) = generated(150, 5);
    let q = InstanceQuery {
        kind: InstanceKind::All,
        sort: InstanceSort::Id,
        limit: 1000,
        ..Default::default()
    };
    let page = cache.airgap().instance_page(&q, cutoff()).unwrap();
    for row in &page.items {
        let m = models.iter().find(|m| m.id == row.instance.id).unwrap();
        assert_eq!(row.account_name, m.account_name, "{}", m.id);
        assert_eq!(row.last_import_at, m.last_import_at, "{}", m.id);
        assert_eq!(
            row.high_water_mark,
            m.mark(),
            "{}: the higher of the cloud's and the imported mark",
            m.id
        );
        assert_eq!(
            row.pending_uploads,
            u64::from(m.last_import_at.is_some()),
            "{}",
            m.id
        );
        assert_eq!(
            cache.airgap().instance(&m.id).unwrap().as_ref(),
            Some(row),
            "one instance reads the same row"
        );
    }
    let overdue = models.iter().filter(|m| m.overdue(now())).count() as u64;
    assert!(overdue > 0 && overdue < models.len() as u64);
    assert_eq!(cache.airgap().overdue_count(cutoff()).unwrap(), overdue);
    assert_eq!(
        cache.airgap().instances().unwrap().len(),
        models.len(),
        "the unpaged list still has everyone"
    );
}

#[test]
fn a_sync_between_two_pages_changes_the_generation_and_starting_over_shows_the_new_list_exactly() {
    let (mut cache, mut models) = generated(120, 3);
    let q = InstanceQuery {
        kind: InstanceKind::All,
        sort: InstanceSort::Id,
        limit: 25,
        ..Default::default()
    };
    let first = cache.airgap().instance_page(&q, cutoff()).unwrap();
    assert_eq!(
        cache
            .airgap()
            .instance_page(&q, cutoff())
            .unwrap()
            .generation,
        first.generation,
        "nothing changed: the same generation"
    );
    // A sync lands: instances that sort before the page boundary, and one that changes.
    let mut changes = Vec::new();
    for i in 0..10 {
        let m = Model {
            id: format!("inst-000-new-{i}"),
            account_id: "acct-0".into(),
            account_name: Some("Acme GmbH".into()),
            airgapped: true,
            last_report_at: None,
            cloud_mark: 0,
            last_import_at: None,
            imported_mark: None,
        };
        changes.push(Change::Instance(Instance {
            id: m.id.clone(),
            license_id: "lic".into(),
            account_id: m.account_id.clone(),
            airgapped: true,
            public_key: None,
            high_water_mark: 0,
            last_report_at: None,
        }));
        models.push(m);
    }
    sync(&mut cache, &changes, "1.2");
    let second = cache
        .airgap()
        .instance_page(
            &InstanceQuery {
                offset: 25,
                ..q.clone()
            },
            cutoff(),
        )
        .unwrap();
    assert_ne!(
        second.generation, first.generation,
        "the reader learns the list changed"
    );
    // Offsets across the two states would repeat rows: the first page's last ten are now
    // at 25..35. A reader that starts over on a new generation shows the new list exactly.
    let overlap = first
        .items
        .iter()
        .filter(|r| second.items.iter().any(|s| s.instance.id == r.instance.id))
        .count();
    assert!(overlap > 0, "mixing the two states would show rows twice");
    let (rows, total) = all_pages(&cache, &q, 25);
    let want = expected(&models, &q, now());
    assert_eq!(
        rows.iter()
            .map(|r| r.instance.id.clone())
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(total, 130);

    // An import is a change too.
    let g = cache.airgap().generation().unwrap();
    let e = entry(&models[1].id, LedgerEvent::UsageImported, now(), 1, 999);
    cache
        .airgap_mut()
        .commit_import(&e, "sk", "ud", &[], None)
        .unwrap();
    assert_ne!(cache.airgap().generation().unwrap(), g);
}

#[test]
fn a_snapshot_reads_every_page_in_one_state_while_another_connection_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut writer = Cache::open(&path).unwrap();
    let mut changes = vec![acc("root", "Root", None, "2020-01-01")];
    for i in 0..40 {
        changes.push(Change::Instance(Instance {
            id: format!("i-{i:02}"),
            license_id: "l".into(),
            account_id: "root".into(),
            airgapped: true,
            public_key: None,
            high_water_mark: 0,
            last_report_at: None,
        }));
    }
    sync(&mut writer, &changes, "1.1");
    let reader = Cache::open(&path).unwrap();
    let q = InstanceQuery {
        sort: InstanceSort::Id,
        limit: 10,
        ..Default::default()
    };
    let ids = reader
        .read_snapshot(|c| -> crate::Result<_> {
            let mut ids = Vec::new();
            for page in 0..4 {
                if page == 1 {
                    // Another connection commits instances that sort first.
                    let new: Vec<Change> = (0..5)
                        .map(|i| {
                            Change::Instance(Instance {
                                id: format!("a-{i}"),
                                license_id: "l".into(),
                                account_id: "root".into(),
                                airgapped: true,
                                public_key: None,
                                high_water_mark: 0,
                                last_report_at: None,
                            })
                        })
                        .collect();
                    sync(&mut writer, &new, "1.2");
                }
                let p = c.airgap().instance_page(
                    &InstanceQuery {
                        offset: page * 10,
                        ..q.clone()
                    },
                    cutoff(),
                )?;
                assert_eq!(p.total, 40, "the snapshot's total");
                ids.extend(p.items.into_iter().map(|r| r.instance.id));
            }
            Ok(ids)
        })
        .unwrap();
    let want: Vec<String> = (0..40).map(|i| format!("i-{i:02}")).collect();
    assert_eq!(
        ids, want,
        "no row twice, none skipped: the state the snapshot began in"
    );
    assert_eq!(
        reader.airgap().instance_page(&q, cutoff()).unwrap().total,
        45,
        "after it, the new state"
    );
}

#[test]
fn ledger_pages_are_newest_first_without_documents_and_the_document_is_fetched_by_id() {
    let (mut cache, models) = generated(60, 9);
    for i in 0..30 {
        let e = entry(
            &models[0].id,
            LedgerEvent::SyncKeyIssued,
            now(),
            0,
            1000 + i,
        );
        cache.airgap_mut().record_sync_key(&e).unwrap();
    }
    for instance in [None, Some(models[0].id.clone())] {
        let mut seen = Vec::new();
        let mut total = None;
        loop {
            let p = cache
                .airgap()
                .ledger_page(&LedgerQuery {
                    instance: instance.clone(),
                    kept_only: false,
                    offset: seen.len(),
                    limit: 8,
                })
                .unwrap();
            total.get_or_insert(p.total);
            let n = p.items.len();
            seen.extend(p.items);
            if n < 8 {
                break;
            }
        }
        let ids: Vec<i64> = seen.iter().map(|r| r.id).collect();
        let mut want: Vec<i64> = {
            let mut st = cache
                .conn
                .prepare("SELECT id, instance_id FROM airgap_ledger")
                .unwrap();
            let rows = st
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .unwrap();
            rows.map(Result::unwrap)
                .filter(|(_, inst)| instance.as_ref().is_none_or(|i| i == inst))
                .map(|(id, _)| id)
                .collect()
        };
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(ids, want, "newest first, each once ({instance:?})");
        assert_eq!(total, Some(want.len() as u64));
        assert!(want.len() >= 30);
    }
    let newest = cache
        .airgap()
        .ledger_page(&LedgerQuery {
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .items[0]
        .clone();
    assert_eq!(
        cache
            .airgap()
            .ledger_document(newest.id)
            .unwrap()
            .as_deref(),
        Some("document 1029")
    );
    assert_eq!(cache.airgap().ledger_document(-1).unwrap(), None);
}

fn here() -> OutboxBinding {
    OutboxBinding {
        cloud_url: "https://cloud.example/".into(),
        account_id: "root".into(),
    }
}

#[test]
fn the_outbox_keeps_files_through_deferral_refusal_and_clear_until_accepted_or_discarded() {
    let (mut cache, models) = generated(20, 4);
    let kept = cache.outbox().items().unwrap();
    assert!(kept.len() >= 2, "the generated imports are queued");
    assert!(
        kept.iter().all(|i| i.binding == here()),
        "bound to the cache's cloud and account"
    );
    let (a, b) = (kept[0].ledger_id, kept[1].ledger_id);

    // A transient failure: still kept, not due before its time.
    cache
        .outbox_mut()
        .mark_deferred(
            a,
            "the cloud answered 429",
            now(),
            now() + Duration::seconds(30),
        )
        .unwrap();
    let due: Vec<i64> = cache
        .outbox()
        .due(&here(), now())
        .unwrap()
        .iter()
        .map(|i| i.ledger_id)
        .collect();
    assert!(!due.contains(&a) && due.contains(&b));
    assert!(cache
        .outbox()
        .due(&here(), now() + Duration::seconds(30))
        .unwrap()
        .iter()
        .any(|i| i.ledger_id == a));
    let q = cache.outbox().queued(a).unwrap().unwrap();
    assert_eq!(
        (q.attempts, q.refused_status, q.last_error.as_deref()),
        (1, None, Some("the cloud answered 429"))
    );

    // A definite refusal: kept, not due, counted as refused; shown in the ledger row.
    cache
        .outbox_mut()
        .mark_refused(b, 400, "the accounts changed", now())
        .unwrap();
    assert!(!cache
        .outbox()
        .due(&here(), now() + Duration::days(9))
        .unwrap()
        .iter()
        .any(|i| i.ledger_id == b));
    let row = cache.airgap().ledger_row(b).unwrap().unwrap();
    assert_eq!(row.upload, Some(UploadState::Rejected));
    assert_eq!(row.upload_error.as_deref(), Some("the accounts changed"));
    assert_eq!(
        row.queued.as_ref().and_then(|q| q.refused_status),
        Some(400)
    );
    let instance = cache.airgap().instance(&row.instance_id).unwrap().unwrap();
    assert_eq!((instance.pending_uploads, instance.refused_uploads), (0, 1));

    // Clearing the synced data keeps every file, and another source never gets them.
    let before = cache.outbox().items().unwrap();
    cache.clear().unwrap();
    assert_eq!(
        cache.outbox().items().unwrap(),
        before,
        "clear keeps the outbox"
    );
    let other = OutboxBinding {
        cloud_url: "https://other.example/".into(),
        ..here()
    };
    assert!(cache
        .outbox()
        .due(&other, now() + Duration::days(9))
        .unwrap()
        .is_empty());
    let s = cache.outbox().summary(Some(&other)).unwrap();
    assert_eq!(s.refused, 1);
    assert_eq!(s.queued, 0);
    assert_eq!(
        s.elsewhere.iter().map(|e| e.files).sum::<u64>(),
        before.len() as u64 - 1
    );
    assert_eq!(s.elsewhere[0].binding, here());

    // Retry by hand: queued again, due at once; then accepted: gone from the outbox.
    cache.outbox_mut().requeue(b).unwrap();
    assert!(cache
        .outbox()
        .due(&here(), now())
        .unwrap()
        .iter()
        .any(|i| i.ledger_id == b));
    assert_eq!(
        cache.airgap().ledger_row(b).unwrap().unwrap().upload,
        Some(UploadState::Pending)
    );
    cache.outbox_mut().mark_uploaded(b).unwrap();
    assert!(cache.outbox().queued(b).unwrap().is_none());
    assert_eq!(
        cache.airgap().ledger_row(b).unwrap().unwrap().upload,
        Some(UploadState::Uploaded)
    );
    assert!(
        cache.outbox_mut().requeue(b).is_err(),
        "nothing kept to retry"
    );

    // Discard, explicitly: the ledger says so and by whom; the file is gone.
    cache
        .outbox_mut()
        .mark_refused(a, 413, "too large", now())
        .unwrap();
    cache.outbox_mut().discard(a, "ann (root)", now()).unwrap();
    let row = cache.airgap().ledger_row(a).unwrap().unwrap();
    assert_eq!(row.upload, Some(UploadState::Discarded));
    assert_eq!(
        (row.discarded_by.as_deref(), row.upload_error.as_deref()),
        (Some("ann (root)"), Some("too large"))
    );
    assert!(row.queued.is_none());
    assert!(
        cache.outbox_mut().discard(a, "ann", now()).is_err(),
        "nothing left to discard"
    );
    let kept_rows = cache
        .airgap()
        .ledger_page(&LedgerQuery {
            kept_only: true,
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        kept_rows.total,
        cache.outbox().items().unwrap().len() as u64
    );
    assert!(kept_rows.items.iter().all(|r| r.queued.is_some()));
    let _ = models;
}
