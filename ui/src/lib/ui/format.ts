import type { Availability, Metric, UsageCounts, YearMonth } from '$lib/bindings';
import { localPartsOf } from './localtime';

// Numbers, dates and text order are written out here instead of through `Intl`, `toLocale*`
// or `localeCompare`: one fixed form, read by people and by end-to-end tests alike ("1,234"),
// and WebKit then never loads ICU's locale, number-format and collation data into the web
// process (0.8 MiB at 100k accounts). Local times go through `./localtime`, for the same reason.

/**
 * Digits with a comma every three from the right: "1234567" → "1,234,567". A loop, not a
 * regular expression: the web process runs without a JIT, and a view formats hundreds of these.
 */
function group(digits: string): string {
  const head = digits.length % 3 || 3;
  let out = digits.slice(0, head);
  for (let i = head; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return out;
}

/** An integer with thousands separators: 1234 → "1,234". */
export function formatInt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const r = Math.round(n);
  // Past 1e21 String() writes an exponent; no count gets there.
  if (Math.abs(r) >= 1e21) return String(r);
  // Math.round(-0.4) is -0, which is "0" and not "-0".
  return r < 0 ? `-${group(String(-r))}` : group(String(r));
}

/** One decimal with thousands separators: 1234.56 → "1,234.6". */
export function formatDecimal1(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (Math.abs(n) >= 1e21) return String(n);
  const fixed = Math.abs(n).toFixed(1);
  const sign = n < 0 && fixed !== '0.0' ? '-' : '';
  const dot = fixed.indexOf('.');
  return `${sign}${group(fixed.slice(0, dot))}${fixed.slice(dot)}`;
}

/**
 * Orders text by its UTF-16 code units, the same on every machine (no locale): the cache's
 * `ORDER BY name` order for every name without characters beyond U+FFFF.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Short form for axis labels: 1234 → "1.2k", 2500000 → "2.5M". */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  const trim = (x: number) => (Math.round(x * 10) / 10).toString();
  if (abs >= 1e9) return `${trim(n / 1e9)}B`;
  if (abs >= 1e6) return `${trim(n / 1e6)}M`;
  if (abs >= 1e3) return `${trim(n / 1e3)}k`;
  return String(Math.round(n));
}

export type Cell = {
  text: string;
  /** tooltip explaining a missing value */
  title: string | null;
  kind: 'value' | 'not_available' | 'non_existent';
};

export const NOT_AVAILABLE_TEXT = 'n/a';
export const NON_EXISTENT_TEXT = '—';

export function notAvailableCell(month?: YearMonth): Cell {
  return {
    text: NOT_AVAILABLE_TEXT,
    title: month ? `No usage reported for ${formatMonth(month)}` : 'No usage reported for this month',
    kind: 'not_available',
  };
}

export function nonExistentCell(month?: YearMonth): Cell {
  return {
    text: NON_EXISTENT_TEXT,
    title: month ? `The account did not exist yet in ${formatMonth(month)}` : 'The account did not exist yet',
    kind: 'non_existent',
  };
}

/**
 * An account's own value for a metric. A missing month is never shown as 0: not available →
 * "n/a", non-existent → "—", each with a tooltip.
 */
export function ownCell(
  availability: Availability,
  own: UsageCounts | null,
  metric: Metric,
  month?: YearMonth,
): Cell {
  if (availability === 'non_existent') return nonExistentCell(month);
  if (availability === 'not_available' || own === null) return notAvailableCell(month);
  return { text: formatInt(own[metric]), title: null, kind: 'value' };
}

/**
 * A subtree sum. When no account of the subtree reported, the sum is not a zero but a gap: "—"
 * when none of them existed yet, "n/a" otherwise.
 */
export function subtreeCell(
  value: number,
  subtree: { ok: number; not_available: number; non_existent: number },
  month?: YearMonth,
): Cell {
  if (subtree.ok > 0) return { text: formatInt(value), title: null, kind: 'value' };
  if (subtree.not_available === 0 && subtree.non_existent > 0) return nonExistentCell(month);
  return {
    text: NOT_AVAILABLE_TEXT,
    title: 'No account of this subtree reported for this month',
    kind: 'not_available',
  };
}

