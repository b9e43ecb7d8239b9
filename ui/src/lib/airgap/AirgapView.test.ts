import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../../App.svelte';
import { baseStatus, fakeLedger, installFake, ledgerEntry, type FakeOptions } from '../../test/fake';
import { syncKeyFileName } from '$lib/airgap/airgap';

let fake: ReturnType<typeof installFake>;

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  fake?.clear();
});

async function start(opts: FakeOptions = {}) {
  fake = installFake(opts);
  const user = userEvent.setup();
  render(App);
  await screen.findByTestId('account-name');
  return user;
}

async function openAirgap(opts: FakeOptions = {}) {
  const user = await start(opts);
  await user.click(screen.getByTestId('nav-airgap'));
  await waitFor(() => expect(screen.getAllByTestId('instance-row')).toHaveLength(3));
  return user;
}

const rows = () => screen.getAllByTestId('instance-row');
const row = (id: string) => rows().find((r) => r.dataset.instanceId === id)!;
const cmds = (name: string) => fake.calls.filter((c) => c.cmd === name).map((c) => c.args);

describe('sidebar', () => {
  it('shows the Air-gapped entry with the number of overdue instances', async () => {
    await start();
    const nav = screen.getByTestId('nav-airgap');
    expect(nav).toHaveTextContent('Air-gapped');
    await waitFor(() => expect(within(nav).getByTestId('nav-overdue-count')).toHaveTextContent('1'));
    expect(nav).toHaveAttribute('title', 'Air-gapped · 1 air-gapped instance is overdue');
  });

  it('shows no count when nothing is overdue', async () => {
    await start({ instances: [] });
    await waitFor(() => expect(cmds('airgap_instances').length).toBeGreaterThan(0));
    expect(screen.queryByTestId('nav-overdue-count')).toBeNull();
  });
});

describe('Air-gapped view', () => {
  it('lists the instances air-gapped and overdue first, with their state', async () => {
    await openAirgap();
    expect(screen.getByTestId('airgap-view')).toBeInTheDocument();
    expect(screen.getByTestId('nav-airgap')).toHaveAttribute('aria-current', 'page');
    expect(rows().map((r) => [r.dataset.instanceId, r.dataset.overdue])).toEqual([
      ['inst-late', 'true'],
      ['inst-fresh', 'false'],
      ['inst-online', 'false'],
    ]);
    const late = row('inst-late');
    expect(within(late).getByTestId('overdue-badge')).toHaveAttribute('title', expect.stringMatching(/^No verified file for 47 days/));
    expect(late).toHaveTextContent('LIC-INST-LATE');
    expect(late).toHaveTextContent('80');
    // its account is not in the cache: the id, no link
    expect(within(late).queryByTestId('instance-account')).toBeNull();
    expect(late.querySelectorAll('td')[1]).toHaveTextContent(/^c$/);
    expect(within(late).getByTestId('instance-license')).toHaveTextContent('LIC-INST-LATE');
    expect(late).toHaveTextContent('47 days ago');
    const fresh = row('inst-fresh');
    expect(within(fresh).queryByTestId('overdue-badge')).toBeNull();
    expect(within(fresh).getByTestId('instance-pending')).toHaveTextContent('pending upload');
    expect(fresh).toHaveTextContent('3 days ago');
    expect(fresh).toHaveTextContent('240');
    expect(within(row('inst-online')).getByText('Online')).toBeInTheDocument();
    expect(row('inst-online')).toHaveTextContent('2 h ago');
    expect(screen.getByTestId('drop-hint')).toHaveTextContent('Drop a usage data file anywhere on this window');
  });

  it('shows the ledger of the selected instance, the first one at first', async () => {
    const user = await openAirgap();
    await waitFor(() => expect(screen.getAllByTestId('ledger-row')).toHaveLength(1));
    expect(row('inst-late')).toHaveAttribute('aria-current', 'true');
    expect(screen.getByTestId('ledger')).toHaveTextContent('inst-late');
    await user.click(within(row('inst-fresh')).getByText('inst-fresh'));
    await waitFor(() => expect(screen.getByTestId('ledger')).toHaveTextContent('inst-fresh'));
    await waitFor(() => expect(screen.getAllByTestId('ledger-row').map((r) => r.dataset.event)).toEqual(['usage_imported', 'sync_key_issued']));
    const [imp, key] = screen.getAllByTestId('ledger-row');
    expect(imp).toHaveTextContent('Usage imported');
    expect(imp).toHaveTextContent('40 new · 2 present · 0 changed');
    expect(imp).toHaveTextContent('Pending upload');
    expect(imp).toHaveTextContent('anna (sp)');
    expect(key).toHaveTextContent('Sync key issued');
    expect(key).toHaveTextContent(/expires /);
    expect(key).toHaveTextContent('198');
    expect(cmds('airgap_ledger').at(-1)).toEqual({ query: { instance: 'inst-fresh', kept_only: false, offset: 0, limit: 50 } });
  });

  it('saves a ledger entry’s document again', async () => {
    const user = await openAirgap();
    await user.click(within(row('inst-fresh')).getByText('inst-fresh'));
    await waitFor(() => expect(screen.getAllByTestId('ledger-row')).toHaveLength(2));
    const key = screen.getAllByTestId('ledger-row')[1];
    await user.click(within(key).getByTestId('ledger-save'));
    const note = await screen.findByTestId('ledger-saved');
    const save = cmds('plugin:dialog|save').at(-1) as { options: { defaultPath: string; filters: unknown } };
    expect(save.options.defaultPath).toMatch(/^inst-fresh-\d{8}\.usagedesk-synckey$/);
    expect(save.options.filters).toEqual([{ name: 'Sync key', extensions: ['usagedesk-synckey'] }]);
    expect(cmds('airgap_save_document')).toEqual([{ ledgerId: 2, path: `/home/me/${save.options.defaultPath}` }]);
    expect(note).toHaveTextContent(`The sync key was saved to /home/me/${save.options.defaultPath}.`);
  });

  it('opens an instance’s account in the Accounts view', async () => {
    const user = await openAirgap();
    await user.click(within(row('inst-fresh')).getByTestId('instance-account'));
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Alpha Corp'));
    expect(screen.getByTestId('nav-accounts')).toHaveAttribute('aria-current', 'page');
  });

  it('reloads the instances after a sync (which uploads what was pending)', async () => {
    await openAirgap();
    expect(within(row('inst-fresh')).getByTestId('instance-pending')).toBeInTheDocument();
    fake.state.instances = fake.state.instances.map((i) => ({ ...i, pending_uploads: 0 }));
    await fake.emit('sync://finished', { ok: true, report: null, error: null });
    await waitFor(() => expect(within(row('inst-fresh')).queryByTestId('instance-pending')).toBeNull());
  });

  it('says so when there is no instance', async () => {
    await start({ instances: [], ledger: [] });
    await userEvent.setup().click(screen.getByTestId('nav-airgap'));
    expect(await screen.findByTestId('airgap-empty')).toHaveTextContent('No instances in the cache yet.');
    expect(screen.queryByTestId('ledger')).toBeNull();
  });
});

