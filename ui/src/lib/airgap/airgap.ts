// The Air-gapped view's and the import dialog's logic: ordering and overdue texts, file names
// for the save dialog, preview and outcome summaries, ledger texts, refusals. Pure, unit-tested.
import type {
  AppError,
  AppStatus,
  LedgerRow,
  OutboxBinding,
  OutboxSummary,
  ImportOutcome,
  ImportPreview,
  AirgapInstance,
  InstanceView,
  IssuedSyncKey,
  LedgerEntry,
  LedgerEvent,
  UploadState,
  YearMonth,
} from '$lib/bindings';
import { asSentence } from '../export/export';
import { compareText, formatDate, formatDateTime, formatInt, pluralize, relativeTime } from '../ui/format';
import type { SaveFilter } from '../backend/ipc';
import { localParts } from '../ui/localtime';

/** An air-gapped instance without a verified file for longer than this is overdue. */
export const OVERDUE_DAYS = 31;

/** The validity of a sync key, in days. */
export const SYNC_KEY_DAYS = { min: 1, max: 365, default: 30 } as const;

export const SYNC_KEY_FILTER: SaveFilter = { name: 'Sync key', extensions: ['usagedesk-synckey'] };
export const VERIFICATION_KEY_FILTER: SaveFilter = { name: 'Verification key', extensions: ['usagedesk-verification'] };

const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------
// File names

/** An id as the shell writes it into file names: [A-Za-z0-9_-], other characters as `_`, 64 at most. */
export function safeId(id: string): string {
  return [...id]
    .slice(0, 64)
    .map((c) => (/^[A-Za-z0-9_-]$/.test(c) ? c : '_'))
    .join('');
}

