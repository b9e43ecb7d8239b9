//! Where the cloud keeps its data. The service talks to the [`Storage`] trait only, so the
//! embedded SQLite engine can be joined by PostgreSQL behind the same interface.

mod sqlite;

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_airgap::RootKey;
use usagedesk_domain::api::{Change, IngestResponse};
use usagedesk_domain::customer::{
    ClusterDetails, InstallAttempt, InstallStep, InstanceEvent, InstanceReport, InstanceStatus,
    License,
};
use usagedesk_domain::{Account, Instance, Plan, PlanCatalog, UsageCounts, YearMonth};

pub use sqlite::{backup, rotate_epoch, SqliteStorage};

/// Why a storage call failed, in words every engine can give: an engine maps its own
/// driver's errors onto these (see the SQLite engine's `From<rusqlite::Error>`), so nothing
/// above the engine names a driver type.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (e.g. revoking an unknown token id).
    #[error("{0}")]
    NotFound(String),
    #[error("the database at {path} was written by a newer usagedesk-cloud (schema {found}, this build knows {known}); upgrade usagedesk-cloud")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the cursor belongs to another dataset; start a full sync")]
    CursorExpired,
    /// The cursor given, never shown in a message (a mistyped one could be anything).
    #[error("the cursor was not issued by this service; start a full sync")]
    BadCursor(String),
    /// A write lost a race with another one (e.g. two first contacts pinning two keys), or
    /// was refused by what is stored (a check-in not later than the last).
    #[error("{0}")]
    Conflict(String),
    /// The cursor is beyond the feed's head: the database was restored from an older backup.
    #[error("the cursor is ahead of this service's change feed (its database was restored from an older backup); start a full sync")]
    CursorAhead,
    /// The database cannot serve now but may in a moment: every connection busy, a lock
    /// held too long, a connection lost. Nothing was written; the HTTP layer answers 503 with
    /// a retry hint.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: a failing disk, a corrupt row, a bug.
    #[error("storage failed: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// An [`StoreError::Other`] with this message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into().into())
    }
}

/// A row that failed validation, located in its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}: {message}")]
pub struct RowError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

/// A value with where it came from (a file and line, or a request and index). The file's
/// name is shared by every row of the file.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub file: std::sync::Arc<str>,
    pub line: u64,
    pub row: T,
}

impl<T> Located<T> {
    pub fn error(&self, message: impl Into<String>) -> RowError {
        RowError {
            file: self.file.to_string(),
            line: self.line,
            message: message.into(),
        }
    }
}

/// One daily usage snapshot, already parsed (counts non-negative by type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRow {
    pub account_id: String,
    pub date: NaiveDate,
    pub plan: String,
    pub counts: UsageCounts,
}

/// One row of `instances.csv`, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub id: String,
    pub license_id: String,
    pub account_id: String,
    pub airgapped: bool,
    /// `ed25519:…`, checked; `None` keeps the key the cloud pinned (if any).
    pub public_key: Option<String>,
}

/// One row of `install_steps.csv`, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub attempt_id: String,
    pub step: InstallStep,
}

/// A stream of rows read from a file as the load consumes them.
pub type RowStream<'a, T> = Box<dyn Iterator<Item = Result<Located<T>, RowError>> + 'a>;

/// A dataset to load: the accounts, instances and the other small files in memory, the
/// (large) daily rows and instance events streamed.
pub struct Dataset<'a> {
    pub plans: Option<Vec<Plan>>,
    pub accounts: Vec<Located<Account>>,
    /// Empty when the folder has no `instances.csv`.
    pub instances: Vec<Located<InstanceRow>>,
    pub daily: RowStream<'a, DailyRow>,
    /// The customer-reporting files; each empty when the folder does not have it.
    pub licenses: Vec<Located<License>>,
    pub reports: Vec<Located<InstanceReport>>,
    pub events: RowStream<'a, InstanceEvent>,
    /// Their `steps` are empty: steps come in [`Dataset::steps`].
    pub attempts: Vec<Located<InstallAttempt>>,
    pub steps: Vec<Located<StepRow>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub accounts_changed: usize,
    pub instances_changed: usize,
    pub daily_rows: usize,
    pub months_changed: usize,
    pub licenses_changed: usize,
    pub reports_changed: usize,
    pub events_changed: usize,
    /// Attempts whose row or steps changed.
    pub attempts_changed: usize,
}

