// Fixed-row-height virtual list: which rows to put in the DOM for a scroll position.

export type WindowInput = {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  count: number;
  /** extra rows rendered above and below the viewport */
  overscan?: number;
};

export type VirtualWindow = {
  /** first rendered index (inclusive) */
  start: number;
  /** last rendered index (exclusive) */
  end: number;
  /** translateY of the first rendered row */
  offsetTop: number;
  /** height of the whole list */
  totalHeight: number;
};

export function computeWindow({ scrollTop, viewportHeight, rowHeight, count, overscan = 6 }: WindowInput): VirtualWindow {
  const totalHeight = Math.max(0, count) * rowHeight;
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, offsetTop: 0, totalHeight: 0 };
  const maxScroll = Math.max(0, totalHeight - viewportHeight);
  const top = Math.min(Math.max(0, scrollTop), maxScroll);
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) - first;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + Math.max(visible, 1) + overscan);
  return { start, end, offsetTop: start * rowHeight, totalHeight };
}

/**
 * The scrollTop that brings row `index` into view with the least movement, or null when it is
 * already fully visible.
 */
export function scrollToReveal(index: number, scrollTop: number, viewportHeight: number, rowHeight: number): number | null {
  const rowTop = index * rowHeight;
  const rowBottom = rowTop + rowHeight;
  if (rowTop < scrollTop) return rowTop;
  if (rowBottom > scrollTop + viewportHeight) return Math.max(0, rowBottom - viewportHeight);
  return null;
}
