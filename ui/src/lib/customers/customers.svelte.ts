// State of the Customers view: the list's filters, sort and pages (only those the viewport
// shows are asked for), the customer page shown with its pages of instances and install
// attempts.
import type { AppError, CustomerCounts, CustomerPage, CustomerSort, CustomerSummary, InstallAttempt, InstanceCard, Page } from '$lib/bindings';
import { EMPTY_FILTER, isFiltered, sameFilter, toCustomerFilter, type FilterState } from './customers';
import { toAppError } from '../backend/errors';
import * as ipc from '../backend/ipc';
import { PagedList } from '../ui/paged';
import { Latest } from '../accounts/search';

/** Typing in the search box asks the backend this long after the last key. */
export const SEARCH_DEBOUNCE_MS = 200;
/** Rows of the list asked for at once. */
export const LIST_PAGE = 100;
/** Instances per page of the customer page (each with its 14-day graph). */
export const INSTANCE_PAGE = 20;
/** Install attempts per page of the customer page. */
export const ATTEMPT_PAGE = 10;

export class CustomersStore {
  filter = $state<FilterState>({ ...EMPTY_FILTER });
  sort = $state<CustomerSort>('name');
  /** bumped whenever the list's pages change (the view reads rows through it) */
  version = $state(0);
  loaded = $state(false);
  loadError = $state.raw<AppError | null>(null);
  /** the rows shown belong to the previous filter or data; a reload is under way */
  stale = $state(false);
  /** rows matching the filter (null until the first answer) */
  total = $state<number | null>(null);
  /** badges over every customer (count queries), null until asked */
  counts = $state.raw<CustomerCounts | null>(null);

  /** the account whose customer page is shown; null: the list */
  open = $state<string | null>(null);
  page = $state.raw<CustomerPage | null>(null);
  pageLoading = $state(false);
  pageError = $state.raw<AppError | null>(null);
  instances = $state.raw<Page<InstanceCard> | null>(null);
  attempts = $state.raw<Page<InstallAttempt> | null>(null);
  sectionError = $state.raw<AppError | null>(null);

  filtered = $derived(isFiltered(this.filter));

  readonly list: PagedList<CustomerSummary>;
  private pageReq = new Latest();
  private instancesReq = new Latest();
  private attemptsReq = new Latest();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** the filter and sort of the latest load begun */
  private requested: { filter: FilterState; sort: CustomerSort } | null = null;
  /** the rows the viewport shows */
  private visible: [number, number] = [0, 40];

  constructor() {
    this.list = new PagedList<CustomerSummary>(this.fetcher(EMPTY_FILTER, 'name'), {
      pageSize: LIST_PAGE,
      maxPages: 10,
      onchange: () => this.sync(),
    });
  }

  private fetcher(filter: FilterState, sort: CustomerSort) {
    const f = toCustomerFilter(filter);
    return (offset: number, limit: number) => ipc.customers(f, sort, offset, limit);
  }

  /** copies the list's state into the reactive fields */
  private sync(): void {
    this.version += 1;
    this.total = this.list.total;
    this.stale = this.list.stale;
    const e = this.list.error;
    this.loadError = e ? toAppError(e) : null;
    if (this.list.total !== null || e) this.loaded = true;
  }

  /** the row at `index` if its page is here (read `version` to follow changes) */
  row(index: number): CustomerSummary | undefined {
    return this.list.get(index);
  }

  /** The viewport shows rows [start, end): asks for the pages they need. */
  showRows(start: number, end: number): void {
    this.visible = [start, end];
    // before the first load the list has no filter to ask with yet
    if (this.requested) this.list.ensure(start, end);
  }

  /** Loads the list for the current filter and sort, from the top (at once). */
  async load(): Promise<void> {
    this.cancelPending();
    const filter = $state.snapshot(this.filter);
    const sort = this.sort;
    this.requested = { filter, sort };
    const rows = Math.max(1, this.visible[1] - this.visible[0]);
    this.visible = [0, rows];
    this.list.reload(0, rows, this.fetcher(filter, sort));
    await Promise.all([this.list.idle(), this.counts === null ? this.loadCounts() : undefined]);
  }

  private async loadCounts(): Promise<void> {
    try {
      this.counts = await ipc.customerCounts();
    } catch {
      this.counts = null; // no badges then; the list shows its own error
    }
  }

