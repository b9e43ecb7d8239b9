import { describe, expect, it } from 'vitest';
import type { Page } from '$lib/bindings';
import { PagedList } from './paged';
import { pageRange } from './paging';

/** A backend over `data` (replaceable: a sync) whose answers wait until released, in any order. */
function backend(initial: string[]) {
  const state = { data: initial, version: 0 };
  const waiting: { run: () => void; offset: number }[] = [];
  const fetcher = (offset: number, limit: number) =>
    new Promise<Page<string>>((resolve) => {
      // the answer is read when the request is made: one state per answer
      const items = state.data.slice(offset, offset + limit);
      const total = state.data.length;
      waiting.push({ offset, run: () => resolve({ items, total, offset, limit }) });
    });
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { state, waiting, fetcher, flush };
}

/** The rows shown for [start, end): present ones must be one state's contiguous slice. */
function shown(list: PagedList<string>, start: number, end: number): (string | undefined)[] {
  return Array.from({ length: end - start }, (_, i) => list.get(start + i));
}

describe('PagedList', () => {
  it('asks only for the pages a range needs, once', async () => {
    const b = backend(Array.from({ length: 1000 }, (_, i) => `r${i}`));
    const list = new PagedList(b.fetcher, { pageSize: 100 });
    list.reload(0, 30);
    expect(b.waiting.map((w) => w.offset)).toEqual([0]);
    b.waiting.splice(0).forEach((w) => w.run());
    await b.flush();
    expect(list.total).toBe(1000);
    list.ensure(150, 260);
    list.ensure(150, 260); // asked already
    expect(b.waiting.map((w) => w.offset)).toEqual([100, 200]);
    b.waiting.splice(0).forEach((w) => w.run());
    await b.flush();
    expect(shown(list, 150, 260)).toEqual(Array.from({ length: 110 }, (_, i) => `r${150 + i}`));
    list.ensure(990, 1100); // past the end: nothing beyond the last page
    expect(b.waiting.map((w) => w.offset)).toEqual([900]);
  });

  it('ignores answers of an older filter or state', async () => {
    const b = backend(['a', 'b', 'c']);
    const list = new PagedList(b.fetcher, { pageSize: 2 });
    list.reload(0, 2);
    const old = b.waiting.splice(0);
    b.state.data = ['x', 'y'];
    list.reload(0, 2);
    b.waiting.splice(0).forEach((w) => w.run());
    await b.flush();
    old.forEach((w) => w.run());
    await b.flush();
    expect(shown(list, 0, 2)).toEqual(['x', 'y']);
    expect(list.total).toBe(2);
  });

  it('keeps at most maxPages pages, the nearest to the viewport', async () => {
    const b = backend(Array.from({ length: 10_000 }, (_, i) => `r${i}`));
    const list = new PagedList(b.fetcher, { pageSize: 50, maxPages: 4 });
    list.reload(0, 10);
    for (let start = 0; start < 10_000; start += 37) {
      list.ensure(start, start + 60);
      b.waiting.splice(0).forEach((w) => w.run());
      await b.flush();
      expect(list.pageCount).toBeLessThanOrEqual(4);
      expect(shown(list, start, Math.min(start + 60, 10_000))).toEqual(
        Array.from({ length: Math.min(60, 10_000 - start) }, (_, i) => `r${start + i}`),
      );
    }
  });

  it('never shows a row twice or leaves a gap, whatever order answers come in and syncs land', async () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const make = (v: number, n: number) => Array.from({ length: n }, (_, i) => `v${v}-${String(i).padStart(4, '0')}`);
    const b = backend(make(0, 777));
    const list = new PagedList(b.fetcher, { pageSize: 25, maxPages: 6 });
    let version = 0;
    let [start, end] = [0, 40];
    list.reload(start, end);
    for (let step = 0; step < 600; step++) {
      const action = rand(10);
      if (action < 4) {
        start = rand(Math.max(1, (list.total ?? 777) - 10));
        end = start + 10 + rand(60);
        list.ensure(start, end);
      } else if (action < 8 && b.waiting.length > 0) {
        b.waiting.splice(rand(b.waiting.length), 1)[0].run();
        await b.flush();
      } else if (action === 8) {
        // a sync: another state, longer or shorter; the view reloads what it shows
        version += 1;
        b.state.data = make(version, 500 + rand(600));
        list.reload(start, end);
      }
      // what is on screen: the present rows come from one state, each at its own index
      const rows = shown(list, start, end);
      const versions = new Set(rows.filter((r) => r !== undefined).map((r) => r!.split('-')[0]));
      expect(versions.size, `step ${step}: one state on screen`).toBeLessThanOrEqual(1);
      rows.forEach((r, i) => {
        if (r !== undefined) expect(Number(r.split('-')[1]), `step ${step}: row ${start + i} is itself`).toBe(start + i);
      });
    }
    // once everything has answered, the viewport shows the latest state exactly
    while (b.waiting.length > 0) {
      b.waiting.splice(0).forEach((w) => w.run());
      await b.flush();
    }
    list.ensure(start, end);
    while (b.waiting.length > 0) {
      b.waiting.splice(0).forEach((w) => w.run());
      await b.flush();
    }
    const last = Math.min(end, b.state.data.length);
    expect(shown(list, Math.min(start, last), last)).toEqual(b.state.data.slice(Math.min(start, last), last));
    expect(list.total).toBe(b.state.data.length);
  });

  it('a failed request shows its error and what did arrive', async () => {
    const fetcher = (offset: number, limit: number): Promise<Page<string>> =>
      offset === 0 ? Promise.resolve({ items: ['a', 'b'], total: 4, offset, limit }) : Promise.reject({ kind: 'cache', message: 'broken' });
    const list = new PagedList(fetcher, { pageSize: 2 });
    list.reload(0, 4);
    await list.idle();
    expect(list.error).toEqual({ kind: 'cache', message: 'broken' });
    expect(shown(list, 0, 4)).toEqual(['a', 'b', undefined, undefined]);
    expect(list.total).toBe(4);
  });
});

describe('pageRange', () => {
  it('numbers the rows shown and the neighbours', () => {
    expect(pageRange(0, 20, 1234)).toEqual({ text: '1–20 of 1,234', prev: null, next: 20 });
    expect(pageRange(20, 20, 1234)).toEqual({ text: '21–40 of 1,234', prev: 0, next: 40 });
    expect(pageRange(1220, 20, 1234)).toEqual({ text: '1,221–1,234 of 1,234', prev: 1200, next: null });
    expect(pageRange(0, 20, 0)).toEqual({ text: '0 of 0', prev: null, next: null });
    expect(pageRange(5, 20, 7)).toEqual({ text: '6–7 of 7', prev: 0, next: null });
  });
});
