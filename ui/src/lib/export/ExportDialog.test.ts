import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import ExportDialog from './ExportDialog.svelte';
import { FAKE_SHA256, installFake, type FakeOptions } from '../../test/fake';

let fake: ReturnType<typeof installFake>;

afterEach(() => {
  cleanup();
  fake?.clear();
});

type Props = { months?: string[]; month?: string | null; previewDelay?: number; accountId?: string; accountName?: string };

function setup(props: Props = {}, opts: FakeOptions = {}) {
  const months = props.months ?? opts.months ?? ['2024-03', '2024-04', '2024-05'];
  fake = installFake({ months, ...opts });
  const onclose = vi.fn();
  const user = userEvent.setup();
  render(ExportDialog, {
    props: {
      accountId: props.accountId ?? 'sp',
      accountName: props.accountName ?? 'Service Provider',
      months,
      month: props.month === undefined ? '2024-05' : props.month,
      previewDelay: props.previewDelay ?? 0,
      onclose,
    },
  });
  return { user, onclose };
}

const previews = () => fake.calls.filter((c) => c.cmd === 'export_preview').map((c) => c.args.request);
const preview = () => screen.getByTestId('export-preview');
const ready = () => waitFor(() => expect(preview()).toHaveAttribute('data-state', 'ready'));
const select = (id: string) => screen.getByTestId(id) as HTMLSelectElement;

