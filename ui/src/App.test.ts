import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from './App.svelte';
import { baseStatus, installFake } from './test/fake';
import { backend, useBackend } from '$lib/backend/backend';

// Each render creates its own app store (provided through context).
async function renderApp() {
  return render(App);
}

let fake: ReturnType<typeof installFake>;

afterEach(() => {
  cleanup();
  fake?.clear();
});

describe('startup', () => {
  beforeEach(() => localStorage.clear());

  it('shows the connect screen on first run', async () => {
    fake = installFake({ status: baseStatus({ cloud_url: null, signed_in: false, account_name: null }) });
    await renderApp();
    expect(await screen.findByTestId('connect-url')).toBeInTheDocument();
    expect(screen.getByTestId('demo-button')).toBeInTheDocument();
    expect(screen.queryByTestId('nav-accounts')).toBeNull();
  });

  it('starts the demo from the connect screen', async () => {
    fake = installFake({ status: baseStatus({ cloud_url: null, signed_in: false }) });
    const user = userEvent.setup();
    await renderApp();
    await user.click(await screen.findByTestId('demo-button'));
    expect(await screen.findByTestId('nav-accounts')).toBeInTheDocument();
    expect(fake.calls.some((c) => c.cmd === 'start_demo')).toBe(true);
  });

  it('opens the accounts view with the newest month and the first root selected', async () => {
    fake = installFake();
    await renderApp();
    const select = (await screen.findByTestId('month-select')) as HTMLSelectElement;
    await waitFor(() => expect(select.value).toBe('2024-05'));
    expect([...select.options].map((o) => o.value)).toEqual(['2024-05', '2024-04']);
    expect(await screen.findByTestId('account-name')).toHaveTextContent('Service Provider');
    expect(screen.getByTestId('metric-users_with_activity')).toHaveAttribute('aria-checked', 'true');
  });

  it('asks for the tree before the sidebar badges, and for no air-gapped list until its view opens', async () => {
    // The shell answers reads in turn: a badge's count asked for first would hold the tree back.
    fake = installFake();
    await renderApp();
    const nav = await screen.findByTestId('nav-airgap');
    await waitFor(() => expect(within(nav).getByTestId('nav-overdue-count')).toBeInTheDocument());
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'attention_counts')).toBe(true));
    const first = (cmd: string) => fake.calls.findIndex((c) => c.cmd === cmd);
    expect(first('children')).toBeGreaterThanOrEqual(0);
    expect(first('children')).toBeLessThan(first('airgap_overdue_count'));
    expect(first('children')).toBeLessThan(first('attention_counts'));
    // asked for once the tree had answered: the detail is asked for after its first page
    expect(first('account_detail')).toBeLessThan(first('airgap_overdue_count'));
    expect(first('account_detail')).toBeLessThan(first('attention_counts'));
    const pages = () => fake.calls.filter((c) => c.cmd === 'airgap_instances' && (c.args as { query: { limit: number } }).query.limit > 1);
    expect(pages()).toEqual([]);
    await userEvent.setup().click(nav);
    await waitFor(() => expect(pages().length).toBeGreaterThan(0));
  });
});

