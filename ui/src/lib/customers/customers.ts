// The Customers view's logic: durations, ratios and expiry texts, status and install labels
// with their tones, the uptime graph's bar geometry and tooltips, cluster details, and the
// list's filter state ↔ the `customers` command's CustomerFilter. Pure, unit-tested.
import type { Plan } from '$lib/bindings';
import type {
  Activity,
  ClusterDetails,
  Connectivity,
  CustomerFilter,
  CustomerSummary,
  InstallAttempt,
  InstallStatus,
  InstanceCard,
  InstanceEvent,
  InstanceStatus,
  LicenseFeatures,
  LicenseType,
  TimeToInstall,
  Uptime,
  UptimeBar,
} from '$lib/bindings';
import { formatDateTime, formatInt, MONTHS, pluralize, relativeTime } from '../ui/format';
import { localPartsOf } from '../ui/localtime';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;
const DAY_MS = DAY * 1000;

/** A chip's colour: the `badge` classes of app.css (`neutral` is the plain badge). */
export type Tone = 'success' | 'warning' | 'danger' | 'accent' | 'neutral' | 'outline';

// ---------------------------------------------------------------------------------------------
// Durations, ratios, dates

/**
 * A duration in whole seconds, two units at most: "1 d 21 h", "3 h 5 min", "30 min", "45 s";
 * a zero second part is left out ("2 d", "3 h"). Negative counts as 0.
 */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.floor(Number.isFinite(secs) ? secs : 0));
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min`;
  if (s < DAY) {
    const h = Math.floor(s / HOUR);
    const m = Math.floor((s % HOUR) / MINUTE);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / DAY);
  const h = Math.floor((s % DAY) / HOUR);
  return h ? `${formatInt(d)} d ${h} h` : `${formatInt(d)} d`;
}

/** An age in its largest unit only: "40 s", "12 min", "5 h", "3 d". */
export function formatAge(secs: number): string {
  const s = Math.max(0, Math.floor(Number.isFinite(secs) ? secs : 0));
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min`;
  if (s < DAY) return `${Math.floor(s / HOUR)} h`;
  return `${formatInt(Math.floor(s / DAY))} d`;
}

/**
 * An uptime ratio (0..1) as a percentage with one decimal: "99.2 %". Only a perfect ratio
 * reads "100 %" and only a zero one "0 %" (99.96 % is "99.9 %", 0.01 % is "0.1 %");
 * `null` (no data in the window) is "no data", never 0 or 100.
 */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return 'no data';
  if (ratio >= 1) return '100 %';
  if (ratio <= 0) return '0 %';
  const tenths = Math.min(999, Math.max(1, Math.round(ratio * 1000)));
  return `${(tenths / 10).toFixed(1)} %`;
}

/** The local calendar day of an RFC 3339 instant: "Nov 23, 2025". */
export function formatDay(iso: string): string {
  const d = localPartsOf(iso);
  if (d === null) return iso;
  return `${MONTHS[d.month]} ${d.day}, ${d.year}`;
}