/// A verified, validated check-in to record (`POST /api/v1/instances/{id}/check-in`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInWrite {
    pub instance_id: String,
    /// The aggregate status of the reported resources.
    pub status: InstanceStatus,
    pub app_version: String,
    pub cluster: ClusterDetails,
    /// The time the instance signed the check-in with; must be later than the last one's.
    pub signed_at: DateTime<Utc>,
    /// The cloud's clock: the check-in time and the events' `received_at`.
    pub now: DateTime<Utc>,
}

/// What a check-in changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInOutcome {
    /// The instance's report after the check-in.
    pub report: InstanceReport,
    /// The events it recorded: one per field whose value changed.
    pub events: Vec<InstanceEvent>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a token may see: the whole vendor, or one account's subtree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    All,
    Subtree(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Reads through the manager API and the change feed.
    Manager,
    /// Posts daily usage.
    Ingest,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Ingest => "ingest",
        }
    }
}

/// A token as authentication finds it, whether or not it is still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The public id (`tok-…`), safe to print.
    pub id: String,
    pub scope: TokenScope,
    pub kind: TokenKind,
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Whether a token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl TokenState {
    pub fn of(
        expires_at: Option<DateTime<Utc>>,
        revoked_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        if revoked_at.is_some() {
            Self::Revoked
        } else if expires_at.is_some_and(|e| e <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl TokenGrant {
    pub fn state(&self, now: DateTime<Utc>) -> TokenState {
        TokenState::of(self.expires_at, self.revoked_at, now)
    }
}

/// A token to store: only its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub hash: [u8; 32],
    /// `tok-` and 12 hex digits ([`crate::tokens::generate_id`]).
    pub id: String,
    pub scope: TokenScope,
    pub kind: TokenKind,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// `None`: valid until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored token, for `usagedesk-cloud token list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub kind: TokenKind,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    pub fn state(&self, now: DateTime<Utc>) -> TokenState {
        TokenState::of(self.expires_at, self.revoked_at, now)
    }
}

/// A certificate whose token was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    pub token_id: String,
    pub subject: String,
    pub revoked_at: DateTime<Utc>,
}

/// A page of the change feed after a cursor.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    pub next_cursor: String,
    pub has_more: bool,
    pub remaining: Option<u64>,
}

/// An account of a subtree, with its depth below the subtree's root.
#[derive(Debug, Clone)]
pub struct SubtreeAccount {
    pub account: Account,
    pub depth: u32,
}

/// A month-end row read back for reports.
#[derive(Debug, Clone)]
pub struct MonthRow {
    pub account_id: String,
    pub month: YearMonth,
    pub plan: String,
    pub counts: UsageCounts,
}

/// The cloud's own delegated signing key, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigner {
    /// `ed25519-secret:…`
    pub secret: String,
    /// Its delegation certificate, compact JSON.
    pub certificate: String,
}

/// A delegation certificate given to a manager's key, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub public_key: String,
    pub subject: String,
    pub scope: String,
    pub token_name: String,
    /// The token the certificate was issued to.
    pub token_id: String,
    /// SHA-256 (hex) of the certificate's compact JSON.
    pub certificate_sha256: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A sync key the cloud issued to an instance (online mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineSyncKey {
    /// 64 lowercase hex digits.
    pub nonce: String,
    pub instance_id: String,
    /// The armored file.
    pub sync_key: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How a usage data file reached the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageVia {
    /// Uploaded by a manager (`POST /api/v1/airgap/imports`).
    Import,
    /// Sent by the instance itself (`POST /api/v1/instances/{id}/usage-data`).
    Online,
}

impl UsageVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Online => "online",
        }
    }
}

/// The right to pin a first key for an instance: an enrollment the service verified, made with
/// the license file whose enrollment key this is. Re-checked (issued for the instance, not
/// revoked) in the transaction that pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinGrant {
    /// `ed25519:…`, the license file's enrollment public key.
    pub enrollment_key: String,
    /// Who brought the enrollment: `instance (online)`, or the manager token's name.
    pub actor: String,
    pub now: DateTime<Utc>,
}

/// A license file the vendor issued, as the service records it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFileRecord {
    pub instance_id: String,
    pub license_id: String,
    /// `ed25519:…`
    pub enrollment_key: String,
    pub account_path: Vec<String>,
    pub airgapped: bool,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who issued it (the operator's name).
    pub issued_by: String,
}

/// What the service knows of a license file's enrollment key, for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentKeyState {
    /// Issued for the instance and not revoked.
    Usable,
    /// Issued for the instance, revoked then.
    Revoked(DateTime<Utc>),
    /// Never issued for this instance by this service.
    Unknown,
}

