// Generated from the Rust types by ts-rs (crates/usagedesk-desktop/src/bindings.rs).
// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p usagedesk-desktop bindings`.

export type YearMonth = string;

export type Metric = "users_registered" | "users_with_token" | "users_with_activity";

export type Availability = "ok" | "not_available" | "non_existent";

export type AccountStatus = "active" | "disabled";

export type Scope = "self" | "children" | "tree";

export type UsageCounts = { users_registered: number, users_with_token: number, users_with_activity: number, };

export type Plan = { id: string, name: string, 
/**
 * The count a license's seats for this plan are compared with (`plans.csv`'s
 * `seat_metric`). Absent on the wire (an older cloud): users registered.
 */
seat_metric: Metric, };

export type Account = { id: string, name: string, parent_id: string | null, status: AccountStatus, created_at: string, };

export type AccountMonthUsage = { account_id: string, account_name: string, parent_id: string | null, month: YearMonth, status: AccountStatus, availability: Availability, plan: string | null, own: UsageCounts | null, 
/**
 * Every plan of the catalog, in catalog order: the sum over the account's subtree.
 */
totals: { [key in string]: UsageCounts }, };

export type SubtreeCounts = { ok: number, not_available: number, non_existent: number, };

export type AccountRow = { created_at: string, subtree: SubtreeCounts, child_count: number, account_id: string, account_name: string, parent_id: string | null, month: YearMonth, status: AccountStatus, availability: Availability, plan: string | null, own: UsageCounts | null, 
/**
 * Every plan of the catalog, in catalog order: the sum over the account's subtree.
 */
totals: { [key in string]: UsageCounts }, };

export type Page<T> = { items: Array<T>, 
/**
 * Items in the whole list.
 */
total: number, offset: number, limit: number, };

export type ChildSort = { "by": "name" } | { "by": "subtree_total", "metric": Metric };

export type SearchMatch = "exact_id" | "id_prefix" | "name";

export type SearchHit = { account: Account, matched: SearchMatch, 
/**
 * Names of the account's ancestors, root first (the account itself not included).
 */
path: Array<string>, };

export type TrendPoint = { month: YearMonth, 
/**
 * Every plan of the catalog, in catalog order: the sum over the subtree.
 */
totals: { [key in string]: UsageCounts }, subtree: SubtreeCounts, };

export type Phase = "connecting" | "downloading" | "aggregating" | "done";

export type Progress = { phase: Phase, rows_done: number, 
/**
 * Changes to fetch in this run, when the server counted them.
 */
rows_total: number | null, pages: number, };

export type SyncReport = { rows: number, pages: number, full_resync: boolean, finished_at: string, account_id: string, account_name: string, 
/**
 * Usage data files imported offline that the cloud accepted in this run.
 */
uploaded: number, 
/**
 * What the push of those files did (accepted, still queued, refused).
 */
push: PushReport, };

export type ExportReport = "usage" | "entitlements";

export type ExportRequest = { 
/**
 * Absent in requests written before entitlements could be exported: `usage`.
 */
report: ExportReport, account_id: string, scope: Scope, from: YearMonth, to: YearMonth, };

export type ExportPlan = { request: ExportRequest, account_name: string, 
/**
 * Months of the range the cache has data for: the CSV has rows for these.
 */
months: Array<YearMonth>, 
/**
 * Months of the range with no synced data at all: no rows (sync, or widen the range).
 */
months_without_data: Array<YearMonth>, 
/**
 * Accounts in scope (the usage report's rows per month).
 */
accounts: number, 
/**
 * Entitlements: licenses held in scope in force in at least one of `months` (0 for the
 * usage report).
 */
licenses: number, 
/**
 * Rows the CSV will hold, header not counted. For entitlements, when not `rows_exact`,
 * the rows of plans with seats: each plan used without seats adds a row, known only
 * once computed.
 */
rows: number, 
/**
 * Whether `rows` is the exact count (always for usage) or a lower bound.
 */
rows_exact: boolean, 
/**
 * A file name to offer in the save dialog.
 */
suggested_file_name: string, };

