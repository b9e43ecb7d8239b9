import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../../App.svelte';
import { FAKE_INSTANCES, installFake, treeAccount, type FakeOptions } from '../../test/fake';
import { prodCustomer } from '../../fake/customer-profiles';
import type { CustomerFilter } from '$lib/bindings';

let fake: ReturnType<typeof installFake>;

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  fake?.clear();
});

const NO_FILTER: CustomerFilter = { text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false };

async function start(opts: FakeOptions = {}) {
  fake = installFake(opts);
  const user = userEvent.setup();
  render(App);
  await screen.findByTestId('account-name');
  return user;
}

async function openCustomers(opts: FakeOptions = {}) {
  const user = await start(opts);
  await user.click(screen.getByTestId('nav-customers'));
  await waitFor(() => expect(rows()).toHaveLength(3));
  return user;
}

async function openPage(name: string, opts: FakeOptions = {}) {
  const user = await openCustomers(opts);
  await user.click(within(rows().find((r) => r.textContent?.includes(name))!).getByTestId('customer-open'));
  await waitFor(() => expect(screen.getByTestId('customer-name')).toHaveTextContent(name));
  return user;
}

const rows = () => screen.queryAllByTestId('customer-row');
const row = (id: string) => rows().find((r) => r.dataset.accountId === id)!;
const ids = () => rows().map((r) => r.dataset.accountId);
const cmds = (name: string) => fake.calls.filter((c) => c.cmd === name).map((c) => c.args);
const lastFilter = () => (cmds('customers').at(-1) as { filter: CustomerFilter }).filter;
const card = (id: string) => screen.getAllByTestId('instance-card').find((c) => c.dataset.instanceId === id)!;

