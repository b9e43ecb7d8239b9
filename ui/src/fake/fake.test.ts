// The one fake backend: a handler for every command of the contract, answering the app's
// wrappers (ipc.ts) in the dev server's demo world and in the tests' world alike.
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS, type EventName } from '$lib/backend/contract';
import { useBackend } from '$lib/backend/backend';
import * as ipc from '$lib/backend/ipc';
import { demoWorld } from '../dev/demo-world';
import { testWorld } from '../test/fake';
import { createFakeBackend, type FakeWorld } from '.';
import { fakeShell } from './shell';

afterEach(() => useBackend(null));

function install(world: FakeWorld) {
  const fake = createFakeBackend(world, { saveDialog: (o) => `/home/me/${o.defaultPath}` });
  useBackend(fake.backend);
  const events: [EventName, unknown][] = [];
  for (const e of ['sync://progress', 'sync://finished', 'status://changed', 'export://progress'] as const) {
    void fake.backend.listen(e, (p) => events.push([e, p]));
  }
  return { ...fake, events };
}

/** Calls every wrapper of ipc.ts once, in an order that makes each answer meaningful. */
async function everyCommand(world: FakeWorld) {
  const month = world.months.at(-1)!;
  const root = world.accounts.roots()[0];
  const child = world.accounts.children(root)![0];
  const instance = world.instances[0].instance.id;
  const customer = world.customers.customersPage(
    { text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false },
    'name',
    0,
    1,
  ).items[0].account_id;
  const request = { report: 'usage', account_id: root, scope: 'children', from: month, to: month } as const;
  const status = await ipc.appStatus();
  const roots = await ipc.children(null, month, { by: 'name' }, 0, 50);
  const kids = await ipc.children(root, month, { by: 'subtree_total', metric: 'users_with_activity' }, 0, 50);
  const detail = await ipc.accountDetail(child, month);
  const hits = await ipc.search(detail.row.account_name.slice(0, 4), 10);
  const trend = await ipc.trend(root, month, 12);
  const plan = await ipc.exportPreview(request);
  const outcome = await ipc.exportCsv(request, '/home/me/usage.csv');
  const instances = await ipc.airgapInstances({ kind: 'all', overdue_only: false, text: null, sort: 'status', descending: false, offset: 0, limit: 50 });
  const overdue = await ipc.airgapOverdueCount();
  const ledger = await ipc.airgapLedger({ instance: null, kept_only: false, offset: 0, limit: 50 });
  const key = await ipc.airgapIssueSyncKey(instance, 30, '/home/me/k.usagedesk-synckey');
  const dropped = await ipc.airgapPreview(`/home/me/${instance}-x.usagedata`);
  const imported = await ipc.airgapImport(`/home/me/${instance}-x.usagedata`, '/home/me/v.usagedesk-verification');
  await ipc.airgapSaveDocument(imported.ledger_id, '/home/me/again.usagedesk-verification');
  const retried = await ipc.airgapRetry(imported.ledger_id);
  await ipc.airgapDiscard(imported.ledger_id);
  const counts = await ipc.customerCounts();
  const list = await ipc.customers({ text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false }, 'name', 0, 100);
  const page = await ipc.customer(customer);
  const cards = await ipc.customerInstances(customer, 0, 20);
  const attempts = await ipc.installAttempts(customer, 0, 20);
  const card = cards.items[0];
  const instanceDetail = card ? await ipc.instanceDetail(card.instance_id) : null;
  const events = card ? await ipc.instanceEvents(card.instance_id, 0, 50) : null;
  const entitlements = await ipc.entitlementCard(customer, month);
  const overSeats = await ipc.licenseList(null, month, 'over', 0, 50);
  const health = await ipc.healthList(null, false, 0, 50);
  const oneHealth = await ipc.customerHealth(customer);
  const renewals = await ipc.renewalCalendar(12, 0, 50);
  const renewalsWritten = await ipc.exportRenewals(12, '/home/me/renewals.csv');
  const attention = await ipc.attention(null, 0, 50);
  const attentionCounts = await ipc.attentionCounts();
  const reminders = [await ipc.setReminders(false), await ipc.remindersEnabled()];
  const opened = await ipc.takeOpenedFiles();
  const zone = await ipc.localZone();
  const plans = await ipc.plans();
  const months = await ipc.completedMonths();
  const report = await ipc.syncNow();
  await ipc.cancelSync();
  await ipc.cancelExport();
  const cleared = await ipc.clearCache(true);
  const signedOut = await ipc.signOut();
  const connected = await ipc.connect('https://usage.example.com', 'a-good-token');
  const demo = await ipc.startDemo();
  return { status, roots, kids, detail, hits, trend, plan, outcome, instances, overdue, ledger, key, dropped, imported, retried, counts, list, page, cards, attempts, instanceDetail, events, entitlements, overSeats, health, oneHealth, renewals, renewalsWritten, attention, attentionCounts, reminders, opened, zone, plans, months, report, cleared, signedOut, connected, demo };
}

