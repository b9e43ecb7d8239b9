import { describe, expect, it } from 'vitest';
import type { InstallAttempt, InstanceEvent, Plan, UptimeBar } from '$lib/bindings';
import {
  EMPTY_FILTER,
  attemptEndText,
  barSegments,
  barTitle,
  clusterView,
  eventFieldLabel,
  eventText,
  eventValue,
  eventsTitle,
  expiryView,
  formatAge,
  formatDuration,
  formatRatio,
  fromCustomerFilter,
  instancesView,
  isFiltered,
  lastCheckInView,
  licenseTypeLabel,
  licenseTypesOf,
  modeLabel,
  registryLabel,
  sameFilter,
  seatsView,
  shortId,
  statusLabel,
  statusTone,
  stepsView,
  toCustomerFilter,
  ttiView,
  uptimeTotalsText,
  worstStatusView,
} from './customers';

const NOW = Date.parse('2025-11-23T12:00:00Z');
const H = 3600;
const D = 86_400;
const at = (secsFromNow: number) => new Date(NOW + secsFromNow * 1000).toISOString();

function bar(over: Partial<UptimeBar> = {}): UptimeBar {
  return {
    start: at(-D),
    end: at(0),
    up_secs: D,
    degraded_secs: 0,
    down_secs: 0,
    no_data_secs: 0,
    ratio: 1,
    events: [],
    ...over,
  };
}

function event(field: string, previous: string | null, next: string, secsFromNow = -H): InstanceEvent {
  return { instance_id: 'i-1', field, previous, new: next, received_at: at(secsFromNow) };
}

describe('durations', () => {
  it('show two units at most', () => {
    expect(formatDuration(45 * H)).toBe('1 d 21 h');
    expect(formatDuration(30 * 60)).toBe('30 min');
    expect(formatDuration(3 * H + 5 * 60)).toBe('3 h 5 min');
    expect(formatDuration(3 * H)).toBe('3 h');
    expect(formatDuration(2 * D)).toBe('2 d');
    // the minutes of a day-long duration are left out
    expect(formatDuration(2 * D + 59 * 60)).toBe('2 d');
    expect(formatDuration(380 * D + 1800)).toBe('380 d');
    expect(formatDuration(1234 * D)).toBe('1,234 d');
    expect(formatDuration(59)).toBe('59 s');
    expect(formatDuration(0)).toBe('0 s');
  });

  it('never go negative, nor show NaN', () => {
    expect(formatDuration(-30)).toBe('0 s');
    expect(formatDuration(Number.NaN)).toBe('0 s');
    expect(formatAge(Number.POSITIVE_INFINITY)).toBe('0 s');
  });

  it('show an age in its largest unit', () => {
    expect(formatAge(40)).toBe('40 s');
    expect(formatAge(12 * 60 + 30)).toBe('12 min');
    expect(formatAge(5 * H + 59 * 60)).toBe('5 h');
    expect(formatAge(3 * D + 23 * H)).toBe('3 d');
    expect(formatAge(-5)).toBe('0 s');
  });
});

describe('uptime ratio', () => {
  it('is a percentage with one decimal', () => {
    expect(formatRatio(1 - 160 / 20160)).toBe('99.2 %');
    expect(formatRatio(318 / 336)).toBe('94.6 %');
    expect(formatRatio(10 / 72)).toBe('13.9 %');
    expect(formatRatio(0.5)).toBe('50.0 %');
  });

  it('says 100 % and 0 % only when exact', () => {
    expect(formatRatio(1)).toBe('100 %');
    expect(formatRatio(0.99996)).toBe('99.9 %');
    expect(formatRatio(0)).toBe('0 %');
    expect(formatRatio(0.00001)).toBe('0.1 %');
  });

  it('says no data rather than a number without any', () => {
    expect(formatRatio(null)).toBe('no data');
    expect(formatRatio(undefined)).toBe('no data');
    expect(formatRatio(Number.NaN)).toBe('no data');
  });

  it('totals name the parts with time', () => {
    expect(uptimeTotalsText({ up_secs: 13 * D + 23 * H, down_secs: 40 * 60, no_data_secs: 0, ratio: 0.998 })).toBe('Up 13 d 23 h · Down 40 min');
    expect(uptimeTotalsText({ up_secs: 0, down_secs: 0, no_data_secs: 14 * D, ratio: null })).toBe('No data 14 d');
    expect(uptimeTotalsText({ up_secs: 0, down_secs: 0, no_data_secs: 0, ratio: null })).toBe('No data');
  });
});

