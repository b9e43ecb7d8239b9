// State of the Health view: the sort, the pages of the list the viewport shows (PagedList),
// and the customer whose factors are shown.
import type { AppError, CustomerHealth, Factor } from '$lib/bindings';
import { toAppError } from '../backend/errors';
import * as ipc from '../backend/ipc';
import { PagedList } from '../ui/paged';

/** Rows asked for at once. */
export const HEALTH_PAGE = 100;
/** How soon the list is asked again while the scores are being recomputed (ms). */
export const RECOMPUTE_POLL_MS = 1000;

/** Asks again (`again`) a while after an answer saying the scores are being recomputed, once
 *  at a time, until an answer says they are current. */
export class RecomputePoll {
  private timer: ReturnType<typeof setTimeout> | null = null;
  constructor(private readonly again: () => void) {}

  /** Takes each answer's `computing`. */
  answered(computing: boolean): void {
    if (!computing || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.again();
    }, RECOMPUTE_POLL_MS);
  }
}

export class HealthStore {
  sort = $state<Factor | null>(null);
  descending = $state(false);
  version = $state(0);
  total = $state<number | null>(null);
  loaded = $state(false);
  stale = $state(false);
  error = $state.raw<AppError | null>(null);
  asOf = $state<string | null>(null);
  /** the stored scores are being recomputed: they are shown meanwhile, and asked again */
  computing = $state(false);
  /** the customer whose factors are shown */
  selected = $state.raw<CustomerHealth | null>(null);

  readonly list: PagedList<CustomerHealth>;
  private requested = false;
  private readonly poll = new RecomputePoll(() => void this.load());

  constructor() {
    this.list = new PagedList<CustomerHealth>(this.fetcher(null, false), {
      pageSize: HEALTH_PAGE,
      maxPages: 10,
      onchange: () => this.sync(),
    });
  }

  private fetcher(sort: Factor | null, descending: boolean) {
    return async (offset: number, limit: number) => {
      const p = await ipc.healthList(sort, descending, offset, limit);
      this.asOf = p.as_of;
      this.computing = p.computing;
      this.poll.answered(p.computing);
      return p.page;
    };
  }

  private sync(): void {
    this.version += 1;
    this.total = this.list.total;
    this.stale = this.list.stale;
    this.error = this.list.error ? toAppError(this.list.error) : null;
    if (this.list.total !== null || this.list.error) this.loaded = true;
    // the first row is shown until one is chosen
    if (!this.selected && this.list.total) this.selected = this.list.get(0) ?? null;
  }

  row(index: number): CustomerHealth | undefined {
    return this.list.get(index);
  }

  showRows(start: number, end: number): void {
    if (this.requested) this.list.ensure(start, end);
  }

  /** Loads the list from the top for the current sort (and after a sync). */
  async load(rows = 40): Promise<void> {
    this.requested = true;
    this.list.reload(0, rows, this.fetcher(this.sort, this.descending));
    await this.list.idle();
    // the shown customer's numbers may have changed
    // (unless another one was chosen meanwhile)
    const s = this.selected;
    if (s) {
      try {
        const fresh = await ipc.customerHealth(s.account_id);
        if (this.selected?.account_id === s.account_id) this.selected = fresh;
      } catch {
        if (this.selected === s) this.selected = this.list.get(0) ?? null;
      }
    }
  }

  setSort(sort: Factor | null, descending: boolean): void {
    if (sort === this.sort && descending === this.descending) return;
    this.sort = sort;
    this.descending = descending;
    void this.load();
  }

  select(c: CustomerHealth): void {
    this.selected = c;
  }
}