/** The local calendar day of `at` as yyyymmdd. */
export function yyyymmdd(at: Date | string | number): string {
  const d = localParts(new Date(at).getTime());
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.year}${pad(d.month + 1)}${pad(d.day)}`;
}

/** `{instance}-{yyyymmdd}.usagedesk-synckey` */
export function syncKeyFileName(instanceId: string, at: Date | string | number): string {
  return `${safeId(instanceId)}-${yyyymmdd(at)}.usagedesk-synckey`;
}

/** `{instance}-{yyyymmdd}.usagedesk-verification` */
export function verificationKeyFileName(instanceId: string, at: Date | string | number): string {
  return `${safeId(instanceId)}-${yyyymmdd(at)}.usagedesk-verification`;
}

/** What a ledger entry's document is, with its file name (dated as the entry) and type. */
export function ledgerDocument(entry: Pick<LedgerEntry, 'event' | 'instance_id' | 'at'>): { noun: string; fileName: string; filter: SaveFilter } {
  return entry.event === 'sync_key_issued'
    ? { noun: 'sync key', fileName: syncKeyFileName(entry.instance_id, entry.at), filter: SYNC_KEY_FILTER }
    : { noun: 'verification key', fileName: verificationKeyFileName(entry.instance_id, entry.at), filter: VERIFICATION_KEY_FILTER };
}

/** The last part of a path, with / or \ as separators. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.at(-1) ?? path;
}

// ---------------------------------------------------------------------------------------------
// Instances

/** Air-gapped first, overdue first among them, then by id. */
export function sortInstances(list: readonly InstanceView[]): InstanceView[] {
  return [...list].sort(
    (a, b) =>
      Number(b.instance.airgapped) - Number(a.instance.airgapped) ||
      Number(b.overdue) - Number(a.overdue) ||
      compareText(a.instance.id, b.instance.id),
  );
}

export function overdueCount(list: readonly InstanceView[]): number {
  return list.reduce((n, i) => n + (i.overdue ? 1 : 0), 0);
}

export type Exchange = { at: string; via: 'file' | 'cloud' };

/** The newest verified usage: a file imported here, or the cloud's last report (by file or online). */
export function lastExchange(row: AirgapInstance): Exchange | null {
  const file = row.last_import_at;
  const cloud = row.instance.last_report_at;
  const t = (s: string) => new Date(s).getTime();
  if (file && (!cloud || t(file) >= t(cloud))) return { at: file, via: 'file' };
  if (cloud) return { at: cloud, via: 'cloud' };
  return null;
}

/** "3 days ago", with a tooltip saying how and exactly when; "Never" without any. */
export function lastExchangeView(row: AirgapInstance, now: number): { text: string; title: string; never: boolean } {
  const x = lastExchange(row);
  if (!x) return { text: 'Never', title: 'No usage received from this instance yet', never: true };
  const how = x.via === 'file' ? 'Usage data file imported here' : 'Last report accepted by the cloud';
  // in days up to a year: "47 days ago" says more about an overdue instance than a date
  const days = daysSince(x.at, now);
  const text = days >= 30 && days < 366 ? `${days} days ago` : relativeTime(x.at, now);
  return { text, title: `${how}, ${formatDateTime(x.at)}`, never: false };
}

/** "Sync key issued yesterday" while the file answering the latest sync key has not come back. */
export function awaitingText(row: AirgapInstance, now: number): string | null {
  const key = row.last_sync_key_at;
  if (!key) return null;
  const x = lastExchange(row);
  if (x && new Date(x.at).getTime() >= new Date(key).getTime()) return null;
  return `Sync key issued ${relativeTime(key, now)}`;
}

/** Whole days since `iso`, never negative. */
export function daysSince(iso: string, now: number): number {
  return Math.max(0, Math.floor((now - new Date(iso).getTime()) / DAY_MS));
}

/** Why an instance is overdue ("No verified file for 47 days"), or null when it is not. */
export function overdueText(view: InstanceView, now: number): string | null {
  if (!view.overdue) return null;
  const x = lastExchange(view);
  if (!x) return 'No verified file yet: issue a sync key and ask the customer for a usage data file';
  return `No verified file for ${pluralize(daysSince(x.at, now), 'day')} (more than ${OVERDUE_DAYS}): issue a sync key and ask the customer for a usage data file`;
}

/** The tooltip of the "refused" chip. */
export function refusedText(n: number): string {
  return `${pluralize(n, 'imported file')} refused by the cloud, kept on this computer: see the ledger for the reason, retry or discard`;
}

/** "1 import pending upload" for the chip's tooltip. */
export function pendingText(n: number): string {
  return `${pluralize(n, 'import')} waiting to be sent to the cloud on the next sync`;
}

/** Sidebar badge tooltip. */
export function overdueBadgeTitle(n: number): string {
  return n === 1 ? '1 air-gapped instance is overdue' : `${formatInt(n)} air-gapped instances are overdue`;
}

// ---------------------------------------------------------------------------------------------
// Sync keys

/** Why a validity is not accepted, or null. */
export function validDaysError(value: unknown): string | null {
  const n = typeof value === 'number' ? value : Number(String(value ?? '').trim());
  if (value === '' || value === null || value === undefined || !Number.isFinite(n)) return 'Enter a number of days.';
  if (!Number.isInteger(n)) return 'Enter whole days.';
  if (n < SYNC_KEY_DAYS.min || n > SYNC_KEY_DAYS.max) return `Between ${SYNC_KEY_DAYS.min} and ${SYNC_KEY_DAYS.max} days.`;
  return null;
}

/** "Valid until Dec 23, 2025" for a validity of `days` from `now` (local calendar). */
export function validUntilText(days: number, now: number): string | null {
  if (validDaysError(days) !== null) return null;
  const d = localParts(now + days * DAY_MS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `Valid until ${formatDate(`${d.year}-${pad(d.month + 1)}-${pad(d.day)}`)}`;
}

export type IssuedView = { title: string; detail: string; warning: string | null };

/** What to say once a sync key was saved. */
export function issuedSyncKeyView(k: IssuedSyncKey, path: string): IssuedView {
  return {
    title: `Sync key for ${k.instance_id} saved`,
    detail: `Saved to ${path}. Valid until ${formatDateTime(k.expires_at)}; it asks for the records above mark ${formatInt(k.high_water_mark)}. Carry it to the instance, and drop the usage data file it writes on this window.`,
    warning: k.shortened
      ? `Valid for less than asked: this computer's signing certificate ends ${formatDateTime(k.expires_at)}. Sync while online to renew it.`
      : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Import

