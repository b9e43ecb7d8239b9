import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { RECOMPUTE_POLL_MS } from './health.svelte';
import { RENEWALS_PAGE, RenewalsStore, startsMonth } from './renewals.svelte';
import type { Renewal, RenewalCalendar } from '$lib/bindings';

afterEach(() => {
  clearMocks();
  vi.useRealTimers();
});

function renewal(i: number, month: string): Renewal {
  return {
    license_id: `L-${String(i).padStart(4, '0')}`,
    account_id: `acc-${i}`,
    account_name: `Customer ${i}`,
    license_type: 'prod',
    expires_at: `${month}-15T00:00:00Z`,
    month,
    seats: 10,
    used: 5,
    utilization: 0.5,
    forecast_at_expiry: null,
    forecast_over_seats: false,
    health: 70,
    plans: [],
  };
}

/** A calendar of `months` months with 30 licenses ending in each, answered a page at a time
 *  (`busy`: how many first answers say the scores are being recomputed). */
function calendarBackend(busy = 0) {
  const asked: { months: number; offset: number; limit: number }[] = [];
  mockIPC((cmd, args) => {
    if (cmd !== 'renewal_calendar') throw `command ${cmd} not found`;
    const { months, offset, limit } = args as { months: number; offset: number; limit: number };
    asked.push({ months, offset, limit });
    const names = Array.from({ length: months }, (_, m) => `2027-${String(m + 1).padStart(2, '0')}`);
    const all = names.flatMap((month, m) => Array.from({ length: 30 }, (_, k) => renewal(m * 30 + k, month)));
    const answer: RenewalCalendar = {
      months: names.map((month) => ({ month, licenses: 30 })),
      page: { items: all.slice(offset, offset + limit), total: all.length, offset, limit },
      utilization_month: '2026-12',
      as_of: '2027-01-02',
      computing: asked.length <= busy,
    };
    return answer;
  });
  return asked;
}

describe('RenewalsStore', () => {
  it('asks for the first page only, with every month of the span counted', async () => {
    const asked = calendarBackend();
    const store = new RenewalsStore();
    await store.load();
    expect(asked).toEqual([{ months: 12, offset: 0, limit: RENEWALS_PAGE }]);
    expect(store.total).toBe(360);
    expect(store.calendar.map((m) => m.licenses)).toEqual(Array(12).fill(30));
    expect(store.utilizationMonth).toBe('2026-12');
    expect(store.row(99)?.license_id).toBe('L-0099');
    expect(store.row(100)).toBeUndefined();

    // scrolled to the end: the last page only
    store.showRows(340, 360);
    await store.list.idle();
    expect(asked.at(-1)).toEqual({ months: 12, offset: 300, limit: RENEWALS_PAGE });
    expect(store.row(359)?.month).toBe('2027-12');
  });

  it('asks again from the top for another span', async () => {
    const asked = calendarBackend();
    const store = new RenewalsStore();
    await store.load();
    store.setMonths(3);
    await store.list.idle();
    expect(asked.at(-1)).toEqual({ months: 3, offset: 0, limit: RENEWALS_PAGE });
    expect(store.total).toBe(90);
    expect(store.calendar).toHaveLength(3);
    store.setMonths(3);
    expect(asked).toHaveLength(2);
  });

  it('asks again while the scores are recomputed, then stops', async () => {
    vi.useFakeTimers();
    const asked = calendarBackend(1);
    const store = new RenewalsStore();
    await store.load();
    expect(store.computing).toBe(true);
    await vi.advanceTimersByTimeAsync(RECOMPUTE_POLL_MS);
    expect(asked).toHaveLength(2);
    expect(store.computing).toBe(false);
    await vi.advanceTimersByTimeAsync(5 * RECOMPUTE_POLL_MS);
    expect(asked).toHaveLength(2);
  });

  it('marks the first license of each month, and none beside a license not yet here', async () => {
    calendarBackend();
    const store = new RenewalsStore();
    await store.load();
    // 30 licenses a month: 0, 30, 60 and 90 start their months
    const starts = Array.from({ length: 100 }, (_, i) => i).filter((i) => startsMonth(store, i));
    expect(starts).toEqual([0, 30, 60, 90]);
    store.showRows(300, 310);
    await store.list.idle();
    // 300 starts November, but the license before it (299) is on a page not asked for
    expect(store.row(299)).toBeUndefined();
    expect(startsMonth(store, 300)).toBe(false);
    expect(startsMonth(store, 330)).toBe(true);
  });
});
