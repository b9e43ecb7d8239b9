// Files the OS opened with the app (a double-click, `usagedesk FILE`, a second launch): a
// usage data file goes to the import dialog, like a drop; a sync key or a verification key is
// explained (it goes to the customer's instance, not into this app); anything else says what
// the app opens. Pure, unit-tested.
import type { OpenedFile } from '$lib/bindings';
import { formatDateTime, formatInt } from '../ui/format';

export type Fact = { label: string; value: string; mono?: boolean; testid?: string };

export type OpenedView = {
  title: string;
  /** what the file is for and where it goes */
  lead: string;
  /** what to do with it, as a command the customer runs */
  command: string | null;
  facts: Fact[];
  /** why the file cannot serve, when it cannot */
  problem: string | null;
  /** a sync key whose time is up */
  expired: boolean;
};

const CUSTOMER_GOES = 'It goes to the customer’s instance, not into UsageDesk: nothing here changes.';

/** What the explanation dialog shows for a file that is not imported here. */
export function openedFileView(f: OpenedFile, now: number): OpenedView {
  const k = f.key;
  const expired = !!k?.expires_at && new Date(k.expires_at).getTime() <= now;
  const common: Fact[] = k
    ? [
        { label: 'Instance', value: k.instance_id, mono: true, testid: 'opened-instance' },
        { label: 'Issued by', value: k.issued_by },
        { label: 'Issued', value: formatDateTime(k.issued_at) },
      ]
    : [];
  switch (f.kind) {
    case 'sync_key':
      return {
        title: k ? `Sync key for ${k.instance_id}` : 'Sync key',
        lead: `A sync key asks an air-gapped instance for its usage. ${CUSTOMER_GOES} Send this file to the customer; their instance answers it with a usage data file, which you open here or drop on this window to import.`,
        command: 'usagedesk-agent airgap export --state STATE --sync-key FILE',
        facts: k
          ? [
              ...common,
              {
                label: expired ? 'Expired' : 'Valid until',
                value: k.expires_at ? formatDateTime(k.expires_at) : '—',
                testid: 'opened-expires',
              },
            ]
          : [],
        problem: f.problem ?? (expired ? 'This sync key has expired: the instance refuses it. Issue a new one from the Air-gapped view.' : null),
        expired,
      };
    case 'verification_key':
      return {
        title: k ? `Verification key for ${k.instance_id}` : 'Verification key',
        lead: `A verification key confirms that you imported the customer’s usage data file, so their instance can drop the records you hold. ${CUSTOMER_GOES} Send this file to the customer.`,
        command: 'usagedesk-agent airgap confirm --state STATE --verification-key FILE',
        facts:
          k && k.accepted_high_water_mark !== null
            ? [...common, { label: 'Confirms records up to', value: `seq ${formatInt(k.accepted_high_water_mark)}` }]
            : common,
        problem: f.problem,
        expired: false,
      };
    default:
      return {
        title: 'Not a file UsageDesk imports',
        lead: 'UsageDesk imports usage data files from air-gapped instances; sync keys and verification keys go to the customer.',
        command: null,
        facts: [],
        problem: f.problem ?? 'This is not a UsageDesk exchange file.',
        expired: false,
      };
  }
}