describe('issuing a sync key', () => {
  it('asks for the validity, the file, and says until when and from which mark', async () => {
    const user = await openAirgap();
    await user.click(within(row('inst-fresh')).getByTestId('issue-sync-key'));
    const dialog = screen.getByRole('dialog', { name: 'Issue a sync key' });
    const days = screen.getByTestId('sync-key-days') as HTMLInputElement;
    expect(days.value).toBe('30');
    await waitFor(() => expect(days).toHaveFocus());
    expect(dialog).toHaveTextContent('inst-fresh');
    expect(dialog).toHaveTextContent('above mark 240');
    await user.clear(days);
    await user.type(days, '400');
    expect(screen.getByTestId('sync-key-days-error')).toHaveTextContent('Between 1 and 365 days.');
    expect(days).toHaveAttribute('aria-invalid', 'true');
    await user.click(screen.getByTestId('sync-key-save'));
    expect(cmds('plugin:dialog|save')).toEqual([]);
    await user.clear(days);
    await user.type(days, '45{Enter}');
    const note = await screen.findByTestId('sync-key-done');
    const name = syncKeyFileName('inst-fresh', Date.now());
    expect(cmds('plugin:dialog|save')).toEqual([{ options: { defaultPath: name, filters: [{ name: 'Sync key', extensions: ['usagedesk-synckey'] }] } }]);
    expect(cmds('airgap_issue_sync_key')).toEqual([{ instanceId: 'inst-fresh', validDays: 45, path: `/home/me/${name}` }]);
    expect(screen.queryByTestId('sync-key-dialog')).toBeNull();
    expect(note).toHaveTextContent('Sync key for inst-fresh saved');
    expect(note).toHaveTextContent(`Saved to /home/me/${name}.`);
    expect(note).toHaveTextContent('above mark 240');
    expect(screen.queryByTestId('sync-key-shortened')).toBeNull();
    // the new key is in the instance's ledger
    await waitFor(() => expect(screen.getAllByTestId('ledger-row')[0]).toHaveAttribute('data-event', 'sync_key_issued'));
    expect(screen.getAllByTestId('ledger-row')).toHaveLength(3);
    expect(row('inst-fresh')).toHaveAttribute('aria-current', 'true');
    expect(within(row('inst-fresh')).getByTestId('instance-awaiting')).toHaveTextContent('Sync key issued just now');
  });

  it('warns when the key was shortened to the certificate’s end', async () => {
    const user = await openAirgap();
    await user.click(within(row('inst-late')).getByTestId('issue-sync-key'));
    const days = screen.getByTestId('sync-key-days');
    await user.clear(days);
    await user.type(days, '90');
    await user.click(screen.getByTestId('sync-key-save'));
    expect(await screen.findByTestId('sync-key-shortened')).toHaveTextContent('Valid for less than asked');
  });

  it('shows a refusal in the dialog and keeps it open', async () => {
    const user = await openAirgap();
    fake.state.issueError = { kind: 'no_certificate', message: 'no signing certificate yet: sync once while online, and try again' };
    await user.click(within(row('inst-late')).getByTestId('issue-sync-key'));
    await user.click(screen.getByTestId('sync-key-save'));
    const err = await screen.findByTestId('sync-key-error');
    expect(err).toHaveAttribute('data-kind', 'no_certificate');
    expect(err).toHaveTextContent('Sync while online first. No signing certificate yet: sync once while online, and try again.');
    expect(screen.getByTestId('sync-key-dialog')).toBeInTheDocument();
    await user.click(screen.getByTestId('sync-key-cancel'));
    expect(screen.queryByTestId('sync-key-dialog')).toBeNull();
    expect(screen.queryByTestId('sync-key-done')).toBeNull();
  });

  it('writes nothing when the save dialog is cancelled', async () => {
    const user = await openAirgap({ savePath: null });
    await user.click(within(row('inst-late')).getByTestId('issue-sync-key'));
    await user.click(screen.getByTestId('sync-key-save'));
    await waitFor(() => expect(screen.getByTestId('sync-key-dialog')).toHaveAttribute('data-phase', 'edit'));
    expect(cmds('airgap_issue_sync_key')).toEqual([]);
  });
});

