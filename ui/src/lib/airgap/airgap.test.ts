import { describe, expect, it } from 'vitest';
import type { AppStatus, LedgerRow } from '$lib/bindings';
import {
  alreadyImportedText,
  awaitingText,
  baseName,
  changedNote,
  daysSince,
  dropRefusal,
  expiryText,
  formatPeriod,
  importErrorText,
  importErrorTitle,
  isPendingMonth,
  issuedSyncKeyView,
  lastExchange,
  lastExchangeView,
  ledgerCounts,
  ledgerDocument,
  ledgerEventLabel,
  outcomeView,
  overdueBadgeTitle,
  overdueCount,
  overdueText,
  previewSummary,
  remainingNote,
  safeId,
  sortInstances,
  syncKeyFileName,
  uploadView,
  ledgerUploadView,
  canRetry,
  signOutText,
  clearCacheText,
  outboxNotes,
  validDaysError,
  validUntilText,
  verificationKeyFileName,
  yyyymmdd,
} from './airgap';
import { importPreview, instanceView, ledgerEntry } from '../../test/fake';

const NOW = new Date(2025, 10, 23, 12, 0).getTime();
const daysAgo = (d: number) => new Date(NOW - d * 86_400_000).toISOString();

describe('file names', () => {
  it('name sync keys and verification keys {instance}-{yyyymmdd}, by the local day', () => {
    const d = new Date(2025, 0, 5, 23, 59);
    expect(yyyymmdd(d)).toBe('20250105');
    expect(syncKeyFileName('acme-de-01', d)).toBe('acme-de-01-20250105.usagedesk-synckey');
    expect(verificationKeyFileName('acme-de-01', d)).toBe('acme-de-01-20250105.usagedesk-verification');
  });

  it('keep ids file-name safe as the shell does', () => {
    expect(safeId('Plant 2/ÖST_x-1')).toBe('Plant_2__ST_x-1');
    expect(safeId('x'.repeat(80))).toHaveLength(64);
    expect(syncKeyFileName('a b', new Date(2025, 5, 1))).toBe('a_b-20250601.usagedesk-synckey');
  });

  it('save a ledger entry’s document under the name and type of its kind, dated as the entry', () => {
    const at = new Date(2025, 2, 9, 10).toISOString();
    const key = ledgerDocument(ledgerEntry(1, 'inst-a', { event: 'sync_key_issued', at }));
    expect(key).toEqual({ noun: 'sync key', fileName: 'inst-a-20250309.usagedesk-synckey', filter: { name: 'Sync key', extensions: ['usagedesk-synckey'] } });
    const ver = ledgerDocument(ledgerEntry(2, 'inst-a', { at }));
    expect(ver.fileName).toBe('inst-a-20250309.usagedesk-verification');
    expect(ver.filter).toEqual({ name: 'Verification key', extensions: ['usagedesk-verification'] });
  });

  it('take the last part of a path', () => {
    expect(baseName('/home/me/Downloads/a.usagedata')).toBe('a.usagedata');
    expect(baseName('C:\\Users\\me\\b.usagedata')).toBe('b.usagedata');
    expect(baseName('c')).toBe('c');
  });
});

