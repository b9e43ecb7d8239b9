// The fake Rust shell: every command of the IPC contract written once, over a FakeWorld, with
// the shell's answers, refusals and events (docs/ipc.md). Used by the dev server and the tests.
import type {
  Account,
  AccountRow,
  AppError,
  ChildSort,
  DroppedFile,
  ExportPlan,
  ExportRequest,
  ExportSignature,
  ImportPreview,
  LedgerEntry,
  SearchHit,
  SyncReport,
  TrendPoint,
  UsageCounts,
  YearMonth,
} from '$lib/bindings';
import type { EventName, Events } from '$lib/backend/contract';
import { compareText } from '$lib/ui/format';
import { pageInstances, pageLedger } from './airgap-paging';
import type { Handlers } from './backend';
import { fakeAttention, fakeAttentionCounts } from './attention';
import { fakeEntitlementCard, fakeLicenseList } from './entitlements';
import { fakeCustomerHealth, fakeHealthList, fakeRenewals } from './health';
import type { FakeWorld, LongRun } from './world';

export type Emit = <E extends EventName>(event: E, payload: Events[E]) => Promise<void>;

/** What the test (or the dev script) can let go of: a held sync, export, import or customer answer. */
export type Held = LongRun | 'import' | 'customers';

const DAY = 86_400_000;
const EXPORT_STEP = 8192;

