// A small in-memory backend for component tests, speaking docs/ipc.md through mockIPC.
import { mockIPC, mockWindows, clearMocks } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  Account,
  AccountDetail,
  AccountRow,
  AppError,
  AppStatus,
  ChildSort,
  DroppedFile,
  ExportOutcome,
  ExportPlan,
  ExportRequest,
  ImportOutcome,
  ImportPreview,
  Instance,
  InstanceView,
  IssuedSyncKey,
  LedgerEntry,
  OpenedFile,
  Page,
  SearchHit,
} from '$lib/bindings';
import type { CustomerFilter, CustomerSort, InstanceQuery, LedgerQuery, PushReport } from '$lib/bindings';
import { counts, row } from './fixtures';
import { pageInstances, pageLedger } from '../dev/airgap-paging';
import { FakeCustomers, expiredCustomer, prodCustomer, trialCustomer, type CustomerSpec } from '../dev/fake-customers';

export function baseStatus(over: Partial<AppStatus> = {}): AppStatus {
  return {
    version: '0.1.0',
    data_dir: '/data',
    cache_path: '/data/cache.db',
    cloud_url: 'https://usage.example.com',
    account_name: 'Vendor',
    signed_in: true,
    demo: false,
    keyring: 'the desktop keyring (Secret Service)',
    last_synced_at: new Date(Date.now() - 120_000).toISOString(),
    syncing: false,
    online: true,
    last_error: null,
    accounts: 4,
    month_rows: 8,
    db_bytes: 2_500_000,
    outbox: { queued: 0, refused: 0, elsewhere: [] },
    ...over,
  };
}

/** root (sp) → a (reporting, 1,234 activity), b (not available), c (created later) */
export function treeRows(month: string): AccountRow[] {
  return [
    row('sp', null, {
      account_name: 'Service Provider',
      month,
      child_count: 3,
      plan: 'standard',
      own: counts(5000, 3000, 2000),
      totals: { basic: counts(1500, 1300, 1234), standard: counts(5000, 3000, 2000), premium: counts(0, 0, 0) },
      subtree: { ok: 2, not_available: 1, non_existent: 1 },
    }),
    row('a', 'sp', { account_name: 'Alpha Corp', month, own: counts(1500, 1300, 1234), totals: { basic: counts(1500, 1300, 1234), standard: counts(0, 0, 0), premium: counts(0, 0, 0) } }),
    row('b', 'sp', {
      account_name: 'Beta LLC',
      month,
      availability: 'not_available',
      plan: null,
      own: null,
      status: 'disabled',
      totals: { basic: counts(0, 0, 0), standard: counts(0, 0, 0), premium: counts(0, 0, 0) },
      subtree: { ok: 0, not_available: 1, non_existent: 0 },
    }),
    row('c', 'sp', {
      account_name: 'Gamma New',
      month,
      availability: 'non_existent',
      plan: null,
      own: null,
      totals: { basic: counts(0, 0, 0), standard: counts(0, 0, 0), premium: counts(0, 0, 0) },
      subtree: { ok: 0, not_available: 0, non_existent: 1 },
    }),
  ];
}

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

export function instanceView(id: string, over: Partial<Omit<InstanceView, 'instance'>> & { instance?: Partial<Instance> } = {}): InstanceView {
  const { instance, ...rest } = over;
  return {
    overdue: false,
    instance: {
      id,
      license_id: `LIC-${id.toUpperCase()}`,
      account_id: 'a',
      airgapped: true,
      public_key: null,
      high_water_mark: 100,
      last_report_at: null,
      ...instance,
    },
    account_name: 'Alpha Corp',
    last_import_at: null,
    last_sync_key_at: null,
    high_water_mark: 100,
    pending_uploads: 0,
    refused_uploads: 0,
    ...rest,
  };
}

/**
 * inst-online (reports online), inst-fresh (file imported 3 days ago, one pending upload),
 * inst-late (air-gapped, last file 47 days ago: overdue), in an order the view must sort.
 */
