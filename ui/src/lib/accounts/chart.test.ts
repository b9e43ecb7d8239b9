import { describe, expect, it } from 'vitest';
import type { Plan, TrendPoint } from '$lib/bindings';
import { barAt, computeChart, labelStride, niceStep, niceTicks } from './chart';
import { counts } from '../../test/fixtures';

const plans: Plan[] = [
  { id: 'basic', name: 'Basic', seat_metric: 'users_registered' },
  { id: 'standard', name: 'Standard', seat_metric: 'users_with_token' },
  { id: 'premium', name: 'Premium', seat_metric: 'users_with_activity' },
];

const pt = (month: string, b: number, s: number, p: number, ok = 1, na = 0, ne = 0): TrendPoint => ({
  month,
  totals: { basic: counts(b, 0, b), standard: counts(s, 0, s), premium: counts(p, 0, p) },
  subtree: { ok, not_available: na, non_existent: ne },
});

describe('nice scale', () => {
  it('picks 1/2/2.5/5 steps', () => {
    expect(niceStep(100)).toBe(25);
    expect(niceStep(1000)).toBe(250);
    expect(niceStep(37)).toBe(10);
    expect(niceStep(0)).toBe(1);
  });
  it('ticks cover the maximum from zero', () => {
    expect(niceTicks(95)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(0)).toEqual([0, 1]);
    const t = niceTicks(12345);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(12345);
    expect(t.every((v) => Number.isInteger(v))).toBe(true);
  });
});

describe('computeChart', () => {
  const layout = { width: 400, height: 200, margin: { top: 0, right: 0, bottom: 0, left: 0 } };

  it('stacks plans bottom-up in catalog order with heights proportional to values', () => {
    const g = computeChart([pt('2024-01', 10, 20, 70)], plans, 'users_with_activity', layout);
    expect(g.yMax).toBe(100);
    const bar = g.bars[0];
    expect(bar.total).toBe(100);
    expect(bar.segments.map((s) => s.plan)).toEqual(['basic', 'standard', 'premium']);
    expect(bar.segments.map((s) => s.height)).toEqual([20, 40, 140]);
    expect(bar.segments[0].y).toBe(180); // bottom segment ends at the baseline (200)
    expect(bar.segments[2].y).toBe(0); // top of the stack reaches the top at yMax
  });

  it('leaves zero-valued plans out of the stack', () => {
    const g = computeChart([pt('2024-01', 0, 50, 0)], plans, 'users_with_activity', layout);
    expect(g.bars[0].segments).toHaveLength(1);
    expect(g.bars[0].segments[0].plan).toBe('standard');
  });

  it('draws months without reporting accounts as gaps, not zeros', () => {
    const g = computeChart(
      [pt('2024-01', 0, 0, 0, 0, 0, 5), pt('2024-02', 0, 0, 0, 0, 3, 1), pt('2024-03', 5, 0, 0)],
      plans,
      'users_with_activity',
      layout,
    );
    expect(g.bars[0]).toMatchObject({ gap: true, nonExistent: true, segments: [] });
    expect(g.bars[1]).toMatchObject({ gap: true, nonExistent: false, segments: [] });
    expect(g.bars[2].gap).toBe(false);
  });

  it('a reported zero is not a gap', () => {
    const g = computeChart([pt('2024-01', 0, 0, 0, 2)], plans, 'users_with_activity', layout);
    expect(g.bars[0].gap).toBe(false);
    expect(g.bars[0].total).toBe(0);
  });

  it('ignores gap months for the scale and spreads slots evenly', () => {
    const g = computeChart([pt('2024-01', 10, 0, 0), pt('2024-02', 999, 0, 0, 0)], plans, 'users_with_activity', layout);
    expect(g.yMax).toBe(10);
    expect(g.slot).toBe(200);
    expect(g.bars.map((b) => b.cx)).toEqual([100, 300]);
  });

  it('uses the chosen metric', () => {
    const g = computeChart([pt('2024-01', 10, 20, 30)], plans, 'users_with_token', layout);
    expect(g.bars[0].total).toBe(0);
  });

  it('finds the bar under the pointer', () => {
    const g = computeChart([pt('2024-01', 1, 0, 0), pt('2024-02', 1, 0, 0)], plans, 'users_with_activity', layout);
    expect(barAt(g, 10)).toBe(0);
    expect(barAt(g, 399)).toBe(1);
    expect(barAt(g, -5)).toBeNull();
  });

  it('thins month labels when slots are narrow', () => {
    expect(labelStride(40)).toBe(1);
    expect(labelStride(20)).toBe(2);
    expect(labelStride(10)).toBe(4);
  });
});