describe('ExportDialog: inputs and preview', () => {
  it('opens on the month of the account view with the first scope, and previews it', async () => {
    setup();
    const dialog = screen.getByRole('dialog', { name: 'Export to CSV' });
    expect(dialog).toHaveAttribute('aria-modal', 'true');
    expect(screen.getByTestId('export-account')).toHaveTextContent('Service Provider');
    expect(screen.getByLabelText('Only this account')).toBe(screen.getByTestId('export-scope-self'));
    expect(screen.getByLabelText('Include direct child accounts')).toBe(screen.getByTestId('export-scope-children'));
    expect(screen.getByLabelText('Entire account tree')).toBe(screen.getByTestId('export-scope-tree'));
    expect(screen.getByTestId('export-scope-self')).toBeChecked();
    expect(select('export-from').value).toBe('2024-05');
    expect(select('export-to').value).toBe('2024-05');
    await ready();
    expect(preview()).toHaveTextContent('Will write 1 row: 1 account × 1 month');
    expect(preview()).toHaveAttribute('data-rows', '1');
    expect(previews()).toEqual([{ report: 'usage', account_id: 'sp', scope: 'self', from: '2024-05', to: '2024-05' }]);
    expect(screen.getByTestId('export-save')).toBeEnabled();
  });

  it('lists only the completed months, newest first', () => {
    setup({ months: ['2024-01', '2024-02'], month: null });
    for (const id of ['export-from', 'export-to']) {
      expect([...select(id).options].map((o) => [o.value, o.text])).toEqual([
        ['2024-02', 'February 2024'],
        ['2024-01', 'January 2024'],
      ]);
    }
    // no month selected in the view: the last completed month
    expect(select('export-to').value).toBe('2024-02');
  });

  it('previews again when the scope or the range changes', async () => {
    const { user } = setup();
    await ready();
    await user.click(screen.getByTestId('export-scope-tree'));
    await user.selectOptions(select('export-from'), '2024-03');
    await waitFor(() => expect(preview()).toHaveTextContent('Will write 12 rows: 4 accounts × 3 months'));
    await ready();
    expect(previews().at(-1)).toEqual({ report: 'usage', account_id: 'sp', scope: 'tree', from: '2024-03', to: '2024-05' });
    await user.click(screen.getByTestId('export-scope-children'));
    await waitFor(() => expect(preview()).toHaveAttribute('data-rows', '12'));
    await user.click(screen.getByTestId('export-scope-self'));
    await waitFor(() => expect(preview()).toHaveTextContent('Will write 3 rows: 1 account × 3 months'));
  });

  it('exports entitlements with the same scope and range, previewing licenses and a lower bound of rows', async () => {
    const { user } = setup();
    await ready();
    expect(screen.getByLabelText('Monthly usage')).toBeChecked();
    expect(screen.getByTestId('export-scope-tree').closest('label')).toHaveTextContent('This account and every account in its subtree.');
    await user.click(screen.getByLabelText('Entitlements'));
    await user.click(screen.getByTestId('export-scope-tree'));
    await user.selectOptions(select('export-from'), '2024-03');
    // the fake holds one license per account: 4 licenses over 3 months, a lower bound of rows
    await waitFor(() => expect(preview()).toHaveTextContent('Will write at least 12 rows: 4 licenses over 3 months, a row per plan and month in force'));
    await ready();
    expect(previews().at(-1)).toEqual({ report: 'entitlements', account_id: 'sp', scope: 'tree', from: '2024-03', to: '2024-05' });
    expect(screen.getByTestId('export-scope-tree').closest('label')).toHaveTextContent('Every license held in this account’s subtree.');
    expect(screen.getByTestId('export-save')).toBeEnabled();
  });

  it('debounces the preview while the inputs change', async () => {
    const { user } = setup({ previewDelay: 150 });
    await ready();
    const before = previews().length;
    await user.click(screen.getByTestId('export-scope-children'));
    await user.click(screen.getByTestId('export-scope-tree'));
    await user.selectOptions(select('export-from'), '2024-04');
    // an older plan is kept on screen, dimmed, and cannot be exported
    expect(preview()).toHaveAttribute('data-state', 'loading');
    expect(screen.getByTestId('export-save')).toBeDisabled();
    await waitFor(() => expect(preview()).toHaveTextContent('Will write 8 rows: 4 accounts × 2 months'));
    expect(previews().slice(before)).toEqual([{ report: 'usage', account_id: 'sp', scope: 'tree', from: '2024-04', to: '2024-05' }]);
  });

  it('refuses a reversed range inline, without asking the shell', async () => {
    const { user } = setup();
    await ready();
    const before = previews().length;
    await user.selectOptions(select('export-to'), '2024-03');
    const err = screen.getByTestId('export-error');
    expect(err).toHaveTextContent('The range starts (May 2024) after it ends (March 2024). Swap the two months.');
    expect(err).toHaveAttribute('data-kind', 'invalid_input');
    expect(screen.queryByTestId('export-preview')).toBeNull();
    expect(screen.getByTestId('export-save')).toBeDisabled();
    expect(select('export-to')).toHaveAttribute('aria-invalid', 'true');
    await user.selectOptions(select('export-from'), '2024-03');
    await ready();
    expect(screen.queryByTestId('export-error')).toBeNull();
    expect(previews().slice(before)).toEqual([{ report: 'usage', account_id: 'sp', scope: 'self', from: '2024-03', to: '2024-03' }]);
  });

  it('shows the shell’s refusal of a preview', async () => {
    const { user } = setup();
    fake.state.previewError = { kind: 'not_found', message: 'account sp is not in the cache; sync to refresh it' };
    await user.click(screen.getByTestId('export-scope-tree'));
    const err = await screen.findByTestId('export-error');
    expect(err).toHaveTextContent('Account sp is not in the cache; sync to refresh it.');
    expect(err).toHaveAttribute('data-kind', 'not_found');
    expect(screen.getByTestId('export-save')).toBeDisabled();
  });

  it('names the months of the range that have no synced data', async () => {
    const { user } = setup();
    fake.state.monthsWithoutData = ['2024-04'];
    await user.selectOptions(select('export-from'), '2024-03');
    await waitFor(() => expect(preview()).toHaveTextContent('Will write 2 rows: 1 account × 2 months'));
    expect(screen.getByTestId('export-missing-months')).toHaveTextContent('No synced data for April 2024: this month gets no rows.');
  });
});

