// What the Attention view shows of an item: its kind's label and tone, since when (relative
// to now), and where its links lead. Pure, unit-tested.
import type { AttentionCounts, AttentionItem, AttentionKind } from '$lib/bindings';
import { formatDate } from '$lib/ui/format';

export const KINDS: { id: AttentionKind; label: string; title: string }[] = [
  { id: 'overdue', label: 'Overdue', title: 'Air-gapped instances without a verified usage data file for more than 31 days' },
  { id: 'expiring', label: 'Expiring', title: 'Licenses expiring within 30 days' },
  { id: 'over_seats', label: 'Over seats', title: 'Licenses that used more than their seats in the last completed month' },
];

export const kindLabel = (k: AttentionKind) => KINDS.find((x) => x.id === k)?.label ?? k;

export const kindTone = (k: AttentionKind) => (k === 'expiring' ? 'warning' : 'danger');

/** How many items a filter chip stands for (null: all kinds). */
export function countOf(c: AttentionCounts | null, k: AttentionKind | null): number | null {
  if (!c) return null;
  return k === null ? c.total : c[k];
}

const DAY = 86_400_000;

/** "since 3 Mar (12 days)", "never reported", or "in 5 days" for a start still ahead. */
export function sinceText(item: AttentionItem, now: number): string {
  if (item.since === null) return item.kind === 'overdue' ? 'never reported' : '—';
  const at = Date.parse(item.since);
  if (Number.isNaN(at)) return `since ${item.since}`;
  const days = Math.floor((now - at) / DAY);
  // The UTC day, written as everywhere else ("Mar 5, 2026").
  const date = formatDate(new Date(at).toISOString());
  if (days < 0) return `from ${date}`;
  if (days === 0) return `since ${date} (today)`;
  return `since ${date} (${days} ${days === 1 ? 'day' : 'days'})`;
}

/** Days left until a license expires (expiring items), floored; null for other kinds. */
export function daysLeft(item: AttentionItem, now: number): number | null {
  if (item.expires_at === null) return null;
  return Math.max(0, Math.floor((Date.parse(item.expires_at) - now) / DAY));
}

/** A stable key for a list row. */
export const itemKey = (i: AttentionItem) => `${i.kind}/${i.instance_id ?? i.license_id}/${i.plan ?? ''}/${i.occurrence}`;

/** The sidebar badge's tooltip. */
export function attentionBadgeTitle(c: AttentionCounts): string {
  const parts = [
    c.overdue ? `${c.overdue} overdue` : '',
    c.expiring ? `${c.expiring} expiring` : '',
    c.over_seats ? `${c.over_seats} over seats` : '',
  ].filter(Boolean);
  return `${c.total} ${c.total === 1 ? 'item needs' : 'items need'} attention: ${parts.join(', ')}`;
}