describe('the fake backend', () => {
  it('has one handler for every command of the contract, and no other', () => {
    const { handlers } = fakeShell(testWorld(), async () => {});
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(COMMANDS).sort());
  });

  it('answers every command in the demo world of the dev server', async () => {
    const world = demoWorld({ scenario: 'connected', kids: 40, noCert: false });
    const fake = install(world);
    const a = await everyCommand(world);
    const names = new Set(fake.backend.calls.map((c) => c.cmd));
    expect([...names].sort()).toEqual(Object.keys(COMMANDS).sort());
    // the three service providers, sorted by name
    expect(a.roots.items.map((r) => r.account_name)).toEqual(['Contoso Managed Services', 'Globex Resellers', 'Northwind Partners']);
    expect(a.kids.total).toBe(world.accounts.children(world.accounts.roots()[0])!.length);
    expect(a.hits.length).toBeGreaterThan(0);
    expect(a.trend).toHaveLength(12);
    expect(a.plan.rows).toBe(a.plan.accounts);
    expect(a.outcome.rows).toBe(a.plan.rows);
    expect(a.instances.total).toBe(world.instances.length);
    expect(a.dropped.preview?.instance_id).toBe(world.instances[0].instance.id);
    expect(a.imported.preview.records).toBe(a.dropped.preview?.records);
    expect(a.list.total).toBe(a.counts.customers);
    // health: every customer once, lowest score first, contributions adding up to the score
    expect(a.health.page.total).toBe(a.counts.customers);
    const scores = a.health.page.items.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((x, y) => x - y));
    expect(a.oneHealth.factors).toHaveLength(6);
    expect(Math.abs(a.oneHealth.factors.reduce((s, f) => s + f.contribution, 0) - a.oneHealth.score)).toBeLessThanOrEqual(0.5);
    // the calendar: 12 months, each license counted in its month, the CSV writes them all
    expect(a.renewals.months).toHaveLength(12);
    expect(a.renewals.months.reduce((s, m) => s + m.licenses, 0)).toBe(a.renewals.page.total);
    expect(a.renewalsWritten).toBe(a.renewals.page.total);
    expect(a.page.account.id).toBe(a.list.items[0].account_id);
    expect(a.plans.map((p) => p.id)).toEqual(['basic', 'standard', 'premium']);
    // the Attention list: its counts are those of its page, its over-seats items those of the license list
    expect(a.attention.total).toBe(a.attentionCounts.total);
    expect(a.attentionCounts.over_seats).toBe(a.overSeats.total);
    expect(a.attentionCounts.overdue).toBe(world.instances.filter((i) => i.overdue && i.instance.airgapped).length);
    expect(a.reminders).toEqual([false, false]);
    // no table of offsets: the UI keeps JavaScript's own local time, the test process's zone
    expect(a.zone.changes).toEqual([]);
    // the sync reported its progress and uploaded what was imported
    expect(a.report.uploaded).toBeGreaterThan(0);
    expect(fake.events.filter(([e]) => e === 'sync://progress').length).toBeGreaterThan(3);
    expect(fake.events.some(([e, p]) => e === 'sync://finished' && (p as { ok: boolean }).ok)).toBe(true);
    expect(a.cleared.last_synced_at).toBeNull();
    expect(a.signedOut.signed_in).toBe(false);
    expect(a.connected.cloud_url).toBe('https://usage.example.com');
    expect(a.demo.demo).toBe(true);
  }, 20_000);

  it('answers every command in the tests’ world, a held sync going on when released', async () => {
    const world = testWorld();
    const fake = install(world);
    const sync = ipc.syncNow();
    await expect(ipc.syncNow()).rejects.toHaveProperty('kind', 'busy');
    fake.release('sync');
    expect((await sync).rows).toBe(4 * 2);
    const statuses = fake.events.filter(([e]) => e === 'status://changed').map(([, s]) => (s as { syncing: boolean }).syncing);
    expect(statuses).toEqual([true, false]);

    const run = everyCommand(world);
    // the export and the sync wait for the test
    await new Promise((r) => setTimeout(r, 20));
    fake.release('export');
    await new Promise((r) => setTimeout(r, 20));
    fake.release('sync');
    const a = await run;
    expect(a.roots.items.map((r) => r.account_id)).toEqual(['sp']);
    expect(a.kids.items.map((r) => r.account_id)).toEqual(['a', 'b', 'c']);
    expect(a.plan).toMatchObject({ accounts: 4, rows: 4 });
    expect(a.key.shortened).toBe(false);
    expect(a.counts.customers).toBe(3);
  });

  it('copies what crosses the boundary, as the IPC does', async () => {
    const world = testWorld();
    install(world);
    const status = await ipc.appStatus();
    status.account_name = 'changed by the UI';
    expect(world.status.account_name).toBe('Vendor');
  });

  it('rejects an unknown command as the shell does', async () => {
    const { backend } = install(testWorld());
    await expect(backend.invoke('no_such_command' as 'plans', {})).rejects.toBe('command no_such_command not found');
  });
});