export function fakeInstances(): InstanceView[] {
  return [
    instanceView('inst-online', { instance: { airgapped: false, last_report_at: ago(0.1), account_id: 'sp' }, account_name: 'Service Provider' }),
    instanceView('inst-fresh', { last_import_at: ago(3), pending_uploads: 1, high_water_mark: 240 }),
    instanceView('inst-late', {
      overdue: true,
      instance: { account_id: 'c' },
      account_name: null,
      last_import_at: ago(47),
      high_water_mark: 80,
    }),
  ];
}

export function ledgerEntry(id: number, instance: string, over: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    id,
    instance_id: instance,
    event: 'usage_imported',
    at: ago(3),
    by: 'anna (sp)',
    nonce: `nonce-${id}`,
    file_sha256: FAKE_SHA256,
    expires_at: null,
    high_water_mark: 240,
    records: 42,
    new_records: 40,
    already_present: 2,
    changed: 0,
    document: '-----BEGIN USAGEDESK VERIFICATION KEY-----',
    upload: 'pending',
    upload_error: null,
    ...over,
  };
}

export function fakeLedger(): LedgerEntry[] {
  return [
    ledgerEntry(3, 'inst-fresh'),
    ledgerEntry(2, 'inst-fresh', {
      event: 'sync_key_issued',
      at: ago(10),
      expires_at: ago(-20),
      high_water_mark: 198,
      records: 0,
      new_records: 0,
      already_present: 0,
      changed: 0,
      document: '-----BEGIN USAGEDESK SYNC KEY-----',
      upload: null,
    }),
    ledgerEntry(1, 'inst-late', { at: ago(47), upload: 'uploaded', high_water_mark: 80 }),
  ];
}

/** What the default dropped file (any path not in `state.files`) would import. */
export function importPreview(over: Partial<ImportPreview> = {}): ImportPreview {
  return {
    instance_id: 'inst-late',
    license_id: 'LIC-INST-LATE',
    account_id: 'a',
    account_name: 'Alpha Corp',
    period_first: '2024-05-01',
    period_last: '2024-05-31',
    accounts: 3,
    records: 93,
    new: 90,
    already_present: 2,
    changed: 1,
    remaining_records: 0,
    created_at: ago(1),
    file_sha256: 'ab'.repeat(32),
    sync_key_issued_at: ago(5),
    sync_key_expires_at: ago(-25),
    accepted_high_water_mark: 173,
    ...over,
  };
}

/** An account of the fixture tree as `Account`. */
export function treeAccount(id: string): Account | null {
  const r = treeRows('2024-05').find((x) => x.account_id === id);
  return r ? { id: r.account_id, name: r.account_name, parent_id: r.parent_id, status: r.status, created_at: r.created_at } : null;
}

/** The fixture tree's path to an account, root first. */
export function treePath(id: string): Account[] {
  const out: Account[] = [];
  let cur = treeAccount(id);
  while (cur) {
    out.unshift(cur);
    cur = cur.parent_id ? treeAccount(cur.parent_id) : null;
  }
  return out;
}

/** Instance ids of the fake customers. */
export const FAKE_INSTANCES = {
  /** Alpha Corp, Ready, flapping to Degraded, 40 min Unavailable: 99.8 % */
  flapping: '2bQyU1X8kdWv1hZzbGm6Xn3Rt0p',
  /** Alpha Corp, upgraded last week, Updating now, 2/3 nodes ready */
  updating: '7fKp2LmQx9bTz4R1sVw8Yc6Hj3D',
  /** Beta LLC, last check-in 23 days ago */
  dead: 'd9E3qW7rT2yU8iO4pA6sD1fG5hJ',
  /** Beta LLC, air-gapped, overdue */
  airgapped: 'k2L9mN4bV7cX1zQ8wE5rT3yU6iO',
  /** Gamma New, never Ready */
  neverReady: 'f0Rt6Yh2Jk8Lm4Nb1Vc9Xz3Qw5E',
} as const;

