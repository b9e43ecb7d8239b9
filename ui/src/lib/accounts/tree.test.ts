import { describe, expect, it } from 'vitest';
import {
  applyPage,
  beginLoad,
  collapse,
  emptyTree,
  expand,
  expandPath,
  flatten,
  isLoaded,
  loadFailed,
  moreKey,
  nextOffset,
  pinChild,
  remaining,
  resetData,
  select,
  setCursor,
  toggle,
  treeKey,
  type TreeState,
} from './tree';
import { page, row } from '../../test/fixtures';

/** roots a (2 children: a1, a2) and b (no children); a1 has 1 child a1x. */
function sample(): TreeState {
  let s = emptyTree();
  s = applyPage(s, null, page([row('a', null, { child_count: 2 }), row('b', null)], 2));
  s = applyPage(s, 'a', page([row('a1', 'a', { child_count: 1 }), row('a2', 'a')], 2));
  s = applyPage(s, 'a1', page([row('a1x', 'a1')], 1));
  return s;
}

const keys = (s: TreeState) => flatten(s).map((r) => (r.kind === 'node' ? `${'  '.repeat(r.depth)}${r.id}` : `${'  '.repeat(r.depth)}[${r.kind}]`));

describe('flatten', () => {
  it('shows only roots until something is expanded', () => {
    expect(keys(sample())).toEqual(['a', 'b']);
  });
  it('shows children of expanded nodes, depth first', () => {
    let s = sample();
    s = expand(s, 'a').state;
    s = expand(s, 'a1').state;
    expect(keys(s)).toEqual(['a', '  a1', '    a1x', '  a2', 'b']);
    const a1 = flatten(s)[1];
    expect(a1).toMatchObject({ kind: 'node', expandable: true, expanded: true, parentId: 'a', depth: 1 });
  });
  it('hides grandchildren when their parent collapses, and keeps their expansion', () => {
    let s = sample();
    s = expand(s, 'a').state;
    s = expand(s, 'a1').state;
    s = collapse(s, 'a');
    expect(keys(s)).toEqual(['a', 'b']);
    s = expand(s, 'a').state;
    expect(keys(s)).toEqual(['a', '  a1', '    a1x', '  a2', 'b']);
  });
  it('shows a loading row for an expanded node whose children are on the way', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('a', null, { child_count: 3 })], 1));
    const u = expand(s, 'a');
    expect(u.effects).toEqual([{ type: 'load', parent: 'a' }]);
    s = beginLoad(u.state, 'a');
    expect(keys(s)).toEqual(['a', '  [loading]']);
  });
  it('shows an error row when loading children failed', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('a', null, { child_count: 3 })], 1));
    s = expand(s, 'a').state;
    s = loadFailed(beginLoad(s, 'a'), 'a', 'The cache is busy.');
    const rows = flatten(s);
    expect(rows[1]).toMatchObject({ kind: 'error', message: 'The cache is busy.' });
  });
});

describe('load-more bookkeeping', () => {
  const kids = (from: number, n: number) => Array.from({ length: n }, (_, i) => row(`c${String(from + i).padStart(4, '0')}`, 'p'));
  function big(): TreeState {
    let s = emptyTree();
    s = applyPage(s, null, page([row('p', null, { child_count: 8000 })], 1));
    s = expand(s, 'p').state;
    return applyPage(beginLoad(s, 'p'), 'p', page(kids(0, 200), 8000, 0));
  }
  it('shows a Load more row with the count left', () => {
    const s = big();
    const rows = flatten(s);
    expect(rows).toHaveLength(1 + 200 + 1);
    expect(rows[rows.length - 1]).toMatchObject({ kind: 'more', parentId: 'p', remaining: 7800, depth: 1 });
    expect(nextOffset(s.lists.get('p'))).toBe(200);
  });
  it('appends the next page in order', () => {
    let s = big();
    s = applyPage(beginLoad(s, 'p'), 'p', page(kids(200, 200), 8000, 200));
    expect(s.lists.get('p')!.ids).toHaveLength(400);
    expect(s.lists.get('p')!.ids[200]).toBe('c0200');
    expect(remaining(s.lists.get('p')!)).toBe(7600);
  });
  it('ignores a stale page that does not continue the list', () => {
    let s = big();
    s = applyPage(s, 'p', page(kids(0, 200), 8000, 0));
    expect(s.lists.get('p')!.ids).toHaveLength(200);
  });
  it('stops offering more once everything is loaded', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('p', null, { child_count: 3 })], 1));
    s = expand(s, 'p').state;
    s = applyPage(s, 'p', page([row('x', 'p'), row('y', 'p')], 3, 0));
    expect(flatten(s).at(-1)).toMatchObject({ kind: 'more', remaining: 1 });
    s = applyPage(s, 'p', page([row('z', 'p')], 3, 2));
    expect(flatten(s).some((r) => r.kind === 'more')).toBe(false);
    expect(nextOffset(s.lists.get('p'))).toBeNull();
  });
  it('a list flagged loading reports the more row as loading', () => {
    const s = beginLoad(big(), 'p');
    expect(flatten(s).at(-1)).toMatchObject({ kind: 'more', loading: true });
  });
});

