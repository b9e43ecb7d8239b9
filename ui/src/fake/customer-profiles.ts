// Customer profiles for the fake backend's worlds: realistic licenses, instances with their
// status history and install attempts, for any account. Times are hours or days before the
// moment the world is built.
import type { Account, ClusterDetails } from '$lib/bindings';
import type { CustomerSpec } from './customers';

const EKS: ClusterDetails = {
  distribution: 'eks',
  kubernetes_version: '1.29.4',
  embedded_cluster: false,
  nodes_ready: null,
  nodes_total: null,
  agent_version: '1.12.0',
  cloud_provider: 'aws',
  region: 'us-east-1',
};

const lic = (account: Account, suffix: string) => `LIC-${account.id.replace(/[^A-Za-z0-9]/g, '').toUpperCase()}-${suffix}`;

/**
 * A production customer with two instances: one flapping between Ready and Degraded (and 40
 * minutes Unavailable 100 hours ago: 99.8 % over 14 days), one upgraded last week and updating
 * again now, on an embedded cluster with 2 of 3 nodes ready. Install attempts: failed, then
 * succeeded.
 */
export function prodCustomer(account: Account, opts: { expiresDays?: number; ids?: [string, string] } = {}): CustomerSpec {
  const id = lic(account, 'P1');
  const [a, b] = opts.ids ?? ['2bQyU1X8kdWv1hZzbGm6Xn3Rt0p', '7fKp2LmQx9bTz4R1sVw8Yc6Hj3D'];
  return {
    account,
    licenses: [
      {
        id,
        license_type: 'prod',
        channel: 'Stable',
        createdDays: 420,
        expiresDays: opts.expiresDays ?? 245,
        features: { gitops: true, airgap: false, identity: true, snapshots: true },
        seats: { basic: 250, standard: 120, premium: 40 },
      },
    ],
    instances: [
      {
        id: a,
        licenseId: id,
        firstCheckIn: 7200,
        lastCheckIn: 1.2,
        status: 'missing',
        app_version: '3.5.1',
        cluster: { ...EKS },
        changes: [
          { h: 7199.8, field: 'status', value: 'updating' },
          { h: 7199.2, field: 'status', value: 'ready' },
          { h: 250, field: 'status', value: 'degraded' },
          { h: 247, field: 'status', value: 'ready' },
          { h: 200, field: 'app_version', value: '3.5.2' },
          { h: 180, field: 'status', value: 'degraded' },
          { h: 175, field: 'status', value: 'ready' },
          { h: 100, field: 'status', value: 'unavailable' },
          { h: 100 - 40 / 60, field: 'status', value: 'ready' },
          { h: 52, field: 'status', value: 'degraded' },
          { h: 50.5, field: 'status', value: 'ready' },
          { h: 9, field: 'status', value: 'degraded' },
          { h: 8.25, field: 'status', value: 'ready' },
        ],
      },
      {
        id: b,
        licenseId: id,
        firstCheckIn: 960,
        lastCheckIn: 0.2,
        status: 'updating',
        app_version: '3.4.1',
        cluster: {
          distribution: 'embedded-cluster',
          kubernetes_version: '1.30.2+k0s',
          embedded_cluster: true,
          nodes_ready: 3,
          nodes_total: 3,
          agent_version: '1.11.3',
          cloud_provider: null,
          region: null,
        },
        changes: [
          { h: 959.5, field: 'status', value: 'ready' },
          { h: 141.5, field: 'status', value: 'updating' },
          { h: 141.5, field: 'app_version', value: '3.5.0' },
          { h: 141.5, field: 'agent_version', value: '1.12.0' },
          { h: 141.1, field: 'status', value: 'ready' },
          { h: 0.2, field: 'status', value: 'updating' },
          { h: 0.2, field: 'app_version', value: '3.5.2' },
          { h: 0.2, field: 'nodes_ready', value: '2' },
        ],
      },
    ],
    attempts: [
      {
        id: `${id}-ia2`,
        license_id: id,
        status: 'succeeded',
        startedH: 961,
        user_email: 'ops@' + domainOf(account),
        environment: 'Ubuntu 22.04 (embedded cluster)',
        mode: 'online',
        registry: 'online',
        steps: [
          ['Started', 0],
          ['Assets downloaded', 4],
          ['Cluster installed', 31],
          ['Completed', 38],
        ],
      },
      {
        id: `${id}-ia1`,
        license_id: id,
        status: 'failed',
        startedH: 7203,
        user_email: 'j.doe@' + domainOf(account),
        environment: 'EKS 1.29',
        mode: 'online',
        registry: 'online',
        steps: [
          ['Started', 0],
          ['Registry accessed', 3],
        ],
      },
      {
        id: `${id}-ia0`,
        license_id: id,
        status: 'succeeded',
        startedH: 7201,
        user_email: 'j.doe@' + domainOf(account),
        environment: 'EKS 1.29',
        mode: 'online',
        registry: 'online',
        steps: [
          ['Started', 0],
          ['Registry accessed', 2],
          ['Images pulled', 9],
          ['Completed', 14],
        ],
      },
    ],
  };
}