/** "Nov 1 – Nov 22, 2025", "Nov 3, 2025", "Dec 28, 2024 – Jan 3, 2025"; "No records" without. */
export function formatPeriod(first: string | null, last: string | null): string {
  if (!first && !last) return 'No records';
  const a = first ?? last!;
  const b = last ?? first!;
  if (a === b) return formatDate(a);
  const ya = a.slice(0, 4);
  const yb = b.slice(0, 4);
  if (ya === yb) return `${formatDate(a).replace(`, ${ya}`, '')} – ${formatDate(b)}`;
  return `${formatDate(a)} – ${formatDate(b)}`;
}

/** "1,234 records for 5 accounts: 1,200 new, 30 already present, 4 changed." */
export function previewSummary(p: ImportPreview): string {
  if (p.records === 0) return 'The file holds no records above the mark: importing it only confirms the exchange.';
  return `${pluralize(p.records, 'record')} for ${pluralize(p.accounts, 'account')}: ${formatInt(p.new)} new, ${formatInt(p.already_present)} already present, ${formatInt(p.changed)} changed.`;
}

/** The instance holds more than one file carries: say to ask again. */
export function remainingNote(p: ImportPreview): string | null {
  if (p.remaining_records <= 0) return null;
  return `The instance holds ${pluralize(p.remaining_records, 'more record')} than this file carries. After importing, issue another sync key to fetch ${p.remaining_records === 1 ? 'it' : 'them'}.`;
}

/** A note on changed records, which replace what was known for those days. */
export function changedNote(p: ImportPreview): string | null {
  if (p.changed <= 0) return null;
  return `${pluralize(p.changed, 'record')} ${p.changed === 1 ? 'differs' : 'differ'} from what is known for the same day and account; the file's values replace them.`;
}

export type OutcomeView = { title: string; records: string; pending: string; saved: string };

export function outcomeView(o: ImportOutcome, path: string): OutcomeView {
  const p = o.preview;
  const imported = p.new + p.changed;
  return {
    title: imported === 0 ? 'Imported: nothing new' : `Imported ${pluralize(imported, 'record')}`,
    records: `${formatInt(p.new)} new, ${formatInt(p.changed)} changed, ${formatInt(p.already_present)} already present.`,
    pending: 'Shown now, marked pending upload until the next sync sends it to the cloud (which checks it again).',
    saved: path,
  };
}

/** "Already imported on Nov 3, 2025 09:12 by anna (sp-01); nothing changed." */
export function alreadyImportedText(entry: LedgerEntry): string {
  return `Already imported on ${formatDateTime(entry.at)}${entry.by ? ` by ${entry.by}` : ''}; nothing changed.`;
}

/** More than one file dropped: the dialog takes one at a time. */
export function dropRefusal(paths: readonly string[]): string | null {
  if (paths.length === 0) return 'Nothing was dropped. Drop a usage data file.';
  if (paths.length > 1) return `${formatInt(paths.length)} files were dropped. Drop one usage data file at a time.`;
  return null;
}

/** A title over a refusal, by kind. */
export function importErrorTitle(err: AppError): string {
  switch (err.kind) {
    case 'file_refused':
      return 'This file cannot be imported';
    case 'no_certificate':
      return 'Sync while online first';
    case 'already_imported':
      return 'Already imported';
    case 'io':
      return /^cannot write/i.test(err.message.trim())
        ? 'The file could not be written'
        : /^cannot read/i.test(err.message.trim())
          ? 'The file cannot be read'
          : 'The file cannot be read or written';
    case 'not_found':
      return 'Unknown instance';
    case 'offline':
      return 'The cloud cannot be reached';
    default:
      return 'The import failed';
  }
}

