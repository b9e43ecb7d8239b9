// Entitlements for the fake backend, from the world's accounts, plans and the customers'
// licenses, by the definitions of docs/entitlements.md: a license covers its account's
// subtree less the subtrees of descendants holding a license in force; used seats are the
// subtree totals of the plan's seat metric there; utilization, overage, roll-ups and the
// least-squares forecast at the expiry month follow.
import type {
  EntitlementCard,
  EntitlementTrend,
  License,
  LicenseFilter,
  LicenseListItem,
  Page,
  PlanRollup,
  YearMonth,
} from '$lib/bindings';
import type { FakeWorld } from './world';

const TREND = 12;

const monthIndex = (m: YearMonth) => {
  const [y, mo] = m.split('-').map(Number);
  return y * 12 + mo - 1;
};
const monthAt = (i: number): YearMonth => `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
const lastDay = (m: YearMonth) => {
  const [y, mo] = m.split('-').map(Number);
  return new Date(Date.UTC(y, mo, 0)).toISOString().slice(0, 10);
};

function inForce(l: License, m: YearMonth): boolean {
  const end = lastDay(m);
  return l.created_at.slice(0, 10) <= end && (l.expires_at === null || l.expires_at.slice(0, 10) >= end);
}

function ancestors(w: FakeWorld, id: string): string[] {
  const out: string[] = [];
  let cur = w.accounts.account(id)?.parent_id ?? null;
  for (let guard = 0; cur && guard < 64; guard++) {
    out.push(cur);
    cur = w.accounts.account(cur)?.parent_id ?? null;
  }
  return out;
}

function seatMetric(w: FakeWorld, plan: string) {
  return w.plans.find((p) => p.id === plan)?.seat_metric ?? 'users_registered';
}

/** Used seats of `l` for `plan` in `m`: its holder's subtree total less nested holders'. */
function used(w: FakeWorld, l: License, plan: string, m: YearMonth): number {
  const metric = seatMetric(w, plan);
  const total = (id: string) => w.accounts.row(id, m)?.totals[plan]?.[metric] ?? 0;
  const nested = new Set<string>();
  for (const o of w.customers.licenses()) {
    if (o.account_id === l.account_id || !inForce(o, m)) continue;
    const up = ancestors(w, o.account_id);
    const at = up.indexOf(l.account_id);
    // The nearest holder below l's account: no other holder in force between them.
    if (at >= 0 && !up.slice(0, at).some((a) => w.customers.licenses().some((x) => x.account_id === a && inForce(x, m)))) {
      nested.add(o.account_id);
    }
  }
  let sum = total(l.account_id);
  for (const id of nested) sum -= total(id);
  return Math.max(0, sum);
}

/** The least-squares line through up to the last 6 points, at `at`; none under 3. */
function forecast(points: [number, number][], at: number): number | null {
  const p = points.slice(-6);
  if (p.length < 3) return null;
  const n = p.length;
  const mx = p.reduce((s, [x]) => s + x, 0) / n;
  const my = p.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = p.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : p.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return Math.max(0, Math.round((my + slope * (at - mx)) * 10) / 10);
}

function plansOf(l: License, w: FakeWorld, m: YearMonth): string[] {
  const seated = Object.keys(l.seats);
  const usedWithout = w.plans.map((p) => p.id).filter((p) => !(p in l.seats) && used(w, l, p, m) > 0);
  return [...seated, ...usedWithout].sort();
}

function entitlement(w: FakeWorld, l: License, plan: string, month: YearMonth): EntitlementTrend {
  const seats = l.seats[plan] ?? null;
  const end = monthIndex(month);
  const trend = [];
  for (let i = end - TREND + 1; i <= end; i++) {
    const m = monthAt(i);
    if (inForce(l, m)) trend.push({ month: m, used: used(w, l, plan, m), seats });
  }
  const now = trend[trend.length - 1]?.used ?? 0;
  const f = l.expires_at ? forecast(trend.map((p) => [monthIndex(p.month), p.used]), monthIndex(l.expires_at.slice(0, 7))) : null;
  return {
    entitlement: {
      license_id: l.id,
      account_id: l.account_id,
      plan,
      seat_metric: seatMetric(w, plan),
      seats,
      used: now,
      utilization: seats ? now / seats : null,
      overage: Math.max(0, now - (seats ?? 0)),
      forecast_at_expiry: f,
      forecast_over_seats: f !== null && f > (seats ?? 0),
      expires_at: l.expires_at,
      month,
    },
    trend,
  };
}

function entitlements(w: FakeWorld, licenses: License[], month: YearMonth): EntitlementTrend[] {
  return licenses.filter((l) => inForce(l, month)).flatMap((l) => plansOf(l, w, month).map((p) => entitlement(w, l, p, month)));
}

function inSubtree(w: FakeWorld, root: string, id: string) {
  return id === root || ancestors(w, id).includes(root);
}

export function fakeEntitlementCard(w: FakeWorld, accountId: string, month: YearMonth): EntitlementCard | null {
  if (!w.accounts.account(accountId)) return null;
  const all = w.customers.licenses();
  const own = entitlements(w, all.filter((l) => l.account_id === accountId), month);
  const held = all.filter((l) => inSubtree(w, accountId, l.account_id));
  const end = monthIndex(month);
  const rollup: PlanRollup[] = [];
  for (const plan of w.plans) {
    const trend = [];
    for (let i = end - TREND + 1; i <= end; i++) {
      const m = monthAt(i);
      const es = entitlements(w, held, m).filter((e) => e.entitlement.plan === plan.id);
      trend.push({
        month: m,
        seats: es.reduce((s, e) => s + (e.entitlement.seats ?? 0), 0),
        used: es.reduce((s, e) => s + e.entitlement.used, 0),
        overage: es.reduce((s, e) => s + e.entitlement.overage, 0),
        licenses: es.length,
      });
    }
    const now = trend[trend.length - 1];
    if (!trend.some((p) => p.licenses > 0)) continue;
    rollup.push({
      plan: plan.id,
      seat_metric: plan.seat_metric,
      seats: now.seats,
      used: now.used,
      utilization: now.seats ? now.used / now.seats : null,
      overage: now.overage,
      licenses: now.licenses,
      trend: trend.map(({ licenses: _, ...p }) => p),
    });
  }
  return { account_id: accountId, month, own: own.slice(0, 50), own_more: own.length > 50, rollup };
}

export function fakeLicenseList(
  w: FakeWorld,
  accountId: string | null,
  month: YearMonth,
  filter: LicenseFilter,
  offset: number,
  limit: number,
): Page<LicenseListItem> {
  const held = w.customers.licenses().filter((l) => accountId === null || inSubtree(w, accountId, l.account_id));
  const rows: LicenseListItem[] = entitlements(w, held, month).map(({ entitlement: e }) => ({
    license_id: e.license_id,
    account_id: e.account_id,
    account_name: w.accounts.account(e.account_id)?.name ?? e.account_id,
    plan: e.plan,
    seat_metric: e.seat_metric,
    seats: e.seats,
    used: e.used,
    utilization: e.utilization,
    overage: e.overage,
  }));
  const u = (r: LicenseListItem) => r.utilization ?? 0;
  const chosen =
    filter === 'over'
      ? rows.filter((r) => r.overage > 0).sort((a, b) => b.overage - a.overage)
      : filter === 'near'
        ? rows.filter((r) => r.overage === 0 && r.utilization !== null && r.utilization > 0.9).sort((a, b) => u(b) - u(a))
        : rows.filter((r) => r.utilization !== null && r.utilization < 0.5).sort((a, b) => u(a) - u(b));
  const size = Math.min(500, Math.max(1, limit));
  return { items: chosen.slice(offset, offset + size), total: chosen.length, offset, limit: size };
}