export const ZERO_COUNTS: UsageCounts = { users_registered: 0, users_with_token: 0, users_with_activity: 0 };

/** ts-rs may type maps as `{ [k in string]?: T }`: read them defensively. */
export function countsFor(totals: Record<string, UsageCounts | undefined>, plan: string): UsageCounts {
  return totals[plan] ?? ZERO_COUNTS;
}

export function sumTotals(
  totals: Record<string, UsageCounts | undefined>,
  metric: Metric,
  planIds?: readonly string[],
): number {
  let sum = 0;
  const keys = planIds ?? Object.keys(totals);
  for (const k of keys) sum += totals[k]?.[metric] ?? 0;
  return sum;
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function parseYm(ym: YearMonth): [number, number] | null {
  const m = /^(\d{4})-(\d{2})$/.exec(ym);
  if (!m) return null;
  const month = Number(m[2]);
  if (month < 1 || month > 12) return null;
  return [Number(m[1]), month];
}

/** "2024-05" → "May 2024" */
export function formatMonth(ym: YearMonth): string {
  const p = parseYm(ym);
  return p ? `${MONTHS_LONG[p[1] - 1]} ${p[0]}` : ym;
}

/** "2024-05" → "May", or "May ’24" when `withYear`. */
export function formatMonthShort(ym: YearMonth, withYear = false): string {
  const p = parseYm(ym);
  if (!p) return ym;
  return withYear ? `${MONTHS[p[1] - 1]} ’${String(p[0]).slice(2)}` : MONTHS[p[1] - 1];
}

/** "2023-11-04" → "Nov 4, 2023" */
export function formatDate(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(date);
  if (!m) return date;
  const month = Number(m[2]);
  if (month < 1 || month > 12) return date;
  return `${MONTHS[month - 1]} ${Number(m[3])}, ${m[1]}`;
}

/** "2023-11-04" → "Nov 4": a day where the month and year are shown around it. */
export function formatDayMonth(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(date);
  if (!m) return date;
  const month = Number(m[2]);
  if (month < 1 || month > 12) return date;
  return `${MONTHS[month - 1]} ${Number(m[3])}`;
}

/** Absolute local date and time of an RFC 3339 instant, for tooltips. */
export function formatDateTime(iso: string): string {
  const d = localPartsOf(iso);
  if (d === null) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.month]} ${d.day}, ${d.year} ${pad(d.hours)}:${pad(d.minutes)}`;
}

/** "just now", "2 min ago", "3 h ago", "yesterday", "5 days ago", then the date. */
export function relativeTime(iso: string, now: Date | number): string {
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return 'unknown';
  const nowMs = typeof now === 'number' ? now : now.getTime();
  const sec = Math.round((nowMs - then) / 1000);
  if (sec < -60) return formatDateTime(iso); // clock skew: say when, not "in 3 min"
  if (sec < 45) return 'just now';
  const min = Math.round(sec / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ago`;
  const days = Math.floor(h / 24);
  if (days === 1) return 'yesterday';
  if (days < 30) return `${days} days ago`;
  return formatDateTime(iso);
}

/** 1536 → "1.5 KB" (binary multiples, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export const METRICS: readonly { id: Metric; label: string; short: string }[] = [
  { id: 'users_with_activity', label: 'Users with Activity', short: 'Activity' },
  { id: 'users_with_token', label: 'Users with Token', short: 'Token' },
  { id: 'users_registered', label: 'Registered Users', short: 'Registered' },
];

export function metricLabel(m: Metric): string {
  return METRICS.find((x) => x.id === m)?.label ?? m;
}

export function pluralize(n: number, one: string, many = `${one}s`): string {
  return `${formatInt(n)} ${n === 1 ? one : many}`;
}