/** The message as a sentence; `no_certificate` says what to do even when the shell's text is terse. */
export function importErrorText(err: AppError): string {
  const text = asSentence(err.message);
  if (err.kind === 'no_certificate' && !/sync/i.test(text)) {
    return `${text} Sync once while online: the cloud certifies this computer's signing key then.`.trim();
  }
  return text || 'Something went wrong.';
}

// ---------------------------------------------------------------------------------------------
// Ledger

export function ledgerEventLabel(e: LedgerEvent): string {
  return e === 'sync_key_issued' ? 'Sync key issued' : 'Usage imported';
}

/** "1,200 new · 30 present · 4 changed" for imports; null for sync keys. */
export function ledgerCounts(entry: Pick<LedgerEntry, 'event' | 'new_records' | 'already_present' | 'changed'>): string | null {
  if (entry.event !== 'usage_imported') return null;
  return `${formatInt(entry.new_records)} new · ${formatInt(entry.already_present)} present · ${formatInt(entry.changed)} changed`;
}

export type UploadView = {
  text: string;
  tone: 'warning' | 'success' | 'danger' | 'neutral';
  title: string;
  /** A refusal's reason in the cloud's words, shown in full under the entry. */
  reason?: string;
};

/** "https://usage.example.com/ (account acme)" */
export function bindingText(b: OutboxBinding): string {
  return `${b.cloud_url} (${b.account_id === '*' ? 'all accounts' : `account ${b.account_id}`})`;
}

/** Where an import's file stands, with what to do, for the ledger. */
export function ledgerUploadView(row: LedgerRow, now: number): UploadView | null {
  const q = row.queued;
  if (row.upload === 'discarded')
    return {
      text: 'Discarded',
      tone: 'neutral',
      title: `Refused by the cloud${row.upload_error ? ` (${row.upload_error})` : ''}, then discarded${row.discarded_by ? ` by ${row.discarded_by}` : ''}${row.discarded_at ? ` ${formatDateTime(row.discarded_at)}` : ''}. Its values stay here, unconfirmed.`,
    };
  if (q && q.refused_status !== null)
    return {
      text: 'Refused by the cloud',
      tone: 'danger',
      title: `${row.upload_error ?? 'The cloud refused this file'} (${q.refused_status}). The file is kept on this computer: fix the cause and retry, or discard it.`,
      reason: `The cloud refused this file (${q.refused_status}): ${row.upload_error ?? 'no reason given'}. It is kept on this computer: fix the cause and retry, or discard it.`,
    };
  if (q && q.next_attempt_at && new Date(q.next_attempt_at).getTime() > now)
    return {
      text: 'Retrying',
      tone: 'warning',
      title: `${q.last_error ?? 'The upload failed'}. The file stays queued; tried again ${relativeTime(q.next_attempt_at, now)} (${pluralize(q.attempts, 'attempt')} so far).`,
    };
  return uploadView(row.upload, row.upload_error);
}

/** Refused or retrying: offer retry and discard. */
export function canRetry(row: LedgerRow): boolean {
  return row.queued !== null && (row.queued.refused_status !== null || row.queued.next_attempt_at !== null);
}

export function discardText(row: LedgerRow): string {
  return `The usage data file imported ${formatDateTime(row.at)} for ${row.instance_id} is deleted from this computer. The customer's agent already dropped these records after the verification key, so the cloud will never get them: this cannot be undone. The ledger keeps the entry, marked discarded.`;
}