describe('Customers list', () => {
  it('has a sidebar entry that lists every customer, unfiltered', async () => {
    await openCustomers();
    const nav = screen.getByTestId('nav-customers');
    expect(nav).toHaveTextContent('Customers');
    expect(nav).toHaveAttribute('aria-current', 'page');
    expect(screen.getByTestId('customers-view')).toBeInTheDocument();
    expect(lastFilter()).toEqual(NO_FILTER);
    // by name; the service provider holds no license
    expect(ids()).toEqual(['a', 'b', 'c']);
    expect(screen.getByTestId('customer-count')).toHaveTextContent('3 customers');
  });

  it('shows badges from the count query, which filter the list', async () => {
    const user = await openCustomers();
    // Alpha (one instance not Ready), Beta (inactive, never Ready, overdue), Gamma (trial, not Ready)
    const counts = fake.state.customers.counts();
    await waitFor(() => expect(screen.getByTestId('badge-not-ready')).toHaveTextContent(`${counts.not_ready} with instances not Ready`));
    expect(cmds('customer_counts')).toHaveLength(1);
    expect(screen.getByTestId('badge-overdue')).toHaveTextContent(`${counts.reporting_overdue} overdue`);
    await user.click(screen.getByTestId('badge-overdue'));
    await waitFor(() => expect(lastFilter().reporting_overdue).toBe(true));
    await waitFor(() => expect(ids()).toEqual(['b']));
  });

  it('shows license types, expiry, instances, worst status and overdue per row', async () => {
    await openCustomers();
    const alpha = row('a');
    expect(alpha).toHaveTextContent('Alpha Corp');
    expect(within(alpha).getAllByTestId('customer-license-type').map((c) => c.dataset.type)).toEqual(['prod']);
    expect(within(alpha).getByTestId('customer-expiry')).toHaveTextContent('expires in 8 months');
    expect(within(alpha).getByTestId('customer-expiry')).toHaveAttribute('data-tone', 'normal');
    expect(within(alpha).getByTestId('customer-instances')).toHaveTextContent('2 instances');
    expect(within(alpha).getByTestId('customer-not-ready')).toHaveTextContent('1 not ready');
    expect(within(alpha).getByTestId('customer-status')).toHaveAttribute('data-status', 'updating');
    expect(within(alpha).queryByTestId('customer-overdue')).toBeNull();

    const beta = row('b');
    expect(within(beta).getByTestId('customer-expiry')).toHaveTextContent('expired 12 days ago');
    expect(within(beta).getByTestId('customer-expiry')).toHaveAttribute('data-tone', 'danger');
    expect(within(beta).getByTestId('customer-instances')).toHaveTextContent('2 inactive');
    expect(within(beta).getByTestId('customer-status')).toHaveTextContent('Inactive');
    expect(within(beta).getByTestId('customer-overdue')).toHaveTextContent('Overdue');

    const gamma = row('c');
    expect(within(gamma).getByTestId('customer-license-type')).toHaveTextContent('Trial');
    expect(within(gamma).getByTestId('customer-expiry')).toHaveTextContent('expires in 10 days');
    expect(within(gamma).getByTestId('customer-expiry')).toHaveAttribute('data-tone', 'warning');
    expect(within(gamma).getByTestId('customer-status')).toHaveAttribute('data-status', 'unavailable');
  });

  it('asks the backend with the filters chosen', async () => {
    const user = await openCustomers();
    await user.selectOptions(screen.getByTestId('filter-license-type'), 'trial');
    await waitFor(() => expect(ids()).toEqual(['c']));
    expect(lastFilter()).toEqual({ ...NO_FILTER, license_type: 'trial' });

    await user.selectOptions(screen.getByTestId('filter-license-type'), '');
    await user.selectOptions(screen.getByTestId('filter-expiring'), '30');
    await waitFor(() => expect(ids()).toEqual(['b', 'c']));
    expect(lastFilter()).toEqual({ ...NO_FILTER, expiring_within_days: 30 });

    await user.click(screen.getByTestId('filter-not-ready'));
    await waitFor(() => expect(lastFilter()).toEqual({ ...NO_FILTER, expiring_within_days: 30, not_ready: true }));
    await waitFor(() => expect(ids()).toEqual(['c']));

    await user.click(screen.getByTestId('filter-not-ready'));
    await user.selectOptions(screen.getByTestId('filter-expiring'), '');
    await user.click(screen.getByTestId('filter-overdue'));
    await waitFor(() => expect(lastFilter()).toEqual({ ...NO_FILTER, reporting_overdue: true }));
    await waitFor(() => expect(ids()).toEqual(['b']));

    await user.click(screen.getByTestId('filter-clear'));
    await waitFor(() => expect(ids()).toEqual(['a', 'b', 'c']));
    expect(lastFilter()).toEqual(NO_FILTER);
    expect(screen.queryByTestId('filter-clear')).toBeNull();
  });

  it('searches as you type, once the typing pauses', async () => {
    const user = await openCustomers();
    const before = cmds('customers').length;
    await user.type(screen.getByTestId('customer-search'), 'gam');
    await waitFor(() => expect(ids()).toEqual(['c']));
    expect(lastFilter()).toEqual({ ...NO_FILTER, text: 'gam' });
    // one call for the three keys
    expect(cmds('customers').length).toBe(before + 1);

    await user.clear(screen.getByTestId('customer-search'));
    await user.type(screen.getByTestId('customer-search'), 'LIC-ACOOPS{Enter}');
    await waitFor(() => expect(screen.getByTestId('customers-empty')).toHaveTextContent('No customer matches these filters.'));
    await user.click(within(screen.getByTestId('customers-empty')).getByRole('button', { name: 'Clear the filters' }));
    await waitFor(() => expect(ids()).toEqual(['a', 'b', 'c']));
    expect(screen.getByTestId('customer-search')).toHaveValue('');
  });

  it('shows the backend’s error', async () => {
    const user = await start();
    fake.state.customersError = { kind: 'cache', message: 'The cache cannot be read.' };
    await user.click(screen.getByTestId('nav-customers'));
    expect(await screen.findByTestId('inline-error')).toHaveTextContent('The cache cannot be read.');
  });

  it('says when there is no customer at all', async () => {
    const user = await start({ customers: [] });
    await user.click(screen.getByTestId('nav-customers'));
    expect(await screen.findByTestId('customers-empty')).toHaveTextContent('No customer in the cache yet');
  });
});

