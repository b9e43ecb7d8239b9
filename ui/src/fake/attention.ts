// The Attention list for the fake backend, by the rules of docs/attention.md: air-gapped
// instances overdue (never reported first, then the oldest exchange), licenses expiring after
// now and within 30 days (soonest first), licenses over their seats in the last completed month
// (largest overage first), in that order of kinds; each item with what, since when and what next.
import type { AttentionCounts, AttentionItem, AttentionKind, AttentionPage, YearMonth } from '$lib/bindings';
import { compareText } from '$lib/ui/format';
import { fakeLicenseList } from './entitlements';
import type { FakeWorld } from './world';

const DAY = 86_400_000;
const OVERDUE_DAYS = 31;
const EXPIRING_DAYS = 30;

const day = (iso: string) => iso.slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString();

function blank(kind: AttentionKind, account_id: string, account_name: string | null, license_id: string): AttentionItem {
  return {
    kind,
    account_id,
    account_name,
    license_id,
    instance_id: null,
    plan: null,
    since: null,
    last_exchange_at: null,
    expires_at: null,
    month: null,
    seats: null,
    used: null,
    overage: null,
    title: '',
    next_step: '',
    occurrence: '',
  };
}

function overdue(w: FakeWorld): AttentionItem[] {
  const last = (v: FakeWorld['instances'][number]) =>
    [v.instance.last_report_at, v.last_import_at].filter((t): t is string => !!t).sort().pop() ?? null;
  return w.instances
    .filter((v) => v.overdue && v.instance.airgapped)
    .map((v) => ({ v, at: last(v) }))
    .sort((a, b) => compareText(a.at ?? '', b.at ?? '') || compareText(a.v.instance.id, b.v.instance.id))
    .map(({ v, at }) => {
      const i = v.instance;
      const who = v.account_name ?? i.account_id;
      return {
        ...blank('overdue', i.account_id, v.account_name, i.license_id),
        instance_id: i.id,
        last_exchange_at: at,
        since: at ? iso(Date.parse(at) + OVERDUE_DAYS * DAY) : null,
        title: at ? `Instance ${i.id} is overdue: no usage data file since ${day(at)}` : `Instance ${i.id} is overdue: it never sent a usage data file`,
        next_step: `Issue a sync key for ${i.id} (Air-gapped view) and ask ${who} for the usage data file it answers`,
        occurrence: at ?? '',
      };
    });
}

function expiring(w: FakeWorld, now: number): AttentionItem[] {
  return w.customers
    .licenses()
    .filter((l) => l.expires_at !== null && Date.parse(l.expires_at) > now && Date.parse(l.expires_at) <= now + EXPIRING_DAYS * DAY)
    .sort((a, b) => compareText(a.expires_at ?? '', b.expires_at ?? '') || compareText(a.id, b.id))
    .map((l) => {
      const name = w.accounts.account(l.account_id)?.name ?? null;
      const who = name ?? l.account_id;
      const at = l.expires_at as string;
      return {
        ...blank('expiring', l.account_id, name, l.id),
        expires_at: at,
        since: iso(Date.parse(at) - EXPIRING_DAYS * DAY),
        title: `License ${l.id} of ${who} expires on ${day(at)}`,
        next_step: `Talk to ${who} about renewing license ${l.id} before ${day(at)}`,
        occurrence: at,
      };
    });
}

function overSeats(w: FakeWorld, month: YearMonth | null): AttentionItem[] {
  if (!month) return [];
  const [y, m] = month.split('-').map(Number);
  const since = iso(Date.UTC(y, m, 1));
  return fakeLicenseList(w, null, month, 'over', 0, 500).items.map((r) => {
    const who = r.account_name;
    return {
      ...blank('over_seats', r.account_id, r.account_name, r.license_id),
      plan: r.plan,
      month,
      seats: r.seats,
      used: r.used,
      overage: r.overage,
      since,
      title:
        r.seats === null
          ? `License ${r.license_id}: ${r.used} ${r.plan} seats used in ${month}, none licensed`
          : `License ${r.license_id}: ${r.used} ${r.plan} seats used of ${r.seats} in ${month} (${r.overage} over)`,
      next_step: `Bill ${who} for the ${r.overage} extra ${r.plan} seats, or offer a license with more`,
      occurrence: month,
    };
  });
}

function all(w: FakeWorld, now: number): Record<AttentionKind, AttentionItem[]> {
  // The last completed month the cache has (the world's months are completed ones).
  const month = w.months.length ? [...w.months].sort().pop()! : null;
  return { overdue: overdue(w), expiring: expiring(w, now), over_seats: overSeats(w, month) };
}

export function fakeAttentionCounts(w: FakeWorld, now = Date.now()): AttentionCounts {
  const a = all(w, now);
  const c = { overdue: a.overdue.length, expiring: a.expiring.length, over_seats: a.over_seats.length };
  return { ...c, total: c.overdue + c.expiring + c.over_seats };
}

export function fakeAttention(w: FakeWorld, kind: AttentionKind | null, offset: number, limit: number, now = Date.now()): AttentionPage {
  const a = all(w, now);
  const list = kind ? a[kind] : [...a.overdue, ...a.expiring, ...a.over_seats];
  const size = Math.min(500, Math.max(1, limit));
  return { items: list.slice(offset, offset + size), total: list.length, offset, counts: fakeAttentionCounts(w, now) };
}
