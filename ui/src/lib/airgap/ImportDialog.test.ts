import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import ImportDialog from './ImportDialog.svelte';
import { importPreview, installFake, type FakeOptions } from '../../test/fake';
import { verificationKeyFileName } from '$lib/airgap/airgap';

let fake: ReturnType<typeof installFake>;

afterEach(() => {
  cleanup();
  fake?.clear();
});

const FILE = '/home/me/Downloads/inst-late-20240601.usagedata';

function setup(paths: string[] = [FILE], opts: FakeOptions = {}, before?: (f: ReturnType<typeof installFake>) => void) {
  fake = installFake(opts);
  before?.(fake);
  const onclose = vi.fn();
  const onimported = vi.fn();
  const onbusy = vi.fn();
  const user = userEvent.setup();
  render(ImportDialog, { props: { paths, onclose, onimported, onbusy } });
  return { user, onclose, onimported, onbusy };
}

const dialog = () => screen.getByTestId('import-dialog');
const phase = (p: string) => waitFor(() => expect(dialog()).toHaveAttribute('data-phase', p));
const cmds = (name: string) => fake.calls.filter((c) => c.cmd === name).map((c) => c.args);

describe('ImportDialog: preview', () => {
  it('checks the dropped file and shows what importing it would do', async () => {
    setup();
    expect(screen.getByRole('dialog', { name: 'Import usage data file' })).toHaveAttribute('aria-modal', 'true');
    expect(dialog()).toHaveTextContent('inst-late-20240601.usagedata');
    await phase('preview');
    expect(cmds('airgap_preview')).toEqual([{ path: FILE }]);
    const p = screen.getByTestId('import-preview');
    expect(p).toHaveAttribute('data-new', '90');
    expect(p).toHaveAttribute('data-present', '2');
    expect(p).toHaveAttribute('data-changed', '1');
    expect(screen.getByTestId('import-instance')).toHaveTextContent('inst-late');
    expect(screen.getByTestId('import-account')).toHaveTextContent('Alpha Corp');
    expect(screen.getByTestId('import-period')).toHaveTextContent('May 1 – May 31, 2024');
    expect(dialog()).toHaveTextContent('LIC-INST-LATE');
    expect(dialog()).toHaveTextContent('93 records for 3 accounts: 90 new, 2 already present, 1 changed.');
    expect(screen.getByTestId('import-changed-note')).toHaveTextContent('1 record differs');
    expect(screen.queryByTestId('import-remaining')).toBeNull();
    expect(screen.queryByTestId('import-error')).toBeNull();
    // nothing is imported by looking
    expect(cmds('airgap_import')).toEqual([]);
    await waitFor(() => expect(screen.getByTestId('import-confirm')).toHaveFocus());
  });

  it('says when the instance holds more records than the file', async () => {
    setup([FILE], {}, (f) => (f.state.files[FILE] = importPreview({ remaining_records: 1204 })));
    await phase('preview');
    expect(screen.getByTestId('import-remaining')).toHaveTextContent('The instance holds 1,204 more records than this file carries');
  });

  it('takes one file at a time', async () => {
    const { user, onclose } = setup(['/a.usagedata', '/b.usagedata']);
    const err = screen.getByTestId('import-error');
    expect(err).toHaveAttribute('data-kind', 'multiple_files');
    expect(err).toHaveTextContent('2 files were dropped. Drop one usage data file at a time.');
    expect(dialog()).toHaveAttribute('data-phase', 'multiple');
    expect(screen.queryByTestId('import-confirm')).toBeNull();
    expect(cmds('airgap_preview')).toEqual([]);
    await user.click(screen.getByTestId('import-close'));
    expect(onclose).toHaveBeenCalledOnce();
  });
});

