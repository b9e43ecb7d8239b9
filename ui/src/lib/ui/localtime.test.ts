import { afterEach, describe, expect, it } from 'vitest';
import type { LocalZone } from '$lib/bindings';
import { localParts, offsetAt, setLocalZone } from './localtime';
import { formatDateTime } from './format';
import { formatDay, formatShortDateTime } from '../customers/customers';
import { validUntilText, yyyymmdd } from '../airgap/airgap';

const ms = (iso: string) => Date.parse(iso);

// New York in 2025, as the shell's table gives it: UTC-5, UTC-4 from 07:00 UTC on March 9
// (2 a.m. local) to 06:00 UTC on November 2 (2 a.m. local, daylight time).
const NEW_YORK: LocalZone = {
  changes: [
    { from_ms: ms('1970-01-01T00:00:00Z'), offset_seconds: -5 * 3600 },
    { from_ms: ms('2025-03-09T07:00:00Z'), offset_seconds: -4 * 3600 },
    { from_ms: ms('2025-11-02T06:00:00Z'), offset_seconds: -5 * 3600 },
  ],
};

// Kolkata: one offset, not whole hours.
const KOLKATA: LocalZone = { changes: [{ from_ms: ms('1970-01-01T00:00:00Z'), offset_seconds: 5 * 3600 + 1800 }] };

afterEach(() => setLocalZone(null));

describe('offsetAt', () => {
  it('takes the last change at or before the instant, and the first one before all', () => {
    const t = NEW_YORK.changes;
    expect(offsetAt(t, ms('1960-06-01T00:00:00Z'))).toBe(-18000);
    expect(offsetAt(t, ms('2025-03-09T06:59:59Z'))).toBe(-18000);
    expect(offsetAt(t, ms('2025-03-09T07:00:00Z'))).toBe(-14400);
    expect(offsetAt(t, ms('2025-11-02T05:59:59Z'))).toBe(-14400);
    expect(offsetAt(t, ms('2025-11-02T06:00:00Z'))).toBe(-18000);
    expect(offsetAt(t, ms('2090-01-01T00:00:00Z'))).toBe(-18000);
    expect(offsetAt([], 0)).toBe(0);
  });
});

describe('localParts with the shell table', () => {
  it('gives the wall clock on each side of a change', () => {
    setLocalZone(NEW_YORK);
    // One second before the spring change it is 01:59:59 EST; at the change, 03:00 EDT.
    expect(localParts(ms('2025-03-09T06:59:00Z'))).toEqual({ year: 2025, month: 2, day: 9, hours: 1, minutes: 59 });
    expect(localParts(ms('2025-03-09T07:00:00Z'))).toEqual({ year: 2025, month: 2, day: 9, hours: 3, minutes: 0 });
    // 03:30 UTC on New Year's Day is still the 31st of December in New York.
    expect(localParts(ms('2025-01-01T03:30:00Z'))).toEqual({ year: 2024, month: 11, day: 31, hours: 22, minutes: 30 });
  });

  it('formats the views local times from it', () => {
    setLocalZone(KOLKATA);
    expect(formatDateTime('2025-11-23T20:15:00Z')).toBe('Nov 24, 2025 01:45');
    expect(formatShortDateTime('2025-11-23T20:15:00Z')).toBe('Nov 24 01:45');
    expect(formatDay('2025-11-23T20:15:00Z')).toBe('Nov 24, 2025');
    expect(yyyymmdd(ms('2025-11-23T20:15:00Z'))).toBe('20251124');
    setLocalZone(NEW_YORK);
    expect(formatDateTime('2025-07-04T03:05:00Z')).toBe('Jul 3, 2025 23:05');
    expect(validUntilText(30, ms('2025-11-23T03:00:00Z'))).toBe('Valid until Dec 22, 2025');
    expect(formatDateTime('not a time')).toBe('not a time');
  });

  it('an empty table leaves local time to JavaScript', () => {
    setLocalZone({ changes: [] });
    const at = ms('2025-05-06T07:08:00Z');
    const d = new Date(at);
    expect(localParts(at)).toEqual({ year: d.getFullYear(), month: d.getMonth(), day: d.getDate(), hours: d.getHours(), minutes: d.getMinutes() });
  });
});
