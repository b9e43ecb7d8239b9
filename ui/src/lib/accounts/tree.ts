// The tenant tree's state, as plain immutable data and pure functions: lazy child lists loaded
// page by page, expansion, selection, a keyboard cursor, and the flattening into the rows the
// virtual list shows. The Svelte side (tree-controller.svelte.ts) only performs the loads these
// functions ask for.
import type { AccountRow, Page } from '$lib/bindings';

export const PAGE_SIZE = 200;

/** Key of a parent in `lists`: an account id, or null for the roots. */
export type ParentKey = string | null;

export type ChildList = {
  /** ids loaded so far, in server order (pages 0..n) */
  ids: readonly string[];
  /** how many children the server has */
  total: number;
  /** has the first page arrived? */
  loaded: boolean;
  /** children revealed (e.g. by search) that are not in a loaded page yet, shown after `ids` */
  pinned: readonly string[];
  loading: boolean;
  error: string | null;
};

export type TreeState = {
  readonly rows: ReadonlyMap<string, AccountRow>;
  readonly lists: ReadonlyMap<ParentKey, ChildList>;
  readonly expanded: ReadonlySet<string>;
  /** the account shown in the details pane */
  readonly selected: string | null;
  /** key of the row the keyboard is on (see rowKey / moreKey) */
  readonly cursor: string | null;
};

export type NodeRow = {
  kind: 'node';
  key: string;
  id: string;
  parentId: ParentKey;
  depth: number;
  row: AccountRow;
  expandable: boolean;
  expanded: boolean;
  /** shown out of page order because it was revealed */
  pinned: boolean;
};
export type MoreRow = { kind: 'more'; key: string; parentId: ParentKey; depth: number; remaining: number; loading: boolean };
export type LoadingRow = { kind: 'loading'; key: string; parentId: ParentKey; depth: number };
export type ErrorRow = { kind: 'error'; key: string; parentId: ParentKey; depth: number; message: string };
export type VisibleRow = NodeRow | MoreRow | LoadingRow | ErrorRow;

export type TreeEffect =
  | { type: 'load'; parent: ParentKey }
  | { type: 'loadMore'; parent: ParentKey }
  | { type: 'select'; id: string };

export type TreeUpdate = { state: TreeState; effects: TreeEffect[]; handled: boolean };

const parentToken = (p: ParentKey) => (p === null ? '' : p);
export const moreKey = (p: ParentKey) => `\u0000more:${parentToken(p)}`;
export const loadingKey = (p: ParentKey) => `\u0000loading:${parentToken(p)}`;
export const errorKey = (p: ParentKey) => `\u0000error:${parentToken(p)}`;

export function emptyTree(): TreeState {
  return { rows: new Map(), lists: new Map(), expanded: new Set(), selected: null, cursor: null };
}

function emptyList(): ChildList {
  return { ids: [], total: 0, loaded: false, pinned: [], loading: false, error: null };
}

function withList(state: TreeState, parent: ParentKey, list: ChildList): TreeState {
  const lists = new Map(state.lists);
  lists.set(parent, list);
  return { ...state, lists };
}

/** Children still to load after the loaded pages and the pinned rows. */
export function remaining(list: ChildList): number {
  return Math.max(0, list.total - list.ids.length - list.pinned.length);
}

/** Offset of the next page to ask for, or null when everything is loaded. */
export function nextOffset(list: ChildList | undefined): number | null {
  if (!list || !list.loaded) return 0;
  return list.ids.length < list.total ? list.ids.length : null;
}

export function hasChildren(row: AccountRow): boolean {
  return row.child_count > 0;
}

export function beginLoad(state: TreeState, parent: ParentKey): TreeState {
  const list = state.lists.get(parent) ?? emptyList();
  return withList(state, parent, { ...list, loading: true, error: null });
}

export function loadFailed(state: TreeState, parent: ParentKey, message: string): TreeState {
  const list = state.lists.get(parent) ?? emptyList();
  return withList(state, parent, { ...list, loading: false, error: message });
}

/**
 * Adds a page of children. A page that does not continue the loaded ones (a stale answer) is
 * ignored; rows already known (pinned ones) are de-duplicated.
 */