/** Files kept but not heading for this cloud now: a note for the Air-gapped view, or null. */
export function outboxNotes(o: OutboxSummary | null | undefined): { tone: 'danger' | 'warning'; text: string }[] {
  if (!o) return [];
  const notes: { tone: 'danger' | 'warning'; text: string }[] = [];
  if (o.refused > 0)
    notes.push({
      tone: 'danger',
      text: `The cloud refused ${pluralize(o.refused, 'imported file')}. ${o.refused === 1 ? 'It is' : 'They are'} kept on this computer: open the instance's ledger for the reason, then retry once the cause is fixed, or discard.`,
    });
  for (const e of o.elsewhere)
    notes.push({
      tone: 'warning',
      text: `${pluralize(e.files, 'imported file')} ${e.files === 1 ? 'waits' : 'wait'} for ${bindingText(e)}: ${e.files === 1 ? 'it is' : 'they are'} uploaded when this computer syncs with it again, never to another cloud.`,
    });
  return notes;
}

function keptTotal(o: OutboxSummary | null | undefined): number {
  if (!o) return 0;
  return o.queued + o.refused + o.elsewhere.reduce((n, e) => n + e.files, 0);
}

/** The sign-out confirmation, saying what happens to queued files. */
export function signOutText(s: AppStatus | null): string {
  const base =
    'The API token and this computer’s air-gap signing key are removed from the keyring, and the signing certificate from the cache. You can still browse cached data; syncing, issuing sync keys and importing need you to sign in again.';
  const n = keptTotal(s?.outbox);
  if (n === 0) return base;
  return `${base} ${pluralize(n, 'imported usage data file')} not yet accepted by the cloud ${n === 1 ? 'stays' : 'stay'} queued for the cloud and account ${n === 1 ? 'it was' : 'they were'} imported under, and ${n === 1 ? 'is' : 'are'} uploaded when you sign in to it again.`;
}

/** The clear-cache confirmation, saying what happens to queued files. */
export function clearCacheText(s: AppStatus | null): string {
  const base = `This deletes ${s ? formatInt(s.accounts) : ''} cached accounts and their usage from this computer. The next sync downloads everything again.`;
  const n = keptTotal(s?.outbox);
  if (n === 0) return base;
  return `${base} ${pluralize(n, 'imported usage data file')} not yet accepted by the cloud ${n === 1 ? 'is' : 'are'} kept, queued for ${n === 1 ? 'its' : 'their'} cloud and account; the usage ${n === 1 ? 'it holds is' : 'they hold is'} not shown until the cloud has ${n === 1 ? 'it' : 'them'}.`;
}

export function uploadView(
  u: UploadState | null,
  error: string | null = null,
): UploadView | null {
  if (u === 'pending') return { text: 'Pending upload', tone: 'warning', title: 'Sent to the cloud on the next sync' };
  if (u === 'uploaded') return { text: 'Uploaded', tone: 'success', title: 'The cloud verified and accepted it' };
  if (u === 'rejected')
    return {
      text: 'Refused by the cloud',
      tone: 'danger',
      title: `${error ?? 'The cloud refused this file'}. The file is kept on this computer: fix the cause and retry, or discard it.`,
    };
  if (u === 'discarded') return { text: 'Discarded', tone: 'neutral', title: `${error ?? 'Refused by the cloud'}; discarded by hand. Its values stay here, unconfirmed.` };
  return null;
}

/** A sync key's expiry in the ledger: "expires Dec 3, 2025 09:12" or "expired …". */
export function expiryText(entry: Pick<LedgerEntry, 'expires_at'>, now: number): string | null {
  if (!entry.expires_at) return null;
  const past = new Date(entry.expires_at).getTime() <= now;
  return `${past ? 'expired' : 'expires'} ${formatDateTime(entry.expires_at)}`;
}

// ---------------------------------------------------------------------------------------------
// Account pane

/** Was usage of `month` imported here and not yet sent to the cloud? */
export function isPendingMonth(detail: { pending_months: readonly YearMonth[] } | null, month: YearMonth | null): boolean {
  return !!detail && month !== null && detail.pending_months.includes(month);
}

export const PENDING_UPLOAD_TITLE =
  'Includes usage imported here from an air-gapped instance’s file. It is shown now and sent to the cloud on the next sync; the cloud checks the file again before it counts.';