  /**
   * Changes the filter and reloads: at once for the controls, after a short pause for the
   * search text (`debounce`). Nothing is asked when the backend's filter stays the same.
   */
  setFilter(patch: Partial<FilterState>, debounce = false): void {
    const next = { ...this.filter, ...patch };
    this.filter = next;
    this.cancelPending();
    // the list shows, or is about to show, the answer for this filter
    if (this.requested && this.requested.sort === this.sort && sameFilter(next, this.requested.filter)) return;
    if (debounce) this.timer = setTimeout(() => void this.load(), SEARCH_DEBOUNCE_MS);
    else void this.load();
  }

  setSort(sort: CustomerSort): void {
    if (sort === this.sort) return;
    this.sort = sort;
    void this.load();
  }

  clearFilters(): void {
    this.setFilter({ ...EMPTY_FILTER });
  }

  private cancelPending(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Shows the customer page of an account. */
  async openCustomer(accountId: string): Promise<void> {
    if (this.open !== accountId) {
      this.page = null;
      this.instances = null;
      this.attempts = null;
    }
    this.open = accountId;
    await this.loadPage();
  }

  /** Back to the list (its filters kept). */
  closeCustomer(): void {
    this.pageReq.cancel();
    this.instancesReq.cancel();
    this.attemptsReq.cancel();
    this.open = null;
    this.page = null;
    this.instances = null;
    this.attempts = null;
    this.pageError = null;
    this.pageLoading = false;
    if (!this.loaded) void this.load();
  }

  private async loadPage(): Promise<void> {
    const id = this.open;
    if (id === null) return;
    const t = this.pageReq.begin();
    this.pageLoading = true;
    this.pageError = null;
    try {
      const [page] = await Promise.all([
        ipc.customer(id),
        this.showInstances(this.instances?.offset ?? 0),
        this.showAttempts(this.attempts?.offset ?? 0),
      ]);
      if (!this.pageReq.isCurrent(t)) return;
      this.page = page;
    } catch (e) {
      if (!this.pageReq.isCurrent(t)) return;
      this.pageError = toAppError(e);
    } finally {
      if (this.pageReq.isCurrent(t)) this.pageLoading = false;
    }
  }

  /** Shows the page of the customer's instances starting at `offset`. */
  async showInstances(offset: number): Promise<void> {
    const id = this.open;
    if (id === null) return;
    const t = this.instancesReq.begin();
    try {
      const page = await ipc.customerInstances(id, Math.max(0, offset), INSTANCE_PAGE);
      if (!this.instancesReq.isCurrent(t) || this.open !== id) return;
      // past the end after a sync shortened the list: the last page instead
      if (page.items.length === 0 && page.total > 0 && offset > 0) {
        return this.showInstances(Math.floor((page.total - 1) / INSTANCE_PAGE) * INSTANCE_PAGE);
      }
      this.instances = page;
      this.sectionError = null;
    } catch (e) {
      if (this.instancesReq.isCurrent(t)) this.sectionError = toAppError(e);
    }
  }

  /** Shows the page of the customer's install attempts starting at `offset`. */
  async showAttempts(offset: number): Promise<void> {
    const id = this.open;
    if (id === null) return;
    const t = this.attemptsReq.begin();
    try {
      const page = await ipc.installAttempts(id, Math.max(0, offset), ATTEMPT_PAGE);
      if (!this.attemptsReq.isCurrent(t) || this.open !== id) return;
      if (page.items.length === 0 && page.total > 0 && offset > 0) {
        return this.showAttempts(Math.floor((page.total - 1) / ATTEMPT_PAGE) * ATTEMPT_PAGE);
      }
      this.attempts = page;
      this.sectionError = null;
    } catch (e) {
      if (this.attemptsReq.isCurrent(t)) this.sectionError = toAppError(e);
    }
  }

  /**
   * After a sync, an import or clearing the cache: the visible rows and the open page are
   * asked for again and replace the old ones together (what is shown is one state).
   */
  async refresh(): Promise<void> {
    const jobs: Promise<void>[] = [];
    if (this.loaded) {
      this.list.reload(...this.visible);
      jobs.push(this.list.idle(), this.loadCounts());
    }
    if (this.open !== null) jobs.push(this.loadPage());
    await Promise.all(jobs);
  }

  dispose(): void {
    this.cancelPending();
  }
}
