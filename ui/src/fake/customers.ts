// Customer reporting for the fake backend: licenses, instances with their check-ins and events,
// install attempts (profiles of them: customer-profiles.ts), and the `customers`, `customer`
// and `instance_detail` answers computed from them by the rules of
// usagedesk-reporting (simplified: a status holds from its event until the next one, a
// check-in vouches for 24 hours; Up = Ready/Updating/Degraded, Down = Missing/Unavailable;
// 14 bars of 24 hours ending at now). Times are given in hours before the moment the data is
// built; answers are computed at the moment they are asked for.
import type { Account, AppError } from '$lib/bindings';
import type {
  ClusterDetails,
  CustomerCounts,
  CustomerFilter,
  CustomerPage,
  CustomerSort,
  CustomerSummary,
  InstallAttempt,
  InstanceCard,
  InstanceDetail,
  InstanceEvent,
  InstanceReport,
  InstanceStatus,
  License,
  Page,
  TimeToInstall,
  UptimeBar,
} from '$lib/bindings';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WINDOW = 14 * DAY;
const INACTIVE_AFTER = DAY;

export type Change = { h: number; field: string; value: string };

export type InstanceSpec = {
  id: string;
  licenseId: string;
  airgapped?: boolean;
  /** air-gapped, and no verified usage file for more than 31 days */
  overdue?: boolean;
  /** hours ago */
  firstCheckIn: number;
  lastCheckIn: number;
  /** the status at the first check-in */
  status: InstanceStatus;
  app_version: string;
  cluster: ClusterDetails;
  /** later changes, any order */
  changes?: Change[];
  /** never checked in: no report at all */
  neverCheckedIn?: boolean;
};

export type AttemptSpec = Omit<InstallAttempt, 'started_at' | 'steps'> & { startedH: number; steps: [name: string, minutesAfterStart: number][] };

export type CustomerSpec = {
  account: Account;
  licenses: (Omit<License, 'account_id' | 'created_at' | 'expires_at'> & { createdDays: number; expiresDays: number | null })[];
  instances: InstanceSpec[];
  attempts: AttemptSpec[];
};

type Built = {
  account: Account;
  licenses: License[];
  instances: BuiltInstance[];
  attempts: InstallAttempt[];
};

type BuiltInstance = {
  spec: InstanceSpec;
  accountId: string;
  accountName: string;
  report: InstanceReport | null;
  /** oldest first */
  events: InstanceEvent[];
  /** status changes: from `at`, `status` (oldest first) */
  spans: { at: number; status: InstanceStatus }[];
  /** data ends: last check-in + 24 h */
  dataEnd: number;
  firstSeen: number;
};

const iso = (ms: number) => new Date(ms).toISOString();
const notFound = (message: string): AppError => ({ kind: 'not_found', message });

function buildInstance(spec: InstanceSpec, account: Account, t0: number): BuiltInstance {
  const at = (h: number) => t0 - h * HOUR;
  const cluster: ClusterDetails = { ...spec.cluster };
  let status = spec.status;
  let version = spec.app_version;
  const events: InstanceEvent[] = [];
  const spans: { at: number; status: InstanceStatus }[] = [];
  if (!spec.neverCheckedIn) {
    events.push({ instance_id: spec.id, field: 'status', previous: null, new: status, received_at: iso(at(spec.firstCheckIn)) });
    spans.push({ at: at(spec.firstCheckIn), status });
  }
  const changes = [...(spec.changes ?? [])].sort((a, b) => b.h - a.h);
  for (const c of changes) {
    const when = at(c.h);
    let previous: string | null;
    switch (c.field) {
      case 'status':
        previous = status;
        status = c.value as InstanceStatus;
        spans.push({ at: when, status });
        break;
      case 'app_version':
        previous = version;
        version = c.value;
        break;
      case 'nodes_ready':
        previous = cluster.nodes_ready === null ? null : String(cluster.nodes_ready);
        cluster.nodes_ready = Number(c.value);
        break;
      case 'kubernetes_version':
        previous = cluster.kubernetes_version;
        cluster.kubernetes_version = c.value;
        break;
      case 'agent_version':
        previous = cluster.agent_version;
        cluster.agent_version = c.value;
        break;
      default:
        previous = null;
    }
    events.push({ instance_id: spec.id, field: c.field, previous, new: c.value, received_at: iso(when) });
  }
  const lastChange = changes.length ? Math.min(...changes.map((c) => c.h)) : spec.lastCheckIn;
  const last = at(Math.min(spec.lastCheckIn, lastChange));
  const first = at(spec.firstCheckIn);
  return {
    spec,
    accountId: account.id,
    accountName: account.name,
    report: spec.neverCheckedIn
      ? null
      : { instance_id: spec.id, status, app_version: version, cluster, first_check_in: iso(first), last_check_in: iso(last) },
    events,
    spans,
    dataEnd: last + INACTIVE_AFTER,
    firstSeen: first,
  };
}

