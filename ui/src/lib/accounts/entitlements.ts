// The Entitlements card's view logic: utilization texts and states, the bar's fill, the
// forecast's text, and the geometry of the small trend of used seats against the seat line.
// Pure, unit-tested (entitlements.test.ts).
import type { YearMonth } from '$lib/bindings';
import { formatDecimal1, formatInt } from '$lib/ui/format';

/** How a (license, plan) or a rolled-up plan stands against its seats. */
export type SeatState = 'over' | 'near' | 'ok' | 'under' | 'unused';

/** Above this utilization (without going over) a plan is near its seats. */
export const NEAR = 0.9;
/** Below this utilization a plan is under-used. */
export const UNDER = 0.5;

/**
 * The state of `used` against `seats` (null or 0: no seats), by the list's definitions: over
 * its seats (any use without seats is over), above 90 %, below 50 %, else within.
 */
export function seatState(used: number, seats: number | null): SeatState {
  if (!seats) return used > 0 ? 'over' : 'unused';
  if (used > seats) return 'over';
  const u = used / seats;
  if (u > NEAR) return 'near';
  if (u < UNDER) return 'under';
  return 'ok';
}

/** "87.5 %", "112 %", "0 %", or "—" without seats (undefined). One decimal under 100 %. */
export function formatUtilization(u: number | null): string {
  if (u === null || !Number.isFinite(u)) return '—';
  const pct = u * 100;
  if (pct >= 100) return `${formatInt(Math.round(pct))} %`;
  const one = Math.round(pct * 10) / 10;
  return `${one.toFixed(one % 1 === 0 ? 0 : 1)} %`;
}

/** The bar's fill in percent of its width, 0..100; the part over the seats is `overPct`. */
export function barFill(used: number, seats: number | null): { fillPct: number; overPct: number } {
  if (!seats) return { fillPct: used > 0 ? 100 : 0, overPct: used > 0 ? 100 : 0 };
  if (used <= seats) return { fillPct: (used / seats) * 100, overPct: 0 };
  // Over: the whole bar is used; the share beyond the seats is marked.
  return { fillPct: 100, overPct: ((used - seats) / used) * 100 };
}

/** A short sentence for the state (tooltips, screen readers). */
export function stateText(state: SeatState, overage: number): string {
  switch (state) {
    case 'over':
      return `${formatInt(overage)} over its seats`;
    case 'near':
      return 'above 90 % of its seats';
    case 'under':
      return 'below 50 % of its seats';
    case 'unused':
      return 'no seats and no use';
    default:
      return 'within its seats';
  }
}

/** The forecast at expiry: "52.3", "none (under 3 months of data)", "no forecast" (no expiry). */
export function forecastText(forecast: number | null, expiresAt: string | null): string {
  if (forecast === null) return expiresAt === null ? 'no forecast' : 'none (under 3 months of data)';
  return formatDecimal1(forecast);
}

export type SparkPoint = { month: YearMonth; used: number; seats: number | null };

export type Spark = {
  /** the used seats, one point a month, as an SVG polyline */
  used: string;
  /** the seat line, as a polyline (steps where the seats change); empty without seats */
  seats: string;
  /** each month's point, for hover and markers */
  points: { month: YearMonth; x: number; y: number; used: number; seats: number | null; over: boolean }[];
  /** the value at the top of the plot */
  max: number;
};

/** The geometry of a small trend: used seats against the seat line, `width` × `height`. */
export function sparkline(points: readonly SparkPoint[], width: number, height: number, pad = 3): Spark {
  const max = Math.max(1, ...points.map((p) => Math.max(p.used, p.seats ?? 0))) * 1.1;
  const n = points.length;
  const x = (i: number) => (n <= 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (n - 1));
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const r = (v: number) => Math.round(v * 10) / 10;
  const pts = points.map((p, i) => ({
    month: p.month,
    x: r(x(i)),
    y: r(y(p.used)),
    used: p.used,
    seats: p.seats,
    over: seatState(p.used, p.seats) === 'over',
  }));
  const seatPts = points.some((p) => p.seats)
    ? points.map((p, i) => `${r(x(i))},${r(y(p.seats ?? 0))}`).join(' ')
    : '';
  return { used: pts.map((p) => `${p.x},${p.y}`).join(' '), seats: seatPts, points: pts, max };
}
