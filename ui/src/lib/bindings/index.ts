// Generated from the Rust types by ts-rs (crates/usagedesk-desktop/src/bindings.rs).
// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p usagedesk-desktop bindings`.

export type YearMonth = string;

export type Metric = "users_registered" | "users_with_token" | "users_with_activity";

export type Availability = "ok" | "not_available" | "non_existent";

export type AccountStatus = "active" | "disabled";

export type Scope = "self" | "children" | "tree";

export type UsageCounts = { users_registered: number, users_with_token: number, users_with_activity: number, };

export type Plan = { id: string, name: string, };

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

export type SyncReport = { rows: number, pages: number, full_resync: boolean, finished_at: string, account_id: string, account_name: string, };

export type ExportRequest = { account_id: string, scope: Scope, from: YearMonth, to: YearMonth, };

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
 * Accounts in scope (rows per month).
 */
accounts: number, 
/**
 * Rows the CSV will hold, header not counted.
 */
rows: number, 
/**
 * A file name to offer in the save dialog.
 */
suggested_file_name: string, };

export type ExportProgress = { written: number, total: number, };

export type ExportOutcome = { csv_path: string, manifest_path: string, rows: number, bytes: number, sha256: string, };

export type ErrorKind = "offline" | "unauthorized" | "version_mismatch" | "bad_url" | "not_usage_desk" | "not_found" | "invalid_input" | "cache" | "keyring" | "io" | "cancelled" | "busy" | "internal";

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
online: boolean | null, last_error: AppError | null, accounts: number, month_rows: number, db_bytes: number, };

export type AccountDetail = { row: AccountRow, 
/**
 * Root first, the account last.
 */
path: Array<Account>, };

export type SyncFinished = { ok: boolean, report: SyncReport | null, error: AppError | null, };