describe('Customer page', () => {
  it('opens from a row, with the license and its features', async () => {
    await openPage('Alpha Corp');
    expect(cmds('customer')).toEqual([{ accountId: 'a' }]);
    const license = screen.getByTestId('customer-license');
    expect(within(license).getByTestId('license-type')).toHaveTextContent('Production');
    expect(within(license).getByTestId('license-channel')).toHaveTextContent('Stable');
    expect(within(license).getByTestId('license-expiry')).toHaveTextContent('(expires in 8 months)');
    expect(
      within(license)
        .getAllByTestId('license-feature')
        .map((f) => [f.dataset.feature, f.dataset.on]),
    ).toEqual([
      ['gitops', 'true'],
      ['airgap', 'false'],
      ['identity', 'true'],
      ['snapshots', 'true'],
    ]);
    expect(within(license).getByText('Air gap').closest('li')).toHaveTextContent('Air gap off');
    // plan names from the catalog, in its order
    expect(within(license).getByTestId('license-seats')).toHaveTextContent('Basic 250Standard 120Premium 40');
  });

  it('shows the account view’s entitlements card for the customer, in the month picked there', async () => {
    await openPage('Alpha Corp');
    const card = await screen.findByTestId('entitlements-card');
    await waitFor(() => expect(card).toHaveAttribute('data-state', 'ready'));
    const asked = cmds('entitlement_card') as { accountId: string; month: string }[];
    expect(asked.at(-1)?.accountId).toBe('a');
    expect(card).toHaveAttribute('data-account-id', 'a');
    expect(card).toHaveAttribute('data-month', asked.at(-1)?.month);
    // the month the accounts view shows (its last account_detail question)
    expect(asked.at(-1)?.month).toBe((cmds('account_detail').at(-1) as { month: string }).month);
  });

  it('shows the time to install of the instance that most recently reached its first Ready', async () => {
    await openPage('Alpha Corp');
    // license created 420 days ago, the upgraded instance first Ready 959.5 hours ago, 30 min after its first check-in
    expect(screen.getByTestId('tti-license')).toHaveTextContent('380 d');
    expect(screen.getByTestId('tti-instance')).toHaveTextContent('30 min');
    expect(screen.getByTestId('tti-instance-id')).toHaveTextContent('7fKp2Lm');
    expect(screen.queryByTestId('tti-none')).toBeNull();
  });

  it('lists the instances with status, version, cluster, check-in and uptime', async () => {
    await openPage('Alpha Corp');
    expect(screen.getAllByTestId('instance-card').map((c) => c.dataset.instanceId)).toEqual([FAKE_INSTANCES.flapping, FAKE_INSTANCES.updating]);

    const flapping = card(FAKE_INSTANCES.flapping);
    expect(flapping).toHaveTextContent('2bQyU1X');
    expect(within(flapping).getByTestId('instance-status')).toHaveAttribute('data-status', 'ready');
    expect(flapping).toHaveTextContent('3.5.2');
    expect(flapping).toHaveTextContent('EKS · K8s 1.29.4');
    expect(flapping).toHaveTextContent('AWS · us-east-1');
    expect(flapping).toHaveTextContent('1 h ago');
    // 40 minutes Unavailable in 14 days; Degraded counts as up
    expect(within(flapping).getByTestId('uptime-ratio')).toHaveTextContent('99.8 %');
    const graph = within(flapping).getByTestId('uptime-graph');
    const bars = within(graph).getAllByTestId('uptime-bar');
    expect(bars).toHaveLength(14);
    expect(graph.querySelectorAll('[data-band="degraded"]').length).toBeGreaterThan(0);
    expect(graph.querySelectorAll('[data-band="down"]')).toHaveLength(1);
    const withEvents = within(graph).getAllByTestId('uptime-event');
    expect(withEvents.length).toBeGreaterThan(3);
    expect(withEvents[0].querySelector('title')?.textContent).toMatch(/event.*:\n.*Status: /);
    expect(within(flapping).queryByTestId('instance-stale')).toBeNull();

    const updating = card(FAKE_INSTANCES.updating);
    expect(within(updating).getByTestId('instance-status')).toHaveAttribute('data-status', 'updating');
    expect(updating).toHaveTextContent('Embedded Cluster · K8s 1.30.2+k0s');
    expect(updating).toHaveTextContent('2/3 nodes ready');
    expect(updating).toHaveTextContent('12 min ago');
    expect(within(updating).getByTestId('uptime-ratio')).toHaveTextContent('100 %');
  });

  it('shows an inactive instance with its last status and how stale it is', async () => {
    await openPage('Beta LLC');
    const dead = card(FAKE_INSTANCES.dead);
    expect(dead).toHaveAttribute('data-inactive', 'true');
    expect(within(dead).getByTestId('instance-status')).toHaveAttribute('data-status', 'ready');
    expect(within(dead).getByTestId('instance-stale')).toHaveTextContent('inactive — last seen 23 d ago');
    expect(within(dead).getByTestId('uptime-ratio')).toHaveTextContent('no data');
    expect(dead.querySelectorAll('[data-band="no_data"]')).toHaveLength(14);

    const airgapped = card(FAKE_INSTANCES.airgapped);
    expect(airgapped).toHaveTextContent('Air-gapped');
    expect(within(airgapped).getByTestId('instance-overdue')).toHaveTextContent('Overdue');
    expect(within(airgapped).getByTestId('instance-stale')).toHaveTextContent('inactive — last seen 40 d ago');
    expect(screen.getByTestId('license-expiry')).toHaveAttribute('data-tone', 'danger');
    expect(screen.getByTestId('license-expiry')).toHaveTextContent('(expired 12 days ago)');
  });

  it('says No Ready Instances when none was ever Ready', async () => {
    await openPage('Gamma New');
    expect(screen.getByTestId('tti-none')).toHaveTextContent('No Ready Instances');
    expect(screen.queryByTestId('tti-license')).toBeNull();
    expect(screen.queryByTestId('tti-instance')).toBeNull();
    const inst = card(FAKE_INSTANCES.neverReady);
    expect(within(inst).getByTestId('instance-status')).toHaveAttribute('data-status', 'unavailable');
    // Degraded 10 h, Missing/Unavailable 60.5 h, nothing before the first check-in
    expect(within(inst).getByTestId('uptime-ratio')).toHaveTextContent('14.2 %');
    expect(screen.getByTestId('license-expiry')).toHaveAttribute('data-tone', 'warning');
  });

  it('lists the install attempts, newest first, with their steps', async () => {
    await openPage('Alpha Corp');
    const attempts = screen.getAllByTestId('install-attempt');
    expect(attempts.map((a) => a.dataset.status)).toEqual(['succeeded', 'succeeded', 'failed']);
    const [latest, , failed] = attempts;
    expect(within(latest).getByTestId('install-status')).toHaveTextContent('Succeeded');
    expect(latest).toHaveTextContent('ops@alpha.example');
    expect(latest).toHaveTextContent('OS / K8s Ubuntu 22.04 (embedded cluster)');
    expect(latest).toHaveTextContent('Mode Online');
    expect(latest).toHaveTextContent('Registry Online');
    expect(within(latest).getAllByTestId('install-step').map((s) => s.textContent?.trim().replace(/\s+/g, ' '))).toEqual([
      expect.stringMatching(/^Started /),
      'Assets downloaded +4 min',
      'Cluster installed +31 min',
      'Completed +38 min',
    ]);
    expect(within(latest).queryByTestId('install-step-end')).toBeNull();
    expect(within(failed).getByTestId('install-step-end')).toHaveTextContent('Failed after 3 min');

    await waitFor(() => expect(screen.getByTestId('customer-back')).toBeInTheDocument());
  });

  it('shows a stalled attempt and an air-gap install', async () => {
    await openPage('Gamma New');
    const [stalled, failed] = screen.getAllByTestId('install-attempt');
    expect(stalled).toHaveAttribute('data-status', 'stalled');
    expect(within(stalled).getByTestId('install-step-end')).toHaveTextContent(/Stalled\s*no progress for 2 d/);
    expect(failed).toHaveTextContent('Registry Offline');
    cleanup();
    fake.clear();
    await openPage('Beta LLC');
    expect(screen.getByTestId('install-attempt')).toHaveTextContent('Mode Air gap');
  });

  it('goes back to the list with the filters kept', async () => {
    const user = await openCustomers();
    await user.click(screen.getByTestId('filter-overdue'));
    await waitFor(() => expect(ids()).toEqual(['b']));
    await user.click(row('b'));
    await waitFor(() => expect(screen.getByTestId('customer-name')).toHaveTextContent('Beta LLC'));
    await user.click(screen.getByTestId('customer-back'));
    await waitFor(() => expect(ids()).toEqual(['b']));
    expect(screen.getByTestId('filter-overdue')).toBeChecked();
    // the sidebar entry leads back to the list too
    await user.click(row('b'));
    await waitFor(() => expect(screen.getByTestId('customer-name')).toHaveTextContent('Beta LLC'));
    await user.click(screen.getByTestId('nav-customers'));
    await waitFor(() => expect(ids()).toEqual(['b']));
    expect(screen.queryByTestId('customer-page')).toBeNull();
  });

  it('opens the account in the Accounts view, and back', async () => {
    const user = await openPage('Alpha Corp');
    await user.click(screen.getByTestId('customer-open-account'));
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Alpha Corp'));
    expect(screen.getByTestId('nav-accounts')).toHaveAttribute('aria-current', 'page');
    await user.click(await screen.findByTestId('account-customer-link'));
    await waitFor(() => expect(screen.getByTestId('customer-name')).toHaveTextContent('Alpha Corp'));
    expect(screen.getByTestId('nav-customers')).toHaveAttribute('aria-current', 'page');
  });

  it('shows an error when the customer cannot be loaded', async () => {
    const user = await openCustomers();
    fake.state.customersError = { kind: 'not_found', message: 'account a is not in the cache; sync to refresh it' };
    await user.click(row('a'));
    expect(await screen.findByTestId('inline-error')).toHaveAttribute('data-kind', 'not_found');
    fake.state.customersError = null;
    await user.click(screen.getByTestId('customer-back'));
    await waitFor(() => expect(rows()).toHaveLength(3));
  });
});

