import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { CustomersStore, LIST_PAGE, SEARCH_DEBOUNCE_MS } from './customers.svelte';
import type { CustomerFilter, CustomerSummary, Page } from '$lib/bindings';

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

type Args = { filter: CustomerFilter; sort: string; offset: number; limit: number };

function page(items: CustomerSummary[], a: Args, total = items.length): Page<CustomerSummary> {
  return { items, total, offset: a.offset, limit: a.limit };
}

/** A backend whose `customers` answers wait for release(i), with one customer per call named after its filter. */
function heldBackend() {
  const calls: Args[] = [];
  const pending: (() => void)[] = [];
  mockIPC(async (cmd, args) => {
    if (cmd !== 'customers') throw `command ${cmd} not found`;
    const a = args as Args;
    calls.push(a);
    await new Promise<void>((r) => pending.push(r));
    return page([summary(a.filter.not_ready ? 'not-ready' : (a.filter.text ?? 'all'))], a);
  });
  return { calls, release: (i: number) => pending[i]?.(), flush: () => new Promise((r) => setTimeout(r, 0)) };
}

const rows = (store: CustomersStore) => Array.from({ length: store.total ?? 0 }, (_, i) => store.row(i)?.account_id);

describe('CustomersStore', () => {
  it('keeps the answer of the latest filter, whatever order the answers come in', async () => {
    const b = heldBackend();
    const store = new CustomersStore();
    const first = store.load();
    store.setFilter({ notReady: true });
    await b.flush();
    expect(b.calls.map((a) => a.filter.not_ready)).toEqual([false, true]);
    b.release(1);
    await b.flush();
    b.release(0);
    await first;
    await b.flush();
    expect(rows(store)).toEqual(['not-ready']);
    expect(store.stale).toBe(false);
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
    expect(b.calls.map((a) => a.filter.not_ready)).toEqual([false, true, false]);
    b.release(1);
    b.release(2);
    await b.flush();
    expect(rows(store)).toEqual(['all']);
    // the same filter again asks nothing
    store.setFilter({ text: '  ' });
    await b.flush();
    expect(b.calls).toHaveLength(3);
  });

  it('waits for a pause in typing before asking', async () => {
    vi.useFakeTimers();
    const calls: CustomerFilter[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== 'customers') return { customers: 0, not_ready: 0, reporting_overdue: 0, expired: 0 };
      calls.push((args as Args).filter);
      return page([], args as Args);
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

  it('asks only for the pages the viewport shows, with the sort chosen', async () => {
    const all = Array.from({ length: 1234 }, (_, i) => summary(`c${String(i).padStart(4, '0')}`));
    const calls: Args[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== 'customers') return { customers: 1234, not_ready: 0, reporting_overdue: 0, expired: 0 };
      const a = args as Args;
      calls.push(a);
      return page(all.slice(a.offset, a.offset + a.limit), a, all.length);
    });
    const store = new CustomersStore();
    store.showRows(0, 30);
    await store.load();
    expect(calls.map((a) => [a.offset, a.limit, a.sort])).toEqual([[0, LIST_PAGE, 'name']]);
    expect(store.total).toBe(1234);
    expect(store.row(29)?.account_id).toBe('c0029');
    // scrolled far down: only the page of those rows
    store.showRows(1000, 1030);
    await vi.waitFor(() => expect(store.row(1029)?.account_id).toBe('c1029'));
    expect(calls.map((a) => a.offset)).toEqual([0, 1000]);
    // straddling two pages: the missing one
    store.showRows(990, 1010);
    await vi.waitFor(() => expect(store.row(990)?.account_id).toBe('c0990'));
    expect(calls.map((a) => a.offset)).toEqual([0, 1000, 900]);
    store.setSort('attention');
    await vi.waitFor(() => expect(calls.at(-1)?.sort).toBe('attention'));
    expect(calls.at(-1)?.offset).toBe(0);
  });

  it('after a sync, shows the visible rows of the new state together', async () => {
    let all = Array.from({ length: 250 }, (_, i) => summary(`c${String(i).padStart(3, '0')}`));
    const hold: (() => void)[] = [];
    let holding = false;
    mockIPC(async (cmd, args) => {
      if (cmd !== 'customers') return { customers: all.length, not_ready: 0, reporting_overdue: 0, expired: 0 };
      const a = args as Args;
      const items = all.slice(a.offset, a.offset + a.limit);
      const total = all.length;
      if (holding) await new Promise<void>((r) => hold.push(r));
      return page(items, a, total);
    });
    const store = new CustomersStore();
    store.showRows(90, 110);
    await store.load();
    store.showRows(90, 110);
    await vi.waitFor(() => expect(store.row(105)?.account_id).toBe('c105'));
    // a sync adds a customer at the top: every row moves down by one
    all = [summary('a-new'), ...all];
    holding = true;
    const done = store.refresh();
    await new Promise((r) => setTimeout(r, 0));
    expect(hold).toHaveLength(2);
    hold[1]();
    await new Promise((r) => setTimeout(r, 0));
    // one page of the new state arrived: still the old rows on both sides of the boundary
    expect([store.row(99)?.account_id, store.row(100)?.account_id]).toEqual(['c099', 'c100']);
    expect(store.stale).toBe(true);
    hold[0]();
    await done;
    expect([store.row(99)?.account_id, store.row(100)?.account_id]).toEqual(['c098', 'c099']);
    expect(store.total).toBe(251);
    expect(store.stale).toBe(false);
  });

  it('shows an error of the list and a total once answered', async () => {
    mockIPC(() => Promise.reject({ kind: 'cache', message: 'broken' }));
    const store = new CustomersStore();
    await store.load();
    expect(store.loadError).toEqual({ kind: 'cache', message: 'broken' });
    expect(store.loaded).toBe(true);
  });
});
