// A small in-memory backend for component tests, speaking docs/ipc.md through mockIPC.
import { mockIPC, clearMocks } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  AccountDetail,
  AccountRow,
  AppError,
  AppStatus,
  ChildSort,
  ExportOutcome,
  ExportPlan,
  ExportRequest,
  Page,
  SearchHit,
} from '$lib/bindings';
import { counts, row } from './fixtures';

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

export type FakeOptions = {
  status?: AppStatus;
  months?: string[];
  connect?: (url: string, token: string) => AppStatus | AppError;
  /**
   * What the save dialog answers: a path, null (the user cancelled), or by default
   * `/home/me/<suggested name>`.
   */
  savePath?: string | null;
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
  };
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  let syncResolve: (() => void) | null = null;
  let exportRun: { resolve: () => void; reject: (e: AppError) => void } | null = null;

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
          return { row: r, path: pathOf(r.account_id, month) } satisfies AccountDetail;
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
          return { rows: 10, pages: 1, full_resync: false, finished_at: new Date().toISOString(), account_id: 'sp', account_name: 'Vendor' };
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

  return {
    state,
    calls,
    emit: (event: string, payload: unknown) => emit(event, payload),
    finishSync: () => syncResolve?.(),
    /** lets the running export_csv resolve */
    finishExport: () => exportRun?.resolve(),
    exportRunning: () => exportRun !== null,
    clear: () => clearMocks(),
  };
}