/**
 * A production license that expired 12 days ago; a long-dead instance (last check-in 23 days
 * ago: no data in the window) and an air-gapped instance overdue with its usage file.
 */
export function expiredCustomer(account: Account, opts: { airgapId?: string; airgapLastDays?: number; deadId?: string } = {}): CustomerSpec {
  const id = lic(account, 'P7');
  const dead = opts.deadId ?? 'd9E3qW7rT2yU8iO4pA6sD1fG5hJ';
  const gap = opts.airgapId ?? 'k2L9mN4bV7cX1zQ8wE5rT3yU6iO';
  return {
    account,
    licenses: [
      {
        id,
        license_type: 'prod',
        channel: 'Stable',
        createdDays: 730,
        expiresDays: -12,
        features: { gitops: false, airgap: true, identity: false, snapshots: true },
        seats: { standard: 60 },
      },
    ],
    instances: [
      {
        id: dead,
        licenseId: id,
        firstCheckIn: 12_000,
        lastCheckIn: 23 * 24 + 5,
        status: 'missing',
        app_version: '2.9.0',
        cluster: { ...EKS, distribution: 'gke', kubernetes_version: '1.26.11', agent_version: '1.8.2', cloud_provider: 'gcp', region: 'europe-west3' },
        changes: [
          { h: 11_997.75, field: 'status', value: 'ready' },
          { h: 24 * 30, field: 'status', value: 'degraded' },
          { h: 24 * 30 - 2, field: 'status', value: 'ready' },
        ],
      },
      {
        id: gap,
        licenseId: id,
        airgapped: true,
        overdue: true,
        firstCheckIn: 4800,
        lastCheckIn: (opts.airgapLastDays ?? 40) * 24,
        status: 'updating',
        app_version: '2.9.4',
        cluster: {
          distribution: 'openshift',
          kubernetes_version: '1.27.8',
          embedded_cluster: false,
          nodes_ready: null,
          nodes_total: null,
          agent_version: '1.10.1',
          cloud_provider: null,
          region: null,
        },
        changes: [{ h: 4800 - 65 / 60, field: 'status', value: 'ready' }],
      },
    ],
    attempts: [
      {
        id: `${id}-ia1`,
        license_id: id,
        status: 'succeeded',
        startedH: 4802,
        user_email: 'it-admin@' + domainOf(account),
        environment: 'RHEL 9.3',
        mode: 'offline',
        registry: 'offline',
        steps: [
          ['Started', 0],
          ['Bundle downloaded', 25],
          ['Images pushed to the local registry', 52],
          ['Completed', 70],
        ],
      },
    ],
  };
}