describe('ImportDialog: refusals', () => {
  it.each([
    ['file_refused', 'the sync key expired on 2025-10-01 09:00:00 UTC: issue a new sync key and export again with it', 'This file cannot be imported'],
    ['file_refused', "the usage data file's signature does not match its content: it was altered in transit", 'This file cannot be imported'],
    ['no_certificate', 'no signing certificate yet: sync once while online, and try again', 'Sync while online first'],
    ['io', `cannot read ${FILE}: Permission denied (os error 13)`, 'The file cannot be read'],
  ] as const)('shows a %s refusal prominently, with no way to import', async (kind, message, title) => {
    const { user, onclose } = setup([FILE], {}, (f) => (f.state.files[FILE] = { kind, message }));
    await phase('refused');
    const err = screen.getByTestId('import-error');
    expect(err).toHaveAttribute('data-kind', kind);
    expect(err).toHaveAttribute('role', 'alert');
    expect(err).toHaveTextContent(title);
    expect(err).toHaveTextContent(message[0].toUpperCase() + message.slice(1));
    expect(screen.queryByTestId('import-preview')).toBeNull();
    expect(screen.queryByTestId('import-confirm')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('import-close')).toHaveFocus());
    await user.keyboard('{Escape}');
    expect(onclose).toHaveBeenCalledOnce();
  });
});

describe('ImportDialog: import', () => {
  it('asks where to save the verification key, imports, and says what was done', async () => {
    const { user, onimported } = setup();
    await phase('preview');
    await user.click(screen.getByTestId('import-confirm'));
    await phase('done');
    const save = cmds('plugin:dialog|save')[0] as { options: unknown };
    expect(save.options).toEqual({
      defaultPath: verificationKeyFileName('inst-late', Date.now()),
      filters: [{ name: 'Verification key', extensions: ['usagedesk-verification'] }],
    });
    const target = `/home/me/${verificationKeyFileName('inst-late', Date.now())}`;
    expect(cmds('airgap_import')).toEqual([{ path: FILE, verificationPath: target }]);
    const done = screen.getByTestId('import-done');
    expect(screen.getByTestId('import-done-records')).toHaveTextContent('Imported 91 records');
    expect(done).toHaveTextContent('90 new, 1 changed, 2 already present.');
    expect(done).toHaveTextContent('Shown now, marked pending upload until the next sync');
    expect(screen.getByTestId('import-done-path')).toHaveTextContent(target);
    expect(screen.getByRole('dialog', { name: 'Usage data imported' })).toBeInTheDocument();
    expect(onimported).toHaveBeenCalledOnce();
    await waitFor(() => expect(screen.getByTestId('import-close')).toHaveFocus());
  });

  it('imports nothing when the save dialog is cancelled', async () => {
    const { user, onimported } = setup([FILE], { savePath: null });
    await phase('preview');
    await user.click(screen.getByTestId('import-confirm'));
    await phase('preview');
    expect(cmds('airgap_import')).toEqual([]);
    expect(onimported).not.toHaveBeenCalled();
    expect(screen.getByTestId('import-confirm')).toBeEnabled();
  });

  it('cannot be closed while importing, and reports it busy', async () => {
    const { user, onclose, onbusy } = setup();
    fake.state.holdImport = true;
    await phase('preview');
    await user.click(screen.getByTestId('import-confirm'));
    await phase('importing');
    expect(screen.getByTestId('import-confirm')).toHaveTextContent('Importing…');
    expect(screen.getByTestId('import-close')).toBeDisabled();
    expect(onbusy).toHaveBeenLastCalledWith(true);
    await user.keyboard('{Escape}');
    expect(onclose).not.toHaveBeenCalled();
    fake.finishImport();
    await phase('done');
    expect(onbusy).toHaveBeenLastCalledWith(false);
  });

  it('shows a failed import and checks the file again', async () => {
    const { user } = setup();
    await phase('preview');
    fake.state.importError = { kind: 'file_refused', message: 'the sync key expired on 2025-10-01 09:00:00 UTC: issue a new sync key' };
    await user.click(screen.getByTestId('import-confirm'));
    const err = await screen.findByTestId('import-error');
    expect(err).toHaveAttribute('data-kind', 'file_refused');
    expect(err).toHaveTextContent('The sync key expired on 2025-10-01 09:00:00 UTC: issue a new sync key.');
    await phase('preview');
    expect(cmds('airgap_preview')).toHaveLength(2);
  });

  it('turns to "already imported" when the file was imported meanwhile', async () => {
    const { user } = setup();
    await phase('preview');
    // another window imported it: the import is refused, the second look finds the entry
    fake.state.imported.set(FILE, 3);
    await user.click(screen.getByTestId('import-confirm'));
    await phase('already');
    expect(screen.queryByTestId('import-error')).toBeNull();
    expect(screen.getByTestId('import-already')).toHaveTextContent(/^Already imported on .*; nothing changed\./);
    expect(screen.getByTestId('import-save-again')).toBeEnabled();
  });
});