/**
 * The customers: Alpha Corp (a: production, two instances, install attempts succeeded and
 * failed), Beta LLC (b: expired 12 days ago, a long-dead instance and an overdue air-gapped
 * one), Gamma New (c: trial expiring in 10 days, never Ready, an install stalled). The
 * service provider (sp) holds no license.
 */
export function fakeCustomerSpecs(): CustomerSpec[] {
  return [prodCustomer(treeAccount('a')!), expiredCustomer(treeAccount('b')!), trialCustomer(treeAccount('c')!)];
}

export type FakeOptions = {
  status?: AppStatus;
  months?: string[];
  connect?: (url: string, token: string) => AppStatus | AppError;
  /**
   * What the save dialog answers: a path, null (the user cancelled), or by default
   * `/home/me/<suggested name>`.
   */
  savePath?: string | null;
  instances?: InstanceView[];
  ledger?: LedgerEntry[];
  customers?: CustomerSpec[];
};

export const FAKE_SHA256 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

/** The fixture tree's accounts in an export scope, in tree order. */
export function scopeIds(id: string, scope: ExportRequest['scope']): string[] {
  const rows = treeRows('2024-05');
  const kids = (p: string) => rows.filter((r) => r.parent_id === p).map((r) => r.account_id);
  if (scope === 'self') return [id];
  if (scope === 'children') return [id, ...kids(id)];
  const out: string[] = [];
  const walk = (x: string) => {
    out.push(x);
    kids(x).forEach(walk);
  };
  walk(id);
  return out;
}

/** Every month from `from` to `to`, inclusive. */
function monthsThrough(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.split('-').map(Number);
  for (let guard = 0; guard < 600; guard++) {
    const ym = `${y}-${String(m).padStart(2, '0')}`;
    if (ym > to) break;
    out.push(ym);
    if (++m > 12) [y, m] = [y + 1, 1];
  }
  return out;
}