describe('pinning and expanding to a path', () => {
  it('pins a revealed child after the loaded page and de-duplicates it when its page arrives', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('p', null, { child_count: 500 })], 1));
    s = applyPage(s, 'p', page([row('c000', 'p'), row('c001', 'p')], 500, 0));
    s = pinChild(s, row('c450', 'p', { child_count: 2 }));
    s = expandPath(s, ['p', 'c450']);
    const rows = flatten(s);
    expect(rows.map((r) => r.key)).toEqual(['p', 'c000', 'c001', 'c450', moreKey('p')]);
    expect(rows[3]).toMatchObject({ pinned: true });
    expect(rows[4]).toMatchObject({ remaining: 497 });
    expect(s.selected).toBe('c450');
    expect(s.cursor).toBe('c450');
    s = applyPage(s, 'p', page([row('c450', 'p', { child_count: 2 })], 500, 2));
    expect(s.lists.get('p')!.pinned).toEqual([]);
    expect(flatten(s).filter((r) => r.key === 'c450')).toHaveLength(1);
  });
  it('pinning a child that is already loaded changes nothing but its data', () => {
    let s = sample();
    s = pinChild(s, row('a2', 'a', { account_name: 'Renamed' }));
    expect(s.lists.get('a')!.pinned).toEqual([]);
    expect(s.rows.get('a2')!.account_name).toBe('Renamed');
  });
  it('expands every ancestor', () => {
    const s = expandPath(sample(), ['a', 'a1', 'a1x']);
    expect([...s.expanded].sort()).toEqual(['a', 'a1']);
    expect(keys(s)).toEqual(['a', '  a1', '    a1x', '  a2', 'b']);
  });
  it('a reset keeps expansion and selection but drops data', () => {
    let s = expandPath(sample(), ['a', 'a1']);
    s = resetData(s);
    expect(s.rows.size).toBe(0);
    expect(isLoaded(s, null)).toBe(false);
    expect(s.selected).toBe('a1');
    expect(s.expanded.has('a')).toBe(true);
  });
  it('a list made only by pinning is not considered loaded', () => {
    let s = emptyTree();
    s = pinChild(s, row('x', null));
    expect(isLoaded(s, null)).toBe(false);
    expect(nextOffset(s.lists.get(null))).toBe(0);
  });
});

describe('expand / collapse', () => {
  it('does not expand a leaf', () => {
    const u = expand(sample(), 'b');
    expect(u.handled).toBe(false);
    expect(u.state.expanded.size).toBe(0);
  });
  it('does not reload children that are loaded', () => {
    expect(expand(sample(), 'a').effects).toEqual([]);
  });
  it('toggle flips', () => {
    let s = toggle(sample(), 'a').state;
    expect(s.expanded.has('a')).toBe(true);
    s = toggle(s, 'a').state;
    expect(s.expanded.has('a')).toBe(false);
  });
  it('collapsing moves a cursor inside the subtree to the collapsed node', () => {
    let s = expandPath(sample(), ['a', 'a1', 'a1x']);
    s = collapse(s, 'a');
    expect(s.cursor).toBe('a');
    expect(s.selected).toBe('a1x');
  });
  it('collapsing leaves a cursor elsewhere alone', () => {
    let s = expand(sample(), 'a').state;
    s = setCursor(s, 'b');
    s = collapse(s, 'a');
    expect(s.cursor).toBe('b');
  });
});