describe('license expiry', () => {
  it('is red once expired', () => {
    const v = expiryView(at(-12 * D), NOW);
    expect(v).toMatchObject({ text: 'expired 12 days ago', tone: 'danger' });
    expect(v.title).toMatch(/^Expired /);
    expect(expiryView(at(-400 * D), NOW).text).toBe('expired 13 months ago');
    expect(expiryView(at(-3 * H), NOW).text).toBe('expired 3 hours ago');
    expect(expiryView(at(0), NOW)).toMatchObject({ text: 'expired', tone: 'danger' });
  });

  it('is amber within 30 days', () => {
    expect(expiryView(at(9.5 * D), NOW)).toMatchObject({ text: 'expires in 9 days', tone: 'warning' });
    expect(expiryView(at(10 * D + 6 * H), NOW)).toMatchObject({ text: 'expires in 10 days', tone: 'warning' });
    expect(expiryView(at(30 * D), NOW).tone).toBe('warning');
    expect(expiryView(at(5 * H), NOW)).toMatchObject({ text: 'expires in 5 hours', tone: 'warning' });
    expect(expiryView(at(1 * D), NOW).text).toBe('expires in 1 day');
    expect(expiryView(at(20), NOW).text).toBe('expires in 1 minute');
  });

  it('is plain further out, and says when there is none', () => {
    expect(expiryView(at(31 * D), NOW)).toMatchObject({ text: 'expires in 31 days', tone: 'normal' });
    expect(expiryView(at(245 * D), NOW)).toMatchObject({ text: 'expires in 8 months', tone: 'normal' });
    expect(expiryView(at(3 * 365 * D), NOW).text).toBe('expires in 3 years');
    expect(expiryView(null, NOW)).toMatchObject({ text: 'no expiry', tone: 'none' });
  });

  it('takes the backend’s word for expired', () => {
    expect(expiryView(at(60), NOW, true)).toMatchObject({ text: 'expired', tone: 'danger' });
    expect(expiryView(at(-60), NOW, false).tone).toBe('warning');
  });

  it('names license types, in a fixed order, once each', () => {
    expect(licenseTypeLabel('prod')).toBe('Production');
    expect(licenseTypeLabel('dev')).toBe('Development');
    const l = (t: 'prod' | 'trial' | 'dev' | 'community') => ({ license_type: t });
    expect(licenseTypesOf([l('trial'), l('prod'), l('trial')])).toEqual(['prod', 'trial']);
    expect(licenseTypesOf([])).toEqual([]);
  });

  it('lists seats in plan catalog order, unknown plans last', () => {
    const plans: Plan[] = [
      { id: 'basic', name: 'Basic', seat_metric: 'users_registered' },
      { id: 'standard', name: 'Standard', seat_metric: 'users_with_token' },
      { id: 'premium', name: 'Premium', seat_metric: 'users_with_activity' },
    ];
    expect(seatsView({ premium: 40, basic: 250, legacy: 3 }, plans)).toEqual([
      { plan: 'basic', name: 'Basic', seats: 250 },
      { plan: 'premium', name: 'Premium', seats: 40 },
      { plan: 'legacy', name: 'legacy', seats: 3 },
    ]);
    expect(seatsView({}, plans)).toEqual([]);
  });
});