describe('instances', () => {
  const online = instanceView('z-online', { instance: { airgapped: false } });
  const late = instanceView('m-late', { overdue: true });
  const fine = instanceView('a-fine');
  const late2 = instanceView('b-late', { overdue: true });

  it('sort air-gapped first, overdue first among them, then by id', () => {
    expect(sortInstances([online, fine, late, late2]).map((i) => i.instance.id)).toEqual(['b-late', 'm-late', 'a-fine', 'z-online']);
    expect(overdueCount([online, fine, late, late2])).toBe(2);
    expect(overdueBadgeTitle(1)).toBe('1 air-gapped instance is overdue');
    expect(overdueBadgeTitle(2)).toBe('2 air-gapped instances are overdue');
  });

  it('take the newer of a file imported here and the cloud’s last report as the last exchange', () => {
    expect(lastExchange(instanceView('x'))).toBeNull();
    expect(lastExchange(instanceView('x', { last_import_at: daysAgo(3), instance: { last_report_at: daysAgo(5) } }))).toEqual({ at: daysAgo(3), via: 'file' });
    expect(lastExchange(instanceView('x', { last_import_at: daysAgo(9), instance: { last_report_at: daysAgo(2) } }))).toEqual({ at: daysAgo(2), via: 'cloud' });
    const v = lastExchangeView(instanceView('x', { last_import_at: daysAgo(3) }), NOW);
    expect(v.text).toBe('3 days ago');
    expect(v.title).toMatch(/^Usage data file imported here, /);
    expect(lastExchangeView(instanceView('x', { instance: { last_report_at: daysAgo(0.1) } }), NOW)).toMatchObject({ text: '2 h ago', never: false });
    expect(lastExchangeView(instanceView('x'), NOW)).toMatchObject({ text: 'Never', never: true });
    expect(lastExchangeView(instanceView('x', { last_import_at: daysAgo(47) }), NOW).text).toBe('47 days ago');
    expect(lastExchangeView(instanceView('x', { last_import_at: new Date(2024, 0, 2, 8).toISOString() }), NOW).text).toBe('Jan 2, 2024 08:00');
  });

  it('say a sync key is out while its file has not come back', () => {
    expect(awaitingText(instanceView('x'), NOW)).toBeNull();
    expect(awaitingText(instanceView('x', { last_sync_key_at: daysAgo(1), last_import_at: daysAgo(9) }), NOW)).toBe('Sync key issued yesterday');
    expect(awaitingText(instanceView('x', { last_sync_key_at: daysAgo(1) }), NOW)).toBe('Sync key issued yesterday');
    expect(awaitingText(instanceView('x', { last_sync_key_at: daysAgo(9), last_import_at: daysAgo(1) }), NOW)).toBeNull();
  });

  it('say why an instance is overdue', () => {
    expect(overdueText(instanceView('x', { last_import_at: daysAgo(47) }), NOW)).toBeNull();
    expect(overdueText(instanceView('x', { overdue: true, last_import_at: daysAgo(47) }), NOW)).toBe(
      'No verified file for 47 days (more than 31): issue a sync key and ask the customer for a usage data file',
    );
    expect(overdueText(instanceView('x', { overdue: true }), NOW)).toMatch(/^No verified file yet: issue a sync key/);
    expect(daysSince(daysAgo(-2), NOW)).toBe(0);
  });
});

describe('sync keys', () => {
  it('accept whole days from 1 to 365', () => {
    expect(validDaysError(30)).toBeNull();
    expect(validDaysError(1)).toBeNull();
    expect(validDaysError(365)).toBeNull();
    expect(validDaysError('45')).toBeNull();
    expect(validDaysError(0)).toBe('Between 1 and 365 days.');
    expect(validDaysError(366)).toBe('Between 1 and 365 days.');
    expect(validDaysError(2.5)).toBe('Enter whole days.');
    expect(validDaysError('')).toBe('Enter a number of days.');
    expect(validDaysError(null)).toBe('Enter a number of days.');
    expect(validDaysError('abc')).toBe('Enter a number of days.');
  });

  it('show the day the key runs out', () => {
    expect(validUntilText(30, NOW)).toBe('Valid until Dec 23, 2025');
    expect(validUntilText(0, NOW)).toBeNull();
  });

  it('say where the key went, until when, the mark, and when it was shortened', () => {
    const key = {
      instance_id: 'inst-a',
      text: '',
      suggested_file_name: 'inst-a-20251123.usagedesk-synckey',
      nonce: 'n',
      high_water_mark: 1234,
      expires_at: new Date(2025, 11, 23, 9, 5).toISOString(),
      shortened: false,
    };
    const v = issuedSyncKeyView(key, '/home/me/inst-a.usagedesk-synckey');
    expect(v.title).toBe('Sync key for inst-a saved');
    expect(v.detail).toContain('Saved to /home/me/inst-a.usagedesk-synckey.');
    expect(v.detail).toContain('Valid until Dec 23, 2025 09:05');
    expect(v.detail).toContain('above mark 1,234');
    expect(v.warning).toBeNull();
    expect(issuedSyncKeyView({ ...key, shortened: true }, '/x').warning).toMatch(/^Valid for less than asked: .*Sync while online to renew it\.$/);
  });
});

