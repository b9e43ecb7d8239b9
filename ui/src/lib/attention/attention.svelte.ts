// State of the Attention view: the kind shown, the list's pages (only those the viewport shows
// are asked for) and every kind's count (the sidebar's badge is their total).
import type { AppError, AttentionCounts, AttentionItem, AttentionKind } from '$lib/bindings';
import { toAppError } from '../backend/errors';
import * as ipc from '../backend/ipc';
import { PagedList } from '../ui/paged';

/** Rows asked for at once. */
export const ATTENTION_PAGE = 100;

export class AttentionStore {
  kind = $state<AttentionKind | null>(null);
  /** bumped whenever the list's pages change (the view reads rows through it) */
  version = $state(0);
  loaded = $state(false);
  loadError = $state.raw<AppError | null>(null);
  stale = $state(false);
  total = $state<number | null>(null);
  counts = $state.raw<AttentionCounts | null>(null);

  readonly list: PagedList<AttentionItem>;
  private visible: [number, number] = [0, 40];
  private requested = false;

  constructor() {
    this.list = new PagedList<AttentionItem>(this.fetcher(null), { pageSize: ATTENTION_PAGE, maxPages: 10, onchange: () => this.sync() });
  }

  private fetcher(kind: AttentionKind | null) {
    return async (offset: number, limit: number) => {
      const p = await ipc.attention(kind, offset, limit);
      this.counts = p.counts;
      return { items: p.items, total: p.total, offset: p.offset, limit };
    };
  }

  private sync(): void {
    this.version += 1;
    this.total = this.list.total;
    this.stale = this.list.stale;
    const e = this.list.error;
    this.loadError = e ? toAppError(e) : null;
    if (this.list.total !== null || e) this.loaded = true;
  }

  row(index: number): AttentionItem | undefined {
    return this.list.get(index);
  }

  /** The viewport shows rows [start, end): asks for the pages they need. */
  showRows(start: number, end: number): void {
    this.visible = [start, end];
    if (this.requested) this.list.ensure(start, end);
  }

  /** Loads the list of the kind shown, from the top. */
  async load(): Promise<void> {
    this.requested = true;
    const rows = Math.max(1, this.visible[1] - this.visible[0]);
    this.visible = [0, rows];
    this.list.reload(0, rows, this.fetcher(this.kind));
    await this.list.idle();
  }

  setKind(kind: AttentionKind | null): void {
    if (kind === this.kind) return;
    this.kind = kind;
    void this.load();
  }

  /** The badge's numbers alone (after a sync, on a timer). */
  async refreshCounts(): Promise<void> {
    try {
      this.counts = await ipc.attentionCounts();
    } catch {
      /* no badge then; the view shows its own error */
    }
  }

  /** After a sync or when time passed: the counts, and the rows shown if the list was opened. */
  async refresh(): Promise<void> {
    if (this.requested) {
      this.list.reload(...this.visible);
      await this.list.idle();
    } else await this.refreshCounts();
  }
}