describe('dropping a file anywhere on the window', () => {
  it('shows an overlay while dragging', async () => {
    await start();
    expect(screen.queryByTestId('drop-overlay')).toBeNull();
    await fake.dragEnter();
    expect(await screen.findByTestId('drop-overlay')).toHaveTextContent('Drop a usage data file to import it');
    await fake.dragLeave();
    await waitFor(() => expect(screen.queryByTestId('drop-overlay')).toBeNull());
  });

  it('previews and imports it from the Accounts view; the account shows it pending upload', async () => {
    const user = await start();
    // look at Alpha Corp (account a), the file's account
    await user.type(screen.getByTestId('search-input'), 'alpha');
    await screen.findAllByTestId('search-result');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByTestId('account-name')).toHaveTextContent('Alpha Corp'));
    expect(screen.queryByTestId('pending-upload')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('nav-overdue-count')).toHaveTextContent('1'));

    await fake.drop(['/home/me/inst-late.usagedata']);
    await waitFor(() => expect(screen.queryByTestId('drop-overlay')).toBeNull());
    const preview = await screen.findByTestId('import-preview');
    expect(preview).toHaveAttribute('data-new', '90');
    await user.click(screen.getByTestId('import-confirm'));
    expect(await screen.findByTestId('import-done')).toHaveTextContent('Imported 91 records');
    expect(cmds('airgap_import')).toEqual([{ path: '/home/me/inst-late.usagedata', verificationPath: expect.stringMatching(/^\/home\/me\/inst-late-\d{8}\.usagedesk-verification$/) }]);

    // the accounts and the instances were reloaded: the month shows pending upload, nothing is overdue
    const badge = await screen.findByTestId('pending-upload');
    expect(badge).toHaveTextContent('Pending upload');
    expect(badge).toHaveAttribute('title', expect.stringMatching(/sent to the cloud on the next sync/));
    await waitFor(() => expect(screen.queryByTestId('nav-overdue-count')).toBeNull());
    await user.click(screen.getByTestId('import-close'));
    expect(screen.queryByTestId('import-dialog')).toBeNull();
    // only the imported month is pending
    await user.selectOptions(screen.getByTestId('month-select'), '2024-04');
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'account_detail' && c.args.month === '2024-04' && c.args.id === 'a')).toBe(true));
    await waitFor(() => expect(screen.queryByTestId('pending-upload')).toBeNull());
  });

  it('refreshes the Air-gapped view after an import', async () => {
    const user = await openAirgap();
    await fake.drop(['/home/me/inst-late.usagedata']);
    await user.click(await screen.findByTestId('import-confirm'));
    await screen.findByTestId('import-done');
    await waitFor(() => expect(row('inst-late')).toHaveAttribute('data-overdue', 'false'));
    expect(within(row('inst-late')).getByTestId('instance-pending')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('ledger-row')).toHaveLength(2));
    expect(screen.getAllByTestId('ledger-row')[0]).toHaveTextContent('Pending upload');
  });

  it('shows a refusal in the dialog', async () => {
    await start();
    fake.state.files['/home/me/old.usagedata'] = {
      kind: 'file_refused',
      message: 'the sync key expired on 2025-10-01 09:00:00 UTC: issue a new sync key and export again with it',
    };
    await fake.drop(['/home/me/old.usagedata']);
    const err = await screen.findByTestId('import-error');
    expect(err).toHaveAttribute('data-kind', 'file_refused');
    expect(err).toHaveTextContent('The sync key expired on 2025-10-01 09:00:00 UTC: issue a new sync key and export again with it.');
  });

  it('takes one file at a time', async () => {
    await start();
    await fake.drop(['/a.usagedata', '/b.usagedata']);
    expect(await screen.findByTestId('import-error')).toHaveAttribute('data-kind', 'multiple_files');
    expect(cmds('airgap_preview')).toEqual([]);
  });

  it('replaces an open preview with a newly dropped file', async () => {
    await start();
    await fake.drop(['/home/me/one.usagedata']);
    await screen.findByTestId('import-preview');
    await fake.drop(['/home/me/two.usagedata']);
    await waitFor(() => expect(screen.getByTestId('import-dialog')).toHaveTextContent('two.usagedata'));
    expect(screen.getAllByTestId('import-dialog')).toHaveLength(1);
  });

  it('is ignored on the connect screen', async () => {
    fake = installFake({ status: baseStatus({ cloud_url: null, signed_in: false, account_name: null }) });
    render(App);
    await screen.findByTestId('connect-url');
    await fake.dragEnter();
    await fake.drop(['/home/me/x.usagedata']);
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByTestId('drop-overlay')).toBeNull();
    expect(screen.queryByTestId('import-dialog')).toBeNull();
  });
});