export const fail = (kind: AppError['kind'], message: string): never => {
  throw { kind, message } satisfies AppError;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every month from `from` to `to`, inclusive. */
export function monthsThrough(from: YearMonth, to: YearMonth): YearMonth[] {
  const out: YearMonth[] = [];
  let [y, m] = from.split('-').map(Number);
  for (let guard = 0; guard < 600; guard++) {
    const ym = `${y}-${String(m).padStart(2, '0')}`;
    if (ym > to) break;
    out.push(ym);
    if (++m > 12) [y, m] = [y + 1, 1];
  }
  return out;
}

const zero = (): UsageCounts => ({ users_registered: 0, users_with_token: 0, users_with_activity: 0 });
const stamp = () => new Date().toISOString().slice(0, 10).replace(/-/g, '');

export function fakeShell(w: FakeWorld, emit: Emit) {
  const waiting = new Map<Held, (() => void)[]>();
  const released = new Set<Held>();
  /** Waits for the next `release(what)`. */
  const wait = (what: Held) => new Promise<void>((r) => waiting.set(what, [...(waiting.get(what) ?? []), r]));
  /** Waits for `release(what)`; once released, the rest of that run goes on at once. */
  const held = (what: Held) => (released.has(what) ? Promise.resolve() : wait(what));
  const release = (what: Held) => {
    released.add(what);
    const run = waiting.get(what) ?? [];
    waiting.delete(what);
    run.forEach((r) => r());
  };
  /** One step of a long operation: its pace in dev, until released in tests. */
  const step = (what: LongRun) => {
    const ms = w.pace?.[what];
    return ms === undefined ? held(what) : sleep(ms);
  };

  const accounts = w.accounts;
  const path = (id: string): Account[] => {
    const out: Account[] = [];
    let cur = accounts.account(id);
    while (cur) {
      out.unshift(cur);
      cur = cur.parent_id ? accounts.account(cur.parent_id) : null;
    }
    return out;
  };
  const notCached = (): never => fail('not_found', 'That account is not in the cache any more. Sync to refresh it.');
  const row = (id: string, month: YearMonth): AccountRow => (w.months.length ? accounts.row(id, month) : null) ?? notCached();

  const sortCache = new Map<string, string[]>();
  function sortedChildren(parent: string | null, month: YearMonth, sort: ChildSort): string[] {
    const key = `${parent}|${month}|${JSON.stringify(sort)}`;
    const hit = sortCache.get(key);
    if (hit) return hit;
    const ids = [...(parent === null ? accounts.roots() : (accounts.children(parent) ?? notCached()))];
    const name = (id: string) => accounts.account(id)?.name ?? '';
    const byName = (a: string, b: string) => compareText(name(a), name(b));
    if (sort.by === 'name') ids.sort(byName);
    else {
      const total = (id: string) => Object.values(accounts.row(id, month)?.totals ?? {}).reduce((s, c) => s + c[sort.metric], 0);
      const totals = new Map(ids.map((id) => [id, total(id)]));
      ids.sort((a, b) => totals.get(b)! - totals.get(a)! || byName(a, b));
    }
    sortCache.set(key, ids);
    return ids;
  }

  function search(text: string, limit: number): SearchHit[] {
    const t = text.trim().toLowerCase();
    const out: SearchHit[] = [];
    if (!w.months.length || !t) return out;
    const push = (a: Account, matched: SearchHit['matched']) => out.push({ account: a, matched, path: path(a.id).slice(0, -1).map((x) => x.name) });
    const exact = accounts.account(t);
    if (exact) push(exact, 'exact_id');
    for (const a of accounts.all()) {
      if (out.length >= limit) break;
      if (a.id !== t && a.id.startsWith(t)) push(a, 'id_prefix');
    }
    for (const a of accounts.all()) {
      if (out.length >= limit) break;
      if (a.name.toLowerCase().includes(t) && !out.some((h) => h.account.id === a.id)) push(a, 'name');
    }
    return out.slice(0, limit);
  }

  function trend(id: string, to: YearMonth, count: number): TrendPoint[] {
    row(id, to);
    const [y, m] = to.split('-').map(Number);
    const first = new Date(Date.UTC(y, m - Math.min(36, count), 1));
    const from = `${first.getUTCFullYear()}-${String(first.getUTCMonth() + 1).padStart(2, '0')}`;
    return monthsThrough(from, to).map((month) => {
      const r = w.months.includes(month) ? accounts.row(id, month) : null;
      return r
        ? { month, totals: r.totals, subtree: r.subtree }
        : { month, totals: Object.fromEntries(w.plans.map((p) => [p.id, zero()])), subtree: { ok: 0, not_available: 0, non_existent: 0 } };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Sync: progress events, the status, the upload of imported files; one at a time.
  let syncRun: Promise<SyncReport> | null = null;
  let cancelSync = false;

  const setStatus = async (over: Partial<FakeWorld['status']>) => {
    w.status = { ...w.status, ...over };
    await emit('status://changed', w.status);
  };
  const refreshCounts = () => {
    const n = w.months.length ? accounts.count() : 0;
    w.status = { ...w.status, accounts: n, month_rows: n * w.months.length, db_bytes: 24_576 + n * w.months.length * 96 };
  };

  function startSync(): Promise<SyncReport> {
    if (syncRun) return syncRun;
    cancelSync = false;
    released.delete('sync');
    syncRun = (async () => {
      try {
        await setStatus({ syncing: true, last_error: null });
        const total = accounts.count() * w.syncedMonths.length;
        await emit('sync://progress', { phase: 'connecting', rows_done: 0, rows_total: null, pages: 0 });
        await step('sync');
        if (!w.cloudReachable) {
          w.status = { ...w.status, online: false };
          fail('offline', 'The cloud cannot be reached. Check your network; cached data is shown meanwhile.');
        }
        const steps = w.pace ? w.syncSteps : 1;
        for (let i = 1; i <= steps; i++) {
          if (cancelSync) fail('cancelled', 'The sync was cancelled. What was downloaded is kept.');
          await emit('sync://progress', { phase: 'downloading', rows_done: Math.round((total * i) / steps), rows_total: total, pages: i });
          if (i < steps) await step('sync');
        }
        await emit('sync://progress', { phase: 'aggregating', rows_done: total, rows_total: total, pages: steps });
        w.months = [...w.syncedMonths];
        sortCache.clear();
        const uploaded = uploadPending();
        w.status = { ...w.status, online: true, last_synced_at: new Date().toISOString() };
        refreshCounts();
        const report: SyncReport = {
          rows: total,
          pages: steps,
          full_resync: false,
          finished_at: w.status.last_synced_at!,
          account_id: accounts.roots()[0] ?? '',
          account_name: w.status.account_name ?? w.cloudAccountName,
          uploaded,
          push: { uploaded, deferred: 0, refused: 0 },
        };
        await emit('sync://progress', { phase: 'done', rows_done: total, rows_total: total, pages: steps });
        await setStatus({ syncing: false });
        await emit('sync://finished', { ok: true, report, error: null });
        return report;
      } catch (e) {
        const error = e as AppError;
        await setStatus({ syncing: false, last_error: error });
        await emit('sync://finished', { ok: false, report: null, error });
        throw error;
      } finally {
        syncRun = null;
      }
    })();
    return syncRun;
  }
  const syncInBackground = () => void startSync().catch(() => {});

  // -------------------------------------------------------------------------------------------
  // Export: the plan, and a run reporting progress every 8192 rows (the CSV is the shell's).
  let exporting = false;
  let cancelExport = false;

  function exportPlan(req: ExportRequest): ExportPlan {
    for (const m of [req.from, req.to]) {
      if (!/^\d{4}-\d{2}$/.test(m)) fail('invalid_input', `'${m}' is not a month; write it as YYYY-MM`);
      if (!w.months.includes(m)) fail('invalid_input', `${m} is not a completed month yet, so its month-end values are not final`);
    }
    if (req.from > req.to) fail('invalid_input', `the range starts (${req.from}) after it ends (${req.to}); swap the two months`);
    const acc = accounts.account(req.account_id) ?? fail('not_found', `account ${req.account_id} is not in the cache; sync to refresh it`);
    const range = monthsThrough(req.from, req.to);
    const months = range.filter((m) => w.months.includes(m) && !w.monthsWithoutData.includes(m));
    let count = 1;
    if (req.scope === 'children') count += accounts.children(req.account_id)?.length ?? 0;
    if (req.scope === 'tree') {
      const stack = [...(accounts.children(req.account_id) ?? [])];
      while (stack.length) {
        count++;
        stack.push(...(accounts.children(stack.pop()!) ?? []));
      }
    }
    const id = req.account_id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
    return {
      request: req,
      account_name: acc.name,
      months,
      months_without_data: range.filter((m) => !months.includes(m)),
      accounts: count,
      // the fake holds one license per account for entitlements; plans used without seats would add rows
      licenses: req.report === 'entitlements' ? count : 0,
      rows: count * months.length,
      rows_exact: req.report !== 'entitlements',
      suggested_file_name: `${req.report}-${id}-${req.scope}-${req.from === req.to ? req.from : `${req.from}_${req.to}`}.csv`,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Air-gapped exchange: the ledger and the instances' fields derived from it.
  const cannotWrite = (path: string): never => fail('io', `cannot write ${path}: Permission denied (os error 13). Choose a folder you can write to`);
  const noCertificate = (): never =>
    fail('no_certificate', "no signing certificate yet: sync once while online (the cloud certifies this computer's key then), and try again");
  let nextLedgerId = Math.max(100, ...w.ledger.map((e) => e.id));

  function newEntry(instance: string, over: Partial<LedgerEntry>): LedgerEntry {
    const id = ++nextLedgerId;
    const syncKey = over.event === 'sync_key_issued';
    return {
      id,
      instance_id: instance,
      event: 'usage_imported',
      at: new Date().toISOString(),
      by: w.signer,
      nonce: w.sha256(`nonce${id}`).slice(0, 32),
      file_sha256: w.sha256(`file${id}`),
      expires_at: null,
      high_water_mark: 0,
      records: 0,
      new_records: 0,
      already_present: 0,
      changed: 0,
      document: syncKey ? '-----BEGIN USAGEDESK SYNC KEY-----' : '-----BEGIN USAGEDESK VERIFICATION KEY-----',
      upload: syncKey ? null : 'pending',
      upload_error: null,
      ...over,
    };
  }

  /** The queued and refused files of an instance, and the status's outbox, from the ledger. */
  function refreshUploads(instanceId: string) {
    const mine = w.ledger.filter((e) => e.instance_id === instanceId && e.event === 'usage_imported');
    w.instances = w.instances.map((i) =>
      i.instance.id === instanceId
        ? { ...i, pending_uploads: mine.filter((e) => e.upload === 'pending').length, refused_uploads: mine.filter((e) => e.upload === 'rejected').length }
        : i,
    );
    w.status = {
      ...w.status,
      outbox: {
        ...w.status.outbox,
        queued: w.ledger.filter((e) => e.upload === 'pending').length,
        refused: w.ledger.filter((e) => e.upload === 'rejected').length,
      },
    };
    w.generation++;
  }

  /** A sync pushes what was imported here; the cloud accepts it. Returns how many files. */
  function uploadPending(): number {
    const pending = w.ledger.filter((e) => e.upload === 'pending');
    if (!pending.length) return 0;
    w.ledger = w.ledger.map((e) => (e.upload === 'pending' ? { ...e, upload: 'uploaded' } : e));
    new Set(pending.map((e) => e.instance_id)).forEach(refreshUploads);
    w.pendingMonths = {};
    return pending.length;
  }

  const entry = (ledgerId: number) => w.ledger.find((e) => e.id === ledgerId) ?? fail('not_found', 'no such ledger entry');

  const previewOf = (path: string): ImportPreview => {
    const f = w.files[path];
    if (f && 'kind' in f) throw f;
    return f ?? w.fileAt(path);
  };
  const dropped = (path: string): DroppedFile => {
    const done = w.imported.get(path) ?? w.importedBefore?.(path);
    if (done !== undefined) return { path, preview: null, already_imported: w.ledger.find((e) => e.id === done) ?? null };
    return { path, preview: previewOf(path), already_imported: null };
  };

  /** Entitlements use month-end values: only completed months. */
  const completedMonth = (month: YearMonth) => {
    const last = w.months[w.months.length - 1];
    if (!/^\d{4}-\d{2}$/.test(month) || (last !== undefined && month > last)) {
      fail('invalid_input', `${month} is not a completed month yet: entitlements use month-end values; the last completed month is ${last}`);
    }
  };

  async function customersAnswer<T>(answer: () => T): Promise<T> {
    if (w.holdCustomers) await wait('customers');
    if (w.customersError) throw w.customersError;
    return answer();
  }

  // -------------------------------------------------------------------------------------------
  const handlers: Handlers = {
    app_status: () => w.status,
    connect: ({ url, token }) => {
      if (!/^https?:\/\/[^\s/]+/.test(url)) fail('bad_url', 'Enter a full address starting with https://, for example https://usage.example.com.');
      if (url.includes('offline')) fail('offline', 'The cloud cannot be reached. Check the address and your network, then try again.');
      if (url.includes('example.org')) fail('not_usage_desk', 'That address answers, but it is not a UsageDesk cloud. Check the URL with your administrator.');
      if (url.includes('old')) fail('version_mismatch', 'This cloud speaks API v0; this app needs v1. Update the cloud or use a matching app version.');
      if (token === 'bad' || token.length < 6) fail('unauthorized', 'The cloud refused this token. Check it, or ask your administrator for a new one.');
      w.status = { ...w.status, cloud_url: url, signed_in: true, demo: false, account_name: w.cloudAccountName, online: true };
      syncInBackground();
      return w.status;
    },
    start_demo: () => {
      w.status = { ...w.status, cloud_url: 'http://127.0.0.1:47813', signed_in: true, demo: true, account_name: 'Demo Vendor', online: true };
      syncInBackground();
      return w.status;
    },
    sync_now: () => (syncRun ? fail('busy', 'A sync is already running.') : startSync()),
    cancel_sync: () => {
      cancelSync = true;
      release('sync');
      return null;
    },
    sign_out: () => {
      w.status = { ...w.status, signed_in: false, demo: false };
      return w.status;
    },
    clear_cache: ({ force }) => {
      const kept = w.status.outbox.queued + w.status.outbox.refused;
      if (!force && kept > 0)
        fail('pending_uploads', `${kept} imported usage data file(s) have not reached the cloud yet. Clearing keeps them queued for the cloud and account they were imported under; confirm to clear`);
      w.months = [];
      w.status = { ...w.status, last_synced_at: null };
      refreshCounts();
      return w.status;
    },
    plans: () => w.plans,
    completed_months: () => w.months,
    children: ({ parent, month, sort, offset, limit }) => {
      const size = Math.min(500, limit);
      if (!w.months.length) return { items: [], total: 0, offset, limit: size };
      const ids = sortedChildren(parent, month, sort);
      return { items: ids.slice(offset, offset + size).map((id) => row(id, month)), total: ids.length, offset, limit: size };
    },
    account_detail: ({ id, month }) => ({
      row: row(id, month),
      path: path(id),
      pending_months: w.pendingMonths[id] ?? [],
      is_customer: w.customers.isCustomer(id),
    }),
    search: ({ text, limit }) => search(text, limit),
    trend: ({ id, to, count }) => trend(id, to, count),
    export_preview: ({ request }) => {
      if (w.previewError) throw w.previewError;
      return exportPlan(request);
    },
    export_csv: async ({ request, path: file }) => {
      if (!file.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(file)) fail('invalid_input', `'${file}' is not a full path: choose where to save with the save dialog`);
      if (exporting) fail('busy', 'an export is already running; wait for it or cancel it');
      if (w.exportError) throw w.exportError;
      const plan = exportPlan(request);
      exporting = true;
      cancelExport = false;
      released.delete('export');
      try {
        if (file.includes('readonly')) {
          await step('export');
          cannotWrite(file);
        }
        for (let written = 0; written === 0 || written < plan.rows; written += EXPORT_STEP) {
          if (cancelExport) break;
          if (written > 0) await emit('export://progress', { written, total: plan.rows });
          await step('export');
        }
        if (cancelExport) fail('cancelled', 'the export was cancelled; no file was written');
        // Signed with the manager's certificate when there is one, as the shell does.
        const signature: ExportSignature =
          w.certificateDays === null || w.certificateDays <= 0
            ? {
                status: 'unsigned',
                reason:
                  w.certificateDays === null
                    ? "no signing certificate yet: sync once while online (the cloud certifies this computer's key then), and try again"
                    : `the signing certificate expired on ${new Date(Date.now() + w.certificateDays * DAY).toISOString().slice(0, 10)}: sync while online to renew it, then try again`,
              }
            : {
                status: 'signed',
                signed_by: w.signer,
                scope: '*',
                certificate_expires_at: new Date(Date.now() + w.certificateDays * DAY).toISOString(),
                root_fingerprint: `sha256:${w.sha256('root')}`,
              };
        const manifest_path = signature.status === 'signed' ? `${file}.manifest` : `${file}.manifest.json`;
        return { csv_path: file, manifest_path, rows: plan.rows, bytes: 200 + plan.rows * 120, sha256: w.sha256(`${file}:${plan.rows}`), signature };
      } finally {
        exporting = false;
      }
    },
    cancel_export: () => {
      if (exporting) {
        cancelExport = true;
        release('export');
      }
      return null;
    },
    airgap_instances: ({ query }) => pageInstances(w.instances, query, `g${w.generation}`),
    airgap_overdue_count: () => w.instances.filter((i) => i.overdue && i.instance.airgapped).length,
    airgap_ledger: ({ query }) => pageLedger(w.ledger, query, `g${w.generation}`),
    airgap_retry: ({ ledgerId }) => {
      const e = entry(ledgerId);
      w.ledger = w.ledger.map((x) => (x.id === ledgerId ? { ...x, upload: 'uploaded', upload_error: null } : x));
      refreshUploads(e.instance_id);
      return { uploaded: 1, deferred: 0, refused: 0 };
    },
    airgap_discard: ({ ledgerId }) => {
      const e = entry(ledgerId);
      w.ledger = w.ledger.map((x) => (x.id === ledgerId ? { ...x, upload: 'discarded' } : x));
      refreshUploads(e.instance_id);
      return null;
    },
    airgap_issue_sync_key: ({ instanceId, validDays, path: file }) => {
      if (w.issueError) throw w.issueError;
      if (w.certificateDays === null) noCertificate();
      const inst =
        w.instances.find((i) => i.instance.id === instanceId) ??
        fail('not_found', `instance '${instanceId}' is not in the local cache: check the id, or sync to fetch new instances`);
      if (!Number.isInteger(validDays) || validDays < 1 || validDays > 365) fail('invalid_input', 'a sync key is valid for 1 to 365 days');
      if (file.includes('readonly')) cannotWrite(file);
      const valid = Math.min(validDays, w.certificateDays!);
      const e = newEntry(instanceId, {
        event: 'sync_key_issued',
        expires_at: new Date(Date.now() + valid * DAY).toISOString(),
        high_water_mark: inst.high_water_mark,
      });
      w.ledger = [e, ...w.ledger];
      w.instances = w.instances.map((i) => (i.instance.id === instanceId ? { ...i, last_sync_key_at: e.at } : i));
      w.generation++;
      return {
        instance_id: instanceId,
        text: e.document,
        suggested_file_name: `${instanceId}-${stamp()}.usagedesk-synckey`,
        nonce: e.nonce,
        high_water_mark: e.high_water_mark,
        expires_at: e.expires_at!,
        shortened: valid < validDays,
      };
    },
    airgap_preview: ({ path: file }) => dropped(file),
    airgap_import: async ({ path: file, verificationPath }) => {
      if (w.holdImport) await wait('import');
      if (w.importError) throw w.importError;
      if (w.imported.has(file) || w.importedBefore?.(file) !== undefined) fail('already_imported', 'this usage data file was already imported; nothing changed');
      const p = previewOf(file);
      const e = newEntry(p.instance_id, {
        records: p.records,
        new_records: p.new,
        already_present: p.already_present,
        changed: p.changed,
        high_water_mark: p.accepted_high_water_mark,
        file_sha256: p.file_sha256,
      });
      w.ledger = [e, ...w.ledger];
      w.imported.set(file, e.id);
      const month = p.period_first?.slice(0, 7);
      const months = w.pendingMonths[p.account_id] ?? [];
      if (month && !months.includes(month)) w.pendingMonths[p.account_id] = [...months, month];
      w.instances = w.instances.map((i) =>
        i.instance.id === p.instance_id ? { ...i, overdue: false, last_import_at: e.at, high_water_mark: p.accepted_high_water_mark } : i,
      );
      refreshUploads(p.instance_id);
      // the shell imports, then writes the verification key
      if (w.verificationWriteError) throw w.verificationWriteError;
      if (verificationPath.includes('readonly')) cannotWrite(verificationPath);
      return { preview: p, ledger_id: e.id, verification_key: e.document, suggested_file_name: `${p.instance_id}-${stamp()}.usagedesk-verification` };
    },
    airgap_save_document: ({ ledgerId, path: file }) => {
      if (w.saveDocumentError) throw w.saveDocumentError;
      entry(ledgerId);
      if (file.includes('readonly')) cannotWrite(file);
      return null;
    },
    customers: ({ filter, sort, offset, limit }) => customersAnswer(() => w.customers.customersPage(filter, sort, offset, limit)),
    customer_counts: () => customersAnswer(() => w.customers.counts()),
    customer: ({ accountId }) => customersAnswer(() => w.customers.customer(accountId)),
    customer_instances: ({ accountId, offset, limit }) => customersAnswer(() => w.customers.instances(accountId, offset, limit)),
    install_attempts: ({ accountId, offset, limit }) => customersAnswer(() => w.customers.attempts(accountId, offset, limit)),
    instance_detail: ({ instanceId }) => customersAnswer(() => w.customers.instanceDetail(instanceId)),
    instance_events: ({ instanceId, offset, limit }) => customersAnswer(() => w.customers.instanceEvents(instanceId, offset, limit)),
    entitlement_card: ({ accountId, month }) =>
      customersAnswer(() => {
        completedMonth(month);
        return fakeEntitlementCard(w, accountId, month) ?? fail('not_found', `account '${accountId}' is not in the cache; sync first`);
      }),
    license_list: ({ accountId, month, filter, offset, limit }) =>
      customersAnswer(() => {
        completedMonth(month);
        if (accountId !== null && !accounts.account(accountId)) fail('not_found', `account '${accountId}' is not in the cache; sync first`);
        return fakeLicenseList(w, accountId, month, filter, offset, limit);
      }),
    health_list: ({ sort, descending, offset, limit }) => customersAnswer(() => fakeHealthList(w, sort, descending, offset, Math.min(Math.max(limit, 1), 500))),
    customer_health: ({ accountId }) =>
      customersAnswer(() => fakeCustomerHealth(w, accountId) ?? fail('not_found', `account '${accountId}' holds no license in the cache; sync first`)),
    renewal_calendar: ({ months, offset, limit }) =>
      customersAnswer(() => {
        if (months < 1 || months > 120) fail('invalid_input', `months must be 1 to 120, not ${months}`);
        return fakeRenewals(w, months, offset, Math.min(Math.max(limit, 1), 500));
      }),
    export_renewals: ({ months, path: file }) =>
      customersAnswer(() => {
        if (file.includes('readonly')) cannotWrite(file);
        return fakeRenewals(w, months, 0, 100_000).page.total;
      }),
    attention: ({ kind, offset, limit }) => customersAnswer(() => fakeAttention(w, kind, offset, limit)),
    attention_counts: () => customersAnswer(() => fakeAttentionCounts(w)),
    reminders_enabled: () => !w.remindersOff,
    set_reminders: ({ enabled }) => {
      w.remindersOff = !enabled;
      return enabled;
    },
    take_opened_files: () => {
      const files = w.opened;
      w.opened = [];
      return files;
    },
    // No table: the UI falls back to JavaScript's own local time, the test process's zone.
    local_zone: () => ({ changes: [] }),
  };

  return {
    handlers,
    /** Lets a held sync, export, import or customer answer go on. */
    release,
    exportRunning: () => exporting,
  };
}
