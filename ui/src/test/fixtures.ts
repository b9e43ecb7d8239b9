import type { AccountRow, Page, SubtreeCounts, UsageCounts } from '$lib/bindings';

export const counts = (r: number, t: number, a: number): UsageCounts => ({
  users_registered: r,
  users_with_token: t,
  users_with_activity: a,
});

export function row(id: string, parent: string | null, opts: Partial<AccountRow> = {}): AccountRow {
  const subtree: SubtreeCounts = { ok: 1, not_available: 0, non_existent: 0 };
  return {
    account_id: id,
    account_name: opts.account_name ?? id.toUpperCase(),
    parent_id: parent,
    month: '2024-05',
    status: 'active',
    availability: 'ok',
    plan: 'basic',
    own: counts(10, 5, 2),
    totals: { basic: counts(10, 5, 2), standard: counts(0, 0, 0), premium: counts(0, 0, 0) },
    created_at: '2023-01-01',
    subtree,
    child_count: 0,
    ...opts,
  };
}

export function page(items: AccountRow[], total: number, offset = 0, limit = 200): Page<AccountRow> {
  return { items, total, offset, limit };
}