describe('status', () => {
  it('has a label and a tone for each status', () => {
    expect(['ready', 'updating', 'degraded', 'unavailable', 'missing'].map((s) => [statusLabel(s), statusTone(s)])).toEqual([
      ['Ready', 'success'],
      ['Updating', 'accent'],
      ['Degraded', 'warning'],
      ['Unavailable', 'danger'],
      ['Missing', 'danger'],
    ]);
    expect(statusLabel('weird')).toBe('weird');
    expect(statusTone('weird')).toBe('neutral');
  });

  it('shows the worst status of a customer, or why there is none', () => {
    expect(worstStatusView({ worst_status: 'degraded', instances: 2, inactive: 0 })).toMatchObject({ status: 'degraded', text: 'Degraded', tone: 'warning' });
    expect(worstStatusView({ worst_status: null, instances: 0, inactive: 0 })).toMatchObject({ status: 'none', text: 'No instances' });
    expect(worstStatusView({ worst_status: null, instances: 2, inactive: 2 })).toMatchObject({ status: 'inactive', text: 'Inactive' });
    expect(worstStatusView({ worst_status: null, instances: 1, inactive: 0 })).toMatchObject({ status: 'none', text: 'No check-in' });
  });

  it('counts instances, not ready and inactive ones', () => {
    expect(instancesView({ instances: 2, not_ready: 1, inactive: 0 })).toEqual({ count: '2 instances', notReady: '1 not ready', inactive: null });
    expect(instancesView({ instances: 1, not_ready: 0, inactive: 1 })).toEqual({ count: '1 instance', notReady: null, inactive: '1 inactive' });
    expect(instancesView({ instances: 0, not_ready: 0, inactive: 0 }).count).toBe('0 instances');
  });

  it('says how stale an inactive instance is', () => {
    const report = {
      instance_id: 'i-1',
      status: 'ready' as const,
      app_version: '1.0.0',
      cluster: clusterDetails(),
      first_check_in: at(-40 * D),
      last_check_in: at(-3 * D - 4 * H),
    };
    const inactive = lastCheckInView({ report, activity: { inactive: true, stale_for_secs: 3 * D + 4 * H } }, NOW);
    expect(inactive).toMatchObject({ text: 'inactive — last seen 3 d ago', inactive: true });
    expect(inactive.title).toMatch(/^Last check-in .*the status shown is the last one reported/);
    const active = lastCheckInView({ report: { ...report, last_check_in: at(-2 * H) }, activity: { inactive: false, stale_for_secs: 2 * H } }, NOW);
    expect(active).toMatchObject({ text: '2 h ago', inactive: false });
    expect(lastCheckInView({ report: null, activity: null }, NOW)).toMatchObject({ text: 'never checked in', inactive: false });
  });
});

function clusterDetails(over: Partial<ReturnType<typeof base>> = {}) {
  return { ...base(), ...over };
}
function base() {
  return {
    distribution: 'eks',
    kubernetes_version: '1.29.4',
    embedded_cluster: false,
    nodes_ready: null as number | null,
    nodes_total: null as number | null,
    agent_version: '1.12.0',
    cloud_provider: 'aws' as string | null,
    region: 'us-east-1' as string | null,
  };
}

describe('cluster details', () => {
  it('names the distribution, versions and cloud', () => {
    expect(clusterView(clusterDetails())).toEqual({
      distribution: 'EKS',
      kubernetes: 'K8s 1.29.4',
      embedded: null,
      nodesShort: false,
      agent: 'Agent 1.12.0',
      cloud: 'AWS · us-east-1',
    });
    expect(clusterView(clusterDetails({ distribution: 'Mystery', cloud_provider: null, region: 'eu-1' }))).toMatchObject({ distribution: 'Mystery', cloud: 'eu-1' });
    expect(clusterView(clusterDetails({ distribution: '', kubernetes_version: '', agent_version: '', cloud_provider: null, region: null }))).toMatchObject({
      distribution: 'Unknown distribution',
      kubernetes: 'K8s version unknown',
      agent: 'Agent version unknown',
      cloud: null,
    });
  });

  it('counts the nodes of an embedded cluster, and flags missing ones', () => {
    expect(clusterView(clusterDetails({ distribution: 'k0s', embedded_cluster: true, nodes_ready: 2, nodes_total: 3 }))).toMatchObject({
      embedded: 'Embedded cluster · 2/3 nodes ready',
      nodesShort: true,
    });
    expect(clusterView(clusterDetails({ distribution: 'embedded-cluster', embedded_cluster: true, nodes_ready: 3, nodes_total: 3 }))).toMatchObject({
      distribution: 'Embedded Cluster',
      embedded: '3/3 nodes ready',
      nodesShort: false,
    });
    expect(clusterView(clusterDetails({ embedded_cluster: true })).embedded).toBe('Embedded cluster');
  });
});

