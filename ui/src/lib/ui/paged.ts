// A list the backend answers one page at a time, for a virtual list: which pages the visible
// rows need, which are asked for, which answers are stale. Pure (no Svelte), unit-tested.
//
// Consistency: every answer belongs to a *generation*. A new filter or sort, or a sync that
// changed the data, starts a new generation with `reload(start, end)`: the pages the viewport
// needs are asked for again and swapped in together once all have arrived, and every other
// page is dropped. Until then the old rows stay on screen. So what is shown always comes from
// one state of the backend: no row twice, none missing, across page boundaries. Answers of an
// older generation are ignored.
import type { Page } from '$lib/bindings';

export type FetchPage<T> = (offset: number, limit: number) => Promise<Page<T>>;

export type PagedOptions = {
  /** rows per request */
  pageSize: number;
  /** pages kept in memory at most; the farthest from the last asked range go first */
  maxPages?: number;
  /** called after every change of what `get`/`total` answer (and of `loading`/`error`) */
  onchange?: () => void;
};

export class PagedList<T> {
  readonly pageSize: number;
  private readonly maxPages: number;
  private fetcher: FetchPage<T>;
  private onchange: () => void;
  private pages = new Map<number, T[]>();
  private inFlight = new Set<number>();
  private generation = 0;
  /** a reload under way: the pages it waits for, and those it got */
  private pending: { generation: number; waiting: Set<number>; got: Map<number, T[]>; total: number | null } | null = null;
  private lastRange: [number, number] = [0, 0];
  private idlers: (() => void)[] = [];

  /** rows in the whole list (null until the first answer) */
  total: number | null = null;
  /** an error of the last request, cleared by the next answer */
  error: unknown = null;

  constructor(fetcher: FetchPage<T>, opts: PagedOptions) {
    this.fetcher = fetcher;
    this.pageSize = Math.max(1, Math.floor(opts.pageSize));
    this.maxPages = Math.max(2, opts.maxPages ?? 12);
    this.onchange = opts.onchange ?? (() => {});
  }

  /** the row at `index`, if its page is here */
  get(index: number): T | undefined {
    const p = this.pages.get(Math.floor(index / this.pageSize));
    return p?.[index % this.pageSize];
  }

  /** a request (or a reload) is under way */
  get loading(): boolean {
    return this.inFlight.size > 0 || this.pending !== null;
  }

  /** a reload is under way: the rows shown are the previous state's */
  get stale(): boolean {
    return this.pending !== null;
  }

  /** Resolves once nothing is asked for any more. */
  idle(): Promise<void> {
    if (!this.loading) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  private changed(): void {
    this.onchange();
    if (!this.loading) for (const r of this.idlers.splice(0)) r();
  }

  /** pages held in memory (tests) */
  get pageCount(): number {
    return this.pages.size;
  }

  private pagesOf(start: number, end: number): number[] {
    const first = Math.floor(Math.max(0, start) / this.pageSize);
    const last = Math.floor(Math.max(start, end - 1) / this.pageSize);
    const out: number[] = [];
    for (let p = first; p <= last; p++) out.push(p);
    return out;
  }

  /** Asks for the pages rows [start, end) need that are neither here nor asked for. */
  ensure(start: number, end: number): void {
    this.lastRange = [start, end];
    const pending = this.pending;
    if (pending) {
      // the reload brings these too, swapped in with the others
      for (const p of this.pagesOf(start, Math.max(end, start + 1))) {
        if (pending.waiting.has(p) || pending.got.has(p)) continue;
        if (pending.total !== null && p * this.pageSize >= pending.total && p > 0) continue;
        pending.waiting.add(p);
        this.fetch(p, pending.generation);
      }
      return;
    }
    const limit = this.total === null ? Infinity : this.total;
    for (const p of this.pagesOf(start, Math.min(end, Math.max(limit, 1)))) {
      if (this.total !== null && p * this.pageSize >= this.total && p > 0) continue;
      if (this.pages.has(p) || this.inFlight.has(p)) continue;
      this.fetch(p, this.generation);
    }
  }

  /**
   * Starts a new generation (another filter or sort, or the data changed): the pages rows
   * [start, end) need are asked for again, then shown together; the rest is dropped.
   */
  reload(start = this.lastRange[0], end = this.lastRange[1], fetcher?: FetchPage<T>): void {
    if (fetcher) this.fetcher = fetcher;
    this.generation += 1;
    this.inFlight.clear();
    this.lastRange = [start, end];
    const wanted = this.pagesOf(start, Math.max(end, start + 1));
    this.pending = { generation: this.generation, waiting: new Set(wanted), got: new Map(), total: null };
    for (const p of wanted) this.fetch(p, this.generation);
    this.changed();
  }

  private fetch(p: number, generation: number): void {
    this.inFlight.add(p);
    this.fetcher(p * this.pageSize, this.pageSize).then(
      (page) => this.answer(p, generation, page),
      (e) => this.fail(p, generation, e),
    );
  }

  private answer(p: number, generation: number, page: Page<T>): void {
    if (generation !== this.generation) return; // an older state's answer
    this.inFlight.delete(p);
    this.error = null;
    const pending = this.pending;
    if (pending && pending.generation === generation && pending.waiting.has(p)) {
      pending.waiting.delete(p);
      pending.got.set(p, page.items);
      pending.total = page.total;
      if (pending.waiting.size === 0) {
        this.pages = pending.got;
        this.total = pending.total;
        this.pending = null;
        // rows past the new end: a shorter list
        this.ensure(...this.lastRange);
        this.evict();
      }
    } else {
      this.pages.set(p, page.items);
      this.total = page.total;
      this.evict();
    }
    this.changed();
  }

  private fail(p: number, generation: number, e: unknown): void {
    if (generation !== this.generation) return;
    this.inFlight.delete(p);
    this.error = e;
    if (this.pending?.generation === generation) {
      // show what did arrive rather than nothing
      for (const [k, v] of this.pending.got) this.pages.set(k, v);
      if (this.pending.total !== null) this.total = this.pending.total;
      this.pending = null;
    }
    this.changed();
  }

  /** Keeps the pages nearest the last asked range. */
  private evict(): void {
    if (this.pages.size <= this.maxPages) return;
    const mid = (this.lastRange[0] + this.lastRange[1]) / 2 / this.pageSize;
    const far = [...this.pages.keys()].sort((a, b) => Math.abs(b - mid) - Math.abs(a - mid));
    for (const p of far.slice(0, this.pages.size - this.maxPages)) this.pages.delete(p);
  }
}