export function applyPage(state: TreeState, parent: ParentKey, page: Page<AccountRow>): TreeState {
  const list = state.lists.get(parent) ?? emptyList();
  if (page.offset !== list.ids.length) return withList(state, parent, { ...list, loading: false });
  const rows = new Map(state.rows);
  const seen = new Set(list.ids);
  const ids = [...list.ids];
  for (const item of page.items) {
    rows.set(item.account_id, item);
    if (!seen.has(item.account_id)) {
      seen.add(item.account_id);
      ids.push(item.account_id);
    }
  }
  const pinned = list.pinned.filter((id) => !seen.has(id));
  const lists = new Map(state.lists);
  lists.set(parent, { ids, total: page.total, loaded: true, pinned, loading: false, error: null });
  return { ...state, rows, lists };
}

/** Replaces the data of known rows (e.g. a fresher row from account_detail). */
export function upsertRows(state: TreeState, items: readonly AccountRow[]): TreeState {
  const rows = new Map(state.rows);
  for (const r of items) rows.set(r.account_id, r);
  return { ...state, rows };
}

/** Makes `row` visible under its parent even if its page is not loaded yet. */
export function pinChild(state: TreeState, row: AccountRow): TreeState {
  const parent = row.parent_id;
  const rows = new Map(state.rows);
  rows.set(row.account_id, row);
  const list = state.lists.get(parent) ?? emptyList();
  if (list.ids.includes(row.account_id) || list.pinned.includes(row.account_id)) return { ...state, rows };
  const lists = new Map(state.lists);
  lists.set(parent, { ...list, pinned: [...list.pinned, row.account_id] });
  return { ...state, rows, lists };
}

/** Has the first page of `parent`'s children arrived? */
export function isLoaded(state: TreeState, parent: ParentKey): boolean {
  const l = state.lists.get(parent);
  return !!l && l.loaded;
}

/** Is `id` among the loaded or pinned children of `parent`? */
export function containsChild(state: TreeState, parent: ParentKey, id: string): boolean {
  const l = state.lists.get(parent);
  return !!l && (l.ids.includes(id) || l.pinned.includes(id));
}

export function expand(state: TreeState, id: string): TreeUpdate {
  const row = state.rows.get(id);
  if (!row || !hasChildren(row)) return { state, effects: [], handled: false };
  const effects: TreeEffect[] = [];
  const list = state.lists.get(id);
  if (!list || (!list.loaded && !list.loading)) effects.push({ type: 'load', parent: id });
  if (state.expanded.has(id)) return { state, effects, handled: true };
  const expanded = new Set(state.expanded);
  expanded.add(id);
  return { state: { ...state, expanded }, effects, handled: true };
}

/** Is `id` a descendant of `ancestor` according to the known rows? */
export function isDescendant(state: TreeState, id: string, ancestor: string): boolean {
  let cur = state.rows.get(id)?.parent_id ?? null;
  let guard = 0;
  while (cur !== null && guard++ < 10_000) {
    if (cur === ancestor) return true;
    cur = state.rows.get(cur)?.parent_id ?? null;
  }
  return false;
}

function cursorParent(state: TreeState, cursor: string): ParentKey | undefined {
  if (cursor.startsWith('\u0000')) {
    const tok = cursor.slice(cursor.indexOf(':') + 1);
    return tok === '' ? null : tok;
  }
  return state.rows.get(cursor)?.parent_id;
}

export function collapse(state: TreeState, id: string): TreeState {
  if (!state.expanded.has(id)) return state;
  const expanded = new Set(state.expanded);
  expanded.delete(id);
  let cursor = state.cursor;
  if (cursor !== null && cursor !== id) {
    const p = cursorParent(state, cursor);
    if (p === id || (p != null && isDescendant(state, p, id))) cursor = id;
  }
  return { ...state, expanded, cursor };
}

export function toggle(state: TreeState, id: string): TreeUpdate {
  if (state.expanded.has(id)) return { state: collapse(state, id), effects: [], handled: true };
  return expand(state, id);
}

export function select(state: TreeState, id: string | null): TreeState {
  return { ...state, selected: id, cursor: id ?? state.cursor };
}

export function setCursor(state: TreeState, key: string | null): TreeState {
  return state.cursor === key ? state : { ...state, cursor: key };
}

/**
 * Expands every ancestor on `pathIds` (root first, the target last) and selects the target.
 * The children lists must already hold each next node (loaded or pinned).
 */
export function expandPath(state: TreeState, pathIds: readonly string[]): TreeState {
  if (pathIds.length === 0) return state;
  const expanded = new Set(state.expanded);
  for (const id of pathIds.slice(0, -1)) expanded.add(id);
  const target = pathIds[pathIds.length - 1];
  return { ...state, expanded, selected: target, cursor: target };
}

