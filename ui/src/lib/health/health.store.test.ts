import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { HealthStore, RECOMPUTE_POLL_MS } from './health.svelte';
import type { CustomerHealth, HealthPage } from '$lib/bindings';

afterEach(() => {
  clearMocks();
  vi.useRealTimers();
});

function customer(id: string, score: number): CustomerHealth {
  return { account_id: id, name: id.toUpperCase(), score, factors: [] };
}

/** A backend whose scores are being recomputed for its first `busy` answers: those show yesterday's scores. */
function recomputingBackend(busy: number) {
  const calls: string[] = [];
  mockIPC((cmd, args) => {
    calls.push(cmd);
    if (cmd === 'customer_health') return customer((args as { accountId: string }).accountId, 70);
    if (cmd !== 'health_list') throw `command ${cmd} not found`;
    const lists = calls.filter((c) => c === 'health_list').length;
    const computing = lists <= busy;
    const answer: HealthPage = {
      page: { items: [customer('a', computing ? 40 : 70)], total: 1, offset: 0, limit: 100 },
      as_of: computing ? '2026-12-03' : '2026-12-04',
      computing,
    };
    return answer;
  });
  return { lists: () => calls.filter((c) => c === 'health_list').length };
}

describe('HealthStore', () => {
  it('shows the stored scores while they are recomputed, and asks again until they are current', async () => {
    vi.useFakeTimers();
    const b = recomputingBackend(2);
    const store = new HealthStore();
    await store.load();
    // the stored scores are shown at once, marked as being recomputed
    expect(store.computing).toBe(true);
    expect(store.asOf).toBe('2026-12-03');
    expect(store.row(0)?.score).toBe(40);
    expect(b.lists()).toBe(1);

    await vi.advanceTimersByTimeAsync(RECOMPUTE_POLL_MS);
    expect(b.lists()).toBe(2);
    expect(store.computing).toBe(true);

    await vi.advanceTimersByTimeAsync(RECOMPUTE_POLL_MS);
    expect(b.lists()).toBe(3);
    expect(store.computing).toBe(false);
    expect(store.asOf).toBe('2026-12-04');
    expect(store.row(0)?.score).toBe(70);

    // current: nothing more is asked
    await vi.advanceTimersByTimeAsync(5 * RECOMPUTE_POLL_MS);
    expect(b.lists()).toBe(3);
  });
});