describe('import preview and outcome', () => {
  it('format the period of the records', () => {
    expect(formatPeriod('2024-05-01', '2024-05-31')).toBe('May 1 – May 31, 2024');
    expect(formatPeriod('2024-12-28', '2025-01-03')).toBe('Dec 28, 2024 – Jan 3, 2025');
    expect(formatPeriod('2024-05-07', '2024-05-07')).toBe('May 7, 2024');
    expect(formatPeriod(null, null)).toBe('No records');
  });

  it('summarize what an import would do', () => {
    expect(previewSummary(importPreview())).toBe('93 records for 3 accounts: 90 new, 2 already present, 1 changed.');
    expect(previewSummary(importPreview({ records: 1, accounts: 1, new: 1, already_present: 0, changed: 0 }))).toBe(
      '1 record for 1 account: 1 new, 0 already present, 0 changed.',
    );
    expect(previewSummary(importPreview({ records: 0, new: 0, already_present: 0, changed: 0 }))).toMatch(/no records above the mark/);
  });

  it('note records left on the instance, and changed records', () => {
    expect(remainingNote(importPreview())).toBeNull();
    expect(remainingNote(importPreview({ remaining_records: 1204 }))).toBe(
      'The instance holds 1,204 more records than this file carries. After importing, issue another sync key to fetch them.',
    );
    expect(remainingNote(importPreview({ remaining_records: 1 }))).toMatch(/1 more record than .* to fetch it\.$/);
    expect(changedNote(importPreview({ changed: 0 }))).toBeNull();
    expect(changedNote(importPreview({ changed: 1 }))).toMatch(/^1 record differs from what is known/);
    expect(changedNote(importPreview({ changed: 3 }))).toMatch(/^3 records differ /);
  });

  it('say what was imported and where the verification key went', () => {
    const o = { preview: importPreview(), ledger_id: 7, verification_key: '', suggested_file_name: '' };
    expect(outcomeView(o, '/home/me/v.usagedesk-verification')).toEqual({
      title: 'Imported 91 records',
      records: '90 new, 1 changed, 2 already present.',
      pending: 'Shown now, marked pending upload until the next sync sends it to the cloud (which checks it again).',
      saved: '/home/me/v.usagedesk-verification',
    });
    const none = { ...o, preview: importPreview({ new: 0, changed: 0 }) };
    expect(outcomeView(none, '/x').title).toBe('Imported: nothing new');
  });

  it('say when a file was imported before', () => {
    const e = ledgerEntry(3, 'inst-a', { at: new Date(2025, 10, 3, 9, 12).toISOString(), by: 'anna (sp)' });
    expect(alreadyImportedText(e)).toBe('Already imported on Nov 3, 2025 09:12 by anna (sp); nothing changed.');
  });

  it('take one dropped file at a time', () => {
    expect(dropRefusal(['/a'])).toBeNull();
    expect(dropRefusal(['/a', '/b', '/c'])).toBe('3 files were dropped. Drop one usage data file at a time.');
    expect(dropRefusal([])).toMatch(/^Nothing was dropped/);
  });

  it('title and word refusals', () => {
    const refused = { kind: 'file_refused' as const, message: "the usage data file's signature does not match its content: it was altered in transit" };
    expect(importErrorTitle(refused)).toBe('This file cannot be imported');
    expect(importErrorText(refused)).toBe("The usage data file's signature does not match its content: it was altered in transit.");
    expect(importErrorTitle({ kind: 'no_certificate', message: '' })).toBe('Sync while online first');
    expect(importErrorText({ kind: 'no_certificate', message: 'no signing certificate' })).toMatch(/^No signing certificate\. Sync once while online/);
    expect(importErrorText({ kind: 'no_certificate', message: 'no certificate yet: sync while online' })).toBe('No certificate yet: sync while online.');
    expect(importErrorTitle({ kind: 'io', message: '' })).toBe('The file cannot be read or written');
    expect(importErrorTitle({ kind: 'io', message: 'cannot read /x: Permission denied' })).toBe('The file cannot be read');
    expect(importErrorTitle({ kind: 'io', message: 'cannot write /x: No space left' })).toBe('The file could not be written');
    expect(importErrorTitle({ kind: 'internal', message: '' })).toBe('The import failed');
  });
});

