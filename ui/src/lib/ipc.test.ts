import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
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
      ['connect', { url: 'https://u.example.com', token: 't0k' }],
    ]);
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
});
