//! The storage traits on SQLite: reads on a pooled reader, writes on the one writer, each
//! call in one transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension};
use usagedesk_airgap::RootKey;
use usagedesk_domain::api::IngestResponse;
use usagedesk_domain::customer::{InstanceEvent, InstanceReport};
use usagedesk_domain::{Account, Instance, PlanCatalog, YearMonth};

use super::{
    account_row, airgap, connection_settings, counts_cols, customers, feed_read, identity,
    load::load_dataset, load_catalog, month_col, month_feed, poisoned, refresh_month_usage, tokens,
    write_daily, SqliteStorage, ACCOUNT_COLS, LOAD_PRAGMAS, WRITER_CACHE_KIB,
};
use crate::storage::{
    AcceptedFile, AirGap, CheckInRecord, CheckInWritten, Customers, DailyRow, Dataset, Delegation,
    EnrollmentKeyState, Feed, FeedRows, InstanceIdentity, KeyEvent, KeyReset, LastCheckIn,
    LicenseFileRecord, LoadError, LoadStats, MonthRow, NewToken, OnlineSyncKey, PinGrant, Rates,
    ReceiptWriter, RevokedCertificate, SharedBudgets, StoreError, StoredSigner, Tenants,
    TokenGrant, TokenInfo, TokenScope, Tokens, UsageFile,
};

impl Tenants for SqliteStorage {
    fn plans(&self) -> Result<PlanCatalog, StoreError> {
        self.read(load_catalog)
    }

    fn load(&self, dataset: Dataset<'_>, today: NaiveDate) -> Result<LoadStats, LoadError> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        // A load checks every reference it writes itself (accounts, parents, plans,
        // instances, licenses, attempts) before the row goes in, and never deletes, so its
        // transaction skips SQLite's per-row foreign-key lookups; a larger page cache keeps
        // the B-trees it fills in memory instead of spilling them to the WAL mid-way.
        conn.execute_batch(LOAD_PRAGMAS).map_err(StoreError::from)?;
        let out = load_dataset(&mut conn, dataset, today);
        connection_settings(WRITER_CACHE_KIB)
            .apply(&conn)
            .map_err(|e| StoreError::other(e.to_string()))?;
        out
    }

    fn ingest(&self, rows: &[DailyRow]) -> Result<IngestResponse, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction()?;
            let mut touched = BTreeSet::new();
            let accepted = write_daily(&tx, rows.iter(), &mut touched)?;
            let months_changed = refresh_month_usage(&tx, &touched)?;
            tx.commit()?;
            Ok(IngestResponse {
                accepted,
                months_changed,
            })
        })
    }

    fn account(&self, scope: &TokenScope, id: &str) -> Result<Option<Account>, StoreError> {
        self.read(|conn| {
            let sql = match scope {
                TokenScope::All => {
                    format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = ?1 AND ?2 IS NULL")
                }
                TokenScope::Subtree(_) => format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts a
                     JOIN closure c ON c.descendant = a.id AND c.ancestor = ?2 WHERE a.id = ?1"
                ),
            };
            let root = match scope {
                TokenScope::All => None,
                TokenScope::Subtree(r) => Some(r.as_str()),
            };
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![id, root], account_row)
                .optional()?)
        })
    }

    fn account_path(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| airgap::account_path(conn, account_id))
    }
}

impl Tokens for SqliteStorage {
    fn add_token(&self, token: &NewToken) -> Result<(), StoreError> {
        self.write(|conn| tokens::add(conn, token))
    }

    fn authenticate(&self, hash: [u8; 32]) -> Result<Option<TokenGrant>, StoreError> {
        self.read(|conn| tokens::authenticate(conn, hash))
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(tokens::list)
    }

    fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> Result<TokenInfo, StoreError> {
        self.write(|conn| tokens::revoke(conn, id, now))
    }

    fn revoked_certificate(
        &self,
        certificate_sha256: &str,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        self.read(|conn| tokens::revoked_certificate(conn, certificate_sha256))
    }
}

impl Feed for SqliteStorage {
    fn feed_epoch(&self) -> Result<String, StoreError> {
        Ok(self.epoch.clone())
    }