export type ExportProgress = { written: number, total: number, };

export type ExportSignature = { "status": "signed", 
/**
 * The certificate's subject: the manager who signed.
 */
signed_by: string, 
/**
 * `*` or the account whose subtree the certificate covers.
 */
scope: string, certificate_expires_at: string, 
/**
 * `sha256:…` of the vendor root key that certified the signing key.
 */
root_fingerprint: string, } | { "status": "unsigned", reason: string, };

export type ExportOutcome = { csv_path: string, manifest_path: string, rows: number, bytes: number, sha256: string, 
/**
 * Whether the manifest is signed, by whom, or why not.
 */
signature: ExportSignature, };

export type Instance = { id: string, license_id: string, 
/**
 * The customer account the instance belongs to; it reports for this account's subtree.
 */
account_id: string, 
/**
 * Reports by file (air-gapped) rather than online.
 */
airgapped: boolean, 
/**
 * The instance's own public key (`ed25519:…`) as the cloud pinned it, once known.
 */
public_key: string | null, 
/**
 * The highest record `seq` the cloud holds from this instance (0: none yet).
 */
high_water_mark: number, 
/**
 * When the cloud last accepted usage from it, by file or online.
 */
last_report_at: string | null, };

export type AirgapInstance = { instance: Instance, 
/**
 * The account's name (`None` when the account is not cached).
 */
account_name: string | null, 
/**
 * The latest file imported here for it.
 */
last_import_at: string | null, 
/**
 * The latest sync key issued here for it.
 */
last_sync_key_at: string | null, 
/**
 * The mark to name in the next sync key: the cloud's, or a higher one imported here.
 */
high_water_mark: number, 
/**
 * Imports waiting to be pushed to the cloud (queued, or retrying after a transient
 * failure).
 */
pending_uploads: number, 
/**
 * Imports the cloud refused for good, kept here until retried or discarded.
 */
refused_uploads: number, };

export type LedgerEvent = "sync_key_issued" | "usage_imported";

export type UploadState = "pending" | "uploaded" | "rejected" | "discarded";

export type LedgerEntry = { 
/**
 * 0 until stored.
 */
id: number, instance_id: string, event: LedgerEvent, at: string, by: string, nonce: string, 
/**
 * SHA-256 (hex) of the sync key issued, or of the usage data file imported.
 */
file_sha256: string, 
/**
 * Sync keys: when they expire.
 */
expires_at: string | null, 
/**
 * The mark a sync key names, or the mark an import accepted.
 */
high_water_mark: number, records: number, new_records: number, already_present: number, changed: number, 
/**
 * The sync key issued, or the verification key issued for the import (armored text).
 */
document: string, upload: UploadState | null, 
/**
 * Why the cloud refused the file (`upload` is `rejected`).
 */
upload_error: string | null, };

export type InstanceKind = "airgapped" | "all";

export type InstanceSort = "status" | "id" | "account" | "last_exchange" | "mark";

export type InstanceQuery = { kind: InstanceKind, 
/**
 * Only air-gapped instances overdue with their usage data file.
 */
overdue_only: boolean, 
/**
 * Part of the instance id, the account id or the account name (case-insensitive).
 */
text: string | null, sort: InstanceSort, 
/**
 * Reverse the order (ties too).
 */
descending: boolean, offset: number, limit: number, };

export type AirgapPage<T> = { items: Array<T>, 
/**
 * Items in the whole list (with the same filter and search).
 */
total: number, offset: number, 
/**
 * Changes when the data under the list changed: pages of different generations do not
 * fit together.
 */
generation: string, };

export type LedgerQuery = { 
/**
 * One instance's entries (`None`: everyone's).
 */
instance: string | null, 
/**
 * Only imports whose file is still kept here (queued, retrying or refused): the outbox.
 */
kept_only: boolean, offset: number, limit: number, };

export type OutboxBinding = { 
/**
 * The cloud's base URL, as the sync client normalises it.
 */
cloud_url: string, 
/**
 * The account the token was for (`*`: every account).
 */
account_id: string, };

