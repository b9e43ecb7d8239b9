// The app's API to the Rust shell: one typed wrapper per command of docs/ipc.md, each
// rejecting with an AppError. The commands go to the current backend (backend.ts): the Tauri
// one in the app, the fake one in `vite dev` and the tests. The native save dialog and the
// window's file drops are wrapped here too, so no component knows about Tauri.
import type {
  Factor,
  AppStatus,
  AttentionKind,
  ChildSort,
  CustomerFilter,
  CustomerSort,
  ExportProgress,
  ExportRequest,
  InstanceQuery,
  LedgerQuery,
  LicenseFilter,
  OpenedFile,
  Progress,
  SyncFinished,
  YearMonth,
} from '$lib/bindings';
import { backend } from './backend';
import { EVENTS, type Answer, type Args, type CommandName, type EventName, type Events, type Unlisten } from './contract';
import { toAppError } from './errors';

export { EVENTS } from './contract';
export { isAppError, toAppError } from './errors';

/** Runs a command of the contract with its arguments (none for a command without). */
async function call<K extends CommandName>(cmd: K, ...rest: keyof Args<K> extends never ? [] : [Args<K>]): Promise<Answer<K>> {
  try {
    return await backend().invoke(cmd, (rest[0] ?? {}) as Args<K>);
  } catch (e) {
    throw toAppError(e);
  }
}

export const MAX_CHILDREN_LIMIT = 500;
export const MAX_SEARCH_LIMIT = 100;
export const MAX_TREND_COUNT = 36;

export const appStatus = () => call('app_status');
/**
 * Checks and stores the URL and token. `pending_uploads`: imported files are still queued for
 * another cloud or account; ask, then call again with `force` (they stay queued for theirs).
 */
export const connect = (url: string, token: string, force = false) => call('connect', { url, token, force });
export const startDemo = () => call('start_demo');
export const syncNow = () => call('sync_now');
export const cancelSync = () => call('cancel_sync');
export const signOut = () => call('sign_out');
/** Clears the synced data. `pending_uploads` when imported files are kept (they stay): ask, then `force`. */
export const clearCache = (force = false) => call('clear_cache', { force });
export const plans = () => call('plans');
export const completedMonths = () => call('completed_months');

export const children = (
  parent: string | null,
  month: YearMonth,
  sort: ChildSort,
  offset: number,
  limit: number,
) =>
  call('children', {
    parent,
    month,
    sort,
    offset,
    limit: Math.min(limit, MAX_CHILDREN_LIMIT),
  });

export const accountDetail = (id: string, month: YearMonth) =>
  call('account_detail', { id, month });

export const search = (text: string, limit: number) =>
  call('search', { text, limit: Math.min(limit, MAX_SEARCH_LIMIT) });

export const trend = (id: string, to: YearMonth, count: number) =>
  call('trend', { id, to, count: Math.min(count, MAX_TREND_COUNT) });

/** What an export would write (rows, months with and without data, a file name); writes nothing. */
export const exportPreview = (request: ExportRequest) => call('export_preview', { request });

/**
 * Writes the CSV to `path` and its manifest beside it, emitting `export://progress` meanwhile.
 * Rejects with `cancelled` after {@link cancelExport} (no file is left), `io` when the file
 * cannot be written, `busy` when another export runs.
 */
export const exportCsv = (request: ExportRequest, path: string) =>
  call('export_csv', { request, path });

/** Stops the running export; does nothing when none runs. */
export const cancelExport = () => call('cancel_export');

/** The largest page of instances or ledger entries the shell answers. */
export const MAX_AIRGAP_PAGE = 500;

/** One page of instances, filtered, searched and sorted by the shell; `generation` changes with the data. */
export const airgapInstances = (query: InstanceQuery) =>
  call('airgap_instances', { query: { ...query, limit: Math.min(query.limit, MAX_AIRGAP_PAGE) } });

/** Air-gapped instances overdue with their usage data file (the sidebar's badge). */
export const airgapOverdueCount = () => call('airgap_overdue_count');