    fn feed_after(
        &self,
        scope: &TokenScope,
        after_seq: u64,
        limit: usize,
        count: bool,
    ) -> Result<FeedRows, StoreError> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        self.read(|conn| {
            let head = month_feed::head(conn)?;
            let page = feed_read::page(conn, scope, after, limit)?;
            // Counted within the next `max_feed_count` positions of the feed, whatever the
            // scope: the work is bounded, and the count a lower bound when the feed is longer.
            let remaining = if count {
                let most = i64::try_from(self.limits.max_feed_count).unwrap_or(i64::MAX);
                Some(month_feed::count(conn, scope, after, most)?.max(0) as u64)
            } else {
                None
            };
            Ok(FeedRows {
                changes: page.changes,
                last_seq: page.last_seq.max(0) as u64,
                has_more: page.has_more,
                remaining,
                head: head.max(0) as u64,
            })
        })
    }

    fn subtree_accounts(&self, root: &str) -> Result<Vec<Account>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM closure c JOIN accounts a ON a.id = c.descendant WHERE c.ancestor = ?1"
            ))?;
            let accounts = stmt.query_map([root], account_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(accounts)
        })
    }

    fn subtree_month_rows(
        &self,
        root: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.account_id, m.month, m.plan, m.users_registered, m.users_with_token, m.users_with_activity
                 FROM closure c JOIN month_usage m ON m.account_id = c.descendant
                 WHERE c.ancestor = ?1 AND m.month >= ?2 AND m.month <= ?3",
            )?;
            let rows = stmt.query_map(params![root, from.to_string(), to.to_string()], |r| {
                Ok(MonthRow {
                    account_id: r.get(0)?,
                    month: month_col(r, 1)?,
                    plan: r.get(2)?,
                    counts: counts_cols(r, 3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

impl AirGap for SqliteStorage {
    fn root_key(&self) -> Result<Option<RootKey>, StoreError> {
        self.read(airgap::root_key)
    }

    fn insert_root_key(&self, key: &RootKey, now: DateTime<Utc>) -> Result<RootKey, StoreError> {
        self.write(|conn| airgap::insert_root_key(conn, key, now))
    }

    fn cloud_signer(&self) -> Result<Option<StoredSigner>, StoreError> {
        self.read(airgap::cloud_signer)
    }

    fn save_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|conn| airgap::save_cloud_signer(conn, signer, now))
    }

    fn insert_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<StoredSigner, StoreError> {
        self.write(|conn| airgap::insert_cloud_signer(conn, signer, now))
    }

    fn record_delegation(&self, delegation: &Delegation) -> Result<(), StoreError> {
        self.write(|conn| airgap::record_delegation(conn, delegation))
    }

    fn instance(&self, scope: &TokenScope, id: &str) -> Result<Option<Instance>, StoreError> {
        self.read(|conn| airgap::instance(conn, scope, id))
    }

    fn accepted_file(&self, sha256: &str) -> Result<Option<AcceptedFile>, StoreError> {
        self.read(|conn| airgap::accepted_file(conn, sha256))
    }

    fn save_online_sync_key(
        &self,
        key: &OnlineSyncKey,
        public_key: &str,
        pin: Option<&PinGrant>,
    ) -> Result<(), StoreError> {
        let keep = self.limits.online_sync_keys_per_instance;
        self.write(|conn| airgap::save_online_sync_key(conn, key, public_key, pin, keep))
    }

    fn online_sync_key(&self, nonce: &str) -> Result<Option<OnlineSyncKey>, StoreError> {
        self.read(|conn| airgap::online_sync_key(conn, nonce))
    }

    fn accept_usage_file(
        &self,
        file: &UsageFile,
        receipt: &mut ReceiptWriter<'_>,
    ) -> Result<AcceptedFile, StoreError> {
        self.write(|conn| airgap::accept_usage_file(conn, file, receipt))
    }
}

impl InstanceIdentity for SqliteStorage {
    fn record_license_file(&self, record: &LicenseFileRecord) -> Result<(), StoreError> {
        self.write(|conn| identity::record_license_file(conn, record))
    }

    fn enrollment_key_state(
        &self,
        instance_id: &str,
        enrollment_key: &str,
    ) -> Result<EnrollmentKeyState, StoreError> {
        self.read(|conn| identity::enrollment_key_state(conn, instance_id, enrollment_key))
    }

    fn reset_instance_key(
        &self,
        instance_id: &str,
        revoke_license_files: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyReset, StoreError> {
        self.write(|conn| {
            identity::reset_instance_key(conn, instance_id, revoke_license_files, actor, now)
        })
    }

    fn instance_key_events(&self, instance_id: &str) -> Result<Vec<KeyEvent>, StoreError> {
        self.read(|conn| identity::instance_key_events(conn, instance_id))
    }
}

impl Customers for SqliteStorage {
    fn last_check_in(&self, instance_id: &str) -> Result<Option<LastCheckIn>, StoreError> {
        self.read(|conn| customers::last_check_in(conn, instance_id))
    }

    fn write_check_in(&self, record: &CheckInRecord) -> Result<CheckInWritten, StoreError> {
        self.write(|conn| customers::write_check_in(conn, record))
    }

    fn instance_report(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Option<InstanceReport>, StoreError> {
        self.read(|conn| customers::instance_report(conn, scope, instance_id))
    }

    fn instance_events(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Vec<InstanceEvent>, StoreError> {
        self.read(|conn| customers::instance_events(conn, scope, instance_id))
    }
}

/// One process serves a SQLite file: its in-memory budgets are the only ones.
impl Rates for SqliteStorage {
    fn shared_budgets(&self) -> Option<&dyn SharedBudgets> {
        None
    }
}
