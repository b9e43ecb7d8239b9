//! The storage traits on PostgreSQL: reads on a pooled connection, writes in a transaction
//! holding the write lock, each call in one transaction (a feed page in one snapshot).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_airgap::RootKey;
use usagedesk_domain::api::IngestResponse;
use usagedesk_domain::customer::{InstanceEvent, InstanceReport};
use usagedesk_domain::{Account, Instance, PlanCatalog, YearMonth};

use super::{
    account_row, airgap, col, counts_cols, customers, daily, feed, feed_page, identity, load,
    month_col, tokens, PgStorage, ACCOUNT_COLS,
};
use crate::storage::{
    AcceptedFile, AirGap, CheckInRecord, CheckInWritten, Customers, DailyRow, Dataset, Delegation,
    EnrollmentKeyState, Feed, FeedRows, InstanceIdentity, KeyEvent, KeyReset, LastCheckIn,
    LicenseFileRecord, LoadError, LoadStats, MonthRow, NewToken, OnlineSyncKey, PinGrant, Rates,
    ReceiptWriter, RevokedCertificate, SharedBudgets, StoreError, StoredSigner, Tenants,
    TokenGrant, TokenInfo, TokenScope, Tokens, UsageFile,
};

/// Runs `$body` with `$c` a pooled connection.
macro_rules! read {
    ($self:ident, |$c:ident| $body:expr) => {
        $self.run(async {
            let mut conn = $self.pool.acquire().await?;
            let $c: &mut sqlx::PgConnection = &mut conn;
            $body.await
        })
    };
}

/// Runs `$body` with `$c` a transaction holding the write lock; commits when it succeeds.
macro_rules! write {
    ($self:ident, |$c:ident| $body:expr) => {
        $self.run(async {
            let mut tx = $self.write_tx().await?;
            let out = {
                let $c: &mut sqlx::PgConnection = &mut tx;
                $body.await?
            };
            tx.commit().await.map_err(StoreError::from)?;
            Ok(out)
        })
    };
}

impl Tenants for PgStorage {
    fn plans(&self) -> Result<PlanCatalog, StoreError> {
        read!(self, |c| load::catalog(c))
    }

    fn load(&self, dataset: Dataset<'_>, today: NaiveDate) -> Result<LoadStats, LoadError> {
        self.run(async {
            let mut tx = self.write_tx().await?;
            let stats = load::load_dataset(&mut tx, dataset, today).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(stats)
        })
    }

    fn ingest(&self, rows: &[DailyRow]) -> Result<IngestResponse, StoreError> {
        write!(self, |c| async {
            let mut touched = BTreeSet::new();
            let rows: Vec<&DailyRow> = rows.iter().collect();
            let accepted = daily::write_daily(c, &rows, &mut touched).await?;
            let months_changed = daily::refresh_month_usage(c, &touched).await?;
            Ok::<_, StoreError>(IngestResponse {
                accepted,
                months_changed,
            })
        })
    }

    fn account(&self, scope: &TokenScope, id: &str) -> Result<Option<Account>, StoreError> {
        read!(self, |c| async {
            let row = match scope {
                TokenScope::All => {
                    sqlx::query(&format!(
                        "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&mut *c)
                    .await?
                }
                TokenScope::Subtree(root) => {
                    sqlx::query(&format!(
                        "SELECT {ACCOUNT_COLS} FROM accounts a
                         JOIN closure c ON c.descendant = a.id AND c.ancestor = $2
                         WHERE a.id = $1"
                    ))
                    .bind(id)
                    .bind(root)
                    .fetch_optional(&mut *c)
                    .await?
                }
            };
            row.map(|r| account_row(&r, 0)).transpose()
        })
    }

    fn account_path(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        read!(self, |c| airgap::account_path(c, account_id))
    }
}

impl Tokens for PgStorage {
    fn add_token(&self, token: &NewToken) -> Result<(), StoreError> {
        write!(self, |c| tokens::add(c, token))
    }

    fn authenticate(&self, hash: [u8; 32]) -> Result<Option<TokenGrant>, StoreError> {
        read!(self, |c| tokens::authenticate(c, hash))
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        read!(self, |c| tokens::list(c))
    }

    fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> Result<TokenInfo, StoreError> {
        write!(self, |c| tokens::revoke(c, id, now))
    }

    fn revoked_certificate(
        &self,
        certificate_sha256: &str,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        read!(self, |c| tokens::revoked_certificate(c, certificate_sha256))
    }
}

impl Feed for PgStorage {
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
        self.run(async {
            let mut tx = self.pool.begin_with(feed_page::begin(scope)).await?;
            let split = feed_page::Split {
                pool: &self.pool,
                at_least: feed_page::SPLIT_AT,
                opening: &self.opening,
            };
            let page = feed_page::page(&mut tx, Some(split), scope, after, limit).await?;
            tracing::trace!(
                changes = page.changes.len(),
                split = page.split,
                "feed page after {after}"
            );
            let remaining = if count {
                // Of the next entries (at most the limit, whoever may see them), those the
                // scope may see.
                let sql = format!(
                    "SELECT COUNT(*) FROM ({} ORDER BY seq LIMIT $2) f WHERE {}",
                    feed_page::entries("true", "true", true),
                    feed::scope_filter(scope)
                );
                let most = i64::try_from(self.limits.max_feed_count).unwrap_or(i64::MAX);
                let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(after).bind(most);
                if let Some(root) = super::scope_root(scope) {
                    q = q.bind(root);
                }
                Some(q.fetch_one(&mut *tx).await?.max(0) as u64)
            } else {
                None
            };
            // Read only: a rollback ends it as a commit would, and the driver sends it as
            // the connection goes back to the pool, without a round trip of the page's own.
            drop(tx);
            Ok(FeedRows {
                changes: page.changes,
                last_seq: page.last_seq.max(0) as u64,
                has_more: page.has_more,
                remaining,
                head: page.head.max(0) as u64,
            })
        })
    }

    fn subtree_accounts(&self, root: &str) -> Result<Vec<Account>, StoreError> {
        read!(self, |c| async {
            sqlx::query(&format!(
                "SELECT {ACCOUNT_COLS} FROM closure c JOIN accounts a ON a.id = c.descendant
                 WHERE c.ancestor = $1"
            ))
            .bind(root)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| account_row(r, 0))
            .collect()
        })
    }

