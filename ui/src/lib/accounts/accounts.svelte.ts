// State of the Accounts view: months, plans, month and metric picked, the tree, the selection.
import type { AccountDetail, AppError, Metric, Plan, YearMonth } from '$lib/bindings';
import * as ipc from '../backend/ipc';
import { toAppError } from '../backend/errors';
import { Latest } from './search';
import { TreeController } from './tree-controller.svelte';

export class AccountsStore {
  months = $state<YearMonth[]>([]);
  month = $state<YearMonth | null>(null);
  metric = $state<Metric>('users_with_activity');
  plans = $state<Plan[]>([]);
  /** months and plans have been fetched at least once */
  ready = $state(false);
  loadError = $state<AppError | null>(null);

  tree = new TreeController({ children: ipc.children, accountDetail: ipc.accountDetail });

  detail = $state.raw<AccountDetail | null>(null);
  detailLoading = $state(false);
  detailError = $state<AppError | null>(null);
  /** bumped whenever the data behind the view may have changed (month, sync) */
  version = $state(0);

  private detailReq = new Latest();
  private refreshReq = new Latest();

  selectedId = $derived(this.tree.state.selected);

  planName(id: string | null): string {
    if (id === null) return '';
    return this.plans.find((p) => p.id === id)?.name ?? id;
  }

  /** (Re)loads months, plans, the tree and the selection. Called on start and after each sync. */
  async refresh(): Promise<void> {
    const t = this.refreshReq.begin();
    try {
      const [months, plans] = await Promise.all([ipc.completedMonths(), ipc.plans()]);
      if (!this.refreshReq.isCurrent(t)) return;
      this.months = months;
      this.plans = plans;
      this.loadError = null;
      if (this.month === null || !months.includes(this.month)) this.month = months.at(-1) ?? null;
    } catch (e) {
      if (!this.refreshReq.isCurrent(t)) return;
      this.loadError = toAppError(e);
      this.ready = true;
      return;
    }
    this.ready = true;
    await this.reloadTree();
  }

  private async reloadTree(): Promise<void> {
    const d = this.detailReq.begin();
    const hadSelection = this.tree.state.selected !== null;
    if (hadSelection) this.detailLoading = true;
    const detail = await this.tree.reload(this.month);
    if (!this.detailReq.isCurrent(d)) return;
    this.version++;
    this.detailLoading = false;
    this.detailError = null;
    this.detail = detail;
    if (!hadSelection) await this.selectFirstRoot();
  }

  /**
   * With nothing selected, show the first top account (usually the one whose subtree the token
   * sees), expanded when it is the only one.
   */
  private async selectFirstRoot(): Promise<void> {
    const roots = this.tree.state.lists.get(null);
    if (this.tree.state.selected !== null || !roots || roots.ids.length === 0) return;
    const id = roots.ids[0];
    this.tree.select(id);
    await this.loadDetail(id);
    if (roots.ids.length === 1 && this.tree.state.selected === id && !this.tree.state.expanded.has(id)) this.tree.toggle(id);
  }

  async setMonth(month: YearMonth): Promise<void> {
    if (month === this.month) return;
    this.month = month;
    await this.reloadTree();
  }

  setMetric(metric: Metric): void {
    this.metric = metric;
  }

  /** A row of the tree was clicked or chosen with the keyboard: it is visible already. */
  async selectFromTree(id: string): Promise<void> {
    this.tree.select(id);
    await this.loadDetail(id);
  }

  private async loadDetail(id: string): Promise<AccountDetail | null> {
    const month = this.month;
    if (month === null) return null;
    const t = this.detailReq.begin();
    this.detailLoading = true;
    this.detailError = null;
    try {
      const detail = await ipc.accountDetail(id, month);
      if (!this.detailReq.isCurrent(t)) return null;
      this.detail = detail;
      return detail;
    } catch (e) {
      if (!this.detailReq.isCurrent(t)) return null;
      this.detailError = toAppError(e);
      return null;
    } finally {
      if (this.detailReq.isCurrent(t)) this.detailLoading = false;
    }
  }

  /**
   * Opens any account (search result, breadcrumb, child row): loads its path, expands the tree
   * to it and selects it.
   */
  async openAccount(id: string): Promise<void> {
    // The tree's selection from now on, before its detail and path arrive: a month change
    // or a sync meanwhile reloads the tree with this account, not the one selected before.
    this.tree.select(id);
    const detail = await this.loadDetail(id);
    if (detail && this.detail === detail) await this.tree.reveal(detail);
  }
}