describe('time to install', () => {
  it('formats both durations and names the instance by its short id', () => {
    const v = ttiView({ instance_id: '7fKp2LmQx9bTz4R1', first_seen_at: at(-D), first_ready_at: at(-D + 1800), license_secs: 45 * H, instance_secs: 1800 });
    expect(v).toMatchObject({ license: '1 d 21 h', instance: '30 min', shortId: '7fKp2Lm' });
    expect(v.instanceTitle).toMatch(/first event .* first Ready/);
  });

  it('short ids are 7 whole characters', () => {
    expect(shortId('2bQyU1X8kdWv1hZzbGm6')).toBe('2bQyU1X');
    expect(shortId('abc')).toBe('abc');
    expect(shortId('ééééééééé')).toBe('ééééééé');
    expect(shortId('😀😀😀😀😀😀😀😀')).toBe('😀😀😀😀😀😀😀');
  });
});

describe('uptime graph bars', () => {
  it('stack the bands from the bottom in proportion to their time', () => {
    const segs = barSegments(bar({ up_secs: 18 * H, down_secs: 6 * H, ratio: 0.75 }), 24, 0);
    expect(segs).toEqual([
      { band: 'up', secs: 18 * H, y: 6, height: 18 },
      { band: 'down', secs: 6 * H, y: 0, height: 6 },
    ]);
  });

  it('fill the whole height, in the order Up, Degraded, Down, No data', () => {
    const segs = barSegments(bar({ up_secs: 6 * H, degraded_secs: 6 * H, down_secs: 6 * H, no_data_secs: 6 * H }), 40);
    expect(segs.map((s) => s.band)).toEqual(['up', 'degraded', 'down', 'no_data']);
    expect(segs.map((s) => s.height)).toEqual([10, 10, 10, 10]);
    expect(segs.map((s) => s.y)).toEqual([30, 20, 10, 0]);
  });

  it('keep a short outage visible, taking the room from the tallest band', () => {
    const segs = barSegments(bar({ up_secs: D - 300, down_secs: 300 }), 24, 2);
    const down = segs.find((s) => s.band === 'down')!;
    const up = segs.find((s) => s.band === 'up')!;
    expect(down.height).toBe(2);
    expect(up.height).toBeCloseTo(22);
    expect(up.height + down.height).toBeCloseTo(24);
    expect(down.y).toBeCloseTo(0);
  });

  it('draw nothing without time, and all no data as one band', () => {
    expect(barSegments(bar({ up_secs: 0 }), 24)).toEqual([]);
    expect(barSegments(bar(), 0)).toEqual([]);
    expect(barSegments(bar({ up_secs: 0, no_data_secs: D, ratio: null }), 24)).toEqual([{ band: 'no_data', secs: D, y: 0, height: 24 }]);
  });

  it('ignore negative times', () => {
    expect(barSegments(bar({ up_secs: D, down_secs: -50 }), 24).map((s) => s.band)).toEqual(['up']);
  });

  it('say in their tooltip what they hold, events included', () => {
    const b = bar({ up_secs: 21 * H, degraded_secs: 3 * H, events: [event('status', 'ready', 'degraded', -5 * H), event('status', 'degraded', 'ready', -2 * H)] });
    const title = barTitle(b);
    const lines = title.split('\n');
    expect(lines[1]).toBe('Up 21 h · Degraded 3 h');
    expect(lines[2]).toBe('Uptime 100 %');
    expect(lines[3]).toBe('2 events:');
    expect(lines[4]).toMatch(/ · Status: Ready → Degraded$/);
    expect(lines[5]).toMatch(/ · Status: Degraded → Ready$/);
    expect(barTitle(bar({ up_secs: 0, no_data_secs: D, ratio: null }))).toMatch(/No data 1 d\nUptime no data$/);
  });
});

describe('events', () => {
  it('name their field and show the change', () => {
    expect(eventFieldLabel('app_version')).toBe('App version');
    expect(eventFieldLabel('nodes_ready')).toBe('Nodes ready');
    expect(eventFieldLabel('some_new-field')).toBe('Some new field');
    expect(eventText(event('status', 'ready', 'degraded'))).toBe('Status: Ready → Degraded');
    expect(eventText(event('status', null, 'missing'))).toBe('Status: Missing');
    expect(eventText(event('app_version', '3.5.1', '3.5.2'))).toBe('App version: 3.5.1 → 3.5.2');
    expect(eventValue('app_version', '')).toBe('—');
    expect(eventsTitle([event('nodes_ready', '3', '2')])).toMatch(/^1 event:\n.* · Nodes ready: 3 → 2$/);
  });
});

