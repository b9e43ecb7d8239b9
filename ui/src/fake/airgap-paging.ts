// The shell's air-gap paging over in-memory lists, for the fake shell (shell.ts) and the stores'
// tests: filter, search, sort, page, total. Follows docs/ipc.md (`airgap_instances`,
// `airgap_ledger`); never part of a production build.
import type { AirgapPage, InstanceQuery, InstanceView, LedgerEntry, LedgerQuery, LedgerRow } from '$lib/bindings';

const bytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function lastExchange(v: InstanceView): string {
  const a = v.instance.last_report_at ?? '';
  const b = v.last_import_at ?? '';
  return a > b ? a : b;
}

export function pageInstances(list: readonly InstanceView[], q: InstanceQuery, generation: string): AirgapPage<InstanceView> {
  const text = q.text?.trim().toLowerCase() ?? '';
  const rows = list
    .map((v) => ({ ...v, refused_uploads: v.refused_uploads ?? 0 }))
    .filter((v) => q.kind === 'all' || v.instance.airgapped)
    .filter((v) => !q.overdue_only || v.overdue)
    .filter(
      (v) =>
        text === '' ||
        v.instance.id.toLowerCase().includes(text) ||
        v.instance.account_id.toLowerCase().includes(text) ||
        (v.account_name ?? '').toLowerCase().includes(text),
    )
    .sort((a, b) => {
      const id = bytes(a.instance.id, b.instance.id);
      let o: number;
      switch (q.sort) {
        case 'status':
          o = Number(b.instance.airgapped) - Number(a.instance.airgapped) || Number(b.overdue) - Number(a.overdue) || id;
          break;
        case 'account':
          o = (a.account_name === null ? 1 : 0) - (b.account_name === null ? 1 : 0) || bytes(a.account_name ?? '', b.account_name ?? '') || bytes(a.instance.account_id, b.instance.account_id) || id;
          break;
        case 'last_exchange':
          o = bytes(lastExchange(a), lastExchange(b)) || id;
          break;
        case 'mark':
          o = a.high_water_mark - b.high_water_mark || id;
          break;
        default:
          o = id;
      }
      return q.descending ? -o : o;
    });
  return { items: rows.slice(q.offset, q.offset + q.limit), total: rows.length, offset: q.offset, generation };
}

/** A ledger entry as listed (no document), with the state of its kept file. */
export function toLedgerRow(e: LedgerEntry & Partial<LedgerRow>): LedgerRow {
  const { document: _document, ...rest } = e;
  return {
    queued:
      e.queued !== undefined
        ? e.queued
        : e.upload === 'pending' || e.upload === 'rejected'
          ? {
              cloud_url: 'https://usage.example.com/',
              account_id: 'sp',
              attempts: e.upload === 'rejected' ? 1 : 0,
              last_attempt_at: null,
              next_attempt_at: null,
              last_error: e.upload_error,
              refused_status: e.upload === 'rejected' ? 422 : null,
            }
          : null,
    discarded_at: null,
    discarded_by: null,
    ...rest,
  };
}

export function pageLedger(entries: readonly LedgerEntry[], q: LedgerQuery, generation: string): AirgapPage<LedgerRow> {
  const rows = entries
    .filter((e) => q.instance === null || e.instance_id === q.instance)
    .map(toLedgerRow)
    .filter((r) => !q.kept_only || r.queued !== null)
    .sort((a, b) => b.id - a.id);
  return { items: rows.slice(q.offset, q.offset + q.limit), total: rows.length, offset: q.offset, generation };
}