export type QueuedUpload = { 
/**
 * Uploads tried so far.
 */
attempts: number, last_attempt_at: string | null, 
/**
 * After a transient failure: not tried again before this time.
 */
next_attempt_at: string | null, 
/**
 * The last failure, as the cloud or the network said it.
 */
last_error: string | null, 
/**
 * Set when the cloud refused the file for good (the HTTP status): it waits for a retry
 * or a discard by hand.
 */
refused_status: number | null, 
/**
 * The cloud's base URL, as the sync client normalises it.
 */
cloud_url: string, 
/**
 * The account the token was for (`*`: every account).
 */
account_id: string, };

export type LedgerRow = { id: number, instance_id: string, event: LedgerEvent, at: string, by: string, nonce: string, file_sha256: string, expires_at: string | null, high_water_mark: number, records: number, new_records: number, already_present: number, changed: number, upload: UploadState | null, 
/**
 * Why the cloud refused the file, or the last failure of a retried upload.
 */
upload_error: string | null, 
/**
 * The imported file, while it is kept here (until the cloud accepts it).
 */
queued: QueuedUpload | null, 
/**
 * A refused file discarded by hand: when, and by whom.
 */
discarded_at: string | null, discarded_by: string | null, };

export type OutboxElsewhere = { files: number, 
/**
 * The cloud's base URL, as the sync client normalises it.
 */
cloud_url: string, 
/**
 * The account the token was for (`*`: every account).
 */
account_id: string, };

export type OutboxSummary = { 
/**
 * Queued for the cache's current cloud and account (sent on the next sync).
 */
queued: number, 
/**
 * Refused for good by the cloud, kept until retried or discarded.
 */
refused: number, 
/**
 * Queued for another cloud or account than the cache's current one, by binding: sent
 * only when this computer syncs with that cloud and account again.
 */
elsewhere: Array<OutboxElsewhere>, };

export type PushReport = { 
/**
 * Accepted by the cloud (gone from the outbox).
 */
uploaded: number, 
/**
 * Still queued after a transient failure; tried again at a later sync.
 */
deferred: number, 
/**
 * Refused for good by the cloud in this push; kept, shown with the reason.
 */
refused: number, };

export type ImportPreview = { instance_id: string, license_id: string, account_id: string, account_name: string | null, 
/**
 * First and last day of the records (none when the file holds no record).
 */
period_first: string | null, period_last: string | null, 
/**
 * Distinct accounts the records are for.
 */
accounts: number, records: number, new: number, already_present: number, changed: number, 
/**
 * Records the instance still holds beyond this file (ask for another one).
 */
remaining_records: number, created_at: string, file_sha256: string, sync_key_issued_at: string, sync_key_expires_at: string, 
/**
 * The mark the verification key will accept.
 */
accepted_high_water_mark: number, };

export type ImportOutcome = { preview: ImportPreview, ledger_id: number, 
/**
 * The armored verification key.
 */
verification_key: string, suggested_file_name: string, };

export type IssuedSyncKey = { instance_id: string, 
/**
 * The armored file.
 */
text: string, suggested_file_name: string, nonce: string, high_water_mark: number, expires_at: string, 
/**
 * The validity asked for went past the signing certificate's end and was shortened.
 */
shortened: boolean, };

export type InstanceView = { 
/**
 * Air-gapped, and no verified file for more than 31 days.
 */
overdue: boolean, instance: Instance, 
/**
 * The account's name (`None` when the account is not cached).
 */
account_name: string | null, 
/**
 * The latest file imported here for it.
 */
last_import_at: string | null, 
/**
 * The latest sync key issued here for it.
 */
last_sync_key_at: string | null, 
/**
 * The mark to name in the next sync key: the cloud's, or a higher one imported here.
 */
high_water_mark: number, 
/**
 * Imports waiting to be pushed to the cloud (queued, or retrying after a transient
 * failure).
 */
pending_uploads: number, 
/**
 * Imports the cloud refused for good, kept here until retried or discarded.
 */
refused_uploads: number, };

