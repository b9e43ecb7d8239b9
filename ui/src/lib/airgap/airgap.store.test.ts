// The Air-gapped store pages the instance list at the shell and starts over when the data
// changed between two pages, so what it shows never holds a row twice or misses one.
import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import type { InstanceQuery, InstanceView } from '$lib/bindings';
import { AirgapStore, INSTANCE_PAGE, pagesFor } from './airgap.svelte';
import { pageInstances } from '../../fake/airgap-paging';
import { instanceView } from '../../test/fake';

afterEach(() => clearMocks());

function many(n: number, prefix = 'i'): InstanceView[] {
  return Array.from({ length: n }, (_, k) => instanceView(`${prefix}-${String(k).padStart(5, '0')}`));
}

/** A shell over `list` (changed by the test), counting the pages asked. */
function shell(list: { rows: InstanceView[]; generation: number }) {
  const asked: InstanceQuery[] = [];
  mockIPC((cmd, args) => {
    const a = args as { query: InstanceQuery };
    if (cmd === 'airgap_instances') {
      asked.push(a.query);
      return pageInstances(list.rows, a.query, `g${list.generation}`);
    }
    if (cmd === 'airgap_overdue_count') return 0;
    if (cmd === 'airgap_ledger') return { items: [], total: 0, offset: 0, generation: 'g' };
    return null;
  });
  return asked;
}

describe('pagesFor', () => {
  it('names the pages that hold a range of rows', () => {
    expect(pagesFor(0, 100, 100)).toEqual([0]);
    expect(pagesFor(95, 205, 100)).toEqual([0, 1, 2]);
    expect(pagesFor(200, 200, 100)).toEqual([]);
  });
});

describe('AirgapStore paging', () => {
  it('asks only for the pages on screen, never the whole list', async () => {
    const data = { rows: many(100_000), generation: 1 };
    const asked = shell(data);
    const store = new AirgapStore();
    await store.refresh();
    expect(store.total).toBe(100_000);
    const listPages = () => asked.filter((q) => q.limit === INSTANCE_PAGE);
    expect(listPages().map((q) => q.offset)).toEqual([0]);
    await store.show(50_010, 50_040);
    expect(listPages().map((q) => q.offset)).toEqual([0, 50_000]);
    expect(store.rows.get(50_020)?.instance.id).toBe('i-50020');
    expect(Math.max(...asked.map((q) => q.limit))).toBeLessThanOrEqual(INSTANCE_PAGE);
  });

  it('finishes a first load that the view, opening meanwhile, asked rows of', async () => {
    // The view mounts while its first refresh is in flight and reports what is on screen:
    // that belongs to the same list, so the refresh still ends loaded, its counts read and
    // its first instance selected (with a token of its own the view stayed on its skeleton).
    shell({ rows: many(250), generation: 1 });
    const store = new AirgapStore();
    const refreshing = store.refresh();
    void store.show(0, 0);
    await refreshing;
    expect(store.loaded).toBe(true);
    expect(store.total).toBe(250);
    expect(store.airgappedTotal).toBe(250);
    expect(store.selected).toBe('i-00000');
  });

  it('after a change, reads the list again only once its view was opened; the badge always', async () => {
    const asked = shell({ rows: many(250), generation: 1 });
    const store = new AirgapStore();
    const listPages = () => asked.filter((q) => q.limit === INSTANCE_PAGE).length;
    await store.refreshIfOpened();
    expect(listPages()).toBe(0);
    expect(store.airgappedTotal).toBe(250);
    await store.refresh();
    expect(listPages()).toBe(1);
    await store.refreshIfOpened();
    expect(listPages()).toBe(2);
  });

  it('starts over when a sync lands between two pages: no row twice, none missing', async () => {
    const data = { rows: many(250), generation: 1 };
    shell(data);
    const store = new AirgapStore();
    await store.refresh();
    // A sync adds instances that sort before everything loaded so far.
    data.rows = [...many(30, 'a'), ...data.rows];
    data.generation = 2;
    await store.show(100, 300);
    await new Promise((r) => setTimeout(r, 0));
    await store.show(0, 300);
    const shown = [...store.rows.entries()].sort(([x], [y]) => x - y).map(([, v]) => v.instance.id);
    const want = pageInstances(data.rows, { kind: 'all', overdue_only: false, text: null, sort: 'status', descending: false, offset: 0, limit: 1000 }, 'g').items.map((v) => v.instance.id);
    expect(store.total).toBe(280);
    expect(shown).toEqual(want.slice(0, shown.length));
    expect(new Set(shown).size).toBe(shown.length);
    expect(shown.length).toBe(280);
  });

  it('sends the filter, search and sort to the shell and starts from the top', async () => {
    const data = { rows: [...many(5), instanceView('zz-late', { overdue: true }), instanceView('online', { instance: { airgapped: false } })], generation: 1 };
    const asked = shell(data);
    const store = new AirgapStore();
    await store.refresh();
    await store.setFilter({ kind: 'airgapped', overdueOnly: true, text: ' zz ', sort: 'last_exchange', descending: true });
    const q = asked.filter((x) => x.limit === INSTANCE_PAGE).at(-1)!;
    expect(q).toMatchObject({ kind: 'airgapped', overdue_only: true, text: 'zz', sort: 'last_exchange', descending: true, offset: 0 });
    expect(store.total).toBe(1);
    expect(store.rows.get(0)?.instance.id).toBe('zz-late');
  });
});