/** Local "Nov 23 14:05" (no year), for bars and events of the last two weeks. */
export function formatShortDateTime(iso: string): string {
  const d = localPartsOf(iso);
  if (d === null) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.month]} ${d.day} ${pad(d.hours)}:${pad(d.minutes)}`;
}

// ---------------------------------------------------------------------------------------------
// Licenses

/** A license expiring within this many days is shown in amber. */
export const EXPIRY_WARN_DAYS = 30;

export const LICENSE_TYPES: readonly { id: LicenseType; label: string; tone: Tone }[] = [
  { id: 'prod', label: 'Production', tone: 'accent' },
  { id: 'trial', label: 'Trial', tone: 'neutral' },
  { id: 'dev', label: 'Development', tone: 'outline' },
  { id: 'community', label: 'Community', tone: 'outline' },
];

export function licenseTypeLabel(t: LicenseType): string {
  return LICENSE_TYPES.find((x) => x.id === t)?.label ?? t;
}

export function licenseTypeTone(t: LicenseType): Tone {
  return LICENSE_TYPES.find((x) => x.id === t)?.tone ?? 'neutral';
}

/** The distinct license types of a customer, in the order of {@link LICENSE_TYPES}. */
export function licenseTypesOf(licenses: readonly { license_type: LicenseType }[]): LicenseType[] {
  return LICENSE_TYPES.map((t) => t.id).filter((t) => licenses.some((l) => l.license_type === t));
}

export const FEATURES: readonly { key: keyof LicenseFeatures; label: string }[] = [
  { key: 'gitops', label: 'GitOps' },
  { key: 'airgap', label: 'Air gap' },
  { key: 'identity', label: 'Identity' },
  { key: 'snapshots', label: 'Snapshots' },
];

/** "in 9 days", "3 months ago": a distance in time, coarse, future or past. */
function distance(ms: number): string {
  const secs = Math.abs(ms) / 1000;
  let text: string;
  if (secs < HOUR) text = pluralize(Math.max(1, Math.floor(secs / MINUTE)), 'minute');
  else if (secs < DAY) text = pluralize(Math.floor(secs / HOUR), 'hour');
  else if (secs < 60 * DAY) text = pluralize(Math.floor(secs / DAY), 'day');
  else if (secs < 730 * DAY) text = pluralize(Math.round(secs / (30.44 * DAY)), 'month');
  else text = pluralize(Math.round(secs / (365.25 * DAY)), 'year');
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export type ExpiryView = { text: string; tone: 'danger' | 'warning' | 'normal' | 'none'; title: string };

/**
 * When a license (or a customer's licenses) ends, relative to `now`: "expired 12 days ago"
 * (danger), "expires in 9 days" (warning within {@link EXPIRY_WARN_DAYS} days), "expires in
 * 7 months", "no expiry". `expired` overrides the clock (the backend's word, from its clock).
 */
export function expiryView(expiresAt: string | null, now: number, expired?: boolean): ExpiryView {
  if (!expiresAt) return { text: 'no expiry', tone: 'none', title: 'Does not expire' };
  const at = new Date(expiresAt).getTime();
  if (Number.isNaN(at)) return { text: expiresAt, tone: 'normal', title: expiresAt };
  const left = at - now;
  const isExpired = expired ?? left <= 0;
  if (isExpired) {
    return { text: left < 0 ? `expired ${distance(left)}` : 'expired', tone: 'danger', title: `Expired ${formatDateTime(expiresAt)}` };
  }
  const soon = left <= EXPIRY_WARN_DAYS * DAY_MS;
  return { text: `expires ${distance(Math.max(left, 60_000))}`, tone: soon ? 'warning' : 'normal', title: `Expires ${formatDateTime(expiresAt)}` };
}

/** Seats per plan: the catalog's plans first (in its order, by name), then unknown plan ids. */
export function seatsView(seats: Record<string, number | undefined>, plans: readonly Plan[]): { plan: string; name: string; seats: number }[] {
  const known = plans.filter((p) => seats[p.id] !== undefined).map((p) => ({ plan: p.id, name: p.name, seats: seats[p.id] ?? 0 }));
  const others = Object.keys(seats)
    .filter((id) => !plans.some((p) => p.id === id))
    .sort()
    .map((id) => ({ plan: id, name: id, seats: seats[id] ?? 0 }));
  return [...known, ...others];
}

// ---------------------------------------------------------------------------------------------
// Instance status

export const STATUSES: readonly { id: InstanceStatus; label: string; tone: Tone; title: string }[] = [
  { id: 'ready', label: 'Ready', tone: 'success', title: 'Every resource of the application is ready' },
  { id: 'updating', label: 'Updating', tone: 'accent', title: 'Resources are being updated (an upgrade or a rollout); counts as up' },
  { id: 'degraded', label: 'Degraded', tone: 'warning', title: 'Some resources are degraded; counts as up' },
  { id: 'unavailable', label: 'Unavailable', tone: 'danger', title: 'Some resources are unavailable; counts as down' },
  { id: 'missing', label: 'Missing', tone: 'danger', title: 'Resources are missing (not created yet, or deleted); counts as down' },
];

export function statusLabel(s: InstanceStatus | string): string {
  return STATUSES.find((x) => x.id === s)?.label ?? s;
}

export function statusTone(s: InstanceStatus | string): Tone {
  return STATUSES.find((x) => x.id === s)?.tone ?? 'neutral';
}

export function statusTitle(s: InstanceStatus | string): string {
  return STATUSES.find((x) => x.id === s)?.title ?? '';
}

export type StatusChip = { status: InstanceStatus | 'none' | 'inactive'; text: string; tone: Tone; title: string };

/** The worst status among a customer's active instances, for the list. */
export function worstStatusView(c: Pick<CustomerSummary, 'worst_status' | 'instances' | 'inactive'>): StatusChip {
  if (c.worst_status) {
    return { status: c.worst_status, text: statusLabel(c.worst_status), tone: statusTone(c.worst_status), title: `Worst status among the active instances: ${statusLabel(c.worst_status)}` };
  }
  if (c.instances === 0) return { status: 'none', text: 'No instances', tone: 'outline', title: 'No instance of this customer is known' };
  if (c.inactive > 0) return { status: 'inactive', text: 'Inactive', tone: 'neutral', title: 'No instance checked in within 24 hours' };
  return { status: 'none', text: 'No check-in', tone: 'outline', title: 'No instance has checked in yet' };
}

/** "2 instances", with "1 not ready" and "1 inactive" apart for the list. */
export function instancesView(c: Pick<CustomerSummary, 'instances' | 'not_ready' | 'inactive'>): { count: string; notReady: string | null; inactive: string | null } {
  return {
    count: pluralize(c.instances, 'instance'),
    notReady: c.not_ready > 0 ? `${formatInt(c.not_ready)} not ready` : null,
    inactive: c.inactive > 0 ? `${formatInt(c.inactive)} inactive` : null,
  };
}

/** The last check-in: "2 h ago"; an inactive instance: "inactive — last seen 3 d ago". */
export function lastCheckInView(card: Pick<InstanceCard, 'report' | 'activity'>, now: number): { text: string; inactive: boolean; title: string } {
  const r = card.report;
  if (!r) return { text: 'never checked in', inactive: false, title: 'This instance has not checked in yet' };
  const a: Activity | null = card.activity;
  const at = `Last check-in ${formatDateTime(r.last_check_in)}`;
  if (a?.inactive) {
    return {
      text: `inactive — last seen ${formatAge(a.stale_for_secs)} ago`,
      inactive: true,
      title: `${at}. No check-in for 24 hours or more: the status shown is the last one reported.`,
    };
  }
  return { text: relativeTime(r.last_check_in, now), inactive: false, title: at };
}

// ---------------------------------------------------------------------------------------------
// Cluster details

const DISTRIBUTIONS: Record<string, string> = {
  eks: 'EKS',
  gke: 'GKE',
  aks: 'AKS',
  k3s: 'K3s',
  k0s: 'k0s',
  rke2: 'RKE2',
  openshift: 'OpenShift',
  kind: 'kind',
  microk8s: 'MicroK8s',
  oke: 'OKE',
  tanzu: 'Tanzu',
  kurl: 'kURL',
  'embedded-cluster': 'Embedded Cluster',
};

const PROVIDERS: Record<string, string> = { aws: 'AWS', gcp: 'GCP', azure: 'Azure', oracle: 'Oracle Cloud', digitalocean: 'DigitalOcean', vsphere: 'vSphere' };

export type ClusterView = {
  distribution: string;
  kubernetes: string;
  /** "Embedded cluster · 2/3 nodes ready", null when not embedded */
  embedded: string | null;
  /** some nodes of the embedded cluster are not ready */
  nodesShort: boolean;
  agent: string;
  /** "AWS · us-east-1", null when unknown */
  cloud: string | null;
};

export function clusterView(c: ClusterDetails): ClusterView {
  const dist = c.distribution.trim();
  let embedded: string | null = null;
  let nodesShort = false;
  const distLabel = dist ? (DISTRIBUTIONS[dist.toLowerCase()] ?? dist) : null;
  if (c.embedded_cluster) {
    // the distribution may say it already ("embedded-cluster")
    const parts = distLabel === DISTRIBUTIONS['embedded-cluster'] ? [] : ['Embedded cluster'];
    if (c.nodes_total !== null) {
      const ready = c.nodes_ready ?? 0;
      parts.push(`${formatInt(ready)}/${formatInt(c.nodes_total)} nodes ready`);
      nodesShort = ready < c.nodes_total;
    }
    embedded = parts.join(' · ') || null;
  }
  const provider = c.cloud_provider?.trim() ? (PROVIDERS[c.cloud_provider.trim().toLowerCase()] ?? c.cloud_provider.trim()) : null;
  const region = c.region?.trim() || null;
  return {
    distribution: distLabel ?? 'Unknown distribution',
    kubernetes: c.kubernetes_version.trim() ? `K8s ${c.kubernetes_version.trim()}` : 'K8s version unknown',
    embedded,
    nodesShort,
    agent: c.agent_version.trim() ? `Agent ${c.agent_version.trim()}` : 'Agent version unknown',
    cloud: provider && region ? `${provider} · ${region}` : (provider ?? region),
  };
}

// ---------------------------------------------------------------------------------------------
// Time to install

export type TtiView = { license: string; instance: string; shortId: string; licenseTitle: string; instanceTitle: string };

export function ttiView(t: TimeToInstall): TtiView {
  return {
    license: formatDuration(t.license_secs),
    instance: formatDuration(t.instance_secs),
    shortId: shortId(t.instance_id),
    licenseTitle: `From the license's creation to the instance's first Ready (${formatDateTime(t.first_ready_at)})`,
    instanceTitle: `From the instance's first event (${formatDateTime(t.first_seen_at)}) to its first Ready (${formatDateTime(t.first_ready_at)})`,
  };
}

