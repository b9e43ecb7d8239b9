import { describe, expect, it } from 'vitest';
import type { ExportPlan, ExportRequest, ExportSignature } from '$lib/bindings';
import {
  asSentence,
  CANCELLED_TEXT,
  defaultRange,
  exportErrorText,
  missingMonthsNote,
  monthRuns,
  outcomeView,
  planMatches,
  previewText,
  progressPercent,
  progressText,
  rangeError,
  SCOPES,
  shortSha,
  signatureView,
} from './export';

const months = ['2024-01', '2024-02', '2024-03', '2024-04', '2024-05', '2024-06'];
const request: ExportRequest = { report: 'usage', account_id: 'sp', scope: 'tree', from: '2024-01', to: '2024-06' };

function plan(over: Partial<ExportPlan> = {}): ExportPlan {
  return {
    request,
    account_name: 'Service Provider',
    months,
    months_without_data: [],
    accounts: 7,
    licenses: 0,
    rows: 42,
    rows_exact: true,
    suggested_file_name: 'usage-sp-tree-2024-01_2024-06.csv',
    ...over,
  };
}

describe('entitlements preview', () => {
  const ent = (over: Partial<ExportPlan> = {}) => plan({ request: { ...request, report: 'entitlements' }, licenses: 5, rows: 40, rows_exact: false, ...over });

  it('counts licenses over months, the rows as a lower bound', () => {
    expect(previewText(ent())).toBe('Will write at least 40 rows: 5 licenses over 6 months, a row per plan and month in force');
    expect(previewText(ent({ rows_exact: true, licenses: 1, rows: 1, months: ['2024-01'] }))).toBe(
      'Will write 1 row: 1 license over 1 month, a row per plan and month in force',
    );
  });

  it('says when no license is in force, or no month has data', () => {
    expect(previewText(ent({ licenses: 0, rows: 0 }))).toBe('Will write the header line only: no license held in this scope is in force in these months.');
    expect(previewText(ent({ months: [], months_without_data: months }))).toBe('Will write the header line only: no month of the range has synced data.');
  });

  it('matches a plan to its request, report included', () => {
    expect(planMatches(ent(), { ...request, report: 'entitlements' })).toBe(true);
    expect(planMatches(ent(), request)).toBe(false);
  });
});

describe('scopes', () => {
  it('lists the three scopes in the order and with the names of the usage report', () => {
    expect(SCOPES.map((s) => [s.id, s.label])).toEqual([
      ['self', 'Only this account'],
      ['children', 'Include direct child accounts'],
      ['tree', 'Entire account tree'],
    ]);
  });
});

describe('defaultRange', () => {
  it('is the month shown in the account view, from and to alike', () => {
    expect(defaultRange(months, '2024-03')).toEqual({ from: '2024-03', to: '2024-03' });
  });
  it('falls back to the last completed month', () => {
    expect(defaultRange(months, null)).toEqual({ from: '2024-06', to: '2024-06' });
    expect(defaultRange(months, '2023-12')).toEqual({ from: '2024-06', to: '2024-06' });
  });
  it('is null when nothing was synced', () => {
    expect(defaultRange([], '2024-03')).toBeNull();
  });
});

describe('rangeError', () => {
  it('accepts ordered completed months, one month included', () => {
    expect(rangeError(months, '2024-01', '2024-06')).toBeNull();
    expect(rangeError(months, '2024-04', '2024-04')).toBeNull();
  });
  it('refuses a reversed range, naming both months', () => {
    expect(rangeError(months, '2024-05', '2024-02')).toBe(
      'The range starts (May 2024) after it ends (February 2024). Swap the two months.',
    );
  });
  it('refuses months that are not in the completed list', () => {
    expect(rangeError(months, '2024-01', '2024-07')).toBe('July 2024 is not a completed month with synced data. Choose another month.');
    expect(rangeError(months, '2023-12', '2024-02')).toMatch(/^December 2023 is not a completed month/);
  });
  it('asks for both months, and for a sync when there is nothing', () => {
    expect(rangeError(months, '', '2024-02')).toBe('Choose the first and the last month.');
    expect(rangeError([], '2024-01', '2024-01')).toMatch(/Sync, then export/);
  });
});

describe('planMatches', () => {
  it('is true only for the plan of exactly this request', () => {
    expect(planMatches(plan(), request)).toBe(true);
    expect(planMatches(plan(), { ...request, scope: 'self' })).toBe(false);
    expect(planMatches(plan(), { ...request, from: '2024-02' })).toBe(false);
    expect(planMatches(plan(), { ...request, to: '2024-05' })).toBe(false);
    expect(planMatches(plan(), { ...request, account_id: 'a' })).toBe(false);
    expect(planMatches(null, request)).toBe(false);
  });
});

describe('previewText', () => {
  it('says rows, accounts and months with thousands separators', () => {
    expect(previewText(plan({ rows: 1234, accounts: 617, months: ['2024-01', '2024-02'] }))).toBe(
      'Will write 1,234 rows: 617 accounts × 2 months',
    );
    expect(previewText(plan())).toBe('Will write 42 rows: 7 accounts × 6 months');
  });
  it('uses the singular for one', () => {
    expect(previewText(plan({ rows: 1, accounts: 1, months: ['2024-03'] }))).toBe('Will write 1 row: 1 account × 1 month');
  });
  it('says when only the header line will be written', () => {
    expect(previewText(plan({ rows: 0, months: [], months_without_data: ['2024-01'] }))).toBe(
      'Will write the header line only: no month of the range has synced data.',
    );
  });
});

