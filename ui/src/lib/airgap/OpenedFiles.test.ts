// Files the OS opens with the app, through the whole window: the import dialog for a usage
// data file (as a drop), the explanation for a key, one at a time, whenever they arrive.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../../App.svelte';
import type { OpenedFile } from '$lib/bindings';
import { baseStatus, installFake } from '../../test/fake';

let fake: ReturnType<typeof installFake>;

afterEach(() => {
  cleanup();
  fake?.clear();
});

const USAGE = '/home/me/Downloads/inst-late-20240601.usagedesk-usage';

function file(kind: OpenedFile['kind'], path: string, over: Partial<OpenedFile> = {}): OpenedFile {
  const name = path.split('/').at(-1)!;
  const key =
    kind === 'sync_key'
      ? { instance_id: 'inst-late', issued_by: 'anna (sp)', issued_at: '2099-01-01T09:00:00Z', expires_at: '2099-02-01T09:00:00Z', accepted_high_water_mark: null }
      : null;
  return { path, name, kind, key, problem: null, ...over };
}

const cmds = (name: string) => fake.calls.filter((c) => c.cmd === name).map((c) => c.args);

describe('files opened with the app', () => {
  it('opens the import preview for a usage data file given at launch', async () => {
    fake = installFake();
    fake.state.opened = [file('usage_data', USAGE)];
    render(App);
    const dialog = await screen.findByTestId('import-dialog');
    expect(dialog).toHaveTextContent('inst-late-20240601.usagedesk-usage');
    await waitFor(() => expect(dialog).toHaveAttribute('data-phase', 'preview'));
    expect(cmds('airgap_preview')).toEqual([{ path: USAGE }]);
    expect(screen.getByTestId('import-preview')).toHaveAttribute('data-new', '90');
  });

  it('explains a sync key, then shows the next file when closed', async () => {
    fake = installFake();
    fake.state.opened = [file('sync_key', '/tmp/k.usagedesk-synckey'), file('usage_data', USAGE)];
    const user = userEvent.setup();
    render(App);
    const dialog = await screen.findByTestId('opened-dialog');
    expect(dialog).toHaveAttribute('data-kind', 'sync_key');
    expect(screen.getByRole('dialog', { name: 'Sync key for inst-late' })).toBeInTheDocument();
    expect(screen.getByTestId('opened-lead')).toHaveTextContent('goes to the customer’s instance');
    expect(screen.getByTestId('opened-instance')).toHaveTextContent('inst-late');
    expect(screen.queryByTestId('import-dialog')).toBeNull();
    expect(cmds('airgap_preview')).toEqual([]);
    await user.click(screen.getByTestId('opened-close'));
    expect(await screen.findByTestId('import-dialog')).toBeInTheDocument();
    expect(screen.queryByTestId('opened-dialog')).toBeNull();
  });

  it('takes a file a second launch hands over while the window runs', async () => {
    fake = installFake();
    render(App);
    await screen.findByTestId('account-name');
    expect(cmds('take_opened_files')).toHaveLength(1);
    await fake.openFile(file('usage_data', USAGE));
    expect(await screen.findByTestId('import-dialog')).toBeInTheDocument();
    await waitFor(() => expect(cmds('airgap_preview')).toEqual([{ path: USAGE }]));
  });

  it('says what UsageDesk opens for another file', async () => {
    fake = installFake();
    fake.state.opened = [file('unknown', '/tmp/notes.txt', { problem: 'notes.txt is not a UsageDesk exchange file.' })];
    render(App);
    expect(await screen.findByTestId('opened-problem')).toHaveTextContent('notes.txt is not a UsageDesk exchange file.');
    expect(screen.getByTestId('opened-dialog')).toHaveAttribute('data-kind', 'unknown');
  });

  it('keeps a file opened on the connect screen until the app is entered', async () => {
    fake = installFake({ status: baseStatus({ cloud_url: null, signed_in: false }) });
    fake.state.opened = [file('usage_data', USAGE)];
    const user = userEvent.setup();
    render(App);
    const demo = await screen.findByTestId('demo-button');
    await waitFor(() => expect(cmds('take_opened_files')).toHaveLength(1));
    expect(screen.queryByTestId('import-dialog')).toBeNull();
    await user.click(demo);
    expect(await screen.findByTestId('import-dialog')).toBeInTheDocument();
    await waitFor(() => expect(cmds('airgap_preview')).toEqual([{ path: USAGE }]));
  });
});
