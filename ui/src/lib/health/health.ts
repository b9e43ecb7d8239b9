// Account health and the renewal calendar, as the views show them (docs/health.md): the
// factors' names, the tones of a score, the calendar's month groups. Pure, unit-tested.
import type { Factor, FactorScore, Renewal } from '$lib/bindings';

export const FACTORS: readonly { id: Factor; label: string; short: string; title: string }[] = [
  { id: 'usage_trend', label: 'Usage trend', short: 'Trend', title: 'Active users, last 3 completed months against the 3 before' },
  { id: 'utilization', label: 'Utilization', short: 'Util.', title: 'Used seats over seats of its licenses, last completed month' },
  { id: 'instance_status', label: 'Instance status', short: 'Status', title: 'Statuses of the instances that checked in within 24 hours' },
  { id: 'version_lag', label: 'Version lag', short: 'Version', title: 'Versions its furthest-behind instance lags the newest seen on its channel' },
  { id: 'license_expiry', label: 'License expiry', short: 'Expiry', title: 'Days to the soonest end of a license' },
  { id: 'reporting_freshness', label: 'Reporting freshness', short: 'Fresh', title: 'Days since the latest check-in or usage file' },
];

export function factorLabel(f: Factor): string {
  return FACTORS.find((x) => x.id === f)?.label ?? f;
}

export type Tone = 'success' | 'warning' | 'danger' | 'muted';

/** 75 and up: healthy; 50–74: watch; below 50: at risk; no data: muted. */
export function scoreTone(score: number | null | undefined): Tone {
  if (score === null || score === undefined) return 'muted';
  if (score >= 75) return 'success';
  if (score >= 50) return 'warning';
  return 'danger';
}

export function scoreWord(score: number): string {
  return score >= 75 ? 'Healthy' : score >= 50 ? 'Watch' : 'At risk';
}

/** A factor's score as shown: a whole number, or "n/a" without data. */
export function factorScoreText(s: number | null): string {
  return s === null ? 'n/a' : String(Math.round(s));
}

/** "12.4 of 100" points a factor adds. */
export function contributionText(f: FactorScore): string {
  return f.score === null ? 'left out' : `+${f.contribution.toFixed(1)}`;
}

/** The weight a factor has once those without data are left out (they add up to 100). */
export function effectiveWeights(factors: readonly FactorScore[]): Map<Factor, number> {
  const sum = factors.filter((f) => f.score !== null).reduce((a, f) => a + f.weight, 0);
  return new Map(factors.map((f) => [f.factor, f.score === null || sum === 0 ? 0 : (f.weight * 100) / sum]));
}

/** The sort choices of the list: the score, then each factor. */
export const SORTS: readonly { id: Factor | null; label: string }[] = [{ id: null, label: 'Health score' }, ...FACTORS.map((f) => ({ id: f.id, label: f.label }))];

/** The forecast cell: "—" without one, flagged when over the seats. */
export function forecastText(r: Pick<Renewal, 'forecast_at_expiry' | 'forecast_over_seats' | 'seats'>): { text: string; over: boolean } {
  if (r.forecast_at_expiry === null) return { text: '—', over: false };
  return { text: `${r.forecast_at_expiry.toFixed(1)} of ${r.seats}`, over: r.forecast_over_seats };
}

/** Calendar days (UTC) from `now`'s date to an RFC 3339 end's date: 0 today, 1 tomorrow. */
export function daysUntil(iso: string, now: number): number {
  const day = (t: number) => Math.floor(t / 86_400_000);
  return day(new Date(iso).getTime()) - day(now);
}

/** The calendar's span choices, in months. */
export const MONTH_CHOICES = [3, 6, 12, 24] as const;
