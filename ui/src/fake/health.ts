// Account health and the renewal calendar for the fake backend. Utilization, forecasts and
// license ends come from the fake's entitlements and customers (docs/health.md's definitions);
// the usage trend and version lag, which the fake world does not model, are stand-ins derived
// from the account id. The scoring follows crates/usagedesk-health/src/rules.rs.
import type { CustomerHealth, Factor, FactorScore, HealthPage, Page, Renewal, RenewalCalendar, YearMonth } from '$lib/bindings';
import { compareText } from '$lib/ui/format';
import { fakeEntitlementCard } from './entitlements';
import type { FakeWorld } from './world';

const DAY = 86_400_000;
const WEIGHTS: [Factor, number][] = [
  ['usage_trend', 20],
  ['utilization', 20],
  ['instance_status', 20],
  ['version_lag', 15],
  ['license_expiry', 15],
  ['reporting_freshness', 10],
];

function piecewise(x: number, pts: [number, number][]): number {
  if (x <= pts[0][0]) return pts[0][1];
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1];
    const [x1, y1] = pts[i];
    if (x <= x1) return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  }
  return pts[pts.length - 1][1];
}

function hash(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (h >>> 0) / 2 ** 32;
}

const ym = (t: number): YearMonth => new Date(t).toISOString().slice(0, 7);
function lastCompleted(now: number): YearMonth {
  const d = new Date(now);
  return ym(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 0));
}

function customersOf(w: FakeWorld, now: number) {
  return w.customers.customers({ text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false }, now);
}

function healthOf(w: FakeWorld, c: ReturnType<typeof customersOf>[number], now: number): CustomerHealth {
  const month = lastCompleted(now);
  const card = fakeEntitlementCard(w, c.account_id, month);
  const used = card?.own.reduce((a, e) => a + e.entitlement.used, 0) ?? 0;
  const seats = card?.own.reduce((a, e) => a + (e.entitlement.seats ?? 0), 0) ?? 0;
  const h = hash(c.account_id);
  const change = Math.round((h - 0.55) * 100) / 100;
  const behind = Math.floor(hash(`${c.account_id}/v`) * 4);
  const days = c.expires_at === null ? null : Math.floor((new Date(c.expires_at).getTime() - now) / DAY);
  const reporting = c.instances - c.inactive;
  const statusScore = reporting > 0 ? Math.max(0, 100 - (100 * c.not_ready) / c.instances) : null;
  const fresh = c.instances === 0 ? null : c.inactive === c.instances ? 10 + Math.floor(h * 30) : 0;
  const f = (factor: Factor, value: number | null, score: number | null, detail: string): FactorScore => ({
    factor,
    weight: WEIGHTS.find(([x]) => x === factor)![1],
    value,
    detail,
    score,
    contribution: 0,
  });
  const factors = [
    f('usage_trend', change, piecewise(change, [[-0.5, 0], [0, 70], [0.2, 100]]), `${change >= 0 ? '+' : ''}${Math.round(change * 100)} % active users a month`),
    f('utilization', seats > 0 ? used / seats : null, seats > 0 ? piecewise(used / seats, [[0, 0], [0.5, 100], [1, 100], [1.5, 60]]) : null, seats > 0 ? `${Math.round((100 * used) / seats)} % (${used} of ${seats} seats)` : 'no seats in force'),
    f('instance_status', statusScore, statusScore, c.instances === 0 ? 'no instances' : `${c.instances - c.not_ready} Ready of ${c.instances}`),
    f('version_lag', c.instances ? behind : null, c.instances ? Math.max(0, 100 - 25 * behind) : null, behind === 0 ? 'on the newest version of its channel' : `${behind} versions behind the newest`),
    f('license_expiry', days, days === null ? 100 : piecewise(days, [[0, 0], [180, 100]]), days === null ? 'no license ends' : days < 0 ? `expired ${-days} days ago` : `${days} days to the soonest end`),
    f('reporting_freshness', fresh, fresh === null ? null : piecewise(fresh, [[1, 100], [30, 0]]), fresh === null ? 'no instances' : `last report ${fresh} days ago`),
  ];
  const wsum = factors.filter((x) => x.score !== null).reduce((a, x) => a + x.weight, 0);
  let total = 0;
  for (const x of factors) {
    x.contribution = x.score === null ? 0 : (x.weight * x.score) / wsum;
    total += x.contribution;
  }
  return { account_id: c.account_id, name: c.account_name, score: Math.round(total), factors };
}