/** Forgets all loaded data (new month, after a sync) but keeps expansion, selection and cursor. */
export function resetData(state: TreeState): TreeState {
  return { ...state, rows: new Map(), lists: new Map() };
}

/** The rows to show, depth first, children after their expanded parent. */
export function flatten(state: TreeState): VisibleRow[] {
  const out: VisibleRow[] = [];
  const walk = (parent: ParentKey, depth: number, guard: Set<string>) => {
    const list = state.lists.get(parent);
    if (!list) {
      if (parent !== null) out.push({ kind: 'loading', key: loadingKey(parent), parentId: parent, depth });
      return;
    }
    const emit = (id: string, pinned: boolean) => {
      const row = state.rows.get(id);
      if (!row || guard.has(id)) return;
      const expandable = hasChildren(row);
      const expanded = expandable && state.expanded.has(id);
      out.push({ kind: 'node', key: id, id, parentId: parent, depth, row, expandable, expanded, pinned });
      if (expanded) {
        guard.add(id);
        walk(id, depth + 1, guard);
        guard.delete(id);
      }
    };
    for (const id of list.ids) emit(id, false);
    for (const id of list.pinned) emit(id, true);
    if (list.error) {
      out.push({ kind: 'error', key: errorKey(parent), parentId: parent, depth, message: list.error });
    } else if (!list.loaded) {
      if (parent !== null) out.push({ kind: 'loading', key: loadingKey(parent), parentId: parent, depth });
    } else if (list.ids.length < list.total && (remaining(list) > 0 || list.loading)) {
      out.push({ kind: 'more', key: moreKey(parent), parentId: parent, depth, remaining: remaining(list), loading: list.loading });
    }
  };
  walk(null, 0, new Set());
  return out;
}

export function indexOfKey(rows: readonly VisibleRow[], key: string | null): number {
  if (key === null) return -1;
  for (let i = 0; i < rows.length; i++) if (rows[i].key === key) return i;
  return -1;
}

/** Keyboard handling of the tree (WAI-ARIA tree view pattern). */
export function treeKey(state: TreeState, rows: readonly VisibleRow[], key: string): TreeUpdate {
  const none: TreeUpdate = { state, effects: [], handled: false };
  if (rows.length === 0) return none;
  let idx = indexOfKey(rows, state.cursor);
  if (idx < 0) idx = Math.max(0, indexOfKey(rows, state.selected));
  const cur = rows[idx];
  const moveTo = (i: number): TreeUpdate => ({
    state: setCursor(state, rows[Math.min(Math.max(i, 0), rows.length - 1)].key),
    effects: [],
    handled: true,
  });
  switch (key) {
    case 'ArrowDown':
      return moveTo(state.cursor === null || indexOfKey(rows, state.cursor) < 0 ? idx : idx + 1);
    case 'ArrowUp':
      return moveTo(state.cursor === null || indexOfKey(rows, state.cursor) < 0 ? idx : idx - 1);
    case 'Home':
      return moveTo(0);
    case 'End':
      return moveTo(rows.length - 1);
    case 'ArrowRight': {
      if (cur.kind !== 'node' || !cur.expandable) return { state, effects: [], handled: true };
      if (!cur.expanded) {
        const u = expand(setCursor(state, cur.key), cur.id);
        return { ...u, handled: true };
      }
      const next = rows[idx + 1];
      if (next && next.parentId === cur.id && next.kind === 'node') return moveTo(idx + 1);
      return { state: setCursor(state, cur.key), effects: [], handled: true };
    }
    case 'ArrowLeft': {
      if (cur.kind === 'node' && cur.expanded) return { state: collapse(setCursor(state, cur.key), cur.id), effects: [], handled: true };
      if (cur.parentId === null) return { state: setCursor(state, cur.key), effects: [], handled: true };
      const p = indexOfKey(rows, cur.parentId);
      return p >= 0 ? moveTo(p) : { state, effects: [], handled: true };
    }
    case 'Enter':
    case ' ': {
      if (cur.kind === 'node') {
        return { state: select(state, cur.id), effects: [{ type: 'select', id: cur.id }], handled: true };
      }
      if (cur.kind === 'more' && !cur.loading) {
        return { state: setCursor(state, cur.key), effects: [{ type: 'loadMore', parent: cur.parentId }], handled: true };
      }
      if (cur.kind === 'error') {
        return { state: setCursor(state, cur.key), effects: [{ type: 'load', parent: cur.parentId }], handled: true };
      }
      return { state, effects: [], handled: true };
    }
    default:
      return none;
  }
}