export type DroppedFile = { path: string, preview: ImportPreview | null, 
/**
 * Set when this exact file was imported before (its verification key can be saved again).
 */
already_imported: LedgerEntry | null, };

export type LicenseType = "prod" | "trial" | "dev" | "community";

export type LicenseFeatures = { gitops: boolean, airgap: boolean, identity: boolean, snapshots: boolean, };

export type License = { id: string, account_id: string, license_type: LicenseType, 
/**
 * The release channel, e.g. `Stable`, `Beta`.
 */
channel: string, created_at: string, 
/**
 * `None`: does not expire.
 */
expires_at: string | null, features: LicenseFeatures, 
/**
 * Seats per plan id.
 */
seats: { [key in string]: number }, };

export type InstanceStatus = "missing" | "unavailable" | "degraded" | "ready" | "updating";

export type ClusterDetails = { 
/**
 * Kubernetes distribution, e.g. `eks`, `k3s`, `openshift` (empty when unknown).
 */
distribution: string, kubernetes_version: string, 
/**
 * Installed in an embedded cluster (the vendor's own installer).
 */
embedded_cluster: boolean, 
/**
 * Embedded clusters only.
 */
nodes_ready: number | null, nodes_total: number | null, 
/**
 * The version of the agent running in the cluster.
 */
agent_version: string, cloud_provider: string | null, region: string | null, };

export type InstanceReport = { instance_id: string, status: InstanceStatus, app_version: string, cluster: ClusterDetails, first_check_in: string, last_check_in: string, };

export type InstanceEvent = { instance_id: string, 
/**
 * `status`, `app_version`, `kubernetes_version`, `nodes_ready`, ...
 */
field: string, previous: string | null, new: string, received_at: string, };

export type InstallStatus = "succeeded" | "stalled" | "failed";

export type Connectivity = "online" | "offline";

export type InstallStep = { 
/**
 * e.g. `Started`, `Registry accessed`, `Images pulled`, `Assets downloaded`, `Completed`.
 */
name: string, at: string, };

export type InstallAttempt = { id: string, license_id: string, status: InstallStatus, started_at: string, user_email: string, 
/**
 * The OS of the VM or server, or the Kubernetes distribution.
 */
environment: string, 
/**
 * Online (internet-connected) or air gap (offline).
 */
mode: Connectivity, registry: Connectivity, 
/**
 * In order.
 */
steps: Array<InstallStep>, };

export type Activity = { 
/**
 * No check-in for 24 hours or more. Its last status is still shown, with `stale_for`.
 */
inactive: boolean, 
/**
 * Since the last check-in; never negative.
 */
stale_for_secs: number, };

export type Uptime = { 
/**
 * Ready, Updating or Degraded.
 */
up_secs: number, 
/**
 * Missing or Unavailable.
 */
down_secs: number, 
/**
 * Neither: before the first check-in, or after 24 hours without one.
 */
no_data_secs: number, 
/**
 * `up / (up + down)`, in 0..=1; `None` when there is no data in the window at all.
 */
ratio: number | null, };

export type UptimeBar = { start: string, 
/**
 * Exclusive.
 */
end: string, 
/**
 * Ready or Updating (Degraded is apart here, unlike in [`Uptime::up`]).
 */
up_secs: number, degraded_secs: number, 
/**
 * Missing or Unavailable.
 */
down_secs: number, no_data_secs: number, 
/**
 * The bar's own uptime ratio, Degraded counted as up; `None` when it has no data.
 */
ratio: number | null, 
/**
 * The instance's events (any field) received in `[start, end)`, oldest first.
 */
events: Array<InstanceEvent>, };

export type TimeToInstall = { instance_id: string, 
/**
 * The instance's first event (its first check-in, or an earlier event).
 */
first_seen_at: string, 
/**
 * When the instance first reached Ready.
 */
first_ready_at: string, 
/**
 * License time to install: license created → the instance's first Ready.
 */
license_secs: number, 
/**
 * Instance time to install: the instance's first event → its first Ready.
 */
instance_secs: number, };