/** The first seven characters of an instance id (whole characters), as the backend's `short_id`. */
export function shortId(id: string): string {
  return [...id].slice(0, 7).join('');
}

// ---------------------------------------------------------------------------------------------
// Uptime graph

export type Band = 'up' | 'degraded' | 'down' | 'no_data';

export const BANDS: readonly { id: Band; label: string; title: string }[] = [
  { id: 'up', label: 'Up', title: 'Ready or Updating' },
  { id: 'degraded', label: 'Degraded', title: 'Degraded (counts as up in the ratio)' },
  { id: 'down', label: 'Down', title: 'Missing or Unavailable' },
  { id: 'no_data', label: 'No data', title: 'No check-in vouching for a status: before the first, or 24 hours after the last' },
];

export type Segment = { band: Band; secs: number; y: number; height: number };

const bandSecs = (b: UptimeBar): Record<Band, number> => ({
  up: Math.max(0, b.up_secs),
  degraded: Math.max(0, b.degraded_secs),
  down: Math.max(0, b.down_secs),
  no_data: Math.max(0, b.no_data_secs),
});

/**
 * A bar's bands as stacked rectangles of a bar `height` px tall, Up at the bottom, then
 * Degraded, Down, and No data on top; heights in proportion to the seconds. A band that is
 * there gets at least `minPx` (a 5-minute outage stays visible), taken from the tallest one.
 * Bands with no time are left out; y grows downwards (SVG), the bar's top at 0.
 */