    fn subtree_month_rows(
        &self,
        root: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthRow>, StoreError> {
        read!(self, |c| async {
            sqlx::query(
                "SELECT m.account_id, m.month, m.plan, m.users_registered, m.users_with_token,
                        m.users_with_activity
                 FROM closure c JOIN month_usage m ON m.account_id = c.descendant
                 WHERE c.ancestor = $1 AND m.month >= $2 AND m.month <= $3",
            )
            .bind(root)
            .bind(from.to_string())
            .bind(to.to_string())
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(MonthRow {
                    account_id: col(r, 0)?,
                    month: month_col(r, 1)?,
                    plan: col(r, 2)?,
                    counts: counts_cols(r, 3)?,
                })
            })
            .collect()
        })
    }
}

impl AirGap for PgStorage {
    fn root_key(&self) -> Result<Option<RootKey>, StoreError> {
        read!(self, |c| airgap::root_key(c))
    }

    fn insert_root_key(&self, key: &RootKey, now: DateTime<Utc>) -> Result<RootKey, StoreError> {
        write!(self, |c| airgap::insert_root_key(c, key, now))
    }

    fn cloud_signer(&self) -> Result<Option<StoredSigner>, StoreError> {
        read!(self, |c| airgap::cloud_signer(c))
    }

    fn save_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        write!(self, |c| airgap::save_cloud_signer(c, signer, now))
    }

    fn insert_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<StoredSigner, StoreError> {
        write!(self, |c| airgap::insert_cloud_signer(c, signer, now))
    }

    fn record_delegation(&self, delegation: &Delegation) -> Result<(), StoreError> {
        write!(self, |c| airgap::record_delegation(c, delegation))
    }

    fn instance(&self, scope: &TokenScope, id: &str) -> Result<Option<Instance>, StoreError> {
        read!(self, |c| airgap::instance(c, scope, id))
    }

    fn accepted_file(&self, sha256: &str) -> Result<Option<AcceptedFile>, StoreError> {
        read!(self, |c| airgap::accepted_file(c, sha256))
    }

    fn save_online_sync_key(
        &self,
        key: &OnlineSyncKey,
        public_key: &str,
        pin: Option<&PinGrant>,
    ) -> Result<(), StoreError> {
        let keep = self.limits.online_sync_keys_per_instance;
        write!(self, |c| airgap::save_online_sync_key(
            c, key, public_key, pin, keep
        ))
    }

    fn online_sync_key(&self, nonce: &str) -> Result<Option<OnlineSyncKey>, StoreError> {
        read!(self, |c| airgap::online_sync_key(c, nonce))
    }

    fn accept_usage_file(
        &self,
        file: &UsageFile,
        receipt: &mut ReceiptWriter<'_>,
    ) -> Result<AcceptedFile, StoreError> {
        write!(self, |c| airgap::accept_usage_file(c, file, receipt))
    }
}

impl InstanceIdentity for PgStorage {
    fn record_license_file(&self, record: &LicenseFileRecord) -> Result<(), StoreError> {
        write!(self, |c| identity::record_license_file(c, record))
    }

    fn enrollment_key_state(
        &self,
        instance_id: &str,
        enrollment_key: &str,
    ) -> Result<EnrollmentKeyState, StoreError> {
        read!(self, |c| identity::enrollment_key_state(
            c,
            instance_id,
            enrollment_key
        ))
    }

    fn reset_instance_key(
        &self,
        instance_id: &str,
        revoke_license_files: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyReset, StoreError> {
        write!(self, |c| identity::reset_instance_key(
            c,
            instance_id,
            revoke_license_files,
            actor,
            now
        ))
    }

    fn instance_key_events(&self, instance_id: &str) -> Result<Vec<KeyEvent>, StoreError> {
        read!(self, |c| identity::instance_key_events(c, instance_id))
    }
}

impl Customers for PgStorage {
    fn last_check_in(&self, instance_id: &str) -> Result<Option<LastCheckIn>, StoreError> {
        read!(self, |c| customers::last_check_in(c, instance_id))
    }

    fn write_check_in(&self, record: &CheckInRecord) -> Result<CheckInWritten, StoreError> {
        write!(self, |c| customers::write_check_in(c, record))
    }

    fn instance_report(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Option<InstanceReport>, StoreError> {
        read!(self, |c| customers::instance_report(c, scope, instance_id))
    }

    fn instance_events(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Vec<InstanceEvent>, StoreError> {
        read!(self, |c| customers::instance_events(c, scope, instance_id))
    }
}

/// Several processes may serve one PostgreSQL database: the budgets are kept in it.
impl Rates for PgStorage {
    fn shared_budgets(&self) -> Option<&dyn SharedBudgets> {
        Some(self)
    }
}