describe('accounts view', () => {
  it('shows formatted numbers and never 0 for missing months', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await screen.findByTestId('account-name');
    // the only root is expanded: its children are rows of the tree
    await waitFor(() => expect(screen.getAllByTestId('tree-row')).toHaveLength(4));
    const rows = screen.getAllByTestId('tree-row');
    expect(rows.map((r) => r.dataset.accountId)).toEqual(['sp', 'a', 'b', 'c']);
    expect(rows[0]).toHaveAttribute('aria-expanded', 'true');
    expect(rows[0]).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByTestId('own-users_registered')).toHaveTextContent(/^5,000$/);
    expect(screen.getByTestId('total-basic-users_with_activity')).toHaveTextContent(/^1,234$/);
    expect(screen.getByTestId('total-all-users_registered')).toHaveTextContent(/^6,500$/);

    const childRows = await screen.findAllByTestId('child-row');
    expect(childRows).toHaveLength(3);
    const beta = childRows.find((r) => r.dataset.accountId === 'b')!;
    expect(within(beta).getAllByText('n/a').length).toBeGreaterThan(0);
    expect(within(beta).queryByText('0')).toBeNull();

    await user.click(rows.find((r) => r.dataset.accountId === 'c')!);
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Gamma New'));
    expect(screen.getByTestId('availability-badge')).toHaveTextContent('Did not exist yet');
    expect(screen.getByTestId('own-users_with_activity')).toHaveTextContent('—');

    await user.click(screen.getAllByTestId('tree-row').find((r) => r.dataset.accountId === 'b')!);
    await waitFor(() => expect(screen.getByTestId('availability-badge')).toHaveTextContent('Not available'));
    expect(screen.getByTestId('own-users_with_activity')).toHaveTextContent('n/a');
  });

  it('switches the metric shown in the tree', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await waitFor(() => expect(screen.getAllByTestId('tree-row')).toHaveLength(4));
    const alpha = () => screen.getAllByTestId('tree-row').find((r) => r.dataset.accountId === 'a')!;
    expect(alpha()).toHaveTextContent('1,234');
    await user.click(screen.getByTestId('metric-users_registered'));
    expect(screen.getByTestId('metric-users_registered')).toHaveAttribute('aria-checked', 'true');
    expect(alpha()).toHaveTextContent('1,500');
  });

  it('selects an account from search and reveals it', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await screen.findByTestId('account-name');
    await user.keyboard('/');
    const input = screen.getByTestId('search-input');
    expect(input).toHaveFocus();
    await user.type(input, 'beta');
    const results = await screen.findAllByTestId('search-result');
    expect(results[0]).toHaveAttribute('data-account-id', 'b');
    expect(results[0]).toHaveTextContent('Service Provider');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Beta LLC'));
    const row = screen.getAllByTestId('tree-row').find((r) => r.dataset.accountId === 'b')!;
    expect(row).toHaveAttribute('aria-selected', 'true');
    expect(within(screen.getByTestId('breadcrumb')).getByText('Service Provider')).toBeInTheDocument();
  });

  it('reloads the tree and the selection for another month', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await screen.findByTestId('account-name');
    await user.selectOptions(screen.getByTestId('month-select'), '2024-04');
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'children' && c.args.month === '2024-04')).toBe(true));
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'account_detail' && c.args.month === '2024-04' && c.args.id === 'sp')).toBe(true));
  });

  it('keeps an account chosen from search when the month changes before it has loaded', async () => {
    fake = installFake();
    // The chosen account's first detail answers only when the test lets it: the month changes
    // meanwhile. The tree still has the first root selected then; the account on screen at the
    // end must be the chosen one, in the new month.
    const inner = backend();
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    let held = false;
    useBackend({
      invoke: async (cmd, args) => {
        const a = args as { id?: string };
        if (cmd === 'account_detail' && a.id === 'b' && !held) {
          held = true;
          await gate;
        }
        return inner.invoke(cmd, args);
      },
      listen: (event, cb) => inner.listen(event, cb),
      saveDialog: (options) => inner.saveDialog(options),
      onDragDrop: (cb) => inner.onDragDrop(cb),
    });
    const user = userEvent.setup();
    await renderApp();
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Service Provider'));
    await user.type(screen.getByTestId('search-input'), 'beta');
    await screen.findAllByTestId('search-result');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(held).toBe(true));
    await user.selectOptions(screen.getByTestId('month-select'), '2024-04');
    letGo();
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'account_detail' && c.args.id === 'b' && c.args.month === '2024-04')).toBe(true));
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Beta LLC'));
    expect(screen.getByTestId('month-select')).toHaveValue('2024-04');
    const row = screen.getAllByTestId('tree-row').find((r) => r.dataset.accountId === 'b')!;
    expect(row).toHaveAttribute('aria-selected', 'true');
  });

  it('shows the empty state when nothing was synced', async () => {
    fake = installFake({ months: [] });
    await renderApp();
    expect(await screen.findByText('No data synced yet')).toBeInTheDocument();
  });
});

