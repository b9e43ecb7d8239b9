import { describe, expect, it } from 'vitest';
import type { AttentionItem } from '$lib/bindings';
import { attentionBadgeTitle, countOf, daysLeft, itemKey, kindTone, sinceText } from './attention';

const NOW = Date.parse('2026-03-15T12:00:00Z');

function item(over: Partial<AttentionItem>): AttentionItem {
  return {
    kind: 'overdue',
    account_id: 'acme',
    account_name: 'Acme',
    license_id: 'lic-1',
    instance_id: 'inst-1',
    plan: null,
    since: null,
    last_exchange_at: null,
    expires_at: null,
    month: null,
    seats: null,
    used: null,
    overage: null,
    title: 't',
    next_step: 'n',
    occurrence: '',
    ...over,
  };
}

describe('attention items on screen', () => {
  it('say since when, in whole days, or that an instance never reported', () => {
    expect(sinceText(item({ since: '2026-03-05T12:00:00Z' }), NOW)).toBe('since Mar 5, 2026 (10 days)');
    // The UTC day, whatever the machine's time zone: 23:30 UTC is still the 5th.
    expect(sinceText(item({ since: '2026-03-05T23:30:00Z' }), NOW)).toBe('since Mar 5, 2026 (9 days)');
    expect(sinceText(item({ since: 'not a time' }), NOW)).toBe('since not a time');
    expect(sinceText(item({ since: '2026-03-14T13:00:00Z' }), NOW)).toMatch(/\(today\)$/);
    expect(sinceText(item({ since: '2026-03-14T12:00:00Z' }), NOW)).toMatch(/\(1 day\)$/);
    expect(sinceText(item({ since: null }), NOW)).toBe('never reported');
    expect(sinceText(item({ kind: 'expiring', since: '2026-03-20T00:00:00Z' }), NOW)).toMatch(/^from /);
  });

  it('count days left to an expiry and key rows by occurrence', () => {
    expect(daysLeft(item({ kind: 'expiring', expires_at: '2026-03-20T12:00:00Z' }), NOW)).toBe(5);
    expect(daysLeft(item({}), NOW)).toBeNull();
    const a = item({ kind: 'over_seats', instance_id: null, plan: 'basic', occurrence: '2026-02' });
    const b = item({ kind: 'over_seats', instance_id: null, plan: 'basic', occurrence: '2026-01' });
    expect(itemKey(a)).not.toBe(itemKey(b));
    expect(kindTone('expiring')).toBe('warning');
    expect(kindTone('over_seats')).toBe('danger');
  });

  it('badge and chips count what the shell counted', () => {
    const c = { overdue: 2, expiring: 0, over_seats: 1, total: 3 };
    expect(countOf(c, null)).toBe(3);
    expect(countOf(c, 'overdue')).toBe(2);
    expect(countOf(null, 'overdue')).toBeNull();
    expect(attentionBadgeTitle(c)).toBe('3 items need attention: 2 overdue, 1 over seats');
  });
});
