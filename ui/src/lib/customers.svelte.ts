// State of the Customers view: the list's filters and answer, the customer page shown, and
// which accounts are customers (for the Accounts view's "Customer page" link).
import type { AppError } from '$lib/bindings';
import type { CustomerPage, CustomerSummary } from '$lib/bindings';
import { EMPTY_FILTER, isFiltered, sameFilter, toCustomerFilter, type FilterState } from './customers';
import { toAppError } from './errors';
import * as ipc from './ipc';
import { Latest } from './search';

/** Typing in the search box asks the backend this long after the last key. */
export const SEARCH_DEBOUNCE_MS = 200;

export class CustomersStore {
  filter = $state<FilterState>({ ...EMPTY_FILTER });
  list = $state.raw<CustomerSummary[]>([]);
  loaded = $state(false);
  loading = $state(false);
  loadError = $state.raw<AppError | null>(null);

  /** the account whose customer page is shown; null: the list */
  open = $state<string | null>(null);
  page = $state.raw<CustomerPage | null>(null);
  pageLoading = $state(false);
  pageError = $state.raw<AppError | null>(null);

  /**
   * Account id → name of every customer (an unfiltered list), for the Accounts view's link;
   * null until asked for ({@link ensureKnown}).
   */
  known = $state.raw<ReadonlyMap<string, string> | null>(null);

  filtered = $derived(isFiltered(this.filter));

  private listReq = new Latest();
  private pageReq = new Latest();
  private knownReq = new Latest();
  private knownLoading: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** the filter of the latest load begun */
  private requested: FilterState | null = null;

  /** Loads the list for the current filter (at once; see {@link setFilter} for typing). */
  async load(): Promise<void> {
    this.cancelPending();
    const filter = $state.snapshot(this.filter);
    this.requested = filter;
    const t = this.listReq.begin();
    this.loading = true;
    try {
      const list = await ipc.customers(toCustomerFilter(filter));
      if (!this.listReq.isCurrent(t)) return;
      this.list = list;
      this.loadError = null;
      // an unfiltered answer is the whole set of customers
      if (!isFiltered(filter)) this.known = new Map(list.map((c) => [c.account_id, c.account_name]));
    } catch (e) {
      if (!this.listReq.isCurrent(t)) return;
      this.loadError = toAppError(e);
    } finally {
      if (this.listReq.isCurrent(t)) {
        this.loading = false;
        this.loaded = true;
      }
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
    if (this.requested && sameFilter(next, this.requested)) return;
    if (debounce) this.timer = setTimeout(() => void this.load(), SEARCH_DEBOUNCE_MS);
    else void this.load();
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
    if (this.open !== accountId) this.page = null;
    this.open = accountId;
    await this.loadPage();
  }

  /** Back to the list (its filters kept). */
  closeCustomer(): void {
    this.pageReq.cancel();
    this.open = null;
    this.page = null;
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
      const page = await ipc.customer(id);
      if (!this.pageReq.isCurrent(t)) return;
      this.page = page;
    } catch (e) {
      if (!this.pageReq.isCurrent(t)) return;
      this.pageError = toAppError(e);
    } finally {
      if (this.pageReq.isCurrent(t)) this.pageLoading = false;
    }
  }

  /** Which accounts are customers: asked once (an unfiltered list), then after each sync. */
  async ensureKnown(): Promise<void> {
    if (this.known !== null) return;
    this.knownLoading ??= this.loadKnown().finally(() => (this.knownLoading = null));
    await this.knownLoading;
  }

  private async loadKnown(): Promise<void> {
    const t = this.knownReq.begin();
    try {
      const all = await ipc.customers(toCustomerFilter(EMPTY_FILTER));
      if (!this.knownReq.isCurrent(t)) return;
      this.known = new Map(all.map((c) => [c.account_id, c.account_name]));
    } catch {
      // no link then; the list shows the error when opened
      if (this.knownReq.isCurrent(t)) this.known = new Map();
    }
  }

  /** Does this account hold a license? (false until known) */
  isCustomer(accountId: string): boolean {
    return this.known?.has(accountId) ?? false;
  }

  /** After a sync, an import or clearing the cache: reload what was shown or asked for. */
  async refresh(): Promise<void> {
    const jobs: Promise<void>[] = [];
    if (this.loaded) jobs.push(this.load());
    if (this.open !== null) jobs.push(this.loadPage());
    if (this.known !== null && !(this.loaded && !this.filtered)) jobs.push(this.loadKnown());
    await Promise.all(jobs);
  }

  dispose(): void {
    this.cancelPending();
  }
}
