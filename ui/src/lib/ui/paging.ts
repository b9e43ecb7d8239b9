// Numbered pages of a list the backend answers one page at a time (Pager.svelte). Pure.
import { formatInt } from './format';

export type PageRange = {
  /** "21–40 of 1,234" */
  text: string;
  /** the offset of the previous page, null on the first */
  prev: number | null;
  /** the offset of the next page, null on the last */
  next: number | null;
};

export function pageRange(offset: number, limit: number, total: number): PageRange {
  const size = Math.max(1, Math.floor(limit));
  const all = Math.max(0, Math.floor(total));
  const from = Math.min(Math.max(0, Math.floor(offset)), Math.max(0, all - 1));
  const to = Math.min(all, from + size);
  return {
    text: all === 0 ? '0 of 0' : `${formatInt(from + 1)}–${formatInt(to)} of ${formatInt(all)}`,
    prev: from > 0 ? Math.max(0, from - size) : null,
    next: to < all ? to : null,
  };
}
