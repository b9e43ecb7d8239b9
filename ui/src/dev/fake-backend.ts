// USAGEDESK_FAKE_BACKEND — a stand-in for the Rust shell, used only by `vite dev` outside Tauri
// (see main.ts). It implements docs/ipc.md over a generated tenant tree so the UI can be looked at
// in a browser. Never part of a production build.
//
// Query parameters: ?scenario=first-run|demo|connected|empty|offline|unauthorized|syncing|signed-out
//                   &theme=dark|light &view=settings &open=<account id> &search=<text> &hover=1
//                   &connect=<url>|<token> &latency=<ms> &kids=<children of the big reseller, default 8000>
//                   &export=self|children|tree (opens the export dialog with that scope)
//                   &from=<YYYY-MM> (its first month) &save=<path> (answers the save dialog and exports)
//                   &view=airgap (the Air-gapped view) &synckey=<instance id> (opens its sync key dialog)
//                   &days=<n> (its validity; with &save= it saves)
//                   &drop=<path>[,<path>…] (drops these files on the window) &import=1 (and imports)
//                   &drag=1 (shows the drop overlay, as while dragging) &nocert=1 (no signing certificate)
//                   &view=customers (the Customers view) &customer=<account id> (opens its customer
//                   page; acc-000002 production, acc-000003 trial, acc-000004 expired with an
//                   overdue air-gapped instance) &instance=<instance id> (opens its details)
//
// The save dialog is a window.prompt here (unless &save= is given; a &save= ending in / is a
// folder, the suggested name is added): a path, or Cancel. A path containing "readonly" fails
// with `io`; nothing is written, an export only reports progress.
//
// Dropped files: drag any file from the desktop onto the page (it is "dropped" as
// /home/anna/Downloads/<name>), use &drop=, or call window.usagedeskFake.drop([...paths]) in the
// console. The file name picks the answer: "expired", "altered", "foreign", "unreadable" and
// "nocert" are refused as the shell would; "again" was imported before; "remaining" leaves
// records on the instance; a name starting with an instance id is for that instance (else for
// the overdue one). Importing with a verification key path containing "readonly" imports, then
// fails to write the key (as the shell can).
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  Account,
  AccountDetail,
  AccountRow,
  AppError,
  AppStatus,
  Availability,
  ChildSort,
  DroppedFile,
  ExportOutcome,
  ExportPlan,
  ExportRequest,
  ImportOutcome,
  ImportPreview,
  InstanceView,
  IssuedSyncKey,
  LedgerEntry,
  Metric,
  Page,
  Plan,
  Progress,
  SearchHit,
  SubtreeCounts,
  SyncFinished,
  SyncReport,
  TrendPoint,
  UsageCounts,
} from '../lib/bindings';
import type { CustomerFilter, CustomerSort, InstanceQuery, LedgerQuery } from '$lib/bindings';
import { pageInstances, pageLedger } from './airgap-paging';
import { FakeCustomers, communityCustomer, devCustomer, expiredCustomer, prodCustomer, trialCustomer } from './fake-customers';

const params = new URLSearchParams(location.search);
const scenario = params.get('scenario') ?? 'demo';
const latency = Number(params.get('latency') ?? 60);
const bigKids = Number(params.get('kids') ?? 8000);

const PLANS: Plan[] = [
  { id: 'basic', name: 'Basic' },
  { id: 'standard', name: 'Standard' },
  { id: 'premium', name: 'Premium' },
];

