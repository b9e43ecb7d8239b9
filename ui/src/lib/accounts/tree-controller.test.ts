import { describe, expect, it, vi } from 'vitest';
import type { AccountDetail, AccountRow, ChildSort } from '$lib/bindings';
import { TreeController, type TreeDeps } from './tree-controller.svelte';
import { row } from '../../test/fixtures';

/** A fake backend over a fixed tree: root r → mid m (1,000 children c0000…c0999) and r → z. */
function backend() {
  const all = new Map<string, AccountRow>();
  const add = (r: AccountRow) => all.set(r.account_id, r);
  add(row('r', null, { child_count: 2 }));
  add(row('m', 'r', { child_count: 1000 }));
  add(row('z', 'r'));
  for (let i = 0; i < 1000; i++) add(row(`c${String(i).padStart(4, '0')}`, 'm'));
  const kids = (p: string | null) => [...all.values()].filter((r) => r.parent_id === p).sort((a, b) => a.account_id.localeCompare(b.account_id));
  const path = (id: string) => {
    const out = [];
    let cur: AccountRow | undefined = all.get(id);
    while (cur) {
      out.unshift({ id: cur.account_id, name: cur.account_name, parent_id: cur.parent_id, status: cur.status, created_at: cur.created_at });
      cur = cur.parent_id ? all.get(cur.parent_id) : undefined;
    }
    return out;
  };
  const deps: TreeDeps = {
    children: vi.fn(async (parent: string | null, _m: string, _s: ChildSort, offset: number, limit: number) => {
      const k = kids(parent);
      return { items: k.slice(offset, offset + limit), total: k.length, offset, limit };
    }),
    accountDetail: vi.fn(async (id: string): Promise<AccountDetail> => {
      const r = all.get(id);
      if (!r) throw { kind: 'not_found', message: 'No such account.' };
      return { row: r, path: path(id), pending_months: [], is_customer: false };
    }),
  };
  return { all, deps, path };
}

describe('TreeController', () => {
  it('loads the roots for a month, by name, 200 at a time', async () => {
    const { deps } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    expect(deps.children).toHaveBeenCalledWith(null, '2024-05', { by: 'name' }, 0, 200);
    expect(t.rows.map((r) => r.key)).toEqual(['r']);
  });

  it('loads children on expand and further pages on demand', async () => {
    const { deps } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    t.toggle('r');
    await t.loadPage('r');
    t.toggle('m');
    await t.loadPage('m');
    expect(t.rows).toHaveLength(1 + 1 + 200 + 1 + 1);
    const more = t.rows.find((r) => r.kind === 'more');
    expect(more).toMatchObject({ parentId: 'm', remaining: 800 });
    await t.loadPage('m');
    expect(deps.children).toHaveBeenLastCalledWith('m', '2024-05', { by: 'name' }, 200, 200);
    expect(t.state.lists.get('m')!.ids).toHaveLength(400);
  });

  it('does not load the same page twice when asked concurrently', async () => {
    const { deps } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    await Promise.all([t.loadPage('r'), t.loadPage('r')]);
    expect((deps.children as ReturnType<typeof vi.fn>).mock.calls.filter((c) => c[0] === 'r')).toHaveLength(1);
  });

  it('reveals a deep account beyond the loaded pages by pinning it', async () => {
    const { deps, all, path } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    await t.reveal({ row: all.get('c0777')!, path: path('c0777'), pending_months: [], is_customer: false });
    expect(t.state.selected).toBe('c0777');
    expect(t.state.expanded.has('r') && t.state.expanded.has('m')).toBe(true);
    const keys = t.rows.map((r) => r.key);
    expect(keys.indexOf('c0777')).toBeGreaterThan(keys.indexOf('c0199'));
    expect(t.rows.find((r) => r.key === 'c0777')).toMatchObject({ pinned: true, depth: 2 });
  });

  it('reload keeps expansion and selection, and re-reveals the selection', async () => {
    const { deps, all, path } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    await t.reveal({ row: all.get('c0500')!, path: path('c0500'), pending_months: [], is_customer: false });
    const detail = await t.reload('2024-04');
    expect(detail?.row.account_id).toBe('c0500');
    expect(t.state.selected).toBe('c0500');
    expect(t.rows.some((r) => r.key === 'c0500')).toBe(true);
    expect(deps.children).toHaveBeenCalledWith('m', '2024-04', { by: 'name' }, 0, 200);
  });

  it('drops the selection when the account is gone after a sync', async () => {
    const { deps, all, path } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    await t.reveal({ row: all.get('z')!, path: path('z'), pending_months: [], is_customer: false });
    all.delete('z');
    all.get('r')!.child_count = 1;
    const detail = await t.reload('2024-05');
    expect(detail).toBeNull();
    expect(t.state.selected).toBeNull();
  });

  it('keyboard Enter reports a selection', async () => {
    const { deps } = backend();
    const t = new TreeController(deps);
    await t.reload('2024-05');
    t.key('ArrowDown');
    const u = t.key('Enter');
    expect(u.effects).toEqual([{ type: 'select', id: 'r' }]);
    expect(t.state.selected).toBe('r');
  });

  it('ignores answers of a superseded reload', async () => {
    const { deps } = backend();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const children = deps.children;
    deps.children = vi.fn(async (...args: Parameters<TreeDeps['children']>) => {
      if (args[1] === '2024-01') await slow;
      return children(...args);
    });
    const t = new TreeController(deps);
    const first = t.reload('2024-01');
    await t.reload('2024-05');
    release();
    await first;
    expect(t.month).toBe('2024-05');
    expect(t.state.rows.get('r')).toBeDefined();
    expect(t.state.lists.get(null)!.ids).toEqual(['r']);
  });

  it('shows a load error for the roots', async () => {
    const { deps } = backend();
    deps.children = vi.fn(async () => {
      throw { kind: 'cache', message: 'The cache is damaged; clear it in Settings.' };
    });
    const t = new TreeController(deps);
    await t.reload('2024-05');
    expect(t.rootError).toBe('The cache is damaged; clear it in Settings.');
  });
});