describe('monthRuns and missingMonthsNote', () => {
  it('groups consecutive months, across years', () => {
    expect(monthRuns(['2024-04', '2023-12', '2024-01', '2024-02', '2024-04'])).toEqual([
      ['2023-12', '2024-02'],
      ['2024-04', '2024-04'],
    ]);
    expect(monthRuns([])).toEqual([]);
  });
  it('is null when every month has data', () => {
    expect(missingMonthsNote(plan())).toBeNull();
  });
  it('lists the months without data', () => {
    expect(missingMonthsNote(plan({ months_without_data: ['2024-03'] }))).toBe(
      'No synced data for March 2024: this month gets no rows.',
    );
    expect(missingMonthsNote(plan({ months_without_data: ['2024-02', '2024-03', '2024-05'] }))).toBe(
      'No synced data for February 2024 – March 2024, May 2024: these months get no rows.',
    );
  });
  it('counts what it does not list', () => {
    const gaps = ['2023-01', '2023-03', '2023-05', '2023-07', '2023-09', '2023-10'];
    expect(missingMonthsNote(plan({ months_without_data: gaps }))).toBe(
      'No synced data for January 2023, March 2023, May 2023 and 3 more months: these months get no rows.',
    );
  });
});

describe('progress', () => {
  it('is a whole percent that reaches 100 only at the end', () => {
    expect(progressPercent({ written: 8192, total: 32768 })).toBe(25);
    expect(progressPercent({ written: 32767, total: 32768 })).toBe(99);
    expect(progressPercent({ written: 32768, total: 32768 })).toBe(100);
    expect(progressPercent({ written: 50, total: 10 })).toBe(100);
  });
  it('is unknown without a total', () => {
    expect(progressPercent(null)).toBeNull();
    expect(progressPercent({ written: 0, total: 0 })).toBeNull();
  });
  it('reads as rows written of the total, the plan until the first event', () => {
    expect(progressText({ written: 16384, total: 2_400_000 }, 0)).toBe('16,384 / 2,400,000 rows');
    expect(progressText(null, 1234)).toBe('0 / 1,234 rows');
  });
});

describe('outcome', () => {
  const sha = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
  const signed: ExportSignature = {
    status: 'signed',
    signed_by: 'anna (sp)',
    scope: 'sp',
    certificate_expires_at: '2027-03-02T09:00:00Z',
    root_fingerprint: 'sha256:ab',
  };
  const outcome = (rows: number, bytes: number, signature: ExportSignature = signed) => ({ csv_path: '/x.csv', manifest_path: '/x.csv.manifest', rows, bytes, sha256: sha, signature });
  it('shows rows, a size in KB or MB, and a short digest', () => {
    expect(outcomeView(outcome(2_400_000, 3 * 1024 * 1024 + 512 * 1024))).toEqual({
      rows: '2,400,000 rows',
      size: '3.5 MB',
      sha: '9f86d081884c…',
      shaFull: sha,
      signature: {
        signed: true,
        title: 'Signed by anna (sp)',
        detail: 'Certificate for sp, valid until Mar 2, 2027. Anyone can check the export with usagedesk-cli export verify.',
      },
    });
    expect(outcomeView(outcome(1, 1536)).size).toBe('1.5 KB');
    expect(outcomeView(outcome(0, 300)).rows).toBe('0 rows');
  });
  it('says plainly when and why the export is not signed', () => {
    expect(signatureView({ status: 'unsigned', reason: 'the signing certificate expired on 2026-11-24 09:00:00 UTC: sync while online to renew it, then try again' })).toEqual({
      signed: false,
      title: 'Not signed',
      detail:
        'The signing certificate expired on 2026-11-24 09:00:00 UTC: sync while online to renew it, then try again. The CSV still matches the SHA-256 in its manifest, but nothing proves who wrote it.',
    });
    expect(signatureView({ ...signed, scope: '*' }).detail).toContain('Certificate for all accounts');
  });
  it('leaves short digests alone', () => {
    expect(shortSha('abc')).toBe('abc');
    expect(shortSha(sha)).toHaveLength(13);
  });
});

describe('errors', () => {
  it('says a cancelled export left no file', () => {
    expect(exportErrorText({ kind: 'cancelled', message: 'the export was cancelled; no file was written' })).toBe(CANCELLED_TEXT);
    expect(CANCELLED_TEXT).toBe('Export cancelled; no file was written.');
  });
  it('shows the shell message as a sentence', () => {
    expect(exportErrorText({ kind: 'io', message: 'cannot write /ro/x.csv: Permission denied (os error 13). Choose a folder you can write to, with free space' })).toBe(
      'Cannot write /ro/x.csv: Permission denied (os error 13). Choose a folder you can write to, with free space.',
    );
    expect(exportErrorText({ kind: 'invalid_input', message: '2024-07 is not a completed month yet' })).toBe('2024-07 is not a completed month yet.');
    expect(exportErrorText({ kind: 'internal', message: '' })).toBe('The export failed.');
  });
  it('has its own words for busy', () => {
    expect(exportErrorText({ kind: 'busy', message: 'an export is already running' })).toMatch(/^Another export is running/);
  });
  it('asSentence keeps final punctuation', () => {
    expect(asSentence('done!')).toBe('Done!');
    expect(asSentence('  ')).toBe('');
  });
});
