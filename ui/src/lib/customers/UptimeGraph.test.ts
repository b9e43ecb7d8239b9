import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/svelte';
import UptimeGraph from './UptimeGraph.svelte';
import type { UptimeBar } from '$lib/bindings';

afterEach(() => cleanup());

const H = 3600;
const DAY_MS = 86_400_000;
const NOW = Date.parse('2025-11-23T12:00:00Z');

function bars(): UptimeBar[] {
  return Array.from({ length: 14 }, (_, i) => {
    const start = new Date(NOW - (14 - i) * DAY_MS).toISOString();
    const end = new Date(NOW - (13 - i) * DAY_MS).toISOString();
    const base = { start, end, up_secs: 24 * H, degraded_secs: 0, down_secs: 0, no_data_secs: 0, ratio: 1, events: [] };
    if (i < 3) return { ...base, up_secs: 0, no_data_secs: 24 * H, ratio: null };
    if (i === 5) {
      return {
        ...base,
        up_secs: 18 * H,
        degraded_secs: 5 * H,
        down_secs: H,
        ratio: 23 / 24,
        events: [
          { instance_id: 'i-1', field: 'status', previous: 'ready', new: 'degraded', received_at: new Date(NOW - 9 * DAY_MS).toISOString() },
          { instance_id: 'i-1', field: 'status', previous: 'degraded', new: 'unavailable', received_at: new Date(NOW - 9 * DAY_MS + 5 * H * 1000).toISOString() },
        ],
      };
    }
    return base;
  });
}

describe('UptimeGraph', () => {
  it('draws one bar a day with its bands, and says what each holds', () => {
    render(UptimeGraph, { bars: bars(), label: 'Uptime of i-1: 99.7 %' });
    const graph = screen.getByTestId('uptime-graph');
    expect(graph).toHaveAttribute('role', 'img');
    expect(graph).toHaveAttribute('aria-label', 'Uptime of i-1: 99.7 %');
    const all = within(graph).getAllByTestId('uptime-bar');
    expect(all).toHaveLength(14);
    expect([...all[0].querySelectorAll('[data-band]')].map((r) => r.getAttribute('data-band'))).toEqual(['no_data']);
    expect([...all[5].querySelectorAll('[data-band]')].map((r) => r.getAttribute('data-band'))).toEqual(['up', 'degraded', 'down']);
    expect(all[5].querySelector('title')?.textContent).toMatch(/Up 18 h · Degraded 5 h · Down 1 h\nUptime 95\.8 %\n2 events:/);
    expect(all[0].querySelector('title')?.textContent).toMatch(/No data 1 d\nUptime no data/);
    expect(all[5]).toHaveAttribute('data-events', '2');
  });

  it('marks the days with events with a tick listing them', () => {
    render(UptimeGraph, { bars: bars(), label: 'x' });
    const ticks = screen.getAllByTestId('uptime-event');
    expect(ticks).toHaveLength(1);
    expect(ticks[0]).toHaveAttribute('data-index', '5');
    const title = ticks[0].querySelector('title')?.textContent ?? '';
    expect(title).toMatch(/^2 events:\n.* · Status: Ready → Degraded\n.* · Status: Degraded → Unavailable$/);
  });

  it('draws the axis on demand, and nothing without bars', () => {
    render(UptimeGraph, { bars: bars(), label: 'x', axis: true });
    expect(screen.getByText('14 days ago')).toBeInTheDocument();
    expect(screen.getByText('now')).toBeInTheDocument();
    cleanup();
    render(UptimeGraph, { bars: [], label: 'x' });
    expect(screen.getByTestId('uptime-graph')).toHaveAttribute('data-bars', '0');
    expect(screen.queryAllByTestId('uptime-bar')).toHaveLength(0);
  });
});