/// A change of an instance's key, for its history (`usagedesk-cloud instance history`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyEvent {
    pub instance_id: String,
    pub at: DateTime<Utc>,
    /// `license_file_issued`, `enrolled`, `registered`, `reset`, `license_files_revoked`.
    pub event: String,
    pub actor: String,
    /// The instance key enrolled, registered or reset; a license file's enrollment key.
    pub public_key: Option<String>,
    pub detail: String,
}

/// What `reset_instance_key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReset {
    /// The key that was pinned (`None`: there was none).
    pub previous_key: Option<String>,
    /// License files revoked.
    pub revoked: u64,
    /// License files still able to enroll the instance (issued, not revoked, not expired).
    pub usable_license_files: u64,
}

/// A verified usage data file to write, its records already validated as daily rows.
#[derive(Debug, Clone)]
pub struct UsageFile {
    /// SHA-256 of the file (canonical form), hex.
    pub sha256: String,
    /// The nonce it answers, hex.
    pub nonce: String,
    pub instance_id: String,
    /// The key that signed it: must be the pinned one, or is pinned with `pin` when the instance
    /// has none yet.
    pub instance_key: String,
    /// First contact: the verified enrollment that allows pinning `instance_key`.
    pub pin: Option<PinGrant>,
    /// The highest record `seq` it carries (its mark when it carries none); at most `i64::MAX`.
    pub highest_seq: u64,
    /// One per record, in `seq` order.
    pub rows: Vec<DailyRow>,
    /// The records' `seq`, in the same order (each at most `i64::MAX`).
    pub seqs: Vec<u64>,
    pub via: UsageVia,
    /// The token name (imports) or `instance` (online).
    pub accepted_by: String,
    pub now: DateTime<Utc>,
}

/// How the records of a file compare with what the cloud held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub received: u64,
    /// No daily row for (account, date) yet.
    pub new: u64,
    /// The same plan and counts already held.
    pub already_present: u64,
    /// Another plan or other counts held: replaced.
    pub changed: u64,
}

/// The cloud's answer to a usage data file, stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedFile {
    pub instance_id: String,
    pub counts: FileCounts,
    /// The instance's mark after the file.
    pub high_water_mark: u64,
    /// The cloud's verification key for the file (armored).
    pub verification_key: String,
    /// The file had been accepted before; nothing was written this time.
    pub replay: bool,
}

/// Writes the verification key of a file once its counts are known (inside the write).
pub type ReceiptWriter<'a> = dyn FnMut(&FileCounts) -> Result<String, StoreError> + 'a;