export type CustomerFilter = { 
/**
 * Part of the account's name or id, or of a license id (case-insensitive).
 */
text: string | null, license_type: LicenseType | null, 
/**
 * A license expires within this many days (already expired ones included).
 */
expiring_within_days: number | null, 
/**
 * At least one instance is not Ready (or has never checked in).
 */
not_ready: boolean, 
/**
 * At least one air-gapped instance is overdue with its usage file.
 */
reporting_overdue: boolean, };

export type CustomerSort = "name" | "expiry" | "attention";

export type CustomerCounts = { customers: number, 
/**
 * With at least one instance not Ready.
 */
not_ready: number, 
/**
 * With at least one air-gapped instance overdue.
 */
reporting_overdue: number, 
/**
 * Every license expired.
 */
expired: number, };

export type InstanceCounts = { instances: number, 
/**
 * Not Ready, or never checked in.
 */
not_ready: number, 
/**
 * No check-in for 24 hours or more.
 */
inactive: number, 
/**
 * Air-gapped and overdue with their usage file.
 */
reporting_overdue: number, airgapped: number, };

export type CustomerSummary = { account_id: string, account_name: string, licenses: Array<License>, 
/**
 * The soonest end of a license still in force, else the latest end (`None`: none ends).
 */
expires_at: string | null, expired: boolean, instances: number, 
/**
 * Instances not Ready (or never checked in).
 */
not_ready: number, 
/**
 * Instances with no check-in for 24 hours.
 */
inactive: number, reporting_overdue: boolean, 
/**
 * The worst status among its active instances (`None`: no instance checked in).
 */
worst_status: InstanceStatus | null, };

export type InstanceCard = { instance_id: string, 
/**
 * The first seven characters of the id.
 */
short_id: string, license_id: string, airgapped: boolean, 
/**
 * The latest check-in (`None`: never checked in).
 */
report: InstanceReport | null, 
/**
 * Whether it still checks in, and how stale its last status is.
 */
activity: Activity | null, 
/**
 * The last 14 days.
 */
uptime: Uptime | null, 
/**
 * One bar a day, oldest first.
 */
graph: Array<UptimeBar>, 
/**
 * Air-gapped and no verified usage file for more than 31 days.
 */
reporting_overdue: boolean, };

export type CustomerPage = { account: Account, 
/**
 * Root first, the account last.
 */
path: Array<Account>, licenses: Array<License>, 
/**
 * For the instance that most recently reached its first Ready (`None`: no Ready
 * instance).
 */
time_to_install: TimeToInstall | null, 
/**
 * Its instances at `now`.
 */
counts: InstanceCounts, 
/**
 * How many install attempts its licenses have.
 */
install_attempt_count: number, };

export type InstanceDetail = { card: InstanceCard, account_id: string, account_name: string | null, 
/**
 * How many changes are recorded ([`instance_events`] pages through them).
 */
event_count: number, };

export type Entitlement = { license_id: string, 
/**
 * The account holding the license.
 */
account_id: string, plan: string, seat_metric: Metric, 
/**
 * `None`: the license has no seats for the plan (any use is overage).
 */
seats: number | null, used: number, 
/**
 * used / seats; `None` without seats.
 */
utilization: number | null, overage: number, 
/**
 * The least-squares line through the last ≤ 6 completed months (up to `month`) in force,
 * at the expiry month; `None` under 3 months or without expiry. One decimal, never < 0.
 */
forecast_at_expiry: number | null, 
/**
 * The forecast exceeds the seats (0 without seats).
 */
forecast_over_seats: boolean, 
/**
 * RFC 3339; `None`: never expires.
 */
expires_at: string | null, month: YearMonth, };

export type UsedPoint = { month: YearMonth, used: number, seats: number | null, };

export type EntitlementTrend = { entitlement: Entitlement, trend: Array<UsedPoint>, };

export type RollupPoint = { month: YearMonth, seats: number, used: number, overage: number, };