describe('sync status', () => {
  it('shows progress while syncing and refreshes when finished', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await screen.findByTestId('account-name');
    await user.click(screen.getByTestId('sync-button'));
    expect(screen.getByTestId('sync-button')).toBeDisabled();
    await fake.emit('sync://progress', { phase: 'downloading', rows_done: 1234, rows_total: 5000, pages: 1 });
    const progress = await screen.findByTestId('sync-progress');
    expect(progress).toHaveTextContent('1,234 / 5,000 rows');
    expect(progress).toHaveAttribute('aria-valuenow', '25');
    const before = fake.calls.filter((c) => c.cmd === 'completed_months').length;
    fake.finishSync();
    await fake.emit('sync://finished', { ok: true, report: null, error: null });
    await waitFor(() => expect(screen.queryByTestId('sync-progress')).toBeNull());
    await waitFor(() => expect(fake.calls.filter((c) => c.cmd === 'completed_months').length).toBeGreaterThan(before));
    expect(screen.getByTestId('account-name')).toHaveTextContent('Service Provider');
  });

  it('shows offline as a neutral notice', async () => {
    fake = installFake({
      status: baseStatus({ online: false, last_error: { kind: 'offline', message: 'No network.' } }),
    });
    await renderApp();
    expect(await screen.findByTestId('offline-indicator')).toBeInTheDocument();
    const banner = screen.getByTestId('error-banner');
    expect(banner).toHaveTextContent('Offline — showing cached data');
    expect(banner).toHaveAttribute('data-kind', 'offline');
  });

  it('offers to sign in again when the token is refused', async () => {
    fake = installFake({
      status: baseStatus({ last_error: { kind: 'unauthorized', message: 'Sign in again with a new token.' } }),
    });
    const user = userEvent.setup();
    await renderApp();
    const banner = await screen.findByTestId('error-banner');
    expect(banner).toHaveTextContent('Sign in again with a new token.');
    await user.click(within(banner).getByRole('button', { name: 'Sign in again' }));
    expect(await screen.findByTestId('connect-url')).toHaveValue('https://usage.example.com');
  });

  it('status events update the sidebar', async () => {
    fake = installFake();
    await renderApp();
    await screen.findByTestId('sync-status');
    await fake.emit('status://changed', baseStatus({ online: false }));
    expect(await screen.findByTestId('offline-indicator')).toBeInTheDocument();
  });
});

describe('export', () => {
  it('opens from the account pane for the selected account and month, and closes back to it', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Service Provider'));
    await user.selectOptions(screen.getByTestId('month-select'), '2024-04');
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'account_detail' && c.args.month === '2024-04')).toBe(true));
    const open = screen.getByTestId('export-open');
    await user.click(open);
    const dialog = screen.getByRole('dialog', { name: 'Export to CSV' });
    expect(within(dialog).getByTestId('export-account')).toHaveTextContent('Service Provider');
    expect(screen.getByTestId('export-from')).toHaveValue('2024-04');
    expect(screen.getByTestId('export-to')).toHaveValue('2024-04');
    await user.click(screen.getByTestId('export-scope-children'));
    await waitFor(() => expect(screen.getByTestId('export-preview')).toHaveTextContent('Will write 4 rows: 4 accounts × 1 month'));
    // the app's search shortcut waits while the dialog is open
    await user.keyboard('/');
    expect(screen.getByTestId('search-input')).not.toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(open).toHaveFocus();
  });

  it('writes the file the save dialog chose, offline too', async () => {
    fake = installFake({
      status: baseStatus({ online: false, last_error: { kind: 'offline', message: 'No network.' } }),
      savePath: '/home/me/q2.csv',
    });
    const user = userEvent.setup();
    await renderApp();
    await user.click(await screen.findByTestId('export-open'));
    await waitFor(() => expect(screen.getByTestId('export-save')).toBeEnabled());
    await user.click(screen.getByTestId('export-save'));
    await screen.findByTestId('export-progress');
    fake.finishExport();
    expect(await screen.findByTestId('export-done-path')).toHaveTextContent('/home/me/q2.csv');
    await user.click(screen.getByTestId('export-close'));
    expect(screen.queryByTestId('export-dialog')).toBeNull();
  });
});

describe('settings', () => {
  it('confirms before clearing the cache', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await user.click(await screen.findByTestId('nav-settings'));
    expect(screen.getByTestId('settings-db-size')).toHaveTextContent('2.4 MB');
    await user.click(screen.getByTestId('clear-cache'));
    await user.click(screen.getByTestId('confirm-cancel'));
    expect(fake.calls.some((c) => c.cmd === 'clear_cache')).toBe(false);
    await user.click(screen.getByTestId('clear-cache'));
    await user.click(screen.getByTestId('confirm-ok'));
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'clear_cache')).toBe(true));
  });

  it('signs out after confirmation and shows the connect screen', async () => {
    fake = installFake();
    const user = userEvent.setup();
    await renderApp();
    await user.click(await screen.findByTestId('nav-settings'));
    await user.click(screen.getByTestId('sign-out'));
    expect(screen.getByRole('alertdialog')).toHaveTextContent('Sign out?');
    await user.click(screen.getByTestId('confirm-ok'));
    expect(await screen.findByTestId('connect-url')).toBeInTheDocument();
    expect(fake.calls.some((c) => c.cmd === 'sign_out')).toBe(true);
  });
});