describe('ExportDialog: export', () => {
  it('asks where to save, shows progress, then the result', async () => {
    const { user, onclose } = setup();
    await user.click(screen.getByTestId('export-scope-tree'));
    await user.selectOptions(select('export-from'), '2024-03');
    await waitFor(() => expect(preview()).toHaveAttribute('data-rows', '12'));
    await ready();
    await user.click(screen.getByTestId('export-save'));

    const dialogCall = fake.calls.find((c) => c.cmd === 'plugin:dialog|save');
    expect(dialogCall?.args).toEqual({
      options: { defaultPath: 'usage-sp-tree-2024-03_2024-05.csv', filters: [{ name: 'CSV', extensions: ['csv'] }] },
    });
    const progress = await screen.findByTestId('export-progress');
    expect(progress).toHaveAttribute('role', 'progressbar');
    expect(progress).toHaveAttribute('aria-valuenow', '0');
    expect(fake.calls.find((c) => c.cmd === 'export_csv')?.args).toEqual({
      request: { report: 'usage', account_id: 'sp', scope: 'tree', from: '2024-03', to: '2024-05' },
      path: '/home/me/usage-sp-tree-2024-03_2024-05.csv',
    });
    await waitFor(() => expect(screen.getByTestId('export-cancel')).toHaveFocus());
    // the form is locked and cannot be closed meanwhile
    expect(screen.getByTestId('export-scope-self')).toBeDisabled();
    expect(screen.queryByTestId('export-close')).toBeNull();

    await fake.emit('export://progress', { written: 8192, total: 32768 });
    await waitFor(() => expect(progress).toHaveAttribute('aria-valuenow', '25'));
    expect(screen.getByText('Writing 8,192 / 32,768 rows')).toBeInTheDocument();

    fake.finishExport();
    const done = await screen.findByTestId('export-done');
    expect(done).toHaveTextContent('Export complete');
    expect(screen.getByTestId('export-done-rows')).toHaveTextContent('12 rows');
    expect(screen.getByTestId('export-done-path')).toHaveTextContent('/home/me/usage-sp-tree-2024-03_2024-05.csv');
    expect(screen.getByTestId('export-done-manifest')).toHaveTextContent(/^\/home\/me\/usage-sp-tree-2024-03_2024-05\.csv\.manifest$/);
    // the test world's manager holds a certificate for 60 more days: the manifest is signed
    const signature = screen.getByTestId('export-done-signature');
    expect(signature).toHaveAttribute('data-signed', 'true');
    expect(signature).toHaveTextContent('Signed by anna (sp)');
    expect(signature).toHaveTextContent('valid until');
    expect(screen.getByTestId('export-done-size')).toHaveTextContent('1.6 KB');
    const sha = screen.getByTestId('export-done-sha');
    expect(sha).toHaveTextContent(/^9f86d081884c…$/);
    expect(sha).toHaveAttribute('title', FAKE_SHA256);
    expect(screen.queryByTestId('export-progress')).toBeNull();

    const close = screen.getByTestId('export-close');
    await waitFor(() => expect(close).toHaveFocus());
    await user.click(close);
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it('says plainly that the export is not signed, and why, without a certificate', async () => {
    const { user } = setup();
    fake.state.certificateDays = null; // never synced: no signing certificate
    await ready();
    await user.click(screen.getByTestId('export-save'));
    await screen.findByTestId('export-progress');
    fake.finishExport();
    const signature = await screen.findByTestId('export-done-signature');
    expect(signature).toHaveAttribute('data-signed', 'false');
    expect(signature).toHaveTextContent('Not signed');
    expect(signature).toHaveTextContent('No signing certificate yet: sync once while online');
    expect(signature).toHaveTextContent('nothing proves who wrote it');
    expect(screen.getByTestId('export-done-manifest')).toHaveTextContent(/\.csv\.manifest\.json$/);
  });

  it('does nothing when the save dialog is cancelled', async () => {
    const { user } = setup({}, { savePath: null });
    await ready();
    await user.click(screen.getByTestId('export-save'));
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'plugin:dialog|save')).toBe(true));
    await waitFor(() => expect(screen.getByTestId('export-save')).toBeEnabled());
    expect(fake.calls.some((c) => c.cmd === 'export_csv')).toBe(false);
    expect(screen.queryByTestId('export-progress')).toBeNull();
    expect(screen.queryByTestId('export-error')).toBeNull();
    expect(screen.getByTestId('export-save')).toHaveFocus();
  });

  it('cancels a running export: no file', async () => {
    const { user } = setup();
    await ready();
    await user.click(screen.getByTestId('export-save'));
    await screen.findByTestId('export-progress');
    await user.click(screen.getByTestId('export-cancel'));
    expect(fake.calls.some((c) => c.cmd === 'cancel_export')).toBe(true);
    const err = await screen.findByTestId('export-error');
    expect(err).toHaveTextContent('Export cancelled; no file was written.');
    expect(err).toHaveAttribute('data-kind', 'cancelled');
    expect(screen.queryByTestId('export-progress')).toBeNull();
    expect(screen.queryByTestId('export-done')).toBeNull();
    // ready to try again
    expect(screen.getByTestId('export-save')).toBeEnabled();
    expect(screen.getByTestId('export-scope-self')).toBeEnabled();
  });

  it('shows why the file could not be written', async () => {
    const { user } = setup({}, { savePath: '/ro/usage.csv' });
    fake.state.exportError = {
      kind: 'io',
      message: 'cannot write /ro/usage.csv: Permission denied (os error 13). Choose a folder you can write to, with free space',
    };
    await ready();
    await user.click(screen.getByTestId('export-save'));
    const err = await screen.findByTestId('export-error');
    expect(err).toHaveAttribute('data-kind', 'io');
    expect(err).toHaveAttribute('role', 'alert');
    expect(err).toHaveTextContent('Cannot write /ro/usage.csv: Permission denied (os error 13). Choose a folder you can write to, with free space.');
    // changing the inputs clears it
    await user.click(screen.getByTestId('export-scope-tree'));
    await waitFor(() => expect(screen.queryByTestId('export-error')).toBeNull());
  });

  it('says when another export is running', async () => {
    const { user } = setup();
    fake.state.exportError = { kind: 'busy', message: 'an export is already running; wait for it or cancel it' };
    await ready();
    await user.click(screen.getByTestId('export-save'));
    expect(await screen.findByTestId('export-error')).toHaveTextContent('Another export is running. Wait for it to finish, or cancel it.');
  });
});

