import { describe, expect, it } from 'vitest';
import type { FactorScore } from '$lib/bindings';
import { contributionText, daysUntil, effectiveWeights, factorScoreText, forecastText, scoreTone, SORTS } from './health';

const f = (factor: FactorScore['factor'], weight: number, score: number | null, contribution = 0): FactorScore => ({
  factor,
  weight,
  value: score,
  detail: '',
  score,
  contribution,
});

describe('health', () => {
  it('gives a score its tone at 75 and 50', () => {
    expect([scoreTone(100), scoreTone(75), scoreTone(74), scoreTone(50), scoreTone(49), scoreTone(null)]).toEqual([
      'success',
      'success',
      'warning',
      'warning',
      'danger',
      'muted',
    ]);
  });

  it('scales the weights of the factors with data to 100', () => {
    // 20 + 15 with data: 20/35 and 15/35 of 100; the one without data weighs nothing.
    const w = effectiveWeights([f('usage_trend', 20, 50), f('version_lag', 15, 100), f('utilization', 20, null)]);
    expect(w.get('usage_trend')).toBeCloseTo((20 * 100) / 35, 9);
    expect(w.get('version_lag')).toBeCloseTo((15 * 100) / 35, 9);
    expect(w.get('utilization')).toBe(0);
  });

  it('writes scores and contributions', () => {
    expect(factorScoreText(null)).toBe('n/a');
    expect(factorScoreText(74.6)).toBe('75');
    expect(contributionText(f('utilization', 20, 80, 16))).toBe('+16.0');
    expect(contributionText(f('utilization', 20, null))).toBe('left out');
    expect(SORTS[0]).toEqual({ id: null, label: 'Health score' });
    expect(SORTS).toHaveLength(7);
  });

  it('flags a forecast over the seats and counts days to an end', () => {
    expect(forecastText({ forecast_at_expiry: 12.34, forecast_over_seats: true, seats: 10 })).toEqual({ text: '12.3 of 10', over: true });
    expect(forecastText({ forecast_at_expiry: null, forecast_over_seats: false, seats: 10 })).toEqual({ text: '—', over: false });
    const now = Date.UTC(2024, 6, 10, 12);
    expect(daysUntil('2024-08-15T00:00:00Z', now)).toBe(36);
    expect(daysUntil('2024-07-11T00:30:00Z', now)).toBe(1); // tomorrow, though less than a day away
    expect(daysUntil('2024-07-10T23:00:00Z', now)).toBe(0);
  });
});
