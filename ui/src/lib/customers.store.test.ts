import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { CustomersStore, SEARCH_DEBOUNCE_MS } from './customers.svelte';
import type { CustomerFilter, CustomerSummary } from '$lib/bindings';

afterEach(() => {
  clearMocks();
  vi.useRealTimers();
});

function summary(id: string): CustomerSummary {
  return {
    account_id: id,
    account_name: id.toUpperCase(),
    licenses: [],
    expires_at: null,
    expired: false,
    instances: 0,
    not_ready: 0,
    inactive: 0,
    reporting_overdue: false,
    worst_status: null,
  };
}

/** A backend whose `customers` answers wait for release(i), with one customer per call named after its filter. */
function heldBackend() {
  const calls: CustomerFilter[] = [];
  const pending: (() => void)[] = [];
  mockIPC(async (cmd, args) => {
    if (cmd !== 'customers') throw `command ${cmd} not found`;
    const filter = (args as { filter: CustomerFilter }).filter;
    calls.push(filter);
    await new Promise<void>((r) => pending.push(r));
    return [summary(filter.not_ready ? 'not-ready' : filter.text ?? 'all')];
  });
  return { calls, release: (i: number) => pending[i]?.(), flush: () => new Promise((r) => setTimeout(r, 0)) };
}

describe('CustomersStore', () => {
  it('keeps the answer of the latest filter, whatever order the answers come in', async () => {
    const b = heldBackend();
    const store = new CustomersStore();
    const first = store.load();
    store.setFilter({ notReady: true });
    await b.flush();
    expect(b.calls.map((f) => f.not_ready)).toEqual([false, true]);
    b.release(1);
    await b.flush();
    b.release(0);
    await first;
    await b.flush();
    expect(store.list.map((c) => c.account_id)).toEqual(['not-ready']);
    expect(store.loading).toBe(false);
  });

  it('asks again when a filter is changed back while its change is on its way', async () => {
    const b = heldBackend();
    const store = new CustomersStore();
    void store.load();
    await b.flush();
    b.release(0);
    await b.flush();
    store.setFilter({ notReady: true });
    store.setFilter({ notReady: false });
    await b.flush();
    expect(b.calls.map((f) => f.not_ready)).toEqual([false, true, false]);
    b.release(1);
    b.release(2);
    await b.flush();
    expect(store.list.map((c) => c.account_id)).toEqual(['all']);
    // the same filter again asks nothing
    store.setFilter({ text: '  ' });
    await b.flush();
    expect(b.calls).toHaveLength(3);
  });

  it('waits for a pause in typing before asking', async () => {
    vi.useFakeTimers();
    const calls: CustomerFilter[] = [];
    mockIPC((_cmd, args) => {
      calls.push((args as { filter: CustomerFilter }).filter);
      return [];
    });
    const store = new CustomersStore();
    store.setFilter({ text: 'a' }, true);
    store.setFilter({ text: 'ac' }, true);
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS - 1);
    store.setFilter({ text: 'acm' }, true);
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS - 1);
    expect(calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    await vi.waitFor(() => expect(calls.map((f) => f.text)).toEqual(['acm']));
    store.dispose();
  });

  it('learns which accounts are customers from an unfiltered list, once', async () => {
    const calls: CustomerFilter[] = [];
    mockIPC((_cmd, args) => {
      calls.push((args as { filter: CustomerFilter }).filter);
      return [summary('a'), summary('b')];
    });
    const store = new CustomersStore();
    expect(store.isCustomer('a')).toBe(false);
    // asked twice while the answer is on its way: one call
    await Promise.all([store.ensureKnown(), store.ensureKnown()]);
    await store.ensureKnown();
    expect(calls).toHaveLength(1);
    expect(store.isCustomer('a')).toBe(true);
    expect(store.isCustomer('zz')).toBe(false);
    // a filtered list does not change it
    store.setFilter({ text: 'zz' });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(store.isCustomer('b')).toBe(true);
  });

  it('treats a failing list as no customers for the link', async () => {
    mockIPC(() => Promise.reject({ kind: 'cache', message: 'broken' }));
    const store = new CustomersStore();
    await store.ensureKnown();
    expect(store.known?.size).toBe(0);
    await store.load();
    expect(store.loadError).toEqual({ kind: 'cache', message: 'broken' });
    expect(store.loaded).toBe(true);
  });
});
