// The CSV export dialog's logic: scopes, the default month range and its checks, and the texts
// for the preview, the progress and the result. Pure, unit-tested; the dialog only wires it up.
import type { AppError, ExportOutcome, ExportPlan, ExportProgress, ExportReport, ExportRequest, ExportSignature, Scope, YearMonth } from '$lib/bindings';
import { formatBytes, formatDate, formatInt, formatMonth, pluralize } from '../ui/format';

/** The two reports an export can write (docs/export-format.md). */
export const REPORTS: readonly { id: ExportReport; label: string; hint: string }[] = [
  { id: 'usage', label: 'Monthly usage', hint: 'One row per account and month: month-end users and subtree totals per plan.' },
  { id: 'entitlements', label: 'Entitlements', hint: 'One row per license, plan and month: seats, used, utilization, overage, forecast.' },
];

export const DEFAULT_REPORT: ExportReport = 'usage';

/** The three scopes, with the names the usage report uses for them. */
export const SCOPES: readonly { id: Scope; label: string; hint: string; licenseHint: string }[] = [
  { id: 'self', label: 'Only this account', hint: 'One row per month for this account.', licenseHint: 'The licenses this account holds.' },
  {
    id: 'children',
    label: 'Include direct child accounts',
    hint: 'This account and its first-level child accounts.',
    licenseHint: 'The licenses of this account and of its first-level child accounts.',
  },
  { id: 'tree', label: 'Entire account tree', hint: 'This account and every account in its subtree.', licenseHint: 'Every license held in this account’s subtree.' },
];

export const DEFAULT_SCOPE: Scope = 'self';

export type MonthRange = { from: YearMonth; to: YearMonth };

/**
 * The range the dialog opens with: the month shown in the account view (the latest completed
 * month when that one is not in the list), from and to alike. Null when nothing was synced.
 */
export function defaultRange(completed: readonly YearMonth[], selected: YearMonth | null): MonthRange | null {
  const to = selected !== null && completed.includes(selected) ? selected : completed.at(-1);
  return to === undefined ? null : { from: to, to };
}

/**
 * Why a range cannot be exported, or null when it can: both ends must be completed months of
 * the list, and `from` must not come after `to`. (The shell checks again.)
 */
export function rangeError(completed: readonly YearMonth[], from: YearMonth, to: YearMonth): string | null {
  if (completed.length === 0) return 'No completed month has been synced yet. Sync, then export.';
  if (!from || !to) return 'Choose the first and the last month.';
  for (const m of [from, to]) {
    if (!completed.includes(m)) return `${formatMonth(m)} is not a completed month with synced data. Choose another month.`;
  }
  // YYYY-MM strings sort like the months they name
  if (from > to) return `The range starts (${formatMonth(from)}) after it ends (${formatMonth(to)}). Swap the two months.`;
  return null;
}

/** Does this plan answer exactly this request (and not an older state of the form)? */
export function planMatches(plan: ExportPlan | null, req: ExportRequest): plan is ExportPlan {
  if (!plan) return false;
  const p = plan.request;
  return p.report === req.report && p.account_id === req.account_id && p.scope === req.scope && p.from === req.from && p.to === req.to;
}

/**
 * "Will write 1,234 rows: 7 accounts × 6 months" (the header line not counted); for
 * entitlements "Will write at least 40 rows: 5 licenses over 6 months, a row per plan and
 * month in force" (plans used without seats add rows, known once written).
 */
export function previewText(plan: ExportPlan): string {
  if (plan.months.length === 0) return 'Will write the header line only: no month of the range has synced data.';
  if (plan.request.report === 'entitlements') {
    if (plan.licenses === 0) return 'Will write the header line only: no license held in this scope is in force in these months.';
    const rows = plan.rows_exact ? pluralize(plan.rows, 'row') : `at least ${pluralize(plan.rows, 'row')}`;
    return `Will write ${rows}: ${pluralize(plan.licenses, 'license')} over ${pluralize(plan.months.length, 'month')}, a row per plan and month in force`;
  }
  if (plan.rows === 0) return 'Will write the header line only: no month of the range has synced data.';
  return `Will write ${pluralize(plan.rows, 'row')}: ${pluralize(plan.accounts, 'account')} × ${pluralize(plan.months.length, 'month')}`;
}