describe('ledger', () => {
  it('label events, counts, uploads and expiry', () => {
    expect(ledgerEventLabel('sync_key_issued')).toBe('Sync key issued');
    expect(ledgerEventLabel('usage_imported')).toBe('Usage imported');
    expect(ledgerCounts(ledgerEntry(1, 'x', { new_records: 1200, already_present: 30, changed: 4 }))).toBe('1,200 new · 30 present · 4 changed');
    expect(ledgerCounts(ledgerEntry(1, 'x', { event: 'sync_key_issued' }))).toBeNull();
    expect(uploadView('pending')).toMatchObject({ text: 'Pending upload', tone: 'warning' });
    expect(uploadView('uploaded')).toMatchObject({ text: 'Uploaded', tone: 'success' });
    expect(uploadView(null)).toBeNull();
    const refused = uploadView('rejected', 'record 3 is for another account');
    expect(refused).toMatchObject({ text: 'Refused by the cloud', tone: 'danger' });
    expect(refused?.title).toContain('record 3 is for another account');
    const at = new Date(2025, 11, 1, 8, 0).toISOString();
    expect(expiryText(ledgerEntry(1, 'x', { event: 'sync_key_issued', expires_at: at }), NOW)).toBe('expires Dec 1, 2025 08:00');
    expect(expiryText(ledgerEntry(1, 'x', { event: 'sync_key_issued', expires_at: at }), new Date(2026, 0, 1).getTime())).toBe('expired Dec 1, 2025 08:00');
    expect(expiryText(ledgerEntry(1, 'x'), NOW)).toBeNull();
  });
});

describe('account pane', () => {
  it('marks a month pending upload when the detail lists it', () => {
    expect(isPendingMonth({ pending_months: ['2024-05'] }, '2024-05')).toBe(true);
    expect(isPendingMonth({ pending_months: ['2024-04'] }, '2024-05')).toBe(false);
    expect(isPendingMonth(null, '2024-05')).toBe(false);
    expect(isPendingMonth({ pending_months: ['2024-05'] }, null)).toBe(false);
  });
});

describe('kept files', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  const row = (over: Partial<LedgerRow> = {}): LedgerRow => ({
    id: 4,
    instance_id: 'inst-a',
    event: 'usage_imported',
    at: '2025-05-30T09:00:00Z',
    by: 'anna (sp)',
    nonce: 'n',
    file_sha256: 'x',
    expires_at: null,
    high_water_mark: 12,
    records: 3,
    new_records: 3,
    already_present: 0,
    changed: 0,
    upload: 'pending',
    upload_error: null,
    queued: { cloud_url: 'https://u.example.com/', account_id: 'sp', attempts: 0, last_attempt_at: null, next_attempt_at: null, last_error: null, refused_status: null },
    discarded_at: null,
    discarded_by: null,
    ...over,
  });

  it('tells queued, retrying, refused and discarded apart, with what to do', () => {
    expect(ledgerUploadView(row(), now)).toMatchObject({ text: 'Pending upload' });
    const retrying = ledgerUploadView(row({ queued: { ...row().queued!, attempts: 2, next_attempt_at: '2025-06-01T12:05:00Z', last_error: 'the cloud answered 429' } }), now)!;
    expect(retrying.text).toBe('Retrying');
    expect(retrying.title).toContain('the cloud answered 429');
    expect(retrying.title).toContain('2 attempts');
    const refused = ledgerUploadView(row({ upload: 'rejected', upload_error: 'no instance is visible', queued: { ...row().queued!, refused_status: 404 } }), now)!;
    expect(refused).toMatchObject({ text: 'Refused by the cloud', tone: 'danger' });
    expect(refused.title).toContain('kept on this computer');
    expect(refused.reason, 'the reason is shown in full, not only on hover').toBe(
      'The cloud refused this file (404): no instance is visible. It is kept on this computer: fix the cause and retry, or discard it.',
    );
    expect(retrying.reason, 'a transient failure shows no refusal').toBeUndefined();
    expect(canRetry(row({ queued: { ...row().queued!, refused_status: 404 } }))).toBe(true);
    expect(canRetry(row())).toBe(false);
    const discarded = ledgerUploadView(row({ upload: 'discarded', queued: null, discarded_by: 'anna (sp)', discarded_at: '2025-05-31T10:00:00Z' }), now)!;
    expect(discarded.text).toBe('Discarded');
    expect(discarded.title).toContain('by anna (sp)');
  });

  it('says what sign-out and clearing do to queued files', () => {
    const none = { outbox: { queued: 0, refused: 0, elsewhere: [] } } as unknown as AppStatus;
    const some = { accounts: 10, outbox: { queued: 1, refused: 1, elsewhere: [{ cloud_url: 'https://o/', account_id: '*', files: 1 }] } } as unknown as AppStatus;
    expect(signOutText(none)).toContain('signing key');
    expect(signOutText(none)).not.toContain('queued');
    expect(signOutText(some)).toContain('3 imported usage data files not yet accepted by the cloud stay queued');
    expect(clearCacheText(some)).toContain('3 imported usage data files not yet accepted by the cloud are kept');
    expect(outboxNotes(some.outbox).map((n) => n.text)[1]).toContain('https://o/ (all accounts)');
  });
});
