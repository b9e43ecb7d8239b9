// The only module that talks to the Rust shell. One typed wrapper per command of docs/ipc.md;
// every wrapper rejects with an AppError. The native save dialog (tauri-plugin-dialog) and the
// window's file drops are wrapped here too, so no component imports Tauri.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { save } from '@tauri-apps/plugin-dialog';
import type {
  AccountDetail,
  AccountRow,
  AirgapPage,
  AppStatus,
  ChildSort,
  DroppedFile,
  ExportOutcome,
  ExportPlan,
  ExportProgress,
  ExportRequest,
  ImportOutcome,
  InstanceQuery,
  InstanceView,
  IssuedSyncKey,
  LedgerQuery,
  LedgerRow,
  OpenedFile,
  Page,
  Plan,
  Progress,
  PushReport,
  SearchHit,
  SyncFinished,
  SyncReport,
  TrendPoint,
  YearMonth,
} from '$lib/bindings';
import type {
  CustomerCounts,
  CustomerFilter,
  CustomerPage,
  CustomerSort,
  CustomerSummary,
  InstallAttempt,
  InstanceCard,
  InstanceDetail,
  InstanceEvent,
} from '$lib/bindings';
import { toAppError } from './errors';

export { isAppError, toAppError } from './errors';

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toAppError(e);
  }
}

export const MAX_CHILDREN_LIMIT = 500;
export const MAX_SEARCH_LIMIT = 100;
export const MAX_TREND_COUNT = 36;

export const appStatus = () => call<AppStatus>('app_status');
/**
 * Checks and stores the URL and token. `pending_uploads`: imported files are still queued for
 * another cloud or account; ask, then call again with `force` (they stay queued for theirs).
 */
export const connect = (url: string, token: string, force = false) => call<AppStatus>('connect', { url, token, force });
export const startDemo = () => call<AppStatus>('start_demo');
export const syncNow = () => call<SyncReport>('sync_now');
export const cancelSync = () => call<null>('cancel_sync');
export const signOut = () => call<AppStatus>('sign_out');
/** Clears the synced data. `pending_uploads` when imported files are kept (they stay): ask, then `force`. */
export const clearCache = (force = false) => call<AppStatus>('clear_cache', { force });
export const plans = () => call<Plan[]>('plans');
export const completedMonths = () => call<YearMonth[]>('completed_months');

export const children = (
  parent: string | null,
  month: YearMonth,
  sort: ChildSort,
  offset: number,
  limit: number,
) =>
  call<Page<AccountRow>>('children', {
    parent,
    month,
    sort,
    offset,
    limit: Math.min(limit, MAX_CHILDREN_LIMIT),
  });

export const accountDetail = (id: string, month: YearMonth) =>
  call<AccountDetail>('account_detail', { id, month });

export const search = (text: string, limit: number) =>
  call<SearchHit[]>('search', { text, limit: Math.min(limit, MAX_SEARCH_LIMIT) });

export const trend = (id: string, to: YearMonth, count: number) =>
  call<TrendPoint[]>('trend', { id, to, count: Math.min(count, MAX_TREND_COUNT) });

/** What an export would write (rows, months with and without data, a file name); writes nothing. */
export const exportPreview = (request: ExportRequest) => call<ExportPlan>('export_preview', { request });

/**
 * Writes the CSV to `path` and its manifest beside it, emitting `export://progress` meanwhile.
 * Rejects with `cancelled` after {@link cancelExport} (no file is left), `io` when the file
 * cannot be written, `busy` when another export runs.
 */
export const exportCsv = (request: ExportRequest, path: string) =>
  call<ExportOutcome>('export_csv', { request, path });

/** Stops the running export; does nothing when none runs. */
export const cancelExport = () => call<null>('cancel_export');

/** The largest page of instances or ledger entries the shell answers. */
export const MAX_AIRGAP_PAGE = 500;

/** One page of instances, filtered, searched and sorted by the shell; `generation` changes with the data. */
export const airgapInstances = (query: InstanceQuery) =>
  call<AirgapPage<InstanceView>>('airgap_instances', { query: { ...query, limit: Math.min(query.limit, MAX_AIRGAP_PAGE) } });

/** Air-gapped instances overdue with their usage data file (the sidebar's badge). */
export const airgapOverdueCount = () => call<number>('airgap_overdue_count');

/** One page of the exchange ledger, newest first, without documents. */
export const airgapLedger = (query: LedgerQuery) =>
  call<AirgapPage<LedgerRow>>('airgap_ledger', { query: { ...query, limit: Math.min(query.limit, MAX_AIRGAP_PAGE) } });

/** Queues a kept file again (refused, or waiting after a failure) and tries to upload it now. */
export const airgapRetry = (ledgerId: number) => call<PushReport>('airgap_retry', { ledgerId });

/** Drops a kept file for good (ask first: the usage it holds is lost). */
export const airgapDiscard = (ledgerId: number) => call<null>('airgap_discard', { ledgerId });

