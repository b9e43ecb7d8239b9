// State of the air-gapped exchange: the instance list (asked of the shell a page at a time,
// for the rows on screen), how many are overdue (for the sidebar), the selected instance's
// ledger, and files dragged over or dropped on the window.
import type { AppError, InstanceKind, InstanceSort, InstanceView, LedgerRow } from '$lib/bindings';
import { toAppError } from '../backend/errors';
import * as ipc from '../backend/ipc';
import { Latest } from '../accounts/search';

/** Files dropped on the window, waiting for (or shown in) the import dialog. */
export type Drop = { id: number; paths: string[] };

/** Instances asked of the shell at a time. */
export const INSTANCE_PAGE = 100;
/** Ledger entries shown at first, and added by "Show more". */
export const LEDGER_PAGE = 50;

export type InstanceFilter = {
  kind: InstanceKind;
  overdueOnly: boolean;
  text: string;
  sort: InstanceSort;
  descending: boolean;
};

export const DEFAULT_FILTER: InstanceFilter = { kind: 'all', overdueOnly: false, text: '', sort: 'status', descending: false };

/** The pages (of `size` rows) that hold rows `start` to `end` (exclusive). */
export function pagesFor(start: number, end: number, size: number): number[] {
  if (end <= start) return [];
  const out: number[] = [];
  for (let p = Math.floor(start / size); p * size < end; p++) out.push(p);
  return out;
}

export class AirgapStore {
  filter = $state.raw<InstanceFilter>(DEFAULT_FILTER);
  /** instances matching the filter */
  total = $state(0);
  /** the loaded rows, by index in the list */
  rows = $state.raw<ReadonlyMap<number, InstanceView>>(new Map());
  loaded = $state(false);
  loadError = $state.raw<AppError | null>(null);
  /** air-gapped instances overdue (whatever the filter) */
  overdue = $state(0);
  /** air-gapped instances (whatever the filter), for the card's header */
  airgappedTotal = $state(0);

  selected = $state<string | null>(null);
  selectedRow = $state.raw<InstanceView | null>(null);
  ledger = $state.raw<LedgerRow[]>([]);
  ledgerTotal = $state(0);
  /** the instance `ledger` is of */
  ledgerOf = $state<string | null>(null);
  ledgerLoading = $state(false);
  ledgerError = $state.raw<AppError | null>(null);

  /** files are being dragged over the window */
  hovering = $state(false);
  drop = $state.raw<Drop | null>(null);
  /** the import dialog is importing: a new drop waits */
  importing = $state(false);

  /** the data the loaded rows were read from: pages of another generation do not fit */
  private generation: string | null = null;
  private listReq = new Latest();
  private ledgerReq = new Latest();
  private inFlight = new Set<number>();
  private visible = { start: 0, end: INSTANCE_PAGE };
  private drops = 0;
  /** the list was asked for (its view opened) */
  private requested = false;

  /** (Re)loads from the first rows, keeps the selection (its ledger too), and the counts. */
  async refresh(): Promise<void> {
    this.requested = true;
    const t = this.listReq.begin();
    this.inFlight.clear();
    this.generation = null;
    const counts = this.refreshCounts();
    try {
      await this.loadPage(0, t, true);
    } finally {
      if (this.listReq.isCurrent(t)) this.loaded = true;
    }
    await counts;
    if (!this.listReq.isCurrent(t) || this.loadError) return;
    await this.show(this.visible.start, this.visible.end);
    const keep = this.selected ?? this.rows.get(0)?.instance.id ?? null;
    await this.select(keep, this.selected === keep ? this.findRow(keep) : this.rows.get(0) ?? null);
  }

  private findRow(id: string | null): InstanceView | null {
    if (id === null) return null;
    for (const r of this.rows.values()) if (r.instance.id === id) return r;
    return this.selectedRow?.instance.id === id ? this.selectedRow : null;
  }

  /**
   * After the data changed (a sync, an import): the list again if its view was ever opened,
   * only the badge's counts if not (its first page took 100 ms at 100,000 accounts).
   */
  async refreshIfOpened(): Promise<void> {
    await (this.requested ? this.refresh() : this.refreshCounts());
  }