export type PlanRollup = { plan: string, seat_metric: Metric, seats: number, used: number, 
/**
 * used / seats of the sums; `None` without seats.
 */
utilization: number | null, overage: number, 
/**
 * (license, plan) pairs in force in the month.
 */
licenses: number, 
/**
 * The window's months, oldest first, each present (0 where nothing was in force).
 */
trend: Array<RollupPoint>, };

export type EntitlementCard = { account_id: string, month: YearMonth, 
/**
 * The account's own licenses, per plan, by license then plan (at most
 * [`MAX_OWN_ON_CARD`]).
 */
own: Array<EntitlementTrend>, 
/**
 * More own (license, plan) pairs than shown.
 */
own_more: boolean, 
/**
 * Per plan (catalog order, then others), over the subtree.
 */
rollup: Array<PlanRollup>, };

export type LicenseFilter = "over" | "near" | "under";

export type LicenseListItem = { license_id: string, account_id: string, account_name: string, plan: string, seat_metric: Metric, seats: number | null, used: number, utilization: number | null, overage: number, };

export type Factor = "usage_trend" | "utilization" | "instance_status" | "version_lag" | "license_expiry" | "reporting_freshness";

export type FactorScore = { factor: Factor, 
/**
 * Its nominal weight (the six add up to 100).
 */
weight: number, 
/**
 * The value the factor is scored from (`None`: no data, the factor is left out).
 */
value: number | null, 
/**
 * The value in words ("+12 % (41 → 46 active users)").
 */
detail: string, 
/**
 * 0–100 (`None`: no data).
 */
score: number | null, 
/**
 * Points it adds to the total: weight × score / (sum of the weights of the factors
 * with data). The contributions add up to the total.
 */
contribution: number, };

export type CustomerHealth = { account_id: string, name: string, 
/**
 * 0–100.
 */
score: number, 
/**
 * The six factors, in [`Factor::ALL`] order.
 */
factors: Array<FactorScore>, };

export type HealthPage = { page: Page<CustomerHealth>, 
/**
 * The UTC day the stored scores were computed for.
 */
as_of: string | null, 
/**
 * The stored scores lag behind today or the data and are being recomputed: the page
 * shows the stored ones meanwhile (none before the first computation); ask again.
 */
computing: boolean, };

export type RenewalPlan = { plan: string, seats: number | null, used: number, utilization: number | null, forecast_at_expiry: number | null, forecast_over_seats: boolean, };

export type Renewal = { license_id: string, account_id: string, account_name: string, license_type: string, 
/**
 * RFC 3339, UTC.
 */
expires_at: string, 
/**
 * The month it expires in (its calendar group).
 */
month: YearMonth, 
/**
 * Summed over its plans in [`RenewalCalendar::utilization_month`].
 */
seats: number, used: number, 
/**
 * used / seats; `None` without seats (or not in force that month).
 */
utilization: number | null, 
/**
 * The plans' forecasts at expiry summed (`None`: no plan has one).
 */
forecast_at_expiry: number | null, 
/**
 * A plan's forecast exceeds its seats.
 */
forecast_over_seats: boolean, 
/**
 * Its customer's health score.
 */
health: number | null, plans: Array<RenewalPlan>, };

export type RenewalMonth = { month: YearMonth, licenses: number, };

export type RenewalCalendar = { 
/**
 * The month of "now" and the `months − 1` after it, each with its count (0 included).
 */
months: Array<RenewalMonth>, page: Page<Renewal>, 
/**
 * The month utilization is measured in (the last completed one).
 */
utilization_month: YearMonth, as_of: string | null, 
/**
 * As [`HealthPage::computing`]: the calendar's utilization and scores are recomputed.
 */
computing: boolean, };

export type AttentionKind = "overdue" | "expiring" | "over_seats";