describe('Instance details', () => {
  it('open from a row with the facts and the whole event history', async () => {
    const user = await openPage('Alpha Corp');
    await user.click(card(FAKE_INSTANCES.flapping));
    const dialog = await screen.findByTestId('instance-detail');
    expect(dialog).toHaveAttribute('role', 'dialog');
    expect(dialog).toHaveAttribute('data-instance-id', FAKE_INSTANCES.flapping);
    await waitFor(() => expect(within(dialog).getAllByTestId('event-row')).toHaveLength(14));
    expect(cmds('instance_detail')).toEqual([{ instanceId: FAKE_INSTANCES.flapping }]);
    expect(dialog).toHaveTextContent(FAKE_INSTANCES.flapping);
    expect(dialog).toHaveTextContent('LIC-A-P1');
    expect(dialog).toHaveTextContent('Alpha Corp');
    expect(within(dialog).getByTestId('uptime-ratio')).toHaveTextContent('99.8 %');
    expect(dialog).toHaveTextContent('Up 13 d 23 h · Down 40 min');
    expect(within(dialog).getAllByTestId('uptime-bar')).toHaveLength(14);

    const events = within(dialog).getAllByTestId('event-row');
    // newest first: the last recovery from Degraded
    expect(events[0]).toHaveAttribute('data-field', 'status');
    expect(within(events[0]).getByTestId('event-previous')).toHaveAttribute('data-status', 'degraded');
    expect(within(events[0]).getByTestId('event-new')).toHaveAttribute('data-status', 'ready');
    const version = events.find((e) => e.dataset.field === 'app_version')!;
    expect(version).toHaveTextContent('App version');
    expect(version).toHaveTextContent(/3\.5\.1\s*→\s*3\.5\.2/);
    // the oldest: the first check-in, with no previous value
    const first = events.at(-1)!;
    expect(within(first).queryByTestId('event-previous')).toBeNull();
    expect(within(first).getByTestId('event-new')).toHaveAttribute('data-status', 'missing');

    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('instance-detail')).toBeNull());
  });

  it('show an inactive instance’s staleness, and close with the button', async () => {
    const user = await openPage('Beta LLC');
    await user.click(within(card(FAKE_INSTANCES.dead)).getByTestId('instance-open'));
    const dialog = await screen.findByTestId('instance-detail');
    await waitFor(() => expect(within(dialog).getByTestId('instance-stale')).toHaveTextContent('inactive — last seen 23 d ago'));
    expect(within(dialog).getByTestId('uptime-ratio')).toHaveTextContent('no data');
    expect(within(dialog).getAllByTestId('event-row')).toHaveLength(4);
    await user.click(within(dialog).getByTestId('instance-detail-close'));
    expect(screen.queryByTestId('instance-detail')).toBeNull();
  });

  it('open for the time-to-install instance too', async () => {
    const user = await openPage('Alpha Corp');
    await user.click(screen.getByTestId('tti-instance-id'));
    const dialog = await screen.findByTestId('instance-detail');
    expect(dialog).toHaveAttribute('data-instance-id', FAKE_INSTANCES.updating);
    await waitFor(() => expect(within(dialog).getAllByTestId('event-row').length).toBeGreaterThan(0));
    expect(within(dialog).getAllByTestId('event-row').find((e) => e.dataset.field === 'nodes_ready')).toHaveTextContent(/3\s*→\s*2/);
  });

  it('say why they cannot be shown', async () => {
    const user = await openPage('Alpha Corp');
    fake.state.customersError = { kind: 'invalid_input', message: "instance '2bQyU1X' is not in the local cache" };
    await user.click(card(FAKE_INSTANCES.flapping));
    const dialog = await screen.findByTestId('instance-detail');
    expect(await within(dialog).findByTestId('inline-error')).toHaveTextContent('is not in the local cache');
    await fireEvent.click(document.querySelector('.backdrop')!);
    expect(screen.queryByTestId('instance-detail')).toBeNull();
  });
});