/// The storage interface of the cloud service. Calls block; the HTTP layer runs them on
/// tokio's blocking pool.
pub trait Storage: Send + Sync + 'static {
    fn plans(&self) -> Result<PlanCatalog, StoreError>;

    /// Loads a dataset: all or nothing. `today` bounds snapshot dates.
    fn load(&self, dataset: Dataset<'_>, today: NaiveDate) -> Result<LoadStats, LoadError>;

    /// Stores a token by its SHA-256 hash, with a new random id and no expiry.
    fn create_token(
        &self,
        hash: [u8; 32],
        scope: &TokenScope,
        kind: TokenKind,
        name: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.add_token(&NewToken {
            hash,
            id: crate::tokens::generate_id(&mut rand::rngs::OsRng),
            scope: scope.clone(),
            kind,
            name: name.to_owned(),
            created_at: now,
            expires_at: None,
        })
    }

    /// Stores a token by its hash; its account must exist.
    fn add_token(&self, token: &NewToken) -> Result<(), StoreError>;

    /// The token with this hash, revoked and expired ones included.
    fn authenticate(&self, hash: [u8; 32]) -> Result<Option<TokenGrant>, StoreError>;

    /// Every token, oldest first.
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes the token with this id (at `now`, or keeps the earlier revocation).
    /// [`StoreError::NotFound`] when there is none.
    fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> Result<TokenInfo, StoreError>;

    /// The certificate with this SHA-256 (of its compact JSON), when the token it was issued
    /// to is revoked.
    fn revoked_certificate(
        &self,
        certificate_sha256: &str,
    ) -> Result<Option<RevokedCertificate>, StoreError>;

    /// The account, when it exists and `scope` may see it.
    fn account(&self, scope: &TokenScope, id: &str) -> Result<Option<Account>, StoreError>;

    /// The change feed of `scope` after `cursor` (`None`: from the start).
    fn changes(
        &self,
        scope: &TokenScope,
        cursor: Option<&str>,
        limit: usize,
        count: bool,
    ) -> Result<FeedPage, StoreError>;

    /// The subtree of `root` in tree order (depth-first, siblings by name then id).
    fn subtree(&self, root: &str) -> Result<Vec<SubtreeAccount>, StoreError>;

    /// Month-end rows of `root`'s subtree for months `from..=to`.
    fn subtree_month_rows(
        &self,
        root: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthRow>, StoreError>;

    /// Writes validated daily snapshots in one transaction and derives month-end rows.
    fn ingest(&self, rows: &[DailyRow]) -> Result<IngestResponse, StoreError>;

    // ---- The air-gapped exchange ----

    /// The vendor root key, created with the database. It never leaves the service.
    fn vendor_root_key(&self) -> Result<RootKey, StoreError>;

    /// The cloud's own delegated key and certificate, when one was stored.
    fn cloud_signer(&self) -> Result<Option<StoredSigner>, StoreError>;

    /// Replaces the cloud's own delegated key and certificate.
    fn save_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a certificate given to a manager's key.
    fn record_delegation(&self, delegation: &Delegation) -> Result<(), StoreError>;

    /// The instance, when it exists and `scope` may see its account.
    fn instance(&self, scope: &TokenScope, id: &str) -> Result<Option<Instance>, StoreError>;

    /// The ids from the root of `account_id`'s tree down to it (empty: no such account).
    fn account_path(&self, account_id: &str) -> Result<Vec<String>, StoreError>;

    /// The file accepted earlier with this SHA-256 (hex), if any.
    fn accepted_file(&self, sha256: &str) -> Result<Option<AcceptedFile>, StoreError>;

    /// Remembers the sync key issued to an instance whose key is `public_key`, in one
    /// transaction with its first pin: the instance must be pinned to `public_key` already, or
    /// have no key and `pin` must hold (its enrollment key issued for the instance and not
    /// revoked); else [`StoreError::Conflict`] and nothing is written. A pin is recorded in
    /// the instance's key history.
    fn save_online_sync_key(
        &self,
        key: &OnlineSyncKey,
        public_key: &str,
        pin: Option<&PinGrant>,
    ) -> Result<(), StoreError>;

    /// A sync key the cloud issued, by nonce (hex).
    fn online_sync_key(&self, nonce: &str) -> Result<Option<OnlineSyncKey>, StoreError>;

    /// Writes a verified usage data file in one transaction: its daily rows (counted against
    /// what was held; a record older than the one of the same instance that last wrote its day
    /// is skipped as already present), the instance's pinned key, mark and last report, and
    /// the file itself with the verification key `receipt` writes. The same file again is a replay (nothing
    /// written); another file answering the same nonce is a [`StoreError::Conflict`].
    fn accept_usage_file(
        &self,
        file: &UsageFile,
        receipt: &mut ReceiptWriter<'_>,
    ) -> Result<AcceptedFile, StoreError>;

    // ---- Instance identity ----

    /// Records a license file issued for an instance (and the event in its key history).
    fn record_license_file(&self, record: &LicenseFileRecord) -> Result<(), StoreError>;

    /// Whether `enrollment_key` belongs to a license file issued for `instance_id`, and
    /// whether it was revoked.
    fn enrollment_key_state(
        &self,
        instance_id: &str,
        enrollment_key: &str,
    ) -> Result<EnrollmentKeyState, StoreError>;

    /// Removes the instance's pinned key (its next first contact must enroll again), forgets
    /// the online sync keys issued to it, and with `revoke_license_files` revokes every
    /// license file issued for it; records who did it and when. In one transaction.
    fn reset_instance_key(
        &self,
        instance_id: &str,
        revoke_license_files: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyReset, StoreError>;

    /// The instance's key history, oldest first.
    fn instance_key_events(&self, instance_id: &str) -> Result<Vec<KeyEvent>, StoreError>;

    // ---- Customer reporting ----

    /// Records a check-in in one transaction: refuses it ([`StoreError::Conflict`]) unless
    /// `signed_at` is later than the last recorded check-in's; records an event for every
    /// tracked field whose value changed (on the instance's first check-in: its status and
    /// app version); replaces the report; moves the report and the events to the feed's head.
    fn record_check_in(&self, check_in: &CheckInWrite) -> Result<CheckInOutcome, StoreError>;

    /// The instance's report, when it has one and `scope` may see its account.
    fn instance_report(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Option<InstanceReport>, StoreError>;

    /// The instance's events, oldest first, when `scope` may see its account.
    fn instance_events(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Vec<InstanceEvent>, StoreError>;
}