describe('ExportDialog: keyboard and focus', () => {
  it('starts on the chosen report and keeps Tab inside the dialog', async () => {
    const { user } = setup();
    await waitFor(() => expect(screen.getByTestId('export-report-usage')).toHaveFocus());
    await ready();
    await user.tab();
    expect(screen.getByTestId('export-scope-self')).toHaveFocus();
    await user.tab();
    expect(select('export-from')).toHaveFocus();
    await user.tab();
    expect(select('export-to')).toHaveFocus();
    await user.tab();
    expect(screen.getByTestId('export-close')).toHaveFocus();
    await user.tab();
    expect(screen.getByTestId('export-save')).toHaveFocus();
    await user.tab();
    expect(screen.getByTestId('export-report-usage')).toHaveFocus();
    await user.tab({ shift: true });
    expect(screen.getByTestId('export-save')).toHaveFocus();
  });

  it('treats the scope radios as one stop, wherever the choice is', async () => {
    const { user } = setup();
    await user.click(screen.getByTestId('export-scope-tree'));
    expect(screen.getByTestId('export-scope-tree')).toHaveFocus();
    await user.tab({ shift: true });
    expect(screen.getByTestId('export-report-usage')).toHaveFocus();
  });

  it('closes with Escape and the Close button when idle', async () => {
    const { user, onclose } = setup();
    await user.keyboard('{Escape}');
    expect(onclose).toHaveBeenCalledTimes(1);
    await user.click(screen.getByTestId('export-close'));
    expect(onclose).toHaveBeenCalledTimes(2);
  });

  it('stays open while an export runs', async () => {
    const { user, onclose } = setup();
    await ready();
    await user.click(screen.getByTestId('export-save'));
    await screen.findByTestId('export-progress');
    await user.keyboard('{Escape}');
    expect(onclose).not.toHaveBeenCalled();
    expect(screen.getByRole('dialog')).toHaveAttribute('aria-busy', 'true');
    fake.finishExport();
    await screen.findByTestId('export-done');
    await user.keyboard('{Escape}');
    expect(onclose).toHaveBeenCalledTimes(1);
  });
});
