// A virtualized window over a store that pages from the source: the rows the scroller shows
// (plus overscan), read through the store's `version` so that new pages redraw them, and a
// request to the store for the pages that window needs (nothing beyond them).
//
// Created during a component's initialisation (it registers an effect). In the markup:
//   <div bind:this={list.el} bind:clientHeight={list.height} onscroll={list.onscroll}>
//     spacer of list.win.offsetTop · {#each list.rows as { index, row }} · spacer of list.after

import { computeWindow, type VirtualWindow } from './virtual';

/** What a virtual list reads from its paged store. */
export interface PagedRows<T> {
  readonly total: number | null;
  /** bumped when a page arrives */
  readonly version: number;
  /** the row at `index`, or undefined while its page is on its way */
  row(index: number): T | undefined;
  /** the rows [start, end) are on screen: fetch what they need */
  showRows(start: number, end: number): void;
}

export type VirtualRows<T> = {
  el: HTMLDivElement | undefined;
  height: number;
  readonly count: number;
  readonly win: VirtualWindow;
  readonly rows: { index: number; row: T | undefined }[];
  /** height of the spacer after the rendered rows */
  readonly after: number;
  onscroll(): void;
  /** back to the first row (a new sort or filter) */
  toTop(): void;
};

/**
 * Rows drawn beyond each edge of the viewport by default: about 240 px (a wheel step or two).
 * Each row drawn costs a view's first paint. At 100,000 accounts (release build, bench), the
 * Customers view with ten rows of overscan drew its first rows in 79-112 ms (median, five
 * runs) and a sort change in 70-78 ms; with four or five rows, 70-91 ms and 56-61 ms (three
 * runs). The rows beyond come as one scrolls.
 */
const OVERSCAN_PX = 240;

export function virtualRows<T>(
  store: PagedRows<T>,
  rowHeight: number,
  overscan = Math.max(2, Math.ceil(OVERSCAN_PX / Math.max(1, rowHeight))),
): VirtualRows<T> {
  let el = $state<HTMLDivElement | undefined>();
  let top = $state(0);
  let height = $state(600);
  const count = $derived(store.total ?? 0);
  const win = $derived(computeWindow({ scrollTop: top, viewportHeight: height, rowHeight, count, overscan }));
  const rows = $derived.by(() => {
    void store.version;
    const out: { index: number; row: T | undefined }[] = [];
    for (let i = win.start; i < win.end; i++) out.push({ index: i, row: store.row(i) });
    return out;
  });
  $effect(() => {
    store.showRows(win.start, win.end);
  });
  return {
    get el() {
      return el;
    },
    set el(v) {
      el = v;
    },
    get height() {
      return height;
    },
    set height(v) {
      height = v;
    },
    get count() {
      return count;
    },
    get win() {
      return win;
    },
    get rows() {
      return rows;
    },
    get after() {
      return win.totalHeight - win.offsetTop - rows.length * rowHeight;
    },
    onscroll() {
      top = el?.scrollTop ?? 0;
    },
    toTop() {
      el?.scrollTo?.({ top: 0 });
      top = 0;
    },
  };
}
