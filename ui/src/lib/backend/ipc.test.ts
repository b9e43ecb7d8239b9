import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import * as ipc from './ipc';

afterEach(() => clearMocks());

describe('ipc wrappers', () => {
  it('call the contract commands with its argument names', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === 'children' ? { items: [], total: 0, offset: 0, limit: 200 } : [];
    });
    await ipc.children(null, '2024-05', { by: 'subtree_total', metric: 'users_with_token' }, 400, 200);
    await ipc.accountDetail('acc-1', '2024-05').catch(() => {});
    await ipc.search('acme', 500);
    await ipc.trend('acc-1', '2024-05', 12);
    await ipc.connect('https://u.example.com', 't0k');
    expect(calls).toEqual([
      ['children', { parent: null, month: '2024-05', sort: { by: 'subtree_total', metric: 'users_with_token' }, offset: 400, limit: 200 }],
      ['account_detail', { id: 'acc-1', month: '2024-05' }],
      ['search', { text: 'acme', limit: 100 }],
      ['trend', { id: 'acc-1', to: '2024-05', count: 12 }],
      ['connect', { url: 'https://u.example.com', token: 't0k', force: false }],
    ]);
  });

  it('call the export commands and the save dialog', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === 'plugin:dialog|save' ? '/home/me/usage.csv' : null;
    });
    const request = { report: 'usage' as const, account_id: 'acc-1', scope: 'tree' as const, from: '2024-01', to: '2024-06' };
    await ipc.exportPreview(request);
    expect(await ipc.chooseSavePath('usage-acc-1-tree-2024-01_2024-06.csv')).toBe('/home/me/usage.csv');
    await ipc.exportCsv(request, '/home/me/usage.csv');
    await ipc.cancelExport();
    expect(calls).toEqual([
      ['export_preview', { request }],
      ['plugin:dialog|save', { options: { defaultPath: 'usage-acc-1-tree-2024-01_2024-06.csv', filters: [{ name: 'CSV', extensions: ['csv'] }] } }],
      ['export_csv', { request, path: '/home/me/usage.csv' }],
      ['cancel_export', {}],
    ]);
  });

  it('call the customer reporting commands with their argument names', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return null;
    });
    const filter = { text: 'acme', license_type: 'trial' as const, expiring_within_days: 30, not_ready: true, reporting_overdue: false };
    await ipc.customers(filter, 'expiry', 200, 100);
    await ipc.customerCounts();
    await ipc.customer('acc-1');
    await ipc.customerInstances('acc-1', 20, 20);
    await ipc.installAttempts('acc-1', 0, 10);
    await ipc.instanceDetail('2bQyU1X8kdWv');
    await ipc.instanceEvents('2bQyU1X8kdWv', 50, 50);
    expect(calls).toEqual([
      ['customers', { filter, sort: 'expiry', offset: 200, limit: 100 }],
      ['customer_counts', {}],
      ['customer', { accountId: 'acc-1' }],
      ['customer_instances', { accountId: 'acc-1', offset: 20, limit: 20 }],
      ['install_attempts', { accountId: 'acc-1', offset: 0, limit: 10 }],
      ['instance_detail', { instanceId: '2bQyU1X8kdWv' }],
      ['instance_events', { instanceId: '2bQyU1X8kdWv', offset: 50, limit: 50 }],
    ]);
  });

  it('resolve the save dialog to null when the user cancels it', async () => {
    mockIPC(() => null);
    expect(await ipc.chooseSavePath('x.csv')).toBeNull();
  });

  it('reject export failures with their kind, io included', async () => {
    mockIPC(() => {
      throw { kind: 'io', message: 'cannot write /ro/x.csv: Permission denied' };
    });
    await expect(ipc.exportCsv({ report: 'usage', account_id: 'a', scope: 'self', from: '2024-01', to: '2024-01' }, '/ro/x.csv')).rejects.toEqual({
      kind: 'io',
      message: 'cannot write /ro/x.csv: Permission denied',
    });
    await expect(ipc.chooseSavePath('x.csv')).rejects.toHaveProperty('kind', 'io');
  });

  it('reject with the AppError the shell sent', async () => {
    mockIPC(() => {
      throw { kind: 'offline', message: 'Check your network.' };
    });
    await expect(ipc.syncNow()).rejects.toEqual({ kind: 'offline', message: 'Check your network.' });
  });

  it('turn anything else into an internal AppError', async () => {
    mockIPC(() => {
      throw 'command sync_now not found';
    });
    const err = await ipc.syncNow().catch((e) => e);
    expect(ipc.isAppError(err)).toBe(true);
    expect(err).toEqual({ kind: 'internal', message: 'command sync_now not found' });
  });

  it('deliver event payloads to listeners', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen: unknown[] = [];
    const un = await ipc.onSyncProgress((p) => seen.push(p));
    const { emit } = await import('@tauri-apps/api/event');
    await emit(ipc.EVENTS.progress, { phase: 'downloading', rows_done: 5, rows_total: 10, pages: 1 });
    un();
    await emit(ipc.EVENTS.progress, { phase: 'done', rows_done: 10, rows_total: 10, pages: 1 });
    expect(seen).toEqual([{ phase: 'downloading', rows_done: 5, rows_total: 10, pages: 1 }]);
  });

  it('deliver export progress to listeners', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen: unknown[] = [];
    const un = await ipc.onExportProgress((p) => seen.push(p));
    const { emit } = await import('@tauri-apps/api/event');
    await emit('export://progress', { written: 8192, total: 20000 });
    un();
    await emit('export://progress', { written: 16384, total: 20000 });
    expect(seen).toEqual([{ written: 8192, total: 20000 }]);
  });

  it('call the air-gap commands with camelCase argument names', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === 'plugin:dialog|save' ? '/home/me/a.usagedesk-synckey' : null;
    });
    const query = { kind: 'airgapped', overdue_only: false, text: null, sort: 'status', descending: false, offset: 0, limit: 9999 } as const;
    await ipc.airgapInstances(query);
    await ipc.airgapOverdueCount();
    await ipc.airgapLedger({ instance: null, kept_only: false, offset: 0, limit: 50 });
    await ipc.airgapLedger({ instance: 'inst-a', kept_only: true, offset: 50, limit: 50 });
    await ipc.airgapRetry(7);
    await ipc.airgapDiscard(8);
    await ipc.airgapIssueSyncKey('inst-a', 30, '/home/me/a.usagedesk-synckey');
    await ipc.airgapPreview('/home/me/a.usagedata');
    await ipc.airgapImport('/home/me/a.usagedata', '/home/me/a.usagedesk-verification');
    await ipc.airgapSaveDocument(7, '/home/me/b.usagedesk-verification');
    await ipc.chooseSavePath('inst-a-20250101.usagedesk-synckey', { name: 'Sync key', extensions: ['usagedesk-synckey'] });
    expect(calls).toEqual([
      ['airgap_instances', { query: { ...query, limit: ipc.MAX_AIRGAP_PAGE } }],
      ['airgap_overdue_count', {}],
      ['airgap_ledger', { query: { instance: null, kept_only: false, offset: 0, limit: 50 } }],
      ['airgap_ledger', { query: { instance: 'inst-a', kept_only: true, offset: 50, limit: 50 } }],
      ['airgap_retry', { ledgerId: 7 }],
      ['airgap_discard', { ledgerId: 8 }],
      ['airgap_issue_sync_key', { instanceId: 'inst-a', validDays: 30, path: '/home/me/a.usagedesk-synckey' }],
      ['airgap_preview', { path: '/home/me/a.usagedata' }],
      ['airgap_import', { path: '/home/me/a.usagedata', verificationPath: '/home/me/a.usagedesk-verification' }],
      ['airgap_save_document', { ledgerId: 7, path: '/home/me/b.usagedesk-verification' }],
      ['plugin:dialog|save', { options: { defaultPath: 'inst-a-20250101.usagedesk-synckey', filters: [{ name: 'Sync key', extensions: ['usagedesk-synckey'] }] } }],
    ]);
  });

  it('reject air-gap refusals with their kind', async () => {
    mockIPC(() => {
      throw { kind: 'file_refused', message: 'the sync key expired on 2025-01-01 00:00:00 UTC: issue a new sync key' };
    });
    await expect(ipc.airgapPreview('/x')).rejects.toEqual({ kind: 'file_refused', message: 'the sync key expired on 2025-01-01 00:00:00 UTC: issue a new sync key' });
  });

  it('deliver dropped paths and the drag hover state from the window', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    mockWindows('main');
    const drops: string[][] = [];
    const hovers: string[] = [];
    const un = await ipc.onFileDrop(
      (paths) => drops.push(paths),
      (h) => hovers.push(h),
    );
    const { emit } = await import('@tauri-apps/api/event');
    const position = { x: 1, y: 2 };
    await emit('tauri://drag-enter', { paths: ['/a'], position });
    await emit('tauri://drag-over', { position });
    await emit('tauri://drag-leave', null);
    await emit('tauri://drag-enter', { paths: ['/a', '/b'], position });
    await emit('tauri://drag-drop', { paths: ['/a', '/b'], position });
    expect(hovers).toEqual(['enter', 'over', 'leave', 'enter']);
    expect(drops).toEqual([['/a', '/b']]);
    un();
    await new Promise((r) => setTimeout(r, 0));
    await emit('tauri://drag-drop', { paths: ['/c'], position });
    expect(drops).toHaveLength(1);
  });

  it('reject with an AppError when the window cannot be listened to', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    // no window metadata: not inside Tauri
    delete (window as unknown as { __TAURI_INTERNALS__: { metadata?: unknown } }).__TAURI_INTERNALS__.metadata;
    await expect(ipc.onFileDrop(() => {})).rejects.toHaveProperty('kind', 'internal');
  });
});