/** One page of the exchange ledger, newest first, without documents. */
export const airgapLedger = (query: LedgerQuery) =>
  call('airgap_ledger', { query: { ...query, limit: Math.min(query.limit, MAX_AIRGAP_PAGE) } });

/** Queues a kept file again (refused, or waiting after a failure) and tries to upload it now. */
export const airgapRetry = (ledgerId: number) => call('airgap_retry', { ledgerId });

/** Drops a kept file for good (ask first: the usage it holds is lost). */
export const airgapDiscard = (ledgerId: number) => call('airgap_discard', { ledgerId });

/**
 * Issues a sync key for the instance, valid `validDays` (1–365; shortened to the signing
 * certificate's end), and writes it at `path`. `no_certificate`: sync while online first.
 */
export const airgapIssueSyncKey = (instanceId: string, validDays: number, path: string) =>
  call('airgap_issue_sync_key', { instanceId, validDays, path });

/**
 * What a dropped usage data file would import, or the import it already had; writes nothing.
 * Refusals reject with `file_refused` (the message says why and what to do), `no_certificate`
 * or `io`.
 */
export const airgapPreview = (path: string) => call('airgap_preview', { path });

/** Imports the file at `path` and writes the verification key at `verificationPath`. */
export const airgapImport = (path: string, verificationPath: string) =>
  call('airgap_import', { path, verificationPath });

/** Saves a ledger entry's document (a sync key or a verification key) again at `path`. */
export const airgapSaveDocument = (ledgerId: number, path: string) =>
  call('airgap_save_document', { ledgerId, path });

/**
 * One page of the customers (accounts holding a license) matching `filter`, in `sort` order:
 * `limit` rows (at most 500) from `offset`, with the total.
 */
export const customers = (filter: CustomerFilter, sort: CustomerSort, offset: number, limit: number) =>
  call('customers', { filter, sort, offset, limit });

/** Badges: how many customers, how many with an instance not Ready, overdue, expired. */
export const customerCounts = () => call('customer_counts');

/**
 * A customer's page header: licenses, time to install, counts of its instances and install
 * attempts (pages of those: {@link customerInstances}, {@link installAttempts}). `not_found`
 * when the account is not in the cache; an account without a license answers with no licenses.
 */
export const customer = (accountId: string) => call('customer', { accountId });

/** One page (at most 100) of a customer's instances with their 14-day uptime, active first. */
export const customerInstances = (accountId: string, offset: number, limit: number) =>
  call('customer_instances', { accountId, offset, limit });

/** One page (at most 500) of a customer's install attempts, newest first. */
export const installAttempts = (accountId: string, offset: number, limit: number) =>
  call('install_attempts', { accountId, offset, limit });

/** One instance's card, and how many events it has. */
export const instanceDetail = (instanceId: string) => call('instance_detail', { instanceId });

/** One page (at most 500) of an instance's event history, newest first. */
export const instanceEvents = (instanceId: string, offset: number, limit: number) =>
  call('instance_events', { instanceId, offset, limit });

export const MAX_LICENSE_LIMIT = 500;

/**
 * An account's Entitlements card for a completed month: its own licenses per plan (each with a
 * 12-month trend and the forecast at expiry) and every plan rolled up over its subtree.
 * `not_found` for an account not in the cache; `invalid_input` for a month not completed yet.
 */
export const entitlementCard = (accountId: string, month: YearMonth) => call('entitlement_card', { accountId, month });

/**
 * One page (at most 500) of the (license, plan) pairs of a completed month over their seats
 * (largest overage first), above 90 % (highest first) or below 50 % (lowest first), held in
 * `accountId`'s subtree or anywhere (null).
 */
export const licenseList = (accountId: string | null, month: YearMonth, filter: LicenseFilter, offset: number, limit: number) =>
  call('license_list', { accountId, month, filter, offset, limit });

export const MAX_ATTENTION_LIMIT = 500;

/**
 * One page (at most 500) of the Attention list: overdue instances, then licenses expiring
 * within 30 days, then licenses over their seats in the last completed month (`kind` null: all
 * three), with every kind's count.
 */
