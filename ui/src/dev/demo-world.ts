// The dev server's world for the fake backend (src/fake): a generated tenant tree of three
// service providers (one reseller with `kids` stores, default 8000), 14 completed months of
// usage, air-gap instances with a ledger, seven customers. Deterministic: the same data on
// every load (relative to a fixed "today", for stable screenshots).
import type {
  Account,
  AccountRow,
  AppStatus,
  Availability,
  ImportPreview,
  InstanceView,
  LedgerEntry,
  Plan,
  SubtreeCounts,
  UsageCounts,
} from '$lib/bindings';
import type { AccountSource, FakeWorld } from '../fake';
import { FakeCustomers } from '../fake/customers';
import { communityCustomer, devCustomer, expiredCustomer, prodCustomer, trialCustomer } from '../fake/customer-profiles';
import { fail } from '../fake/shell';

const PLANS: Plan[] = [
  { id: 'basic', name: 'Basic', seat_metric: 'users_registered' },
  { id: 'standard', name: 'Standard', seat_metric: 'users_with_token' },
  { id: 'premium', name: 'Premium', seat_metric: 'users_with_activity' },
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

function buildTree(bigKids: number) {
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

const DAY = 86_400_000;
const agoIso = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const NO_CERT =
  'no signing certificate yet: sync once while online (the cloud certifies this computer\'s key then), and try again';
const SIGNER = 'anna (sp-01)';

type FakeInstance = { view: InstanceView; ledger: LedgerEntry[] };
const instances = new Map<string, FakeInstance>();
const pendingMonths = new Map<string, string[]>();
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
    by: SIGNER,
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
  if (instances.size) return;
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

function buildCustomers(hasData: () => boolean): FakeCustomers {
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
  return new FakeCustomers(specs, (id) => (hasData() ? acc(id) : null), pathOf);
}

/** What a dropped file would import, chosen by its name; refused without a certificate. */
function filePreview(path: string, noCert: boolean): ImportPreview {
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

// ---------------------------------------------------------------------------------------------
// The world
export type DemoOptions = {
  /** first-run | demo | connected | empty | offline | unauthorized | syncing | signed-out */
  scenario: string;
  /** Children of the big reseller. */
  kids: number;
  /** No signing certificate yet. */
  noCert: boolean;
};

const source: AccountSource = {
  roots: () => roots,
  children: (id) => nodes.get(id)?.children ?? null,
  account: (id) => {
    const n = nodes.get(id);
    return n ? account(n) : null;
  },
  row: (id, month) => (nodes.has(id) ? toRow(id, month) : null),
  count: () => nodes.size,
  all: () => [...nodes.values()].map(account),
};

export function demoWorld(opts: DemoOptions): FakeWorld {
  const { scenario } = opts;
  if (!nodes.size) buildTree(opts.kids);
  const hasData = !['first-run', 'empty'].includes(scenario);
  const rows = hasData ? nodes.size * MONTHS.length : 0;
  buildInstances();
  const ledger = [...instances.values()].flatMap((x) => x.ledger);
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
    accounts: hasData ? nodes.size : 0,
    month_rows: rows,
    db_bytes: 24_576 + rows * 96,
    outbox: {
      queued: ledger.filter((e) => e.upload === 'pending').length,
      refused: ledger.filter((e) => e.upload === 'rejected').length,
      elsewhere: [],
    },
  };
  const world: FakeWorld = {
    status,
    plans: PLANS,
    months: hasData ? [...MONTHS] : [],
    syncedMonths: MONTHS,
    monthsWithoutData: [],
    accounts: source,
    cloudReachable: scenario !== 'offline',
    cloudAccountName: 'Northwind Cloud (vendor)',
    syncSteps: scenario === 'syncing' ? 40 : 12,
    pace: { sync: scenario === 'syncing' ? 400 : 140, export: 250 },
    instances: [...instances.values()].map((x) => x.view),
    ledger,
    generation: 1,
    pendingMonths: Object.fromEntries(pendingMonths),
    files: {},
    fileAt: (path) => filePreview(path, opts.noCert),
    importedBefore: (path) => {
      const name = (path.split(/[\\/]/).at(-1) ?? path).toLowerCase();
      return name.includes('again') ? instances.get('acme-plant-2')!.ledger.find((e) => e.event === 'usage_imported')!.id : undefined;
    },
    imported: new Map(),
    signer: SIGNER,
    certificateDays: opts.noCert ? null : 200,
    sha256: fakeSha,
    customers: buildCustomers(() => world.months.length > 0),
    opened: [],
    previewError: null,
    exportError: null,
    importError: null,
    issueError: null,
    saveDocumentError: null,
    customersError: null,
    verificationWriteError: null,
    holdImport: false,
    holdCustomers: false,
  };
  return world;
}