describe('install attempts', () => {
  const attempt = (over: Partial<InstallAttempt> = {}): InstallAttempt => ({
    id: 'ia-1',
    license_id: 'lic-1',
    status: 'succeeded',
    started_at: at(-2 * D),
    user_email: 'ops@acme.example',
    environment: 'Ubuntu 22.04',
    mode: 'online',
    registry: 'online',
    steps: [
      { name: 'Started', at: at(-2 * D) },
      { name: 'Registry accessed', at: at(-2 * D + 180) },
      { name: 'Completed', at: at(-2 * D + 14 * 60) },
    ],
    ...over,
  });

  it('show each step with the time since the start', () => {
    const steps = stepsView(attempt());
    expect(steps.map((s) => [s.name, s.offset])).toEqual([
      ['Started', null],
      ['Registry accessed', '+3 min'],
      ['Completed', '+14 min'],
    ]);
  });

  it('say how a stalled or failed attempt ended', () => {
    expect(attemptEndText(attempt(), NOW)).toBeNull();
    const stalled = attempt({ status: 'stalled', steps: [{ name: 'Started', at: at(-2 * D - 5 * H) }, { name: 'Assets downloaded', at: at(-2 * D) }] });
    expect(attemptEndText(stalled, NOW)).toBe('Stalled: no progress for 2 d');
    expect(attemptEndText(attempt({ status: 'failed' }), NOW)).toBe('Failed after 14 min');
    expect(attemptEndText(attempt({ status: 'failed', steps: [] }), NOW)).toBe('Failed');
  });

  it('name the mode and the registry', () => {
    expect([modeLabel('online'), modeLabel('offline'), registryLabel('online'), registryLabel('offline')]).toEqual(['Online', 'Air gap', 'Online', 'Offline']);
  });
});

describe('list filters', () => {
  it('map to the backend’s filter, blank text as none', () => {
    expect(toCustomerFilter(EMPTY_FILTER)).toEqual({ text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false });
    expect(toCustomerFilter({ text: '  acme ', licenseType: 'trial', expiringDays: 30, notReady: true, overdue: true })).toEqual({
      text: 'acme',
      license_type: 'trial',
      expiring_within_days: 30,
      not_ready: true,
      reporting_overdue: true,
    });
    expect(toCustomerFilter({ ...EMPTY_FILTER, text: '   ' }).text).toBeNull();
    expect(toCustomerFilter({ ...EMPTY_FILTER, expiringDays: 7.8 }).expiring_within_days).toBe(7);
    expect(toCustomerFilter({ ...EMPTY_FILTER, expiringDays: -1 }).expiring_within_days).toBeNull();
    expect(toCustomerFilter({ ...EMPTY_FILTER, expiringDays: Number.NaN }).expiring_within_days).toBeNull();
    expect(toCustomerFilter({ ...EMPTY_FILTER, expiringDays: 0 }).expiring_within_days).toBe(0);
  });

  it('come back from the backend’s filter', () => {
    const state = { text: 'acme', licenseType: 'prod' as const, expiringDays: 90, notReady: false, overdue: true };
    expect(fromCustomerFilter(toCustomerFilter(state))).toEqual(state);
    expect(fromCustomerFilter(toCustomerFilter(EMPTY_FILTER))).toEqual(EMPTY_FILTER);
  });

  it('know when they narrow the list, and when two ask the same', () => {
    expect(isFiltered(EMPTY_FILTER)).toBe(false);
    expect(isFiltered({ ...EMPTY_FILTER, text: '  ' })).toBe(false);
    expect(isFiltered({ ...EMPTY_FILTER, overdue: true })).toBe(true);
    expect(isFiltered({ ...EMPTY_FILTER, expiringDays: 7 })).toBe(true);
    expect(sameFilter({ ...EMPTY_FILTER, text: 'acme ' }, { ...EMPTY_FILTER, text: ' acme' })).toBe(true);
    expect(sameFilter({ ...EMPTY_FILTER, text: 'acme' }, { ...EMPTY_FILTER, text: 'acm' })).toBe(false);
  });
});