const band = (s: InstanceStatus): 'up' | 'degraded' | 'down' =>
  s === 'degraded' ? 'degraded' : s === 'missing' || s === 'unavailable' ? 'down' : 'up';

/** Milliseconds of each band over [from, to). */
function tally(x: BuiltInstance, from: number, to: number) {
  const t = { up: 0, degraded: 0, down: 0, no_data: 0 };
  if (to <= from) return t;
  let known = 0;
  for (let i = 0; i < x.spans.length; i++) {
    const start = Math.max(from, x.spans[i].at);
    const end = Math.min(to, x.dataEnd, i + 1 < x.spans.length ? x.spans[i + 1].at : Infinity);
    if (end > start) {
      t[band(x.spans[i].status)] += end - start;
      known += end - start;
    }
  }
  t.no_data = to - from - known;
  return t;
}

const ratio = (t: { up: number; degraded: number; down: number }) => {
  const up = t.up + t.degraded;
  return up + t.down > 0 ? up / (up + t.down) : null;
};
const secs = (ms: number) => Math.round(ms / 1000);

function firstReadyAt(x: BuiltInstance): number | null {
  return x.spans.find((s) => s.status === 'ready')?.at ?? null;
}

function card(x: BuiltInstance, now: number): InstanceCard {
  const r = x.report;
  const from = now - WINDOW;
  let uptime: InstanceCard['uptime'] = null;
  let graph: UptimeBar[] = [];
  let activity: InstanceCard['activity'] = null;
  if (r) {
    const stale = Math.max(0, now - new Date(r.last_check_in).getTime());
    activity = { inactive: stale >= INACTIVE_AFTER, stale_for_secs: secs(stale) };
    const t = tally(x, from, now);
    uptime = { up_secs: secs(t.up + t.degraded), down_secs: secs(t.down), no_data_secs: secs(t.no_data), ratio: ratio(t) };
    graph = Array.from({ length: 14 }, (_, i) => {
      const start = from + i * DAY;
      const end = i === 13 ? now : start + DAY;
      const b = tally(x, start, end);
      return {
        start: iso(start),
        end: iso(end),
        up_secs: secs(b.up),
        degraded_secs: secs(b.degraded),
        down_secs: secs(b.down),
        no_data_secs: secs(b.no_data),
        ratio: ratio(b),
        events: x.events.filter((e) => {
          const t = new Date(e.received_at).getTime();
          return start <= t && t < end;
        }),
      };
    });
  }
  return {
    instance_id: x.spec.id,
    short_id: [...x.spec.id].slice(0, 7).join(''),
    license_id: x.spec.licenseId,
    airgapped: !!x.spec.airgapped,
    report: r ? structuredClone(r) : null,
    activity,
    uptime,
    graph,
    reporting_overdue: !!x.spec.overdue,
  };
}

const severity: Record<InstanceStatus, number> = { ready: 0, updating: 1, degraded: 2, unavailable: 3, missing: 4 };

export class FakeCustomers {
  private built: Built[];

  /**
   * @param specs the customers, their accounts holding the licenses
   * @param accountOf an account of the cache (customers answers only for these), for
   *   `customer` on an account without a license
   * @param pathOf an account's path, root first
   */
  constructor(
    specs: CustomerSpec[],
    private accountOf: (id: string) => Account | null,
    private pathOf: (id: string) => Account[],
    t0 = Date.now(),
  ) {
    this.built = specs.map((s) => ({
      account: s.account,
      licenses: s.licenses.map(({ createdDays, expiresDays, ...l }) => ({
        ...l,
        account_id: s.account.id,
        created_at: iso(t0 - createdDays * DAY),
        expires_at: expiresDays === null ? null : iso(t0 + expiresDays * DAY),
      })),
      instances: s.instances.map((i) => buildInstance(i, s.account, t0)),
      attempts: s.attempts
        .map(({ startedH, steps, ...a }) => {
          const start = t0 - startedH * HOUR;
          return { ...a, started_at: iso(start), steps: steps.map(([name, min]) => ({ name, at: iso(start + min * 60_000) })) };
        })
        .sort((a, b) => (a.started_at < b.started_at ? 1 : -1)),
    }));
  }