describe('A customer with many instances', () => {
  /** Alpha Corp with 45 instances (ids i-00 … i-44), all checking in. */
  function big() {
    const spec = prodCustomer(treeAccount('a')!);
    const base = spec.instances[0];
    spec.instances = Array.from({ length: 45 }, (_, i) => ({ ...base, id: `i-${String(i).padStart(2, '0')}`, lastCheckIn: 1, changes: [] }));
    return { customers: [spec] };
  }

  it('shows its instances a page at a time, with the whole count in the header', async () => {
    const user = await start(big());
    await user.click(screen.getByTestId('nav-customers'));
    await waitFor(() => expect(rows()).toHaveLength(1));
    await user.click(within(rows()[0]).getByTestId('customer-open'));
    await waitFor(() => expect(screen.getAllByTestId('instance-card')).toHaveLength(20));
    expect(screen.getByTestId('customer-instances')).toHaveTextContent('45 instances');
    expect(screen.getByTestId('instances-pager-range')).toHaveTextContent('1–20 of 45');
    expect(cmds('customer_instances').at(-1)).toEqual({ accountId: 'a', offset: 0, limit: 20 });
    const shownIds = () => screen.getAllByTestId('instance-card').map((c) => c.dataset.instanceId);
    expect(shownIds()[0]).toBe('i-00');

    await user.click(screen.getByTestId('instances-pager-next'));
    await waitFor(() => expect(shownIds()[0]).toBe('i-20'));
    await user.click(screen.getByTestId('instances-pager-next'));
    await waitFor(() => expect(shownIds()).toEqual(['i-40', 'i-41', 'i-42', 'i-43', 'i-44']));
    expect(screen.getByTestId('instances-pager-next')).toBeDisabled();
    expect(screen.getByTestId('instances-pager-range')).toHaveTextContent('41–45 of 45');
    await user.click(screen.getByTestId('instances-pager-prev'));
    await waitFor(() => expect(shownIds()[0]).toBe('i-20'));
  });
});

