// The tests' world for the fake backend (src/fake): a four-account tree, three air-gap
// instances with their ledger, three customers; `installFake` puts it behind the app.
import type {
  Account,
  AccountRow,
  AppStatus,
  ExportRequest,
  ImportPreview,
  Instance,
  InstanceView,
  LedgerEntry,
  OpenedFile,
} from '$lib/bindings';
import { useBackend } from '$lib/backend/backend';
import type { EventName, Events } from '$lib/backend/contract';
import { createFakeBackend, type AccountSource, type FakeWorld } from '../fake';
import { FakeCustomers, type CustomerSpec } from '../fake/customers';
import { expiredCustomer, prodCustomer, trialCustomer } from '../fake/customer-profiles';
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

const toAccount = (r: AccountRow): Account => ({ id: r.account_id, name: r.account_name, parent_id: r.parent_id, status: r.status, created_at: r.created_at });

/** The fixture tree as the fake cache's accounts (the same rows in every month). */
const fixtureAccounts: AccountSource = {
  roots: () => treeRows('2024-05').filter((r) => r.parent_id === null).map((r) => r.account_id),
  children: (id) => (treeAccount(id) ? treeRows('2024-05').filter((r) => r.parent_id === id).map((r) => r.account_id) : null),
  account: treeAccount,
  row: (id, month) => treeRows(month).find((r) => r.account_id === id) ?? null,
  count: () => treeRows('2024-05').length,
  all: () => treeRows('2024-05').map(toAccount),
};

/** The tests' world: a sync, an export and the held commands wait for the test to let them go. */
export function testWorld(opts: FakeOptions = {}): FakeWorld {
  const months = opts.months ?? ['2024-04', '2024-05'];
  return {
    status: opts.status ?? baseStatus(),
    plans: [
      { id: 'basic', name: 'Basic', seat_metric: 'users_registered' },
      { id: 'standard', name: 'Standard', seat_metric: 'users_with_token' },
      { id: 'premium', name: 'Premium', seat_metric: 'users_with_activity' },
    ],
    months,
    syncedMonths: months.length ? months : ['2024-04', '2024-05'],
    monthsWithoutData: [],
    accounts: fixtureAccounts,
    cloudReachable: true,
    cloudAccountName: 'Vendor',
    syncSteps: 1,
    pace: null,
    instances: opts.instances ?? fakeInstances(),
    ledger: opts.ledger ?? fakeLedger(),
    generation: 1,
    pendingMonths: {},
    files: {},
    fileAt: () => importPreview(),
    imported: new Map(),
    signer: 'anna (sp)',
    certificateDays: 60,
    sha256: () => FAKE_SHA256,
    customers: new FakeCustomers(opts.customers ?? fakeCustomerSpecs(), treeAccount, treePath),
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
}

/** Puts the fake backend over {@link testWorld} behind the app; `clear()` takes it away. */
export function installFake(opts: FakeOptions = {}) {
  const state = testWorld(opts);
  const fake = createFakeBackend(state, {
    saveDialog: (options) => (opts.savePath === undefined ? `/home/me/${options.defaultPath}` : opts.savePath),
  });
  const { backend } = fake;
  useBackend(backend);
  return {
    state,
    calls: backend.calls,
    /** files dragged over the window, then dropped (as the shell reports them) */
    drop: (paths: string[]) => backend.drop(paths),
    dragEnter: (paths: string[] = ['/x']) => backend.drag({ type: 'enter', paths }),
    dragLeave: () => backend.drag({ type: 'leave' }),
    /** a file the OS opened with the running app (a second launch) */
    openFile: (file: OpenedFile) => backend.emit('file://opened', file),
    /** lets a held airgap_import go on */
    finishImport: () => fake.release('import'),
    /** lets the held customer commands answer */
    finishCustomers: () => fake.release('customers'),
    emit: <E extends EventName>(event: E, payload: Events[E]) => backend.emit(event, payload),
    /** lets the running sync finish */
    finishSync: () => fake.release('sync'),
    /** lets the running export_csv resolve */
    finishExport: () => fake.release('export'),
    exportRunning: fake.exportRunning,
    clear: () => useBackend(null),
  };
}