  customers(filter: CustomerFilter, now = Date.now()): CustomerSummary[] {
    const text = filter.text?.trim().toLowerCase() || null;
    const out: CustomerSummary[] = [];
    for (const c of this.built) {
      if (!this.accountOf(c.account.id)) continue;
      let notReady = 0;
      let inactive = 0;
      let worst: InstanceStatus | null = null;
      for (const x of c.instances) {
        if (!x.report) {
          notReady++;
          continue;
        }
        const stale = now - new Date(x.report.last_check_in).getTime() >= INACTIVE_AFTER;
        if (stale) inactive++;
        if (x.report.status !== 'ready') notReady++;
        if (!stale && (worst === null || severity[x.report.status] > severity[worst])) worst = x.report.status;
      }
      const end = (l: License) => (l.expires_at ? new Date(l.expires_at).getTime() : null);
      const inForce = c.licenses.filter((l) => end(l) === null || end(l)! > now);
      const ends = (ls: License[]) => ls.map(end).filter((t): t is number => t !== null);
      const expiresAt = inForce.length ? (ends(inForce).length ? Math.min(...ends(inForce)) : null) : ends(c.licenses).length ? Math.max(...ends(c.licenses)) : null;
      const s: CustomerSummary = {
        account_id: c.account.id,
        account_name: c.account.name,
        licenses: structuredClone(c.licenses),
        expires_at: expiresAt === null ? null : iso(expiresAt),
        expired: inForce.length === 0,
        instances: c.instances.length,
        not_ready: notReady,
        inactive,
        reporting_overdue: c.instances.some((x) => x.spec.overdue),
        worst_status: worst,
      };
      const keep =
        (!text ||
          s.account_name.toLowerCase().includes(text) ||
          s.account_id.toLowerCase().includes(text) ||
          s.licenses.some((l) => l.id.toLowerCase().includes(text))) &&
        (!filter.license_type || s.licenses.some((l) => l.license_type === filter.license_type)) &&
        (filter.expiring_within_days === null ||
          s.licenses.some((l) => {
            const t = end(l);
            return t !== null && t <= now + filter.expiring_within_days! * DAY;
          })) &&
        (!filter.not_ready || s.not_ready > 0) &&
        (!filter.reporting_overdue || s.reporting_overdue);
      if (keep) out.push(s);
    }
    return sortCustomers(out, 'name');
  }

  /** One page of {@link customers} in `sort` order, with the total. */
  customersPage(filter: CustomerFilter, sort: CustomerSort, offset: number, limit: number, now = Date.now()): Page<CustomerSummary> {
    const all = sortCustomers(this.customers(filter, now), sort);
    const size = Math.min(500, Math.max(0, limit));
    return { items: all.slice(offset, offset + size), total: all.length, offset, limit: size };
  }

  /** Badges: customers, with an instance not Ready, overdue, expired. */
  counts(now = Date.now()): CustomerCounts {
    const all = this.customers({ text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false }, now);
    return {
      customers: all.length,
      not_ready: all.filter((c) => c.not_ready > 0).length,
      reporting_overdue: all.filter((c) => c.reporting_overdue).length,
      expired: all.filter((c) => c.expired).length,
    };
  }

  /** Does the account hold a license? */
  isCustomer(accountId: string): boolean {
    return !!this.accountOf(accountId) && this.built.some((b) => b.account.id === accountId);
  }

  /** Every instance card of a customer: active first, then by id. */
  private cards(accountId: string, now: number): InstanceCard[] {
    const c = this.built.find((b) => b.account.id === accountId);
    if (!c) return [];
    const cards = c.instances.map((x) => card(x, now));
    cards.sort((a, b) => {
      const inactive = (k: InstanceCard) => (k.activity ? k.activity.inactive : true);
      return Number(inactive(a)) - Number(inactive(b)) || (a.instance_id < b.instance_id ? -1 : 1);
    });
    return cards;
  }