export function barSegments(bar: UptimeBar, height: number, minPx = 2): Segment[] {
  const secs = bandSecs(bar);
  const order: Band[] = ['up', 'degraded', 'down', 'no_data'];
  const present = order.filter((b) => secs[b] > 0);
  const total = present.reduce((s, b) => s + secs[b], 0);
  if (total === 0 || height <= 0) return [];
  const heights = new Map<Band, number>(present.map((b) => [b, (secs[b] / total) * height]));
  const min = Math.min(minPx, height / present.length);
  let deficit = 0;
  for (const b of present) {
    const h = heights.get(b)!;
    if (h < min) {
      deficit += min - h;
      heights.set(b, min);
    }
  }
  if (deficit > 0) {
    const tallest = present.reduce((a, b) => (heights.get(b)! > heights.get(a)! ? b : a));
    heights.set(tallest, heights.get(tallest)! - deficit);
  }
  const out: Segment[] = [];
  let bottom = height;
  for (const b of present) {
    const h = heights.get(b)!;
    out.push({ band: b, secs: secs[b], y: bottom - h, height: h });
    bottom -= h;
  }
  return out;
}

/** "Up 21 h · Degraded 3 h" (the bands with time, in order). */
export function bandsText(bar: UptimeBar): string {
  const secs = bandSecs(bar);
  const parts = BANDS.filter((b) => secs[b.id] > 0).map((b) => `${b.label} ${formatDuration(secs[b.id])}`);
  return parts.join(' · ') || 'No time';
}