describe('ImportDialog: imported, but the verification key was not written', () => {
  it('says so and offers to save the key again', async () => {
    const { user, onimported } = setup();
    await phase('preview');
    fake.state.verificationWriteError = { kind: 'io', message: 'cannot write /home/me/x.usagedesk-verification: No space left on device' };
    await user.click(screen.getByTestId('import-confirm'));
    await phase('already');
    const err = screen.getByTestId('import-error');
    expect(err).toHaveAttribute('data-kind', 'io');
    expect(err).toHaveTextContent('Cannot write /home/me/x.usagedesk-verification: No space left on device.');
    expect(screen.getByTestId('import-already')).toHaveTextContent(/^Imported on .*, but the verification key was not saved\./);
    expect(onimported).toHaveBeenCalledOnce();
    fake.state.verificationWriteError = null;
    await user.click(screen.getByTestId('import-save-again'));
    expect(await screen.findByTestId('import-saved-again')).toBeInTheDocument();
    expect(cmds('airgap_save_document')).toHaveLength(1);
  });
});

describe('ImportDialog: already imported', () => {
  it('says when and offers the verification key again', async () => {
    const at = new Date(2024, 5, 3, 9, 12).toISOString();
    const { user } = setup([FILE], {}, (f) => {
      f.state.ledger = [{ ...f.state.ledger[0], id: 3, instance_id: 'inst-fresh', at, by: 'anna (sp)' }];
      f.state.imported.set(FILE, 3);
    });
    await phase('already');
    expect(screen.getByTestId('import-already')).toHaveTextContent('Already imported on Jun 3, 2024 09:12 by anna (sp); nothing changed.');
    expect(screen.queryByTestId('import-confirm')).toBeNull();
    expect(screen.queryByTestId('import-error')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('import-save-again')).toHaveFocus());
    await user.click(screen.getByTestId('import-save-again'));
    const saved = await screen.findByTestId('import-saved-again');
    expect(saved).toHaveTextContent('/home/me/inst-fresh-20240603.usagedesk-verification');
    expect(cmds('airgap_save_document')).toEqual([{ ledgerId: 3, path: '/home/me/inst-fresh-20240603.usagedesk-verification' }]);
    expect(cmds('airgap_import')).toEqual([]);
  });

  it('shows a failure to save it again', async () => {
    const { user } = setup([FILE], {}, (f) => {
      f.state.imported.set(FILE, 3);
      f.state.saveDocumentError = { kind: 'io', message: 'cannot write /ro/x: Permission denied' };
    });
    await phase('already');
    await user.click(screen.getByTestId('import-save-again'));
    const err = await screen.findByTestId('import-error');
    expect(err).toHaveAttribute('data-kind', 'io');
    expect(err).toHaveTextContent('Cannot write /ro/x: Permission denied.');
    expect(screen.queryByTestId('import-saved-again')).toBeNull();
  });
});
