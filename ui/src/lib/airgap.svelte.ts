// State of the air-gapped exchange: the instances (and how many are overdue, for the sidebar),
// the selected instance's ledger, and files dragged over or dropped on the window.
import type { AppError, InstanceView, LedgerEntry } from '$lib/bindings';
import { overdueCount, sortInstances } from './airgap';
import { toAppError } from './errors';
import * as ipc from './ipc';
import { Latest } from './search';

/** Files dropped on the window, waiting for (or shown in) the import dialog. */
export type Drop = { id: number; paths: string[] };

export class AirgapStore {
  /** air-gapped first, overdue first */
  instances = $state.raw<InstanceView[]>([]);
  loaded = $state(false);
  loadError = $state.raw<AppError | null>(null);

  selected = $state<string | null>(null);
  ledger = $state.raw<LedgerEntry[]>([]);
  /** the instance `ledger` is of */
  ledgerOf = $state<string | null>(null);
  ledgerLoading = $state(false);
  ledgerError = $state.raw<AppError | null>(null);

  /** files are being dragged over the window */
  hovering = $state(false);
  drop = $state.raw<Drop | null>(null);
  /** the import dialog is importing: a new drop waits */
  importing = $state(false);

  overdue = $derived(overdueCount(this.instances));

  private listReq = new Latest();
  private ledgerReq = new Latest();
  private drops = 0;

  /** (Re)loads the instances, keeps the selection when it still exists, and its ledger. */
  async refresh(): Promise<void> {
    const t = this.listReq.begin();
    try {
      const list = await ipc.airgapInstances();
      if (!this.listReq.isCurrent(t)) return;
      this.instances = sortInstances(list);
      this.loadError = null;
    } catch (e) {
      if (!this.listReq.isCurrent(t)) return;
      this.loadError = toAppError(e);
    } finally {
      if (this.listReq.isCurrent(t)) this.loaded = true;
    }
    if (!this.listReq.isCurrent(t)) return;
    const keep = this.selected !== null && this.instances.some((i) => i.instance.id === this.selected);
    await this.select(keep ? this.selected : (this.instances[0]?.instance.id ?? null));
  }

  /** Shows the ledger of `id` (none for null). */
  async select(id: string | null): Promise<void> {
    this.selected = id;
    const t = this.ledgerReq.begin();
    this.ledgerError = null;
    if (id === null) {
      this.ledger = [];
      this.ledgerOf = null;
      this.ledgerLoading = false;
      return;
    }
    this.ledgerLoading = true;
    try {
      const entries = await ipc.airgapLedger(id);
      if (!this.ledgerReq.isCurrent(t)) return;
      this.ledger = entries;
      this.ledgerOf = id;
    } catch (e) {
      if (!this.ledgerReq.isCurrent(t)) return;
      this.ledgerError = toAppError(e);
    } finally {
      if (this.ledgerReq.isCurrent(t)) this.ledgerLoading = false;
    }
  }

  /** A drag over the window began, moved, or ended without a drop. */
  hover(state: ipc.DragHover): void {
    this.hovering = state !== 'leave';
  }

  /** Files were dropped: the import dialog opens for them (unless an import is running). */
  dropped(paths: string[]): void {
    this.hovering = false;
    if (this.importing) return;
    this.drop = { id: ++this.drops, paths };
  }

  closeDrop(): void {
    this.drop = null;
    this.importing = false;
  }
}