export const attention = (kind: AttentionKind | null, offset: number, limit: number) =>
  call('attention', { kind, offset, limit: Math.min(limit, MAX_ATTENTION_LIMIT) });

/** How many items of each kind need attention now (the sidebar's badge is `total`). */
export const attentionCounts = () => call('attention_counts');

/** Whether desktop reminders of new attention items are on (the default). */
export const remindersEnabled = () => call('reminders_enabled');

/** Switches reminders on or off (kept with the settings); answers the new state. */
export const setReminders = (enabled: boolean) => call('set_reminders', { enabled });

/**
 * One page (at most 500) of the customers by health (`sort`: by one factor's score instead),
 * lowest first unless `descending`; customers without data for the factor come last. The
 * first call of a day (or after a sync) recomputes the stored scores.
 */
export const healthList = (sort: Factor | null, descending: boolean, offset: number, limit: number) =>
  call('health_list', { sort, descending, offset, limit });

/** One customer's health with its six factors; `not_found` for an account holding no license. */
export const customerHealth = (accountId: string) => call('customer_health', { accountId });

/** One page of the licenses ending this month and the `months − 1` after it, soonest first. */
export const renewalCalendar = (months: number, offset: number, limit: number) => call('renewal_calendar', { months, offset, limit });

/** Writes the renewal calendar as CSV to `path` (whole or not at all); answers the licenses written. */
export const exportRenewals = (months: number, path: string) => call('export_renewals', { months, path });

/**
 * The files the OS opened with the app before this window listened (a double-click, `usagedesk
 * FILE`); each is returned once. Files opened later arrive through {@link onFileOpened}.
 */
export const takeOpenedFiles = () => call('take_opened_files');

/** The computer's time zone as UTC offsets, for local dates and times (`$lib/ui/localtime`). */
export const localZone = () => call('local_zone');

/** A file type offered by the save dialog. */
export type SaveFilter = { name: string; extensions: string[] };

export const CSV_FILTER: SaveFilter = { name: 'CSV', extensions: ['csv'] };

/**
 * The native save dialog, offering `suggested` as the file name and `filter` as its type.
 * Resolves to the chosen path, or null when the user cancelled.
 */
export async function chooseSavePath(suggested: string, filter: SaveFilter = CSV_FILTER): Promise<string | null> {
  try {
    return await backend().saveDialog({ defaultPath: suggested, filters: [filter] });
  } catch (e) {
    throw toAppError(e);
  }
}

/** A drag over the window: files entered it, move over it, or left it without a drop. */
export type DragHover = 'enter' | 'over' | 'leave';

/**
 * Files dropped anywhere on the window: `ondrop` gets their paths. `onhover` follows the drag
 * meanwhile (for a drop overlay); a drop ends it too. Rejects when the window cannot be
 * listened to.
 */
export async function onFileDrop(
  ondrop: (paths: string[]) => void,
  onhover?: (state: DragHover) => void,
): Promise<Unlisten> {
  try {
    return await backend().onDragDrop((e) => {
      if (e.type === 'drop') ondrop(e.paths);
      else onhover?.(e.type);
    });
  } catch (e) {
    throw toAppError(e);
  }
}

const on = <E extends EventName>(event: E, cb: (payload: Events[E]) => void): Promise<Unlisten> => backend().listen(event, cb);

export const onSyncProgress = (cb: (p: Progress) => void) => on(EVENTS.progress, cb);

export const onSyncFinished = (cb: (f: SyncFinished) => void) => on(EVENTS.finished, cb);

export const onStatusChanged = (cb: (s: AppStatus) => void) => on(EVENTS.status, cb);

export const onExportProgress = (cb: (p: ExportProgress) => void) => on(EVENTS.exportProgress, cb);

/** A file the OS opened with the app while it runs (a second launch, a double-click). */
export const onFileOpened = (cb: (f: OpenedFile) => void) => on(EVENTS.fileOpened, cb);
