import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCompact,
  formatDate,
  formatDayMonth,
  compareText,
  formatDecimal1,
  formatInt,
  formatMonth,
  formatMonthShort,
  ownCell,
  relativeTime,
  subtreeCell,
  sumTotals,
  countsFor,
} from './format';
import { counts } from '../../test/fixtures';

describe('formatInt', () => {
  it('adds thousands separators', () => {
    expect(formatInt(0)).toBe('0');
    expect(formatInt(999)).toBe('999');
    expect(formatInt(1234)).toBe('1,234');
    expect(formatInt(1234567)).toBe('1,234,567');
    expect(formatInt(-4200)).toBe('-4,200');
  });
  it('rounds and refuses non-finite numbers', () => {
    expect(formatInt(1234.6)).toBe('1,235');
    expect(formatInt(Number.NaN)).toBe('—');
  });
  it('writes what en-US number formatting writes, without Intl at run time', () => {
    // Intl (Node's full ICU) is the reference here; the app no longer calls it.
    const reference = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
    for (const n of [0, 7, 10, 99, 100, 999, 1000, 9999, 10000, 123456, 999999, 1000000, 94903, 2 ** 31, 2 ** 53 - 1]) {
      expect(formatInt(n)).toBe(reference.format(n));
      expect(formatInt(-n)).toBe(n === 0 ? '0' : reference.format(-n));
    }
    expect(formatInt(-0.4)).toBe('0');
  });
});

describe('formatDecimal1', () => {
  it('writes one decimal of the value as sent (already rounded) with separators', () => {
    // en-US formatting as the reference, on values whose binary form rounds as their decimal
    // form does (toFixed rounds the binary value: 1.15 gives "1.1"; the forecasts arrive
    // rounded to one decimal).
    const reference = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    for (const n of [0, 0.04, 0.05, 0.25, 1, 52.34, 52.35, 999.95, 1234.56, 1234567.89, -3.21, -1234.5]) {
      expect(formatDecimal1(n)).toBe(reference(n));
    }
    expect(formatDecimal1(-0.01)).toBe('0.0');
    expect(formatDecimal1(Number.POSITIVE_INFINITY)).toBe('—');
  });
});

describe('compareText', () => {
  it('orders by code units, as the cache orders names (binary collation)', () => {
    const names = ['beta', 'Beta', 'alpha', 'Zed', 'alpha', 'Ärger', 'a'];
    expect([...names].sort(compareText)).toEqual(['Beta', 'Zed', 'a', 'alpha', 'alpha', 'beta', 'Ärger']);
    expect(compareText('x', 'x')).toBe(0);
  });
});

describe('formatCompact', () => {
  it('compacts axis labels', () => {
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(1200)).toBe('1.2k');
    expect(formatCompact(25_000)).toBe('25k');
    expect(formatCompact(2_500_000)).toBe('2.5M');
  });
});

describe('cells never show 0 for a missing month', () => {
  const own = counts(1500, 700, 42);
  it('shows the value when available', () => {
    expect(ownCell('ok', own, 'users_registered')).toEqual({ text: '1,500', title: null, kind: 'value' });
  });
  it('shows a real zero as 0', () => {
    expect(ownCell('ok', counts(0, 0, 0), 'users_with_activity').text).toBe('0');
  });
  it('shows n/a when not available, with a tooltip naming the month', () => {
    const c = ownCell('not_available', null, 'users_registered', '2024-05');
    expect(c.text).toBe('n/a');
    expect(c.kind).toBe('not_available');
    expect(c.title).toContain('May 2024');
  });
  it('shows — when the account did not exist yet', () => {
    const c = ownCell('non_existent', null, 'users_with_token', '2024-01');
    expect(c.text).toBe('—');
    expect(c.title).toContain('did not exist');
  });
  it('treats ok without counts as not available', () => {
    expect(ownCell('ok', null, 'users_registered').text).toBe('n/a');
  });
  it('subtree sums are gaps when nobody reported', () => {
    expect(subtreeCell(0, { ok: 0, not_available: 3, non_existent: 1 }).text).toBe('n/a');
    expect(subtreeCell(0, { ok: 0, not_available: 0, non_existent: 4 }).text).toBe('—');
    expect(subtreeCell(0, { ok: 2, not_available: 1, non_existent: 0 }).text).toBe('0');
    expect(subtreeCell(12345, { ok: 2, not_available: 0, non_existent: 0 }).text).toBe('12,345');
  });
  it('sums totals over plans and tolerates missing plans', () => {
    const totals = { basic: counts(1, 2, 3), premium: counts(10, 20, 30) };
    expect(sumTotals(totals, 'users_with_token')).toBe(22);
    expect(sumTotals(totals, 'users_with_token', ['basic', 'standard'])).toBe(2);
    expect(countsFor(totals, 'standard')).toEqual(counts(0, 0, 0));
  });
});

describe('dates', () => {
  it('formats months and dates', () => {
    expect(formatMonth('2024-05')).toBe('May 2024');
    expect(formatMonth('2024-13')).toBe('2024-13');
    expect(formatMonthShort('2023-12')).toBe('Dec');
    expect(formatMonthShort('2023-12', true)).toBe('Dec ’23');
    expect(formatDate('2023-11-04')).toBe('Nov 4, 2023');
    expect(formatDayMonth('2023-11-04')).toBe('Nov 4');
    expect(formatDayMonth('2027-03-14T00:00:00Z')).toBe('Mar 14');
    expect(formatDayMonth('not a date')).toBe('not a date');
  });
});

describe('relativeTime', () => {
  const now = new Date('2024-06-10T12:00:00Z');
  const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
  it('says just now for the last seconds', () => {
    expect(relativeTime(ago(5), now)).toBe('just now');
    expect(relativeTime(ago(44), now)).toBe('just now');
  });
  it('counts minutes, hours and days', () => {
    expect(relativeTime(ago(120), now)).toBe('2 min ago');
    expect(relativeTime(ago(59 * 60), now)).toBe('59 min ago');
    expect(relativeTime(ago(3 * 3600 + 100), now)).toBe('3 h ago');
    expect(relativeTime(ago(26 * 3600), now)).toBe('yesterday');
    expect(relativeTime(ago(5 * 86400), now)).toBe('5 days ago');
  });
  it('falls back to the date for old or future instants', () => {
    expect(relativeTime(ago(90 * 86400), now)).toMatch(/^Mar \d+, 2024 \d\d:\d\d$/);
    expect(relativeTime(ago(-3600), now)).toMatch(/2024/);
    expect(relativeTime('garbage', now)).toBe('unknown');
  });
  it('accepts epoch milliseconds', () => {
    expect(relativeTime(ago(600), now.getTime())).toBe('10 min ago');
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MB');
    expect(formatBytes(-1)).toBe('—');
  });
});