const index = (ym: YearMonth) => {
  const [y, m] = ym.split('-').map(Number);
  return y * 12 + (m - 1);
};

/** Consecutive months as runs: [2024-01, 2024-02, 2024-04] → [[2024-01, 2024-02], [2024-04, 2024-04]]. */
export function monthRuns(months: readonly YearMonth[]): [YearMonth, YearMonth][] {
  const runs: [YearMonth, YearMonth][] = [];
  for (const m of [...months].sort()) {
    const last = runs.at(-1);
    if (last && index(m) === index(last[1]) + 1) last[1] = m;
    else if (!last || m !== last[1]) runs.push([m, m]);
  }
  return runs;
}

const MAX_RUNS = 3;

/** "No synced data for March 2024, May – July 2024: these months get no rows." or null. */
export function missingMonthsNote(plan: ExportPlan): string | null {
  const runs = monthRuns(plan.months_without_data);
  if (runs.length === 0) return null;
  const shown = runs
    .slice(0, MAX_RUNS)
    .map(([a, b]) => (a === b ? formatMonth(a) : `${formatMonth(a)} – ${formatMonth(b)}`))
    .join(', ');
  const rest = runs.slice(MAX_RUNS).reduce((n, [a, b]) => n + index(b) - index(a) + 1, 0);
  const more = rest > 0 ? ` and ${pluralize(rest, 'more month')}` : '';
  const these = plan.months_without_data.length === 1 ? 'this month gets' : 'these months get';
  return `No synced data for ${shown}${more}: ${these} no rows.`;
}

/** Whole percent written, never 100 before the last row; null when the total is unknown. */
export function progressPercent(p: ExportProgress | null): number | null {
  if (!p || !(p.total > 0)) return null;
  return Math.min(100, Math.max(0, Math.floor((p.written / p.total) * 100)));
}

/** "12,345 / 100,000 rows" */
export function progressText(p: ExportProgress | null, plannedRows: number): string {
  const written = p?.written ?? 0;
  const total = p?.total ?? plannedRows;
  return `${formatInt(written)} / ${formatInt(total)} rows`;
}

const SHORT_SHA = 12;

/** The first 12 hex digits of a digest, with an ellipsis when cut. */
export function shortSha(sha: string): string {
  return sha.length > SHORT_SHA ? `${sha.slice(0, SHORT_SHA)}…` : sha;
}

/** Whether the manifest is signed: a headline and what it means. */
export type SignatureView = { signed: boolean; title: string; detail: string };

export type OutcomeView = { rows: string; size: string; sha: string; shaFull: string; signature: SignatureView };

export function outcomeView(o: ExportOutcome): OutcomeView {
  return {
    rows: pluralize(o.rows, 'row'),
    size: formatBytes(o.bytes),
    sha: shortSha(o.sha256),
    shaFull: o.sha256,
    signature: signatureView(o.signature),
  };
}

export function signatureView(s: ExportSignature): SignatureView {
  if (s.status === 'signed') {
    const scope = s.scope === '*' ? 'all accounts' : s.scope;
    return {
      signed: true,
      title: `Signed by ${s.signed_by}`,
      detail: `Certificate for ${scope}, valid until ${formatDate(s.certificate_expires_at)}. Anyone can check the export with usagedesk-cli export verify.`,
    };
  }
  return {
    signed: false,
    title: 'Not signed',
    detail: `${asSentence(s.reason)} The CSV still matches the SHA-256 in its manifest, but nothing proves who wrote it.`,
  };
}

/** The shell's messages are lower-case clauses ("cannot write …"): show them as sentences. */
export function asSentence(message: string): string {
  const m = message.trim();
  if (!m) return m;
  const s = m[0].toUpperCase() + m.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

export const CANCELLED_TEXT = 'Export cancelled; no file was written.';

/** How a failed preview or export reads in the dialog. */
export function exportErrorText(err: AppError): string {
  switch (err.kind) {
    case 'cancelled':
      return CANCELLED_TEXT;
    case 'busy':
      return 'Another export is running. Wait for it to finish, or cancel it.';
    default:
      return asSentence(err.message) || 'The export failed.';
  }
}
