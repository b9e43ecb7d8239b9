import { describe, expect, it } from 'vitest';
import type { OpenedFile } from '$lib/bindings';
import { openedFileView } from './opened';

const NOW = new Date(2025, 10, 23, 12, 0).getTime();
const iso = (daysFromNow: number) => new Date(NOW + daysFromNow * 86_400_000).toISOString();

function opened(over: Partial<OpenedFile> = {}): OpenedFile {
  return {
    path: '/home/me/Downloads/inst-de-20251120.usagedesk-synckey',
    name: 'inst-de-20251120.usagedesk-synckey',
    kind: 'sync_key',
    key: {
      instance_id: 'inst-de',
      issued_by: 'anna (sp-01)',
      issued_at: iso(-3),
      expires_at: iso(27),
      accepted_high_water_mark: null,
    },
    problem: null,
    ...over,
  };
}

describe('openedFileView', () => {
  it('explains that a sync key goes to the customer’s instance, with what it states', () => {
    const v = openedFileView(opened(), NOW);
    expect(v.title).toBe('Sync key for inst-de');
    expect(v.lead).toContain('It goes to the customer’s instance, not into UsageDesk');
    expect(v.lead).toContain('usage data file');
    expect(v.command).toBe('usagedesk-agent airgap export --state STATE --sync-key FILE');
    expect(v.facts.map((f) => f.label)).toEqual(['Instance', 'Issued by', 'Issued', 'Valid until']);
    expect(v.facts[0]).toMatchObject({ value: 'inst-de', mono: true });
    expect(v.problem).toBeNull();
    expect(v.expired).toBe(false);
  });

  it('says when a sync key has expired, and what to do', () => {
    const f = opened();
    const v = openedFileView({ ...f, key: { ...f.key!, expires_at: iso(-1) } }, NOW);
    expect(v.expired).toBe(true);
    expect(v.facts.at(-1)?.label).toBe('Expired');
    expect(v.problem).toBe('This sync key has expired: the instance refuses it. Issue a new one from the Air-gapped view.');
  });

  it('explains a verification key and the mark it confirms', () => {
    const v = openedFileView(
      opened({
        kind: 'verification_key',
        name: 'inst-de-20251123.usagedesk-verification',
        key: { instance_id: 'inst-de', issued_by: 'anna (sp-01)', issued_at: iso(0), expires_at: null, accepted_high_water_mark: 12345 },
      }),
      NOW,
    );
    expect(v.title).toBe('Verification key for inst-de');
    expect(v.lead).toContain('confirms that you imported');
    expect(v.lead).toContain('not into UsageDesk');
    expect(v.command).toBe('usagedesk-agent airgap confirm --state STATE --verification-key FILE');
    expect(v.facts.at(-1)).toEqual({ label: 'Confirms records up to', value: 'seq 12,345' });
  });

  it('shows the shell’s reason for a damaged key, and no statements it could not read', () => {
    const v = openedFileView(opened({ key: null, problem: 'The sync key is malformed (it is truncated).' }), NOW);
    expect(v.title).toBe('Sync key');
    expect(v.facts).toEqual([]);
    expect(v.problem).toBe('The sync key is malformed (it is truncated).');
  });

  it('says what UsageDesk opens for any other file', () => {
    const v = openedFileView(opened({ kind: 'unknown', key: null, problem: 'notes.txt is not a UsageDesk exchange file.' }), NOW);
    expect(v.title).toBe('Not a file UsageDesk imports');
    expect(v.command).toBeNull();
    expect(v.problem).toBe('notes.txt is not a UsageDesk exchange file.');
  });
});
