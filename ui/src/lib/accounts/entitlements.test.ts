import { describe, expect, it } from 'vitest';
import { barFill, forecastText, formatUtilization, seatState, sparkline, stateText } from './entitlements';

describe('entitlements view logic', () => {
  it('says where used seats stand against the seats, by the list’s thresholds', () => {
    expect(seatState(55, 50)).toBe('over');
    expect(seatState(50, 50)).toBe('near'); // 100 %: above 90 %, not over
    expect(seatState(46, 50)).toBe('near'); // 92 %
    expect(seatState(45, 50)).toBe('ok'); // exactly 90 % is not above it
    expect(seatState(25, 50)).toBe('ok'); // exactly 50 % is not below it
    expect(seatState(24, 50)).toBe('under');
    expect(seatState(0, 50)).toBe('under');
    expect(seatState(3, null)).toBe('over'); // no seats: any use is overage
    expect(seatState(3, 0)).toBe('over'); // 0 seats count as none
    expect(seatState(0, null)).toBe('unused');
  });

  it('formats utilization with one decimal under 100 % and whole percents above', () => {
    expect(formatUtilization(0.875)).toBe('87.5 %');
    expect(formatUtilization(0.9)).toBe('90 %');
    expect(formatUtilization(0.12345)).toBe('12.3 %');
    expect(formatUtilization(0)).toBe('0 %');
    expect(formatUtilization(1.124)).toBe('112 %');
    expect(formatUtilization(25.5)).toBe('2,550 %');
    expect(formatUtilization(null)).toBe('—');
  });

  it('fills the bar to the utilization, marking the share beyond the seats', () => {
    expect(barFill(25, 50)).toEqual({ fillPct: 50, overPct: 0 });
    expect(barFill(50, 50)).toEqual({ fillPct: 100, overPct: 0 });
    // 60 used of 50 seats: the bar is full, 10 of 60 (one sixth) is over
    const over = barFill(60, 50);
    expect(over.fillPct).toBe(100);
    expect(over.overPct).toBeCloseTo(100 / 6, 9);
    expect(barFill(4, null)).toEqual({ fillPct: 100, overPct: 100 });
    expect(barFill(0, null)).toEqual({ fillPct: 0, overPct: 0 });
  });

  it('explains the state and the forecast in words', () => {
    expect(stateText('over', 1234)).toBe('1,234 over its seats');
    expect(stateText('under', 0)).toBe('below 50 % of its seats');
    expect(forecastText(52.25, '2025-01-01T00:00:00Z')).toBe('52.3');
    expect(forecastText(7, '2025-01-01T00:00:00Z')).toBe('7.0');
    expect(forecastText(null, null)).toBe('no forecast');
    expect(forecastText(null, '2025-01-01T00:00:00Z')).toBe('none (under 3 months of data)');
  });

  it('draws used seats and the seat line in the same scale, over months marked', () => {
    const s = sparkline(
      [
        { month: '2024-01', used: 0, seats: 10 },
        { month: '2024-02', used: 10, seats: 10 },
        { month: '2024-03', used: 20, seats: 10 },
      ],
      106,
      50,
      3,
    );
    // max = 20 × 1.1 = 22; x from 3 to 103
    expect(s.max).toBeCloseTo(22, 9);
    expect(s.points.map((p) => p.x)).toEqual([3, 53, 103]);
    expect(s.points[0].y).toBe(47); // 0 at the bottom, less the padding
    expect(s.points[2].y).toBeCloseTo(50 - 3 - (20 / 22) * 44, 1);
    expect(s.points.map((p) => p.over)).toEqual([false, false, true]);
    // the seat line crosses the used line where they are equal (February)
    expect(s.seats.split(' ')[1]).toBe(`53,${s.points[1].y}`);
    expect(sparkline([{ month: '2024-01', used: 4, seats: null }], 100, 40).seats).toBe('');
  });
});