/**
 * Issues a sync key for the instance, valid `validDays` (1–365; shortened to the signing
 * certificate's end), and writes it at `path`. `no_certificate`: sync while online first.
 */
export const airgapIssueSyncKey = (instanceId: string, validDays: number, path: string) =>
  call<IssuedSyncKey>('airgap_issue_sync_key', { instanceId, validDays, path });

/**
 * What a dropped usage data file would import, or the import it already had; writes nothing.
 * Refusals reject with `file_refused` (the message says why and what to do), `no_certificate`
 * or `io`.
 */
export const airgapPreview = (path: string) => call<DroppedFile>('airgap_preview', { path });

/** Imports the file at `path` and writes the verification key at `verificationPath`. */
export const airgapImport = (path: string, verificationPath: string) =>
  call<ImportOutcome>('airgap_import', { path, verificationPath });

/** Saves a ledger entry's document (a sync key or a verification key) again at `path`. */
export const airgapSaveDocument = (ledgerId: number, path: string) =>
  call<null>('airgap_save_document', { ledgerId, path });

/**
 * One page of the customers (accounts holding a license) matching `filter`, in `sort` order:
 * `limit` rows (at most 500) from `offset`, with the total.
 */
export const customers = (filter: CustomerFilter, sort: CustomerSort, offset: number, limit: number) =>
  call<Page<CustomerSummary>>('customers', { filter, sort, offset, limit });

/** Badges: how many customers, how many with an instance not Ready, overdue, expired. */
export const customerCounts = () => call<CustomerCounts>('customer_counts');

/**
 * A customer's page header: licenses, time to install, counts of its instances and install
 * attempts (pages of those: {@link customerInstances}, {@link installAttempts}). `not_found`
 * when the account is not in the cache; an account without a license answers with no licenses.
 */
export const customer = (accountId: string) => call<CustomerPage>('customer', { accountId });

/** One page (at most 100) of a customer's instances with their 14-day uptime, active first. */
export const customerInstances = (accountId: string, offset: number, limit: number) =>
  call<Page<InstanceCard>>('customer_instances', { accountId, offset, limit });

/** One page (at most 500) of a customer's install attempts, newest first. */
export const installAttempts = (accountId: string, offset: number, limit: number) =>
  call<Page<InstallAttempt>>('install_attempts', { accountId, offset, limit });

/** One instance's card, and how many events it has. */
export const instanceDetail = (instanceId: string) => call<InstanceDetail>('instance_detail', { instanceId });

/** One page (at most 500) of an instance's event history, newest first. */
export const instanceEvents = (instanceId: string, offset: number, limit: number) =>
  call<Page<InstanceEvent>>('instance_events', { instanceId, offset, limit });

/**
 * The files the OS opened with the app before this window listened (a double-click, `usagedesk
 * FILE`); each is returned once. Files opened later arrive through {@link onFileOpened}.
 */
export const takeOpenedFiles = () => call<OpenedFile[]>('take_opened_files');

/** A file type offered by the save dialog. */
export type SaveFilter = { name: string; extensions: string[] };

export const CSV_FILTER: SaveFilter = { name: 'CSV', extensions: ['csv'] };

/**
 * The native save dialog, offering `suggested` as the file name and `filter` as its type.
 * Resolves to the chosen path, or null when the user cancelled.
 */
export async function chooseSavePath(suggested: string, filter: SaveFilter = CSV_FILTER): Promise<string | null> {
  try {
    return await save({ defaultPath: suggested, filters: [filter] });
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
): Promise<UnlistenFn> {
  try {
    const unlisten = await getCurrentWebview().onDragDropEvent((e) => {
      const p = e.payload;
      if (p.type === 'drop') ondrop(p.paths);
      else onhover?.(p.type);
    });
    return () => void unlisten();
  } catch (e) {
    throw toAppError(e);
  }
}

export const EVENTS = {
  progress: 'sync://progress',
  finished: 'sync://finished',
  status: 'status://changed',
  exportProgress: 'export://progress',
  fileOpened: 'file://opened',
} as const;

export const onSyncProgress = (cb: (p: Progress) => void): Promise<UnlistenFn> =>
  listen<Progress>(EVENTS.progress, (e) => cb(e.payload));

export const onSyncFinished = (cb: (f: SyncFinished) => void): Promise<UnlistenFn> =>
  listen<SyncFinished>(EVENTS.finished, (e) => cb(e.payload));

export const onStatusChanged = (cb: (s: AppStatus) => void): Promise<UnlistenFn> =>
  listen<AppStatus>(EVENTS.status, (e) => cb(e.payload));

export const onExportProgress = (cb: (p: ExportProgress) => void): Promise<UnlistenFn> =>
  listen<ExportProgress>(EVENTS.exportProgress, (e) => cb(e.payload));

/** A file the OS opened with the app while it runs (a second launch, a double-click). */
export const onFileOpened = (cb: (f: OpenedFile) => void): Promise<UnlistenFn> =>
  listen<OpenedFile>(EVENTS.fileOpened, (e) => cb(e.payload));