  customer(accountId: string, now = Date.now()): CustomerPage {
    const account = this.accountOf(accountId);
    if (!account) throw notFound(`account ${accountId} is not in the cache; sync to refresh it`);
    const c = this.built.find((b) => b.account.id === accountId);
    const none = { instances: 0, not_ready: 0, inactive: 0, reporting_overdue: 0, airgapped: 0 };
    if (!c) return { account, path: this.pathOf(accountId), licenses: [], time_to_install: null, counts: none, install_attempt_count: 0 };
    const cards = this.cards(accountId, now);
    let tti: TimeToInstall | null = null;
    for (const x of c.instances) {
      const ready = firstReadyAt(x);
      const lic = c.licenses.find((l) => l.id === x.spec.licenseId);
      if (ready === null || !lic) continue;
      if (tti && (new Date(tti.first_ready_at).getTime() > ready || (new Date(tti.first_ready_at).getTime() === ready && tti.instance_id < x.spec.id))) continue;
      tti = {
        instance_id: x.spec.id,
        first_seen_at: iso(x.firstSeen),
        first_ready_at: iso(ready),
        license_secs: Math.max(0, secs(ready - new Date(lic.created_at).getTime())),
        instance_secs: secs(ready - x.firstSeen),
      };
    }
    return {
      account,
      path: this.pathOf(accountId),
      licenses: structuredClone(c.licenses),
      time_to_install: tti,
      counts: {
        instances: cards.length,
        not_ready: cards.filter((k) => k.report?.status !== 'ready').length,
        inactive: cards.filter((k) => k.activity?.inactive).length,
        reporting_overdue: cards.filter((k) => k.reporting_overdue).length,
        airgapped: cards.filter((k) => k.airgapped).length,
      },
      install_attempt_count: c.attempts.length,
    };
  }

  /** One page (at most 100) of a customer's instance cards. */
  instances(accountId: string, offset: number, limit: number, now = Date.now()): Page<InstanceCard> {
    if (!this.accountOf(accountId)) throw notFound(`account ${accountId} is not in the cache; sync to refresh it`);
    const all = this.cards(accountId, now);
    const size = Math.min(100, Math.max(0, limit));
    return { items: all.slice(offset, offset + size), total: all.length, offset, limit: size };
  }

  /** One page (at most 500) of a customer's install attempts, newest first. */
  attempts(accountId: string, offset: number, limit: number): Page<InstallAttempt> {
    if (!this.accountOf(accountId)) throw notFound(`account ${accountId} is not in the cache; sync to refresh it`);
    const all = structuredClone(this.built.find((b) => b.account.id === accountId)?.attempts ?? []);
    const size = Math.min(500, Math.max(0, limit));
    return { items: all.slice(offset, offset + size), total: all.length, offset, limit: size };
  }

  private find(instanceId: string) {
    for (const c of this.built) {
      const x = c.instances.find((i) => i.spec.id === instanceId);
      if (x) return x;
    }
    throw { kind: 'invalid_input', message: `instance '${instanceId}' is not in the local cache: check the id (the customer page lists its instances), or sync` } satisfies AppError;
  }

  instanceDetail(instanceId: string, now = Date.now()): InstanceDetail {
    const x = this.find(instanceId);
    return { card: card(x, now), account_id: x.accountId, account_name: this.accountOf(x.accountId)?.name ?? null, event_count: x.events.length };
  }

  /** One page (at most 500) of an instance's events, newest first. */
  instanceEvents(instanceId: string, offset: number, limit: number): Page<InstanceEvent> {
    const all = [...this.find(instanceId).events].reverse();
    const size = Math.min(500, Math.max(0, limit));
    return { items: all.slice(offset, offset + size), total: all.length, offset, limit: size };
  }

  /** Every license of the cached accounts, by account then license id. */
  licenses(): License[] {
    return this.built.filter((b) => this.accountOf(b.account.id)).flatMap((b) => b.licenses);
  }

  /** The account ids holding a license. */
  accountIds(): string[] {
    return this.built.map((b) => b.account.id);
  }
}

// ---------------------------------------------------------------------------------------------
// Profiles: realistic customers, for any account.

/** Byte order of two strings, as the cache compares them. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The list's orders (the cache's definitions): ties by name, then account id. */
export function sortCustomers(list: CustomerSummary[], sort: CustomerSort): CustomerSummary[] {
  const byName = (a: CustomerSummary, b: CustomerSummary) => cmp(a.account_name, b.account_name) || cmp(a.account_id, b.account_id);
  const end = (c: CustomerSummary) => (c.expires_at === null ? Infinity : new Date(c.expires_at).getTime());
  const order: Record<CustomerSort, (a: CustomerSummary, b: CustomerSummary) => number> = {
    name: byName,
    expiry: (a, b) => (end(a) === end(b) ? 0 : end(a) < end(b) ? -1 : 1) || byName(a, b),
    attention: (a, b) => b.not_ready - a.not_ready || byName(a, b),
  };
  return [...list].sort(order[sort]);
}