/** A bar's tooltip: its day, its bands and ratio, and its events. */
export function barTitle(bar: UptimeBar): string {
  const lines = [`${formatShortDateTime(bar.start)} – ${formatShortDateTime(bar.end)}`, bandsText(bar), `Uptime ${formatRatio(bar.ratio)}`];
  if (bar.events.length > 0) lines.push(eventsTitle(bar.events));
  return lines.join('\n');
}

/** The tooltip of an events tick: "2 events:" then one line each. */
export function eventsTitle(events: readonly InstanceEvent[]): string {
  return [`${pluralize(events.length, 'event')}:`, ...events.map((e) => `${formatShortDateTime(e.received_at)} · ${eventText(e)}`)].join('\n');
}

/** "Up 13 d 23 h · Down 40 min" for the last 14 days: the parts with time ("No data" alone without any). */
export function uptimeTotalsText(u: Uptime): string {
  const parts = [
    ['Up', u.up_secs],
    ['Down', u.down_secs],
    ['No data', u.no_data_secs],
  ] as const;
  const shown = parts.filter(([, s]) => s > 0).map(([label, s]) => `${label} ${formatDuration(s)}`);
  return shown.join(' · ') || 'No data';
}

// ---------------------------------------------------------------------------------------------
// Events

const FIELDS: Record<string, string> = {
  status: 'Status',
  app_version: 'App version',
  kubernetes_version: 'Kubernetes version',
  distribution: 'Distribution',
  embedded_cluster: 'Embedded cluster',
  nodes_ready: 'Nodes ready',
  nodes_total: 'Nodes',
  agent_version: 'Agent version',
  cloud_provider: 'Cloud provider',
  region: 'Region',
};