export function fakeHealthList(w: FakeWorld, sort: Factor | null, descending: boolean, offset: number, limit: number, now = Date.now()): HealthPage {
  const all = customersOf(w, now).map((c) => healthOf(w, c, now));
  const key = (h: CustomerHealth) => (sort === null ? h.score : h.factors.find((f) => f.factor === sort)!.score);
  const known = all.filter((h) => key(h) !== null);
  const unknown = all.filter((h) => key(h) === null).sort((a, b) => compareText(a.name, b.name) || compareText(a.account_id, b.account_id));
  const dir = descending ? -1 : 1;
  known.sort((a, b) => dir * (key(a)! - key(b)! || compareText(a.name, b.name) || compareText(a.account_id, b.account_id)));
  const rows = [...known, ...unknown];
  const page: Page<CustomerHealth> = { items: rows.slice(offset, offset + limit), total: rows.length, offset, limit };
  return { page, as_of: new Date(now).toISOString().slice(0, 10), computing: false };
}

export function fakeCustomerHealth(w: FakeWorld, accountId: string, now = Date.now()): CustomerHealth | null {
  const c = customersOf(w, now).find((x) => x.account_id === accountId);
  return c ? healthOf(w, c, now) : null;
}

export function fakeRenewals(w: FakeWorld, months: number, offset: number, limit: number, now = Date.now()): RenewalCalendar {
  const start = new Date(now);
  const window: YearMonth[] = [];
  for (let i = 0; i < months; i++) window.push(ym(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + i, 1)));
  const until = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + months, 1);
  const month = lastCompleted(now);
  const rows: Renewal[] = [];
  for (const c of customersOf(w, now)) {
    const card = fakeEntitlementCard(w, c.account_id, month);
    const health = healthOf(w, c, now).score;
    for (const l of c.licenses) {
      if (!l.expires_at) continue;
      const t = new Date(l.expires_at).getTime();
      if (t < now || t >= until) continue;
      const plans = (card?.own ?? []).filter((e) => e.entitlement.license_id === l.id).map((e) => e.entitlement);
      const seats = plans.reduce((a, e) => a + (e.seats ?? 0), 0);
      const used = plans.reduce((a, e) => a + e.used, 0);
      const forecasts = plans.filter((e) => e.forecast_at_expiry !== null);
      rows.push({
        license_id: l.id,
        account_id: c.account_id,
        account_name: c.account_name,
        license_type: l.license_type,
        expires_at: l.expires_at,
        month: l.expires_at.slice(0, 7),
        seats,
        used,
        utilization: seats > 0 ? used / seats : null,
        forecast_at_expiry: forecasts.length ? Math.round(forecasts.reduce((a, e) => a + e.forecast_at_expiry!, 0) * 10) / 10 : null,
        forecast_over_seats: plans.some((e) => e.forecast_over_seats),
        health,
        plans: plans.map((e) => ({ plan: e.plan, seats: e.seats, used: e.used, utilization: e.utilization, forecast_at_expiry: e.forecast_at_expiry, forecast_over_seats: e.forecast_over_seats })),
      });
    }
  }
  rows.sort((a, b) => compareText(a.expires_at, b.expires_at) || compareText(a.license_id, b.license_id));
  return {
    months: window.map((m) => ({ month: m, licenses: rows.filter((r) => r.month === m).length })),
    page: { items: rows.slice(offset, offset + limit), total: rows.length, offset, limit },
    utilization_month: month,
    as_of: new Date(now).toISOString().slice(0, 10),
    computing: false,
  };
}
