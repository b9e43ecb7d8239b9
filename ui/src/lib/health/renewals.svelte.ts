// State of the Renewals view: the span in months, each month's count, and the pages of the
// calendar's licenses the viewport shows (PagedList), soonest first.
import type { AppError, Renewal, RenewalMonth, YearMonth } from '$lib/bindings';
import { toAppError } from '../backend/errors';
import * as ipc from '../backend/ipc';
import { PagedList } from '../ui/paged';
import { RecomputePoll } from './health.svelte';

/** Licenses asked for at once. */
export const RENEWALS_PAGE = 100;

export class RenewalsStore {
  /** the calendar's span: this month and the `months − 1` after it */
  months = $state(12);
  version = $state(0);
  total = $state<number | null>(null);
  loaded = $state(false);
  stale = $state(false);
  error = $state.raw<AppError | null>(null);
  /** each month of the span with its count, from the last answer */
  calendar = $state.raw<RenewalMonth[]>([]);
  utilizationMonth = $state<YearMonth | null>(null);
  /** utilization and scores are being recomputed: the stored ones are shown, and asked again */
  computing = $state(false);

  readonly list: PagedList<Renewal>;
  private requested = false;
  private readonly poll = new RecomputePoll(() => void this.load());

  constructor() {
    this.list = new PagedList<Renewal>(this.fetcher(this.months), {
      pageSize: RENEWALS_PAGE,
      maxPages: 10,
      onchange: () => this.sync(),
    });
  }

  private fetcher(months: number) {
    return async (offset: number, limit: number) => {
      const c = await ipc.renewalCalendar(months, offset, limit);
      // an answer for a span no longer chosen only fills a page the list will drop
      if (months === this.months) {
        this.calendar = c.months;
        this.utilizationMonth = c.utilization_month;
        this.computing = c.computing;
      }
      this.poll.answered(c.computing);
      return c.page;
    };
  }

  private sync(): void {
    this.version += 1;
    this.total = this.list.total;
    this.stale = this.list.stale;
    this.error = this.list.error ? toAppError(this.list.error) : null;
    if (this.list.total !== null || this.list.error) this.loaded = true;
  }

  row(index: number): Renewal | undefined {
    return this.list.get(index);
  }

  showRows(start: number, end: number): void {
    if (this.requested) this.list.ensure(start, end);
  }

  /** Loads the calendar from its first license (at first, after a sync, for a new span). */
  async load(rows = 40): Promise<void> {
    this.requested = true;
    this.list.reload(0, rows, this.fetcher(this.months));
    await this.list.idle();
  }

  setMonths(months: number): void {
    if (months === this.months) return;
    this.months = months;
    void this.load();
  }
}

/** Whether the license at `index` starts a month of the calendar: the first, or the first of
 *  a later month (unknown while the license before is not here). */
export function startsMonth(store: Pick<RenewalsStore, 'row'>, index: number): boolean {
  const r = store.row(index);
  if (!r) return false;
  if (index === 0) return true;
  const before = store.row(index - 1);
  return before !== undefined && before.month !== r.month;
}