/** "app_version" → "App version"; unknown fields in words ("foo_bar" → "Foo bar"). */
export function eventFieldLabel(field: string): string {
  if (FIELDS[field]) return FIELDS[field];
  const words = field.replace(/[_-]+/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : field;
}

/** A value of an event: status names as labels ("ready" → "Ready"); none → "—". */
export function eventValue(field: string, value: string | null): string {
  if (value === null || value === '') return '—';
  return field === 'status' ? statusLabel(value) : value;
}

/** "Status: Ready → Degraded"; a first value: "Status: Ready". */
export function eventText(e: InstanceEvent): string {
  const label = eventFieldLabel(e.field);
  if (e.previous === null) return `${label}: ${eventValue(e.field, e.new)}`;
  return `${label}: ${eventValue(e.field, e.previous)} → ${eventValue(e.field, e.new)}`;
}

// ---------------------------------------------------------------------------------------------
// Install attempts

export const INSTALL_STATUSES: Record<InstallStatus, { label: string; tone: Tone }> = {
  succeeded: { label: 'Succeeded', tone: 'success' },
  stalled: { label: 'Stalled', tone: 'warning' },
  failed: { label: 'Failed', tone: 'danger' },
};

export function installStatusLabel(s: InstallStatus): string {
  return INSTALL_STATUSES[s]?.label ?? s;
}

export function installStatusTone(s: InstallStatus): Tone {
  return INSTALL_STATUSES[s]?.tone ?? 'neutral';
}

/** Mode: online → "Online", offline → "Air gap". */
export function modeLabel(c: Connectivity): string {
  return c === 'offline' ? 'Air gap' : 'Online';
}

/** Registry: "Online" or "Offline" (a local registry). */
export function registryLabel(c: Connectivity): string {
  return c === 'offline' ? 'Offline' : 'Online';
}

export type StepView = { name: string; at: string; time: string; offset: string | null; title: string };

/** The steps with their times and the time since the attempt started ("+4 min"). */
export function stepsView(a: InstallAttempt): StepView[] {
  const start = new Date(a.started_at).getTime();
  return a.steps.map((s) => {
    const t = new Date(s.at).getTime();
    const off = Math.round((t - start) / 1000);
    return {
      name: s.name,
      at: s.at,
      time: formatShortDateTime(s.at),
      offset: off > 0 ? `+${formatDuration(off)}` : null,
      title: formatDateTime(s.at),
    };
  });
}

/** What ended an attempt that did not succeed: "Stalled: no progress for 2 d" / "Failed after 12 min". */
export function attemptEndText(a: InstallAttempt, now: number): string | null {
  if (a.status === 'succeeded') return null;
  const last = a.steps.at(-1)?.at ?? a.started_at;
  const lastMs = new Date(last).getTime();
  if (a.status === 'stalled') return `Stalled: no progress for ${formatAge(Math.round((now - lastMs) / 1000))}`;
  const took = Math.round((lastMs - new Date(a.started_at).getTime()) / 1000);
  return took > 0 ? `Failed after ${formatDuration(took)}` : 'Failed';
}

// ---------------------------------------------------------------------------------------------
// The list's filters

/** The filter controls' state. */
export type FilterState = {
  text: string;
  licenseType: LicenseType | '';
  /** "expiring within N days" (expired ones included); null: any */
  expiringDays: number | null;
  notReady: boolean;
  overdue: boolean;
};

export const EMPTY_FILTER: FilterState = { text: '', licenseType: '', expiringDays: null, notReady: false, overdue: false };

/** The "expiring within" choices, in days. */
export const EXPIRING_CHOICES = [7, 30, 90] as const;

/** The controls' state as the `customers` command's filter (blank text: no text filter). */
export function toCustomerFilter(s: FilterState): CustomerFilter {
  const text = s.text.trim();
  const days = s.expiringDays;
  return {
    text: text ? text : null,
    license_type: s.licenseType || null,
    expiring_within_days: days !== null && Number.isFinite(days) && days >= 0 ? Math.floor(days) : null,
    not_ready: s.notReady,
    reporting_overdue: s.overdue,
  };
}

export function fromCustomerFilter(f: CustomerFilter): FilterState {
  return {
    text: f.text ?? '',
    licenseType: f.license_type ?? '',
    expiringDays: f.expiring_within_days,
    notReady: f.not_ready,
    overdue: f.reporting_overdue,
  };
}

/** Does the filter narrow the list at all? */
export function isFiltered(s: FilterState): boolean {
  const f = toCustomerFilter(s);
  return f.text !== null || f.license_type !== null || f.expiring_within_days !== null || f.not_ready || f.reporting_overdue;
}

/** Same filter for the backend (a changed text of only spaces asks nothing new). */
export function sameFilter(a: FilterState, b: FilterState): boolean {
  return JSON.stringify(toCustomerFilter(a)) === JSON.stringify(toCustomerFilter(b));
}