export type AttentionItem = { kind: AttentionKind, 
/**
 * The customer: the instance's account (overdue) or the license holder.
 */
account_id: string, 
/**
 * `None`: the account is not in the cache.
 */
account_name: string | null, license_id: string, 
/**
 * Overdue: the instance.
 */
instance_id: string | null, 
/**
 * Over seats: the plan.
 */
plan: string | null, 
/**
 * When the condition began: 31 days after the last verified exchange (overdue; `None`
 * when the instance never reported), 30 days before the expiry (expiring), the day after
 * the month's end (over seats).
 */
since: string | null, 
/**
 * Overdue: the last verified exchange (`None`: never).
 */
last_exchange_at: string | null, 
/**
 * Expiring: the expiry.
 */
expires_at: string | null, 
/**
 * Over seats: the month, the seats (`None`: none for the plan), used and over.
 */
month: YearMonth | null, seats: number | null, used: number | null, overage: number | null, 
/**
 * One line: what happened.
 */
title: string, 
/**
 * One line: what to do next.
 */
next_step: string, 
/**
 * Tells occurrences of this subject's condition apart (see docs/attention.md).
 */
occurrence: string, };

export type AttentionCounts = { overdue: number, expiring: number, over_seats: number, 
/**
 * All three: the sidebar's badge.
 */
total: number, };

export type AttentionPage = { items: Array<AttentionItem>, 
/**
 * Items in the list (of the kind asked for, or all).
 */
total: number, offset: number, 
/**
 * Every kind's count, whatever the kind asked for (the filter's numbers).
 */
counts: AttentionCounts, };

export type ErrorKind = "offline" | "unauthorized" | "version_mismatch" | "bad_url" | "not_usage_desk" | "not_found" | "invalid_input" | "cache" | "keyring" | "io" | "file_refused" | "already_imported" | "no_certificate" | "cancelled" | "busy" | "pending_uploads" | "internal";

export type AppError = { kind: ErrorKind, message: string, };

export type AppStatus = { version: string, data_dir: string, cache_path: string, 
/**
 * `None`: never connected (the UI shows the connect screen).
 */
cloud_url: string | null, 
/**
 * Whose subtree the token sees.
 */
account_name: string | null, 
/**
 * A token is in the keyring (or the demo runs).
 */
signed_in: boolean, demo: boolean, 
/**
 * Where the token is kept.
 */
keyring: string, 
/**
 * RFC 3339.
 */
last_synced_at: string | null, syncing: boolean, 
/**
 * `None`: not known yet.
 */
online: boolean | null, last_error: AppError | null, accounts: number, month_rows: number, db_bytes: number, 
/**
 * Imported usage data files kept until the cloud accepts them: queued for this cloud
 * and account, refused, or queued for another cloud or account.
 */
outbox: OutboxSummary, };

export type AccountDetail = { row: AccountRow, 
/**
 * Root first, the account last.
 */
path: Array<Account>, 
/**
 * Months of this account whose values come from a usage data file imported here and
 * not yet accepted by the cloud ("pending upload").
 */
pending_months: Array<YearMonth>, 
/**
 * Holds a license: the account has a customer page.
 */
is_customer: boolean, };

export type SyncFinished = { ok: boolean, report: SyncReport | null, error: AppError | null, };

export type OpenedKind = "usage_data" | "sync_key" | "verification_key" | "unknown";

export type KeyFacts = { instance_id: string, 
/**
 * The manager who issued it.
 */
issued_by: string, issued_at: string, 
/**
 * Sync keys: the instance answers it until then.
 */
expires_at: string | null, 
/**
 * Verification keys: the instance may drop its records up to this `seq`.
 */
accepted_high_water_mark: number | null, };

export type OpenedFile = { path: string, 
/**
 * The file's name, for titles.
 */
name: string, kind: OpenedKind, 
/**
 * What a sync key or verification key states about itself, read without checking its
 * signature (the customer's instance checks it).
 */
key: KeyFacts | null, 
/**
 * Why the file cannot serve as what it is (unreadable, damaged, not an exchange file): a
 * sentence that says what to do. `None` for a usage data file: the preview checks it.
 */
problem: string | null, };

export type ZoneChange = { 
/**
 * Milliseconds since 1970-01-01 UTC (JavaScript's `Date` value).
 */
from_ms: number, offset_seconds: number, };

export type LocalZone = { changes: Array<ZoneChange>, };