describe('keyboard navigation', () => {
  const open = () => {
    let s = sample();
    s = expand(s, 'a').state;
    s = expand(s, 'a1').state;
    return s; // a, a1, a1x, a2, b
  };
  const press = (s: TreeState, ...ks: string[]) => {
    for (const k of ks) s = treeKey(s, flatten(s), k).state;
    return s;
  };
  it('Down/Up move the cursor and stop at the ends', () => {
    let s = setCursor(open(), 'a');
    s = press(s, 'ArrowDown', 'ArrowDown');
    expect(s.cursor).toBe('a1x');
    s = press(s, 'ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowDown');
    expect(s.cursor).toBe('b');
    s = press(s, 'ArrowUp');
    expect(s.cursor).toBe('a2');
    s = press(s, 'Home');
    expect(s.cursor).toBe('a');
    s = press(s, 'ArrowUp');
    expect(s.cursor).toBe('a');
    s = press(s, 'End');
    expect(s.cursor).toBe('b');
  });
  it('the first Down without a cursor lands on the first row', () => {
    expect(press(sample(), 'ArrowDown').cursor).toBe('a');
  });
  it('starts from the selection when there is no cursor', () => {
    let s = open();
    s = { ...s, selected: 'a2', cursor: null };
    expect(press(s, 'ArrowDown').cursor).toBe('a2');
  });
  it('Right expands a collapsed node, then goes to its first child', () => {
    let s = setCursor(sample(), 'a');
    const u = treeKey(s, flatten(s), 'ArrowRight');
    expect(u.state.expanded.has('a')).toBe(true);
    expect(u.state.cursor).toBe('a');
    s = press(u.state, 'ArrowRight');
    expect(s.cursor).toBe('a1');
  });
  it('Right on an unloaded node asks for its children', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('a', null, { child_count: 5 })], 1));
    s = setCursor(s, 'a');
    const u = treeKey(s, flatten(s), 'ArrowRight');
    expect(u.effects).toEqual([{ type: 'load', parent: 'a' }]);
  });
  it('Right on a leaf does nothing', () => {
    const s = setCursor(sample(), 'b');
    const u = treeKey(s, flatten(s), 'ArrowRight');
    expect(u.state.cursor).toBe('b');
    expect(u.state.expanded.size).toBe(0);
  });
  it('Left collapses an expanded node, else goes to the parent', () => {
    let s = setCursor(open(), 'a1x');
    s = press(s, 'ArrowLeft');
    expect(s.cursor).toBe('a1');
    s = press(s, 'ArrowLeft');
    expect(s.expanded.has('a1')).toBe(false);
    expect(s.cursor).toBe('a1');
    s = press(s, 'ArrowLeft');
    expect(s.cursor).toBe('a');
    s = press(s, 'ArrowLeft');
    expect(s.expanded.has('a')).toBe(false);
  });
  it('Enter selects the node under the cursor', () => {
    const s = setCursor(open(), 'a2');
    const u = treeKey(s, flatten(s), 'Enter');
    expect(u.state.selected).toBe('a2');
    expect(u.effects).toEqual([{ type: 'select', id: 'a2' }]);
  });
  it('Enter on a Load more row loads the next page', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('x', null), row('y', null)], 300));
    s = setCursor(s, 'y');
    s = press(s, 'ArrowDown');
    expect(s.cursor).toBe(moreKey(null));
    const u = treeKey(s, flatten(s), 'Enter');
    expect(u.effects).toEqual([{ type: 'loadMore', parent: null }]);
  });
  it('Left on a Load more row goes to its parent', () => {
    let s = emptyTree();
    s = applyPage(s, null, page([row('p', null, { child_count: 900 })], 1));
    s = expand(s, 'p').state;
    s = applyPage(s, 'p', page([row('c1', 'p')], 900));
    s = setCursor(s, moreKey('p'));
    expect(press(s, 'ArrowLeft').cursor).toBe('p');
  });
  it('ignores other keys', () => {
    const s = setCursor(open(), 'a');
    expect(treeKey(s, flatten(s), 'x').handled).toBe(false);
  });
  it('select keeps the cursor in step', () => {
    const s = select(open(), 'a2');
    expect(s.cursor).toBe('a2');
  });
});