  /** Only the counts (the sidebar's badge, the card's header), the list untouched. */
  async refreshCounts(): Promise<void> {
    try {
      const [overdue, airgapped] = await Promise.all([
        ipc.airgapOverdueCount(),
        ipc.airgapInstances({ kind: 'airgapped', overdue_only: false, text: null, sort: 'id', descending: false, offset: 0, limit: 1 }),
      ]);
      this.overdue = overdue;
      this.airgappedTotal = airgapped.total;
    } catch {
      // the list's own error says what went wrong
    }
  }

  /** A new filter, search or sort: the list starts over at its top. */
  async setFilter(patch: Partial<InstanceFilter>): Promise<void> {
    this.filter = { ...this.filter, ...patch };
    this.visible = { start: 0, end: Math.max(INSTANCE_PAGE, this.visible.end - this.visible.start) };
    await this.refresh();
  }

  /** Rows `start`..`end` are on screen: loads the pages missing there. */
  async show(start: number, end: number): Promise<void> {
    this.visible = { start, end };
    // The rows scrolled to belong to the list loading or loaded: its refresh stays current
    // (a new token here would leave a first load unfinished, the view on its skeleton).
    const t = this.listReq.current();
    const missing = pagesFor(start, Math.min(end, this.total), INSTANCE_PAGE).filter(
      (p) => !this.inFlight.has(p) && !this.rows.has(p * INSTANCE_PAGE),
    );
    await Promise.all(missing.map((p) => this.loadPage(p, t, false)));
  }

  private async loadPage(page: number, t: number, first: boolean): Promise<void> {
    this.inFlight.add(page);
    const f = this.filter;
    try {
      const res = await ipc.airgapInstances({
        kind: f.kind,
        overdue_only: f.overdueOnly,
        text: f.text.trim() === '' ? null : f.text.trim(),
        sort: f.sort,
        descending: f.descending,
        offset: page * INSTANCE_PAGE,
        limit: INSTANCE_PAGE,
      });
      if (f !== this.filter) return; // asked for another list meanwhile
      const stale = !first && this.generation !== null && res.generation !== this.generation;
      const rows = first || stale ? new Map<number, InstanceView>() : new Map(this.rows);
      res.items.forEach((r, i) => rows.set(res.offset + i, r));
      this.rows = rows;
      this.total = res.total;
      this.generation = res.generation;
      this.loadError = null;
      if (stale) {
        // The data changed between two pages: what was loaded may be shifted. Start over
        // from what is on screen, so no row shows twice and none is skipped.
        this.inFlight.clear();
        void this.refreshCounts();
        void this.show(this.visible.start, this.visible.end);
      }
    } catch (e) {
      if (this.listReq.isCurrent(t) || first) this.loadError = toAppError(e);
    } finally {
      this.inFlight.delete(page);
    }
  }

  /** Shows the ledger of `id` (none for null). */
  async select(id: string | null, row: InstanceView | null = null): Promise<void> {
    this.selected = id;
    this.selectedRow = row ?? this.findRow(id);
    const t = this.ledgerReq.begin();
    this.ledgerError = null;
    if (id === null) {
      this.ledger = [];
      this.ledgerTotal = 0;
      this.ledgerOf = null;
      this.ledgerLoading = false;
      return;
    }
    this.ledgerLoading = true;
    try {
      const page = await ipc.airgapLedger({ instance: id, kept_only: false, offset: 0, limit: LEDGER_PAGE });
      if (!this.ledgerReq.isCurrent(t)) return;
      this.ledger = page.items;
      this.ledgerTotal = page.total;
      this.ledgerOf = id;
    } catch (e) {
      if (!this.ledgerReq.isCurrent(t)) return;
      this.ledgerError = toAppError(e);
    } finally {
      if (this.ledgerReq.isCurrent(t)) this.ledgerLoading = false;
    }
  }

  /** The next entries of the selected instance's ledger. */
  async moreLedger(): Promise<void> {
    const id = this.ledgerOf;
    if (id === null || this.ledger.length >= this.ledgerTotal) return;
    const t = this.ledgerReq.begin();
    this.ledgerLoading = true;
    try {
      const page = await ipc.airgapLedger({ instance: id, kept_only: false, offset: this.ledger.length, limit: LEDGER_PAGE });
      if (!this.ledgerReq.isCurrent(t)) return;
      if (page.total !== this.ledgerTotal) {
        // entries were added meanwhile (newest first shifts offsets): start over
        await this.select(id, this.selectedRow);
        return;
      }
      this.ledger = [...this.ledger, ...page.items];
    } catch (e) {
      if (this.ledgerReq.isCurrent(t)) this.ledgerError = toAppError(e);
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