/**
 * A trial expiring in 10 days whose only instance was never Ready ("No Ready Instances"):
 * Missing, Unavailable, briefly Degraded, Unavailable again. Install attempts: one failed,
 * one stalled two days ago.
 */
export function trialCustomer(account: Account, opts: { expiresDays?: number; id?: string } = {}): CustomerSpec {
  const id = lic(account, 'T1');
  return {
    account,
    licenses: [
      {
        id,
        license_type: 'trial',
        channel: 'Beta',
        createdDays: 20,
        expiresDays: opts.expiresDays ?? 10.25,
        features: { gitops: false, airgap: false, identity: true, snapshots: false },
        seats: { basic: 25 },
      },
    ],
    instances: [
      {
        id: opts.id ?? 'f0Rt6Yh2Jk8Lm4Nb1Vc9Xz3Qw5E',
        licenseId: id,
        firstCheckIn: 70.5,
        lastCheckIn: 0.5,
        status: 'missing',
        app_version: '3.5.2',
        cluster: {
          distribution: 'k3s',
          kubernetes_version: '1.28.6+k3s2',
          embedded_cluster: false,
          nodes_ready: null,
          nodes_total: null,
          agent_version: '1.11.3',
          cloud_provider: 'azure',
          region: 'westeurope',
        },
        changes: [
          { h: 69.5, field: 'status', value: 'unavailable' },
          { h: 30, field: 'status', value: 'degraded' },
          { h: 20, field: 'status', value: 'unavailable' },
        ],
      },
    ],
    attempts: [
      {
        id: `${id}-ia2`,
        license_id: id,
        status: 'stalled',
        startedH: 53,
        user_email: 'dana@' + domainOf(account),
        environment: 'Ubuntu 24.04',
        mode: 'online',
        registry: 'online',
        steps: [
          ['Started', 0],
          ['Assets downloaded', 12],
        ],
      },
      {
        id: `${id}-ia1`,
        license_id: id,
        status: 'failed',
        startedH: 74,
        user_email: 'dana@' + domainOf(account),
        environment: 'K3s 1.28',
        mode: 'online',
        registry: 'offline',
        steps: [
          ['Started', 0],
          ['Registry accessed', 2],
        ],
      },
    ],
  };
}

/** A development license expiring in 75 days, one healthy instance on kind. */
export function devCustomer(account: Account, opts: { id?: string } = {}): CustomerSpec {
  const id = lic(account, 'D1');
  return {
    account,
    licenses: [
      {
        id,
        license_type: 'dev',
        channel: 'Unstable',
        createdDays: 60,
        expiresDays: 75,
        features: { gitops: true, airgap: true, identity: true, snapshots: true },
        seats: { premium: 5 },
      },
    ],
    instances: [
      {
        id: opts.id ?? 'h5Jk1Lz8Xc3Vb6Nm2Qw9Er4Ty7U',
        licenseId: id,
        firstCheckIn: 58 * 24,
        lastCheckIn: 2.5,
        status: 'updating',
        app_version: '3.6.0-beta.2',
        cluster: { ...EKS, distribution: 'kind', kubernetes_version: '1.31.0', cloud_provider: null, region: null },
        changes: [{ h: 58 * 24 - 0.3, field: 'status', value: 'ready' }],
      },
    ],
    attempts: [],
  };
}

/** A community license that does not expire, without any instance. */
export function communityCustomer(account: Account): CustomerSpec {
  return {
    account,
    licenses: [
      {
        id: lic(account, 'C1'),
        license_type: 'community',
        channel: 'Stable',
        createdDays: 15,
        expiresDays: null,
        features: { gitops: false, airgap: false, identity: false, snapshots: false },
        seats: {},
      },
    ],
    instances: [],
    attempts: [],
  };
}

function domainOf(account: Account): string {
  const word = account.name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9 ]/g, '')
    .trim()
    .split(/\s+/)[0]
    ?.toLowerCase();
  return `${word || 'customer'}.example`;
}