// Completed months: 14 ending last month (relative to a fixed "today" for stable screenshots).
const TODAY = new Date(2025, 10, 23);
const MONTHS: string[] = [];
for (let i = 14; i >= 1; i--) {
  const d = new Date(TODAY.getFullYear(), TODAY.getMonth() - i, 1);
  MONTHS.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`);
}
const monthEnd = (ym: string) => {
  const [y, m] = ym.split('-').map(Number);
  return new Date(y, m, 0);
};
const ymIndex = (ym: string) => {
  const [y, m] = ym.split('-').map(Number);
  return y * 12 + m;
};

// ---------------------------------------------------------------------------------------------
// Deterministic data
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) / 4294967296;
}

type Node = Account & { children: string[]; base: number; planIdx: number; silent: boolean; gapEvery: number };
const nodes = new Map<string, Node>();
const roots: string[] = [];

const FIRST = ['Acme', 'Blue Harbor', 'Cedar', 'Delta', 'Evergreen', 'Falcon', 'Granite', 'Helix', 'Iris', 'Juniper', 'Kestrel', 'Lumen', 'Meridian', 'Nimbus', 'Orchard', 'Pioneer', 'Quartz', 'Riverside', 'Summit', 'Tidewater', 'Union', 'Vantage', 'Willow', 'Zenith', 'Åkerlund', 'Müller & Söhne', 'Nørrebro'];
const SECOND = ['Health', 'Logistics', 'Bank', 'Insurance', 'Retail', 'Energy', 'Foods', 'Labs', 'Legal', 'Media', 'Motors', 'Pharma', 'Realty', 'Systems', 'Telecom', 'Travel', 'University', 'Water'];
const SUFFIX = ['Inc.', 'GmbH', 'Ltd', 'S.A.', 'LLC', 'AB', 'BV', 'Group', 'Co.'];
const DIVS = ['Finance', 'Operations', 'Research', 'Sales EMEA', 'Sales Americas', 'IT', 'HR', 'Manufacturing'];

function created(id: string): string {
  const r = hash(id + ':created');
  // ~12% were created during the reporting period
  const d =
    r < 0.12
      ? new Date(TODAY.getFullYear(), TODAY.getMonth() - 1 - Math.floor(r * 100) % 13, 1 + Math.floor(hash(id + 'd') * 27))
      : new Date(2019 + Math.floor(r * 5), Math.floor(hash(id + 'm') * 12), 1 + Math.floor(hash(id + 'd') * 27));
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function add(id: string, name: string, parent: string | null, opts: Partial<Node> = {}): Node {
  const n: Node = {
    id,
    name,
    parent_id: parent,
    status: hash(id + ':status') < 0.05 ? 'disabled' : 'active',
    created_at: created(id),
    children: [],
    base: 10 + Math.floor(Math.pow(hash(id + ':base'), 2.2) * 3000),
    planIdx: Math.floor(hash(id + ':plan') * 3),
    silent: hash(id + ':silent') < 0.03,
    gapEvery: hash(id + ':gap') < 0.15 ? 2 + Math.floor(hash(id + ':g2') * 5) : 0,
    ...opts,
  };
  nodes.set(id, n);
  if (parent) nodes.get(parent)!.children.push(id);
  else roots.push(id);
  return n;
}

let seq = 0;
const nextId = () => `acc-${String(++seq).padStart(6, '0')}`;
const companyName = (i: number) =>
  `${FIRST[i % FIRST.length]} ${SECOND[Math.floor(i / FIRST.length) % SECOND.length]} ${SUFFIX[(i * 7) % SUFFIX.length]}`;

function buildTree() {
  const old = '2018-03-01';
  add('sp-01', 'Northwind Partners', null, { created_at: old, status: 'active', silent: false, gapEvery: 0 });
  add('sp-02', 'Contoso Managed Services', null, { created_at: old, status: 'active', silent: false, gapEvery: 0 });
  add('sp-03', 'Globex Resellers', null, { created_at: old, status: 'active', silent: false, gapEvery: 0 });
  let c = 0;
  // Northwind: resellers → customers → divisions
  for (let r = 0; r < 6; r++) {
    const rid = nextId();
    add(rid, `Northwind ${['Nordics', 'Benelux', 'DACH', 'Iberia', 'UK & Ireland', 'France'][r]}`, 'sp-01', { silent: false });
    const n = 5 + Math.floor(hash(rid) * 20);
    for (let k = 0; k < n; k++) {
      const cid = nextId();
      add(cid, companyName(c++), rid);
      if (hash(cid + ':divs') < 0.25) {
        for (let d = 0; d < 2 + Math.floor(hash(cid + 'n') * 4); d++) {
          const did = nextId();
          add(did, `${nodes.get(cid)!.name.split(' ')[0]} — ${DIVS[d % DIVS.length]}`, cid);
          if (d === 0 && hash(did) < 0.5) {
            for (let t = 0; t < 3; t++) add(nextId(), `${DIVS[d]} team ${t + 1}`, did);
          }
        }
      }
    }
  }
  // Contoso: one huge reseller, a few normal customers
  const hub = nextId();
  add(hub, 'Contoso Retail Hub', 'sp-02', { silent: false, gapEvery: 0 });
  for (let k = 0; k < bigKids; k++) {
    const id = nextId();
    add(id, `Store ${String(k + 1).padStart(4, '0')} — ${companyName(k + 17)}`, hub, { base: 5 + Math.floor(hash(id) * 120) });
  }
  for (let k = 0; k < 12; k++) add(nextId(), companyName(c++), 'sp-02');
  // Globex: small, includes edge-case names
  add(nextId(), 'Quote "Test" Corp, Inc.', 'sp-03');
  add(nextId(), 'Line\nBreak Industries', 'sp-03');
  add(nextId(), 'Ærø Sejlklub', 'sp-03');
  const late = nextId();
  add(late, 'Brand-new Customer Ltd', 'sp-03', { created_at: `${MONTHS[MONTHS.length - 3]}-15` });
  for (let k = 0; k < 20; k++) add(nextId(), companyName(c++), 'sp-03');
}
buildTree();

function availability(n: Node, ym: string): Availability {
  if (new Date(n.created_at) > monthEnd(ym)) return 'non_existent';
  if (n.silent) return 'not_available';
  if (n.gapEvery && ymIndex(ym) % n.gapEvery === 0) return 'not_available';
  return 'ok';
}

function ownUsage(n: Node, ym: string): { plan: string; counts: UsageCounts } {
  const i = ymIndex(ym) - ymIndex(MONTHS[0]);
  const growth = 1 + i * (0.01 + hash(n.id + ':gr') * 0.04);
  const noise = 0.93 + hash(n.id + ym) * 0.14;
  const reg = Math.round(n.base * growth * noise);
  const tok = Math.round(reg * (0.55 + hash(n.id + ':t') * 0.35));
  const act = Math.round(tok * (0.4 + hash(n.id + ym + ':a') * 0.5));
  // occasional upgrade in the second half of the period
  const up = hash(n.id + ':up') < 0.1 && i > MONTHS.length / 2;
  const plan = PLANS[Math.min(2, n.planIdx + (up ? 1 : 0))].id;
  return { plan, counts: { users_registered: reg, users_with_token: tok, users_with_activity: act } };
}

type Agg = { totals: Record<string, UsageCounts>; subtree: SubtreeCounts };
const aggCache = new Map<string, Agg>();
const zero = (): UsageCounts => ({ users_registered: 0, users_with_token: 0, users_with_activity: 0 });

function aggregate(id: string, ym: string): Agg {
  const key = `${id}|${ym}`;
  const hit = aggCache.get(key);
  if (hit) return hit;
  const n = nodes.get(id)!;
  const totals: Record<string, UsageCounts> = Object.fromEntries(PLANS.map((p) => [p.id, zero()]));
  const subtree: SubtreeCounts = { ok: 0, not_available: 0, non_existent: 0 };
  const a = availability(n, ym);
  subtree[a]++;
  if (a === 'ok') {
    const u = ownUsage(n, ym);
    const t = totals[u.plan];
    t.users_registered += u.counts.users_registered;
    t.users_with_token += u.counts.users_with_token;
    t.users_with_activity += u.counts.users_with_activity;
  }
  for (const c of n.children) {
    const ca = aggregate(c, ym);
    for (const p of PLANS) {
      totals[p.id].users_registered += ca.totals[p.id].users_registered;
      totals[p.id].users_with_token += ca.totals[p.id].users_with_token;
      totals[p.id].users_with_activity += ca.totals[p.id].users_with_activity;
    }
    subtree.ok += ca.subtree.ok;
    subtree.not_available += ca.subtree.not_available;
    subtree.non_existent += ca.subtree.non_existent;
  }
  const out = { totals, subtree };
  aggCache.set(key, out);
  return out;
}

function toRow(id: string, ym: string): AccountRow {
  const n = nodes.get(id)!;
  const a = availability(n, ym);
  const u = a === 'ok' ? ownUsage(n, ym) : null;
  const agg = aggregate(id, ym);
  return {
    account_id: n.id,
    account_name: n.name,
    parent_id: n.parent_id,
    month: ym,
    status: n.status,
    availability: a,
    plan: u?.plan ?? null,
    own: u?.counts ?? null,
    totals: agg.totals,
    created_at: n.created_at,
    subtree: agg.subtree,
    child_count: n.children.length,
  };
}

const account = (n: Node): Account => ({ id: n.id, name: n.name, parent_id: n.parent_id, status: n.status, created_at: n.created_at });

function pathOf(id: string): Account[] {
  const out: Account[] = [];
  let cur = nodes.get(id);
  while (cur) {
    out.unshift(account(cur));
    cur = cur.parent_id ? nodes.get(cur.parent_id) : undefined;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Status and sync simulation
const hasDataInitially = !['first-run', 'empty'].includes(scenario);
let hasData = hasDataInitially;
let cancelRequested = false;

const status: AppStatus = {
  version: '0.1.0-dev',
  data_dir: '/home/anna/.local/share/com.usagedesk.app',
  cache_path: '/home/anna/.local/share/com.usagedesk.app/cache.db',
  cloud_url: scenario === 'first-run' ? null : scenario === 'demo' || scenario === 'syncing' ? 'http://127.0.0.1:47813' : 'https://usage.northwind.example',
  account_name: scenario === 'first-run' ? null : 'Northwind Cloud (vendor)',
  signed_in: !['first-run', 'signed-out'].includes(scenario),
  demo: scenario === 'demo' || scenario === 'syncing',
  keyring: 'the desktop keyring (Secret Service)',
  last_synced_at: hasData ? new Date(Date.now() - 2 * 60_000 - 5_000).toISOString() : null,
  syncing: false,
  online: scenario === 'offline' ? false : scenario === 'first-run' ? null : true,
  last_error:
    scenario === 'offline'
      ? { kind: 'offline', message: 'The cloud cannot be reached. Check your network; cached data is shown meanwhile.' }
      : scenario === 'unauthorized'
        ? { kind: 'unauthorized', message: 'The cloud no longer accepts your token. Sign in again with a new token.' }
        : null,
  accounts: 0,
  month_rows: 0,
  db_bytes: 0,
  outbox: { queued: 0, refused: 0, elsewhere: [] },
};

function refreshCounts() {
  status.accounts = hasData ? nodes.size : 0;
  status.month_rows = hasData ? nodes.size * MONTHS.length : 0;
  status.db_bytes = hasData ? 4096 + nodes.size * MONTHS.length * 96 : 24_576;
}
refreshCounts();

const snapshot = (): AppStatus => JSON.parse(JSON.stringify(status));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fail = (kind: AppError['kind'], message: string): never => {
  throw { kind, message } satisfies AppError;
};

let syncPromise: Promise<SyncReport> | null = null;

// ---------------------------------------------------------------------------------------------
// Export simulation (the CSV itself is written by the Rust shell; here only its plan and progress)
const ymOf = (k: number) => {
  const y = Math.floor(k / 12);
  return `${y}-${String(k - y * 12 + 1).padStart(2, '0')}`;
};
const ymK = (ym: string) => ymIndex(ym) - 1;

function scopeCount(id: string, scope: ExportRequest['scope']): number {
  const n = nodes.get(id)!;
  if (scope === 'self') return 1;
  if (scope === 'children') return 1 + n.children.length;
  let count = 0;
  const stack = [id];
  while (stack.length) {
    count++;
    stack.push(...nodes.get(stack.pop()!)!.children);
  }
  return count;
}

function exportPlan(req: ExportRequest): ExportPlan {
  const last = MONTHS[MONTHS.length - 1];
  for (const m of [req.from, req.to]) {
    if (!/^\d{4}-\d{2}$/.test(m)) fail('invalid_input', `'${m}' is not a month; write it as YYYY-MM`);
    if (m > last) fail('invalid_input', `${m} is not a completed month yet, so its month-end values are not final; the latest completed month is ${last}`);
  }
  if (req.from > req.to) fail('invalid_input', `the range starts (${req.from}) after it ends (${req.to}); swap the two months`);
  const n = nodes.get(req.account_id);
  if (!hasData || !n) fail('not_found', `account ${req.account_id} is not in the cache; sync to refresh it`);
  const range: string[] = [];
  for (let k = ymK(req.from); k <= ymK(req.to); k++) range.push(ymOf(k));
  const months = range.filter((m) => MONTHS.includes(m));
  const accounts = scopeCount(req.account_id, req.scope);
  const id = req.account_id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return {
    request: req,
    account_name: n!.name,
    months,
    months_without_data: range.filter((m) => !MONTHS.includes(m)),
    accounts,
    rows: accounts * months.length,
    suggested_file_name: `usage-${id}-${req.scope}-${req.from === req.to ? req.from : `${req.from}_${req.to}`}.csv`,
  };
}

let exportRunning = false;
let exportCancel = false;

async function runExport(req: ExportRequest, path: string): Promise<ExportOutcome> {
  if (!path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path)) {
    fail('invalid_input', `'${path}' is not a full path: choose where to save with the save dialog`);
  }
  if (exportRunning) fail('busy', 'an export is already running; wait for it or cancel it');
  const plan = exportPlan(req);
  exportRunning = true;
  exportCancel = false;
  try {
    if (path.includes('readonly')) {
      await sleep(300);
      fail('io', `cannot write ${path}: Permission denied (os error 13). Choose a folder you can write to, with free space`);
    }
    // the shell reports every 8192 rows; a few steps a second here
    for (let written = 0; written < plan.rows; written += 8192) {
      if (exportCancel) fail('cancelled', 'the export was cancelled; no file was written');
      if (written > 0) await emit('export://progress', { written, total: plan.rows });
      await sleep(250);
    }
    if (exportCancel) fail('cancelled', 'the export was cancelled; no file was written');
    const bytes = 260 + plan.rows * 168;
    const sha = Array.from({ length: 64 }, (_, i) => Math.floor(hash(`${i}:${path}:${plan.rows}`) * 16).toString(16)).join('');
    return { csv_path: path, manifest_path: `${path}.manifest.json`, rows: plan.rows, bytes, sha256: sha };
  } finally {
    exportRunning = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Air-gapped exchange simulation (the files are checked, signed and written by the Rust shell)
const DAY = 86_400_000;
const agoIso = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const noCert = params.has('nocert');
const NO_CERT =
  'no signing certificate yet: sync once while online (the cloud certifies this computer\'s key then), and try again';
const signer = () => `anna (${status.account_name ? 'sp-01' : 'demo'})`;

type FakeInstance = { view: InstanceView; ledger: LedgerEntry[] };
const instances = new Map<string, FakeInstance>();
const pendingMonths = new Map<string, string[]>();
const importedPaths = new Map<string, number>();
let ledgerSeq = 0;
const LAST_MONTH = MONTHS[MONTHS.length - 1];

function fakeSha(seed: string) {
  return Array.from({ length: 64 }, (_, i) => Math.floor(hash(`${seed}:${i}`) * 16).toString(16)).join('');
}

function entry(instance: string, over: Partial<LedgerEntry>): LedgerEntry {
  const sync = over.event === 'sync_key_issued';
  return {
    id: ++ledgerSeq,
    instance_id: instance,
    event: 'usage_imported',
    at: new Date().toISOString(),
    by: signer(),
    nonce: fakeSha(`nonce${ledgerSeq}`).slice(0, 32),
    file_sha256: fakeSha(`file${ledgerSeq}`),
    expires_at: null,
    high_water_mark: 0,
    records: 0,
    new_records: 0,
    already_present: 0,
    changed: 0,
    document: sync ? '-----BEGIN USAGEDESK SYNC KEY-----\n…' : '-----BEGIN USAGEDESK VERIFICATION KEY-----\n…',
    upload: sync ? null : 'uploaded',
    upload_error: null,
    ...over,
  };
}

function addInstance(
  id: string,
  accountId: string,
  opts: { airgapped?: boolean; mark: number; lastReportDays?: number; history: Partial<LedgerEntry>[] },
) {
  const ledger = opts.history.map((h) => entry(id, h)).sort((x, y) => (x.at < y.at ? 1 : -1));
  const view: InstanceView = {
    overdue: false,
    instance: {
      id,
      license_id: `LIC-${(hash(id) * 1e8).toFixed(0).padStart(8, '0')}`,
      account_id: accountId,
      airgapped: opts.airgapped ?? true,
      public_key: `ed25519:${btoa(fakeSha(id).slice(0, 32))}`,
      high_water_mark: opts.mark,
      last_report_at: opts.lastReportDays === undefined ? null : agoIso(opts.lastReportDays),
    },
    account_name: nodes.get(accountId)?.name ?? null,
    last_import_at: null,
    last_sync_key_at: null,
    high_water_mark: opts.mark,
    pending_uploads: 0,
    refused_uploads: 0,
  };
  instances.set(id, { view, ledger });
  recompute(id);
}

let airgapGeneration = 1;

/** Imports not yet accepted: queued here (pending) or refused (kept). */
function outboxTotal(): number {
  return [...instances.values()].flatMap((x) => x.ledger).filter((e) => e.upload === 'pending' || e.upload === 'rejected').length;
}

function refreshOutbox() {
  const all = [...instances.values()].flatMap((x) => x.ledger);
  status.outbox = {
    queued: all.filter((e) => e.upload === 'pending').length,
    refused: all.filter((e) => e.upload === 'rejected').length,
    elsewhere: [],
  };
}

/** Derived fields of an instance from its ledger, as the cache computes them. */
function recompute(id: string) {
  const x = instances.get(id)!;
  const imports = x.ledger.filter((e) => e.event === 'usage_imported');
  const keys = x.ledger.filter((e) => e.event === 'sync_key_issued');
  const v = x.view;
  v.last_import_at = imports[0]?.at ?? null;
  v.last_sync_key_at = keys[0]?.at ?? null;
  v.pending_uploads = imports.filter((e) => e.upload === 'pending').length;
  v.refused_uploads = imports.filter((e) => e.upload === 'rejected').length;
  v.high_water_mark = Math.max(v.instance.high_water_mark, ...imports.map((e) => e.high_water_mark));
  const last = [v.last_import_at, v.instance.last_report_at].filter((t): t is string => !!t).sort().at(-1);
  v.overdue = v.instance.airgapped && (!last || Date.now() - new Date(last).getTime() > 31 * DAY);
}

function buildInstances() {
  const imported = (days: number, mark: number, n: number, upload: LedgerEntry['upload'] = 'uploaded'): Partial<LedgerEntry> => ({
    event: 'usage_imported',
    at: agoIso(days),
    high_water_mark: mark,
    records: n,
    new_records: n - 3,
    already_present: 3,
    changed: 0,
    upload,
  });
  const key = (days: number, mark: number, valid = 30): Partial<LedgerEntry> => ({
    event: 'sync_key_issued',
    at: agoIso(days),
    expires_at: agoIso(days - valid),
    high_water_mark: mark,
  });
  addInstance('cedar-hq-01', 'acc-000004', { mark: 1842, history: [key(110, 1200), imported(104, 1530, 330), key(55, 1530), imported(47, 1842, 312)] });
  addInstance('acme-plant-2', 'acc-000002', {
    mark: 4987,
    history: [key(40, 4520), imported(33, 4987, 467), key(6, 4987), imported(2, 5310, 323, 'pending')],
  });
  pendingMonths.set('acc-000002', [LAST_MONTH]);
  addInstance('harbor-lab', 'acc-000003', {
    mark: 730,
    lastReportDays: 12,
    history: [
      key(9, 610),
      {
        ...imported(8, 730, 120, 'rejected'),
        upload_error:
          "no instance 'harbor-lab' is visible to this token: check the instance id in the file, or import it with a token whose account includes the instance's account",
      },
      key(1, 730),
    ],
  });
  addInstance('nw-nordics-edge', 'acc-000001', { airgapped: false, mark: 96_410, lastReportDays: 0.12, history: [] });
  addInstance('ghost-dc-7', 'acc-404404', { mark: 58, history: [key(24, 0), imported(20, 58, 58)] });
}
buildInstances();
refreshOutbox();

// ---------------------------------------------------------------------------------------------
// Customer reporting: a few customers among the accounts, each a realistic case.
function buildCustomers(): FakeCustomers {
  const acc = (id: string) => {
    const n = nodes.get(id);
    return n ? account(n) : null;
  };
  // the first customer of the second, third and fourth Northwind resellers
  const resellers = nodes.get('sp-01')!.children;
  const firstOf = (i: number) => acc(nodes.get(resellers[i])!.children[0])!;
  const specs = [
    prodCustomer(acc('acc-000002')!),
    trialCustomer(acc('acc-000003')!),
    expiredCustomer(acc('acc-000004')!, { airgapId: 'cedar-hq-01', airgapLastDays: 47 }),
    devCustomer(firstOf(1)),
    communityCustomer(firstOf(2)),
    prodCustomer(firstOf(3), { expiresDays: 24.5, ids: ['9aXc2Vb7Nm4Lk1Jh8Gf5Ds3Pq6W', 'e4Rt8Yu2Io6Pa1Sd5Fg9Hj3Kl7Z'] }),
    trialCustomer(firstOf(4), { expiresDays: 58, id: 'm3Nb6Vc9Xz2Lk5Jh8Gf1Ds4Qa7W' }),
  ];
  return new FakeCustomers(specs, (id) => (hasData ? acc(id) : null), pathOf);
}
const customers = buildCustomers();

const instanceList = (): InstanceView[] => {
  for (const id of instances.keys()) recompute(id);
  return [...instances.values()].map((x) => JSON.parse(JSON.stringify(x.view)));
};

function issueSyncKey(id: string, days: number, path: string): IssuedSyncKey {
  if (noCert) fail('no_certificate', NO_CERT);
  const x = instances.get(id) ?? fail('not_found', `instance '${id}' is not in the local cache: check the id, or sync to fetch new instances`);
  if (!Number.isInteger(days) || days < 1 || days > 365) fail('invalid_input', 'a sync key is valid for 1 to 365 days');
  if (path.includes('readonly')) fail('io', `cannot write ${path}: Permission denied (os error 13)`);
  const certDays = 200; // the signing certificate ends then
  const valid = Math.min(days, certDays);
  const e = entry(id, { event: 'sync_key_issued', expires_at: new Date(Date.now() + valid * DAY).toISOString(), high_water_mark: x.view.high_water_mark });
  x.ledger.unshift(e);
  recompute(id);
  return {
    instance_id: id,
    text: e.document,
    suggested_file_name: `${id}-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}.usagedesk-synckey`,
    nonce: e.nonce,
    high_water_mark: e.high_water_mark,
    expires_at: e.expires_at!,
    shortened: valid < days,
  };
}

function filePreview(path: string): ImportPreview {
  const name = (path.split(/[\\/]/).at(-1) ?? path).toLowerCase();
  if (noCert || name.includes('nocert')) fail('no_certificate', NO_CERT);
  if (name.includes('unreadable')) fail('io', `cannot read ${path}: Permission denied (os error 13)`);
  if (name.includes('expired'))
    fail('file_refused', 'the sync key expired on 2025-10-01 09:00:00 UTC: issue a new sync key (usagedesk-cli airgap issue-sync-key) and export again with it');
  if (name.includes('altered'))
    fail('file_refused', "the usage data file's signature does not match its content: it was altered in transit; ask the customer to export the file again");
  if (name.includes('foreign'))
    fail('file_refused', 'the usage data file is for instance `lab-other-9`, but `cedar-hq-01` was expected: it belongs to another installation; use the file made for `cedar-hq-01`');
  const id = [...instances.keys()].find((k) => name.startsWith(k)) ?? 'cedar-hq-01';
  const x = instances.get(id)!;
  const key = x.ledger.find((e) => e.event === 'sync_key_issued');
  const records = 40 + Math.floor(hash(path) * 900);
  const present = Math.floor(hash(path + 'p') * 12);
  const changed = name.includes('changed') ? 4 : 0;
  const last = monthEnd(LAST_MONTH);
  return {
    instance_id: id,
    license_id: x.view.instance.license_id,
    account_id: x.view.instance.account_id,
    account_name: x.view.account_name,
    period_first: `${LAST_MONTH}-01`,
    period_last: `${LAST_MONTH}-${String(last.getDate()).padStart(2, '0')}`,
    accounts: 1 + Math.floor(hash(path + 'a') * 6),
    records,
    new: records - present - changed,
    already_present: present,
    changed,
    remaining_records: name.includes('remaining') ? 1_204 : 0,
    created_at: agoIso(0.3),
    file_sha256: fakeSha(path),
    sync_key_issued_at: key?.at ?? agoIso(6),
    sync_key_expires_at: key?.expires_at ?? agoIso(-24),
    accepted_high_water_mark: x.view.high_water_mark + records,
  };
}

function previewDrop(path: string): DroppedFile {
  const name = (path.split(/[\\/]/).at(-1) ?? path).toLowerCase();
  const earlier = importedPaths.get(path) ?? (name.includes('again') ? instances.get('acme-plant-2')!.ledger.find((e) => e.event === 'usage_imported')!.id : undefined);
  if (earlier !== undefined) {
    const e = [...instances.values()].flatMap((x) => x.ledger).find((l) => l.id === earlier) ?? null;
    return { path, preview: null, already_imported: e };
  }
  return { path, preview: filePreview(path), already_imported: null };
}

function importFile(path: string, verificationPath: string): ImportOutcome {
  const d = previewDrop(path);
  if (!d.preview) fail('already_imported', 'this usage data file was already imported; nothing changed');
  const p = d.preview!;
  const x = instances.get(p.instance_id)!;
  const e = entry(p.instance_id, {
    high_water_mark: p.accepted_high_water_mark,
    records: p.records,
    new_records: p.new,
    already_present: p.already_present,
    changed: p.changed,
    file_sha256: p.file_sha256,
    upload: 'pending',
  });
  x.ledger.unshift(e);
  recompute(p.instance_id);
  importedPaths.set(path, e.id);
  const months = pendingMonths.get(p.account_id) ?? [];
  if (!months.includes(LAST_MONTH)) pendingMonths.set(p.account_id, [...months, LAST_MONTH]);
  // the shell imports, then writes the verification key
  if (verificationPath.includes('readonly')) fail('io', `cannot write ${verificationPath}: Permission denied (os error 13)`);
  return {
    preview: p,
    ledger_id: e.id,
    verification_key: '-----BEGIN USAGEDESK VERIFICATION KEY-----\n…',
    suggested_file_name: `${p.instance_id}-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}.usagedesk-verification`,
  };
}

/** The next sync pushes what was imported here; the cloud accepts it. Returns how many files. */
function uploadPending(): number {
  let n = 0;
  for (const [id, x] of instances) {
    for (const e of x.ledger) {
      if (e.upload === 'pending') {
        e.upload = 'uploaded';
        n++;
      }
    }
    recompute(id);
  }
  pendingMonths.clear();
  return n;
}

function saveDocument(ledgerId: number, path: string): null {
  const found = [...instances.values()].some((x) => x.ledger.some((e) => e.id === ledgerId));
  if (!found) fail('not_found', 'no such ledger entry');
  if (path.includes('readonly')) fail('io', `cannot write ${path}: Permission denied (os error 13)`);
  return null;
}

/** Drops files on the window, as the shell reports a native drop. */
async function dropFiles(paths: string[]) {
  const position = { x: 400, y: 300 };
  await emit('tauri://drag-enter', { paths, position });
  await emit('tauri://drag-drop', { paths, position });
}

/** A file dragged from the desktop onto the page stands in for a native drop. */
function wireHtmlDrops() {
  const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  const position = { x: 0, y: 0 };
  let depth = 0;
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    if (depth++ === 0) void emit('tauri://drag-enter', { paths: [], position });
  });
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    void emit('tauri://drag-over', { position });
  });
  window.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    if (--depth <= 0) {
      depth = 0;
      void emit('tauri://drag-leave', null);
    }
  });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    const paths = [...(e.dataTransfer?.files ?? [])].map((f) => `/home/anna/Downloads/${f.name}`);
    void emit('tauri://drag-drop', { paths, position });
  });
}

function runSync(slow = false): Promise<SyncReport> {
  if (syncPromise) return syncPromise;
  cancelRequested = false;
  status.syncing = true;
  status.last_error = null;
  void emit('status://changed', snapshot());
  syncPromise = (async () => {
    try {
      const total = nodes.size * MONTHS.length;
      const progress = (p: Progress) => emit('sync://progress', p);
      await progress({ phase: 'connecting', rows_done: 0, rows_total: null, pages: 0 });
      await sleep(slow ? 900 : 300);
      if (scenario === 'offline') {
        status.online = false;
        fail('offline', 'The cloud cannot be reached. Check your network; cached data is shown meanwhile.');
      }
      const steps = slow ? 40 : 12;
      for (let i = 1; i <= steps; i++) {
        if (cancelRequested) fail('cancelled', 'The sync was cancelled. What was downloaded is kept.');
        await progress({ phase: 'downloading', rows_done: Math.round((total * i) / steps), rows_total: total, pages: i });
        await sleep(slow ? 400 : 140);
      }
      await progress({ phase: 'aggregating', rows_done: total, rows_total: total, pages: steps });
      await sleep(250);
      hasData = true;
      status.online = true;
      status.last_synced_at = new Date().toISOString();
      refreshCounts();
      const report: SyncReport = {
        rows: total,
        pages: steps,
        full_resync: false,
        finished_at: status.last_synced_at,
        account_id: 'sp-01',
        account_name: status.account_name ?? 'Demo',
        push: { uploaded: 0, deferred: 0, refused: 0 },
        uploaded: uploadPending(),
      };
      await progress({ phase: 'done', rows_done: total, rows_total: total, pages: steps });
      status.syncing = false;
      await emit('status://changed', snapshot());
      await emit('sync://finished', { ok: true, report, error: null } satisfies SyncFinished);
      return report;
    } catch (e) {
      const err = e as AppError;
      status.syncing = false;
      status.last_error = err;
      await emit('status://changed', snapshot());
      await emit('sync://finished', { ok: false, report: null, error: err } satisfies SyncFinished);
      throw err;
    } finally {
      syncPromise = null;
    }
  })();
  return syncPromise;
}

// ---------------------------------------------------------------------------------------------
// Commands
type Args = Record<string, unknown>;

function sortedChildren(parent: string | null, ym: string, sort: ChildSort): string[] {
  const ids = parent === null ? [...roots] : [...(nodes.get(parent)?.children ?? [])];
  if (sort.by === 'name') return ids.sort((a, b) => nodes.get(a)!.name.localeCompare(nodes.get(b)!.name));
  const m: Metric = sort.metric;
  const tot = (id: string) => {
    const t = aggregate(id, ym).totals;
    return PLANS.reduce((s, p) => s + t[p.id][m], 0);
  };
  return ids.sort((a, b) => tot(b) - tot(a) || nodes.get(a)!.name.localeCompare(nodes.get(b)!.name));
}

const childrenCache = new Map<string, string[]>();

async function handle(cmd: string, a: Args): Promise<unknown> {
  await sleep(latency * (0.5 + Math.random()));
  switch (cmd) {
    case 'app_status':
      return snapshot();
    case 'connect': {
      const url = String(a.url ?? '');
      const token = String(a.token ?? '');
      await sleep(500);
      if (!/^https?:\/\/[^\s/]+/.test(url)) fail('bad_url', 'Enter a full address starting with https://, for example https://usage.example.com.');
      if (url.includes('offline')) fail('offline', 'The cloud cannot be reached. Check the address and your network, then try again.');
      if (url.includes('example.org')) fail('not_usage_desk', 'That address answers, but it is not a UsageDesk cloud. Check the URL with your administrator.');
      if (url.includes('old')) fail('version_mismatch', 'This cloud speaks API v0; this app needs v1. Update the cloud or use a matching app version.');
      if (token === 'bad' || token.length < 6) fail('unauthorized', 'The cloud refused this token. Check it, or ask your administrator for a new one.');
      status.cloud_url = url;
      status.signed_in = true;
      status.demo = false;
      status.account_name = 'Northwind Cloud (vendor)';
      status.online = true;
      void runSync().catch(() => {});
      return snapshot();
    }
    case 'start_demo':
      await sleep(400);
      status.demo = true;
      status.signed_in = true;
      status.cloud_url = 'http://127.0.0.1:47813';
      status.account_name = 'Demo Vendor';
      status.online = true;
      void runSync().catch(() => {});
      return snapshot();
    case 'sync_now':
      if (status.syncing) fail('busy', 'A sync is already running.');
      return runSync(scenario === 'syncing');
    case 'cancel_sync':
      cancelRequested = true;
      return null;
    case 'sign_out':
      status.signed_in = false;
      status.demo = false;
      return snapshot();
    case 'clear_cache':
      if (!a.force && outboxTotal() > 0)
        fail('pending_uploads', `${outboxTotal()} imported usage data file(s) have not reached the cloud yet. Clearing keeps them queued for the cloud and account they were imported under; confirm to clear`);
      hasData = false;
      status.last_synced_at = null;
      refreshCounts();
      return snapshot();
    case 'plans':
      return PLANS;
    case 'completed_months':
      return hasData ? MONTHS : [];
    case 'children': {
      if (!hasData) return { items: [], total: 0, offset: 0, limit: 0 } satisfies Page<AccountRow>;
      const parent = (a.parent as string | null) ?? null;
      const ym = String(a.month);
      const sort = a.sort as ChildSort;
      const offset = Number(a.offset);
      const limit = Math.min(500, Number(a.limit));
      if (parent !== null && !nodes.has(parent)) fail('not_found', 'That account is not in the cache any more. Sync to refresh it.');
      const key = `${parent}|${ym}|${JSON.stringify(sort)}`;
      let ids = childrenCache.get(key);
      if (!ids) childrenCache.set(key, (ids = sortedChildren(parent, ym, sort)));
      return {
        items: ids.slice(offset, offset + limit).map((id) => toRow(id, ym)),
        total: ids.length,
        offset,
        limit,
      } satisfies Page<AccountRow>;
    }
    case 'account_detail': {
      const id = String(a.id);
      if (!hasData || !nodes.has(id)) fail('not_found', 'That account is not in the cache any more. Sync to refresh it.');
      return { row: toRow(id, String(a.month)), path: pathOf(id), pending_months: pendingMonths.get(id) ?? [], is_customer: customers.isCustomer(id) } satisfies AccountDetail;
    }
    case 'search': {
      if (!hasData) return [];
      const text = String(a.text).trim().toLowerCase();
      const limit = Number(a.limit);
      const out: SearchHit[] = [];
      const push = (n: Node, matched: SearchHit['matched']) =>
        out.push({ account: account(n), matched, path: pathOf(n.id).slice(0, -1).map((x) => x.name) });
      const exact = nodes.get(text);
      if (exact) push(exact, 'exact_id');
      for (const n of nodes.values()) {
        if (out.length >= limit) break;
        if (n.id === text) continue;
        if (n.id.startsWith(text)) push(n, 'id_prefix');
      }
      for (const n of nodes.values()) {
        if (out.length >= limit) break;
        if (n.name.toLowerCase().includes(text) && !out.some((h) => h.account.id === n.id)) push(n, 'name');
      }
      return out.slice(0, limit);
    }
    case 'export_preview':
      return exportPlan(a.request as ExportRequest);
    case 'export_csv':
      return runExport(a.request as ExportRequest, String(a.path));
    case 'cancel_export':
      exportCancel = exportRunning;
      return null;
    case 'airgap_instances':
      return pageInstances(instanceList(), a.query as InstanceQuery, `g${airgapGeneration}`);
    case 'airgap_overdue_count':
      return instanceList().filter((v) => v.overdue && v.instance.airgapped).length;
    case 'airgap_ledger':
      return pageLedger([...instances.values()].flatMap((x) => x.ledger), a.query as LedgerQuery, `g${airgapGeneration}`);
    case 'airgap_retry':
    case 'airgap_discard': {
      await sleep(400);
      const id = Number(a.ledgerId);
      for (const [key, x] of instances) {
        const e = x.ledger.find((l) => l.id === id);
        if (!e) continue;
        e.upload = cmd === 'airgap_retry' ? 'uploaded' : 'discarded';
        e.upload_error = cmd === 'airgap_retry' ? null : e.upload_error;
        recompute(key);
      }
      airgapGeneration++;
      refreshOutbox();
      return cmd === 'airgap_retry' ? { uploaded: 1, deferred: 0, refused: 0 } : null;
    }
    case 'airgap_issue_sync_key':
      await sleep(300);
      return issueSyncKey(String(a.instanceId), Number(a.validDays), String(a.path));
    case 'airgap_preview':
      await sleep(250);
      return previewDrop(String(a.path));
    case 'airgap_import':
      await sleep(700);
      return importFile(String(a.path), String(a.verificationPath));
    case 'airgap_save_document':
      return saveDocument(Number(a.ledgerId), String(a.path));
    case 'customers':
      return customers.customersPage(a.filter as CustomerFilter, a.sort as CustomerSort, Number(a.offset), Number(a.limit));
    case 'customer_counts':
      return customers.counts();
    case 'customer':
      return customers.customer(String(a.accountId));
    case 'customer_instances':
      return customers.instances(String(a.accountId), Number(a.offset), Number(a.limit));
    case 'install_attempts':
      return customers.attempts(String(a.accountId), Number(a.offset), Number(a.limit));
    case 'instance_detail':
      return customers.instanceDetail(String(a.instanceId));
    case 'instance_events':
      return customers.instanceEvents(String(a.instanceId), Number(a.offset), Number(a.limit));
    case 'take_opened_files':
      return [];
    case 'plugin:dialog|save': {
      // stands in for the native save dialog
      const options = (a.options ?? {}) as { defaultPath?: string; filters?: { name: string }[] };
      const suggested = options.defaultPath ?? 'usage.csv';
      const save = params.get('save');
      if (save) return save.endsWith('/') ? `${save}${suggested}` : save;
      const what = options.filters?.[0]?.name ?? 'file';
      return window.prompt(`Save the ${what} as (the dev backend writes nothing)`, `/home/anna/Documents/${suggested}`);
    }
    case 'trend': {
      const id = String(a.id);
      if (!nodes.has(id)) fail('not_found', 'That account is not in the cache any more.');
      const to = String(a.to);
      const count = Math.min(36, Number(a.count));
      const points: TrendPoint[] = [];
      const end = ymIndex(to);
      for (let k = end - count + 1; k <= end; k++) {
        const y = Math.floor((k - 1) / 12);
        const m = k - y * 12;
        const ym = `${y}-${String(m).padStart(2, '0')}`;
        if (MONTHS.includes(ym)) {
          const agg = aggregate(id, ym);
          points.push({ month: ym, totals: agg.totals, subtree: agg.subtree });
        } else {
          points.push({
            month: ym,
            totals: Object.fromEntries(PLANS.map((p) => [p.id, zero()])),
            subtree: { ok: 0, not_available: 0, non_existent: 0 },
          });
        }
      }
      return points;
    }
    default:
      throw `command ${cmd} not found`;
  }
}

// ---------------------------------------------------------------------------------------------
async function devScript() {
  const wait = (sel: string, ms = 4000) =>
    new Promise<HTMLElement | null>((resolve) => {
      const t0 = Date.now();
      const tick = () => {
        const el = document.querySelector<HTMLElement>(sel);
        if (el || Date.now() - t0 > ms) resolve(el);
        else setTimeout(tick, 50);
      };
      tick();
    });
  const type = async (text: string) => {
    const input = (await wait('[data-testid="search-input"]')) as HTMLInputElement | null;
    if (!input) return null;
    input.focus();
    input.value = text;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    return input;
  };
  const connect = params.get('connect');
  if (connect) {
    const [u, t] = connect.split('|');
    const url = (await wait('[data-testid="connect-url"]')) as HTMLInputElement | null;
    const token = document.querySelector<HTMLInputElement>('[data-testid="connect-token"]');
    if (url && token) {
      url.value = u ?? '';
      url.dispatchEvent(new Event('input', { bubbles: true }));
      token.value = t ?? '';
      token.dispatchEvent(new Event('input', { bubbles: true }));
      document.querySelector<HTMLButtonElement>('[data-testid="connect-submit"]')?.click();
    }
  }
  if (params.get('view') === 'settings') (await wait('[data-testid="nav-settings"]'))?.click();
  if (params.get('view') === 'airgap') (await wait('[data-testid="nav-airgap"]'))?.click();
  const customer = params.get('customer');
  if (params.get('view') === 'customers' || customer) (await wait('[data-testid="nav-customers"]', 6000))?.click();
  if (customer) (await wait(`[data-testid="customer-row"][data-account-id="${customer}"]`, 6000))?.click();
  const instance = params.get('instance');
  if (instance) (await wait(`[data-testid="instance-card"][data-instance-id="${instance}"]`, 6000))?.click();
  const syncKeyFor = params.get('synckey');
  if (syncKeyFor) {
    (await wait(`[data-testid="instance-row"][data-instance-id="${syncKeyFor}"] [data-testid="issue-sync-key"]`, 6000))?.click();
    const days = params.get('days');
    const input = (await wait('[data-testid="sync-key-days"]')) as HTMLInputElement | null;
    if (days && input) {
      input.value = days;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }
    if (params.get('save')) (await wait('[data-testid="sync-key-save"]'))?.click();
  }
  const drop = params.get('drop');
  if (drop) {
    await wait('[data-testid="nav-accounts"]', 6000);
    await new Promise((r) => setTimeout(r, 600));
    await dropFiles(drop.split(','));
    if (params.get('import')) {
      (await wait('[data-testid="import-confirm"]:not(:disabled)', 6000))?.click();
    }
  }
  if (params.get('drag')) {
    await wait('[data-testid="nav-accounts"]', 6000);
    await emit('tauri://drag-enter', { paths: ['/home/anna/Downloads/cedar-hq-01-20251123.usagedata'], position: { x: 400, y: 300 } });
  }
  const open = params.get('open');
  if (open) {
    await wait('[data-testid="tree-row"]');
    const input = await type(open);
    await wait('[data-testid="search-result"]');
    await new Promise((r) => setTimeout(r, 200));
    input?.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  }
  const search = params.get('search');
  if (search) {
    await wait('[data-testid="tree-row"]');
    await type(search);
  }
  if (params.get('hover')) {
    await new Promise((r) => setTimeout(r, 1500));
    const svg = await wait('[data-testid="trend-chart"] svg', 6000);
    if (svg) {
      const r = svg.getBoundingClientRect();
      svg.dispatchEvent(new PointerEvent('pointermove', { clientX: r.left + r.width * 0.62, clientY: r.top + 60, bubbles: true }));
    }
  }
  if (scenario === 'syncing') (await wait('[data-testid="sync-button"]'))?.click();
  const exportScope = params.get('export');
  if (exportScope) {
    await wait('[data-testid="account-name"]', 6000);
    (await wait('[data-testid="export-open"]'))?.click();
    (await wait(`[data-testid="export-scope-${exportScope}"]`))?.click();
    const from = params.get('from');
    const select = document.querySelector<HTMLSelectElement>('[data-testid="export-from"]');
    if (from && select) {
      select.value = from;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    }
    if (params.get('save')) {
      await wait('[data-testid="export-preview"][data-state="ready"]');
      document.querySelector<HTMLButtonElement>('[data-testid="export-save"]')?.click();
    }
  }
}

export function installFakeBackend(): void {
  const theme = params.get('theme');
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
  mockIPC((cmd, args) => handle(cmd, (args ?? {}) as Args), { shouldMockEvents: true });
  mockWindows('main');
  wireHtmlDrops();
  (window as unknown as { usagedeskFake: unknown }).usagedeskFake = { drop: dropFiles };
  console.info(`[dev] fake backend (scenario ${scenario}, ${nodes.size} accounts)`);
  void devScript();
}