export function installFake(opts: FakeOptions = {}) {
  const state = {
    status: opts.status ?? baseStatus(),
    months: opts.months ?? ['2024-04', '2024-05'],
    savePath: opts.savePath,
    /** months the "cache" has no data for (they are still completed months) */
    monthsWithoutData: [] as string[],
    /** export_preview rejects with this when set */
    previewError: null as AppError | null,
    /** export_csv rejects with this at once when set */
    exportError: null as AppError | null,
    instances: opts.instances ?? fakeInstances(),
    ledger: opts.ledger ?? fakeLedger(),
    /** months per account imported here and not yet uploaded */
    pendingMonths: {} as Record<string, string[]>,
    /** what airgap_preview answers per path (an AppError rejects); other paths: importPreview() */
    files: {} as Record<string, ImportPreview | AppError>,
    /** paths imported (a second preview says already imported) */
    imported: new Map<string, number>(),
    /** bumped when the fake's air-gap data changes (the shell's page generation) */
    generation: 1,
    retried: [] as number[],
    discarded: [] as number[],
    /** airgap_import / airgap_issue_sync_key / airgap_save_document reject with these when set */
    importError: null as AppError | null,
    issueError: null as AppError | null,
    saveDocumentError: null as AppError | null,
    /** airgap_import imports, then rejects with this (the verification key could not be written) */
    verificationWriteError: null as AppError | null,
    /** airgap_import waits for finishImport() when set */
    holdImport: false,
    customers: new FakeCustomers(opts.customers ?? fakeCustomerSpecs(), treeAccount, treePath),
    /** customers / customer / instance_detail reject with this when set */
    customersError: null as AppError | null,
    /** customers / customer answer only after finishCustomers() when set */
    holdCustomers: false,
    /** files opened with the app before the window listened (take_opened_files) */
    opened: [] as OpenedFile[],
  };
  let customersRun: (() => void)[] = [];
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  let syncResolve: (() => void) | null = null;
  let exportRun: { resolve: () => void; reject: (e: AppError) => void } | null = null;
  let importRun: (() => void) | null = null;
  let nextLedgerId = 100;

  const previewOf = (path: string): ImportPreview => {
    const f = state.files[path];
    if (f && 'kind' in f) throw f;
    return f ?? importPreview();
  };
  const dropped = (path: string): DroppedFile => {
    const done = state.imported.get(path);
    if (done !== undefined) {
      return { path, preview: null, already_imported: state.ledger.find((e) => e.id === done) ?? null };
    }
    return { path, preview: previewOf(path), already_imported: null };
  };

  const exportPlan = (req: ExportRequest): ExportPlan => {
    for (const m of [req.from, req.to]) {
      if (!state.months.includes(m)) {
        throw { kind: 'invalid_input', message: `${m} is not a completed month yet, so its month-end values are not final` } satisfies AppError;
      }
    }
    if (req.from > req.to) {
      throw { kind: 'invalid_input', message: `the range starts (${req.from}) after it ends (${req.to}); swap the two months` } satisfies AppError;
    }
    const rows = treeRows('2024-05');
    const acc = rows.find((r) => r.account_id === req.account_id);
    if (!acc) throw { kind: 'not_found', message: `account ${req.account_id} is not in the cache` } satisfies AppError;
    const range = monthsThrough(req.from, req.to);
    const months = range.filter((m) => state.months.includes(m) && !state.monthsWithoutData.includes(m));
    const accounts = scopeIds(req.account_id, req.scope).length;
    return {
      request: req,
      account_name: acc.account_name,
      months,
      months_without_data: range.filter((m) => !months.includes(m)),
      accounts,
      rows: accounts * months.length,
      suggested_file_name: `usage-${req.account_id}-${req.scope}-${req.from === req.to ? req.from : `${req.from}_${req.to}`}.csv`,
    };
  };

  const byId = (month: string) => new Map(treeRows(month).map((r) => [r.account_id, r]));
  const pathOf = (id: string, month: string) => {
    const m = byId(month);
    const out = [];
    let cur = m.get(id);
    while (cur) {
      out.unshift({ id: cur.account_id, name: cur.account_name, parent_id: cur.parent_id, status: cur.status, created_at: cur.created_at });
      cur = cur.parent_id ? m.get(cur.parent_id) : undefined;
    }
    return out;
  };

  mockIPC(
    async (cmd, raw) => {
      const args = (raw ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args });
      switch (cmd) {
        case 'app_status':
          return state.status;
        case 'connect': {
          const r = opts.connect?.(String(args.url), String(args.token)) ?? baseStatus({ cloud_url: String(args.url) });
          if ('kind' in r) throw r;
          state.status = r;
          return r;
        }
        case 'start_demo':
          state.status = baseStatus({ demo: true });
          return state.status;
        case 'plans':
          return [
            { id: 'basic', name: 'Basic' },
            { id: 'standard', name: 'Standard' },
            { id: 'premium', name: 'Premium' },
          ];
        case 'completed_months':
          return state.months;
        case 'children': {
          const month = String(args.month);
          const parent = (args.parent as string | null) ?? null;
          const sort = args.sort as ChildSort;
          const items = treeRows(month).filter((r) => r.parent_id === parent);
          if (sort.by === 'subtree_total') items.reverse();
          const offset = Number(args.offset);
          const limit = Number(args.limit);
          return { items: items.slice(offset, offset + limit), total: items.length, offset, limit } satisfies Page<AccountRow>;
        }
        case 'account_detail': {
          const month = String(args.month);
          const r = byId(month).get(String(args.id));
          if (!r) throw { kind: 'not_found', message: 'No such account.' } satisfies AppError;
          return {
            row: r,
            path: pathOf(r.account_id, month),
            pending_months: state.pendingMonths[r.account_id] ?? [],
            is_customer: state.customers.isCustomer(r.account_id),
          } satisfies AccountDetail;
        }
        case 'search': {
          const text = String(args.text).toLowerCase();
          return treeRows('2024-05')
            .filter((r) => r.account_name.toLowerCase().includes(text))
            .map(
              (r): SearchHit => ({
                account: { id: r.account_id, name: r.account_name, parent_id: r.parent_id, status: r.status, created_at: r.created_at },
                matched: 'name',
                path: pathOf(r.account_id, '2024-05').slice(0, -1).map((a) => a.name),
              }),
            );
        }
        case 'trend':
          return [];
        case 'sync_now':
          await new Promise<void>((r) => (syncResolve = r));
          return { rows: 10, pages: 1, full_resync: false, finished_at: new Date().toISOString(), account_id: 'sp', account_name: 'Vendor', uploaded: 0 };
        case 'cancel_sync':
          return null;
        case 'sign_out':
          state.status = { ...state.status, signed_in: false };
          return state.status;
        case 'clear_cache':
          state.months = [];
          return state.status;
        case 'export_preview':
          if (state.previewError) throw state.previewError;
          return exportPlan(args.request as ExportRequest);
        case 'export_csv': {
          if (exportRun) throw { kind: 'busy', message: 'an export is already running; wait for it or cancel it' } satisfies AppError;
          if (state.exportError) throw state.exportError;
          const plan = exportPlan(args.request as ExportRequest);
          const path = String(args.path);
          try {
            await new Promise<void>((resolve, reject) => (exportRun = { resolve, reject }));
          } finally {
            exportRun = null;
          }
          return {
            csv_path: path,
            manifest_path: `${path}.manifest.json`,
            rows: plan.rows,
            bytes: 200 + plan.rows * 120,
            sha256: FAKE_SHA256,
          } satisfies ExportOutcome;
        }
        case 'cancel_export':
          exportRun?.reject({ kind: 'cancelled', message: 'the export was cancelled; no file was written' });
          exportRun = null;
          return null;
        case 'airgap_instances':
          return pageInstances(state.instances, args.query as InstanceQuery, `g${state.generation}`);
        case 'airgap_overdue_count':
          return state.instances.filter((i) => i.overdue && i.instance.airgapped).length;
        case 'airgap_ledger':
          return pageLedger(state.ledger, args.query as LedgerQuery, `g${state.generation}`);
        case 'airgap_retry': {
          const id = Number(args.ledgerId);
          state.retried.push(id);
          state.ledger = state.ledger.map((e) => (e.id === id ? { ...e, upload: 'uploaded', upload_error: null } : e));
          state.generation++;
          return { uploaded: 1, deferred: 0, refused: 0 } satisfies PushReport;
        }
        case 'airgap_discard': {
          const id = Number(args.ledgerId);
          state.discarded.push(id);
          state.ledger = state.ledger.map((e) => (e.id === id ? { ...e, upload: 'discarded' } : e));
          state.generation++;
          return null;
        }
        case 'airgap_issue_sync_key': {
          if (state.issueError) throw state.issueError;
          const id = String(args.instanceId);
          const inst = state.instances.find((i) => i.instance.id === id);
          if (!inst) throw { kind: 'not_found', message: `instance '${id}' is not in the local cache` } satisfies AppError;
          const days = Number(args.validDays);
          const shortened = days > 60;
          const key: IssuedSyncKey = {
            instance_id: id,
            text: '-----BEGIN USAGEDESK SYNC KEY-----',
            suggested_file_name: `${id}-20240601.usagedesk-synckey`,
            nonce: 'n-1',
            high_water_mark: inst.high_water_mark,
            expires_at: new Date(Date.now() + (shortened ? 60 : days) * DAY).toISOString(),
            shortened,
          };
          state.ledger = [
            ledgerEntry(++nextLedgerId, id, { event: 'sync_key_issued', at: new Date().toISOString(), expires_at: key.expires_at, high_water_mark: key.high_water_mark, upload: null }),
            ...state.ledger,
          ];
          state.instances = state.instances.map((i) => (i.instance.id === id ? { ...i, last_sync_key_at: new Date().toISOString() } : i));
          return key;
        }
        case 'airgap_preview':
          return dropped(String(args.path));
        case 'airgap_import': {
          const path = String(args.path);
          if (state.holdImport) await new Promise<void>((r) => (importRun = r));
          if (state.importError) throw state.importError;
          if (state.imported.has(path)) throw { kind: 'already_imported', message: 'this usage data file was already imported' } satisfies AppError;
          const preview = previewOf(path);
          const entry = ledgerEntry(++nextLedgerId, preview.instance_id, {
            at: new Date().toISOString(),
            records: preview.records,
            new_records: preview.new,
            already_present: preview.already_present,
            changed: preview.changed,
            high_water_mark: preview.accepted_high_water_mark,
          });
          state.ledger = [entry, ...state.ledger];
          state.imported.set(path, entry.id);
          state.pendingMonths[preview.account_id] = ['2024-05'];
          state.instances = state.instances.map((i) =>
            i.instance.id === preview.instance_id
              ? { ...i, overdue: false, last_import_at: entry.at, pending_uploads: i.pending_uploads + 1, high_water_mark: preview.accepted_high_water_mark }
              : i,
          );
          if (state.verificationWriteError) throw state.verificationWriteError;
          return { preview, ledger_id: entry.id, verification_key: '-----BEGIN USAGEDESK VERIFICATION KEY-----', suggested_file_name: 'x.usagedesk-verification' } satisfies ImportOutcome;
        }
        case 'airgap_save_document':
          if (state.saveDocumentError) throw state.saveDocumentError;
          if (!state.ledger.some((e) => e.id === Number(args.ledgerId))) throw { kind: 'not_found', message: 'no such ledger entry' } satisfies AppError;
          return null;
        case 'customers':
        case 'customer_counts':
        case 'customer':
        case 'customer_instances':
        case 'install_attempts':
        case 'instance_detail':
        case 'instance_events': {
          if (state.holdCustomers) await new Promise<void>((r) => customersRun.push(r));
          if (state.customersError) throw state.customersError;
          const c = state.customers;
          const [offset, limit] = [Number(args.offset), Number(args.limit)];
          if (cmd === 'customers') return c.customersPage(args.filter as CustomerFilter, args.sort as CustomerSort, offset, limit);
          if (cmd === 'customer_counts') return c.counts();
          if (cmd === 'customer') return c.customer(String(args.accountId));
          if (cmd === 'customer_instances') return c.instances(String(args.accountId), offset, limit);
          if (cmd === 'install_attempts') return c.attempts(String(args.accountId), offset, limit);
          if (cmd === 'instance_events') return c.instanceEvents(String(args.instanceId), offset, limit);
          return c.instanceDetail(String(args.instanceId));
        }
        case 'take_opened_files': {
          const files = state.opened;
          state.opened = [];
          return files;
        }
        case 'plugin:dialog|save': {
          const options = (args.options ?? {}) as { defaultPath?: string };
          return state.savePath === undefined ? `/home/me/${options.defaultPath ?? 'export.csv'}` : state.savePath;
        }
        default:
          throw `command ${cmd} not found`;
      }
    },
    { shouldMockEvents: true },
  );

  // the window the drop events are for (getCurrentWebview)
  mockWindows('main');

  const drag = (event: string, payload: unknown) => emit(event, payload);

  return {
    state,
    calls,
    /** files dragged over the window, then dropped (as the shell reports them) */
    drop: async (paths: string[]) => {
      await drag('tauri://drag-enter', { paths, position: { x: 10, y: 10 } });
      await drag('tauri://drag-drop', { paths, position: { x: 10, y: 10 } });
    },
    dragEnter: (paths: string[] = ['/x']) => drag('tauri://drag-enter', { paths, position: { x: 10, y: 10 } }),
    dragLeave: () => drag('tauri://drag-leave', null),
    /** a file the OS opened with the running app (a second launch) */
    openFile: (file: OpenedFile) => emit('file://opened', file),
    /** lets a held airgap_import go on */
    finishImport: () => importRun?.(),
    /** lets the held customers / customer / instance_detail calls answer */
    finishCustomers: () => {
      const run = customersRun;
      customersRun = [];
      run.forEach((r) => r());
    },
    emit: (event: string, payload: unknown) => emit(event, payload),
    finishSync: () => syncResolve?.(),
    /** lets the running export_csv resolve */
    finishExport: () => exportRun?.resolve(),
    exportRunning: () => exportRun !== null,
    clear: () => clearMocks(),
  };
}