describe('kept files', () => {
  const refused = () =>
    ledgerEntry(9, 'inst-fresh', { upload: 'rejected', upload_error: "no instance 'inst-fresh' is visible to this token" });

  it('shows a refused file with the reason, and retries it', async () => {
    const user = await openAirgap({ ledger: [refused(), ...fakeLedger()] });
    await user.click(within(row('inst-fresh')).getByText('inst-fresh'));
    const entry = await waitFor(() => screen.getAllByTestId('ledger-row').find((r) => r.dataset.ledgerId === '9')!);
    const badge = within(entry).getByText('Refused by the cloud');
    expect(badge.getAttribute('title')).toContain('is visible to this token');
    expect(badge.getAttribute('title')).toContain('kept on this computer');
    await user.click(within(entry).getByTestId('ledger-retry'));
    expect(await screen.findByTestId('ledger-saved')).toHaveTextContent('The cloud accepted the file.');
    expect(cmds('airgap_retry')).toEqual([{ ledgerId: 9 }]);
  });

  it('discards only after the user confirms, saying it cannot be undone', async () => {
    const user = await openAirgap({ ledger: [refused(), ...fakeLedger()] });
    await user.click(within(row('inst-fresh')).getByText('inst-fresh'));
    const entry = await waitFor(() => screen.getAllByTestId('ledger-row').find((r) => r.dataset.ledgerId === '9')!);
    await user.click(within(entry).getByTestId('ledger-discard'));
    const dialog = screen.getByRole('alertdialog', { name: 'Discard this file?' });
    expect(dialog).toHaveTextContent('cannot be undone');
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(cmds('airgap_discard')).toEqual([]);
    await user.click(within(entry).getByTestId('ledger-discard'));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Discard the file' }));
    await waitFor(() => expect(cmds('airgap_discard')).toEqual([{ ledgerId: 9 }]));
  });

  it('says when files wait for another cloud or were refused', async () => {
    await openAirgap({
      status: baseStatus({ outbox: { queued: 0, refused: 1, elsewhere: [{ cloud_url: 'https://old.example.com/', account_id: 'sp', files: 2 }] } }),
    });
    const notes = screen.getAllByTestId('outbox-note').map((n) => n.textContent);
    expect(notes[0]).toContain('The cloud refused 1 imported file');
    expect(notes[1]).toContain('2 imported files wait for https://old.example.com/ (account sp)');
    expect(notes[1]).toContain('never to another cloud');
  });

  it('searches and filters at the shell', async () => {
    const user = await openAirgap();
    await user.type(screen.getByTestId('instance-search'), 'late');
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(rows()[0].dataset.instanceId).toBe('inst-late');
    expect((cmds('airgap_instances').at(-1) as { query: { text: string } }).query.text).toBe('late');
  });
});