describe('Accounts view link', () => {
  it('shows “Customer page” only for accounts holding a license, from the account detail', async () => {
    const user = await start();
    // the service provider (selected first) holds none
    await waitFor(() => expect(cmds('account_detail').length).toBeGreaterThan(0));
    expect(screen.getByTestId('account-name')).toHaveTextContent('Service Provider');
    expect(screen.queryByTestId('account-customer-link')).toBeNull();

    await user.click(screen.getAllByTestId('tree-row').find((r) => r.dataset.accountId === 'c')!);
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Gamma New'));
    const link = await screen.findByTestId('account-customer-link');
    // no list of every customer is asked for that
    expect(cmds('customers')).toHaveLength(0);

    await user.click(link);
    await waitFor(() => expect(screen.getByTestId('customer-name')).toHaveTextContent('Gamma New'));
    expect(cmds('customer')).toEqual([{ accountId: 'c' }]);
    expect(screen.getByTestId('tti-none')).toBeInTheDocument();
  });

  it('the list asks for its visible rows again after a sync', async () => {
    const user = await openCustomers();
    const before = cmds('customers').length;
    await user.click(screen.getByTestId('sync-button'));
    await waitFor(() => expect(cmds('sync_now')).toHaveLength(1));
    fake.finishSync();
    await waitFor(() => expect(cmds('customers').length).toBeGreaterThan(before));
    expect(cmds('customers').at(-1)).toMatchObject({ offset: 0, sort: 'name' });
    expect(ids()).toEqual(['a', 'b', 'c']);
  });
});
