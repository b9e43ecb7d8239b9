// Drives the pure tree state (tree.ts) with the IPC calls it needs.
import type { AccountDetail, AccountRow, ChildSort, Page, YearMonth } from '$lib/bindings';
import { toAppError } from '../backend/errors';
import {
  PAGE_SIZE,
  applyPage,
  beginLoad,
  containsChild,
  emptyTree,
  expandPath,
  flatten,
  isLoaded,
  loadFailed,
  nextOffset,
  pinChild,
  resetData,
  select,
  setCursor,
  toggle,
  treeKey,
  upsertRows,
  type ParentKey,
  type TreeEffect,
  type TreeState,
  type TreeUpdate,
} from './tree';

export type TreeDeps = {
  children(parent: string | null, month: YearMonth, sort: ChildSort, offset: number, limit: number): Promise<Page<AccountRow>>;
  accountDetail(id: string, month: YearMonth): Promise<AccountDetail>;
};

const BY_NAME: ChildSort = { by: 'name' };

export class TreeController {
  state = $state.raw<TreeState>(emptyTree());
  rows = $derived(flatten(this.state));
  month: YearMonth | null = null;
  /** error loading the roots */
  rootError = $state<string | null>(null);
  private generation = 0;
  private inflight = new Map<ParentKey, Promise<void>>();

  constructor(private deps: TreeDeps, private pageSize = PAGE_SIZE) {}

  /** Loads the next page of `parent`'s children (the first page if none is loaded). */
  loadPage(parent: ParentKey): Promise<void> {
    const running = this.inflight.get(parent);
    if (running) return running;
    const month = this.month;
    if (month === null) return Promise.resolve();
    const offset = nextOffset(this.state.lists.get(parent));
    if (offset === null) return Promise.resolve();
    const gen = this.generation;
    this.state = beginLoad(this.state, parent);
    const p = this.deps
      .children(parent, month, BY_NAME, offset, this.pageSize)
      .then(
        (page) => {
          if (gen !== this.generation) return;
          this.state = applyPage(this.state, parent, page);
          if (parent === null) this.rootError = null;
        },
        (e) => {
          if (gen !== this.generation) return;
          const err = toAppError(e);
          this.state = loadFailed(this.state, parent, err.message);
          if (parent === null) this.rootError = err.message;
        },
      )
      .finally(() => {
        if (this.inflight.get(parent) === p) this.inflight.delete(parent);
      });
    this.inflight.set(parent, p);
    return p;
  }

  private async ensureLoaded(parent: ParentKey): Promise<boolean> {
    if (!isLoaded(this.state, parent)) await this.loadPage(parent);
    return isLoaded(this.state, parent);
  }

  private run(update: TreeUpdate): TreeEffect[] {
    this.state = update.state;
    for (const e of update.effects) {
      if (e.type === 'load' || e.type === 'loadMore') void this.loadPage(e.parent);
    }
    return update.effects;
  }

  toggle(id: string): void {
    this.run(toggle(this.state, id));
  }

  /** Handles a key press on the tree; returns the effects (the caller reacts to 'select'). */
  key(key: string): TreeUpdate {
    const update = treeKey(this.state, this.rows, key);
    if (update.handled) this.run(update);
    return update;
  }

  select(id: string | null): void {
    this.state = select(this.state, id);
  }

  setCursor(key: string | null): void {
    this.state = setCursor(this.state, key);
  }

  /**
   * Loads what is needed to show `detail`'s account in the tree (each ancestor's children,
   * pinning rows that are not in a loaded page), expands its ancestors and selects it.
   */
  async reveal(detail: AccountDetail): Promise<void> {
    const month = this.month;
    if (month === null) return;
    const gen = this.generation;
    const path = detail.path;
    for (let i = 0; i < path.length; i++) {
      const parent = i === 0 ? null : path[i - 1].id;
      const id = path[i].id;
      await this.ensureLoaded(parent);
      if (gen !== this.generation) return;
      if (!containsChild(this.state, parent, id)) {
        let row: AccountRow;
        if (i === path.length - 1) row = detail.row;
        else {
          try {
            row = (await this.deps.accountDetail(id, month)).row;
          } catch {
            return;
          }
          if (gen !== this.generation) return;
        }
        this.state = pinChild(this.state, row);
      }
    }
    this.state = upsertRows(this.state, [detail.row]);
    this.state = expandPath(
      this.state,
      path.map((a) => a.id),
    );
  }

  /**
   * Reloads everything for `month` (a new month, or data changed by a sync), keeping the
   * expanded nodes that are still there and the selection if it still exists.
   * Returns the selected account's detail, or null when nothing is (or can be) selected.
   */
  async reload(month: YearMonth | null): Promise<AccountDetail | null> {
    this.month = month;
    this.generation++;
    this.inflight.clear();
    const gen = this.generation;
    this.state = resetData(this.state);
    if (month === null) {
      this.state = emptyTree();
      return null;
    }
    await this.loadPage(null);
    if (gen !== this.generation) return null;
    // Re-open expanded nodes level by level (only those visible in the first pages).
    let frontier: ParentKey[] = [null];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const parent of frontier) {
        const list = this.state.lists.get(parent);
        if (!list) continue;
        for (const id of list.ids) if (this.state.expanded.has(id)) next.push(id);
      }
      await Promise.all(next.map((id) => this.loadPage(id)));
      if (gen !== this.generation) return null;
      frontier = next;
    }
    const selected = this.state.selected;
    if (selected === null) return null;
    try {
      const detail = await this.deps.accountDetail(selected, month);
      if (gen !== this.generation) return null;
      await this.reveal(detail);
      return detail;
    } catch (e) {
      if (gen !== this.generation) return null;
      if (toAppError(e).kind === 'not_found') this.state = select(this.state, null);
      return null;
    }
  }
}
