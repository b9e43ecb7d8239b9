import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import EntitlementsCard from './EntitlementsCard.svelte';
import LicenseList from './LicenseList.svelte';
import { installFake } from '../../test/fake';
import { FakeIntersectionObserver } from '../../test/intersection';

let fake: ReturnType<typeof installFake>;
afterEach(() => {
  cleanup();
  fake?.clear();
});

/** The last two completed months: the fake customers' licenses are dated from now. */
function recentMonths(): string[] {
  const now = new Date();
  return [2, 1].map((back) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
    return d.toISOString().slice(0, 7);
  });
}

const PLANS = [
  { id: 'basic', name: 'Basic', seat_metric: 'users_registered' as const },
  { id: 'standard', name: 'Standard', seat_metric: 'users_with_token' as const },
  { id: 'premium', name: 'Premium', seat_metric: 'users_with_activity' as const },
];

describe('the Entitlements card', () => {
  it('shows each own plan’s seats, use, utilization and overage, and the plans rolled up', async () => {
    const months = recentMonths();
    fake = installFake({ months });
    render(EntitlementsCard, { props: { accountId: 'a', month: months[1], plans: PLANS, version: 0 } });
    await screen.findByTestId('entitlements-card', {}, { timeout: 2000 });
    await waitFor(() => expect(screen.getByTestId('entitlements-card')).toHaveAttribute('data-state', 'ready'));
    // Alpha Corp's production license: basic=250, standard=120, premium=40; its month-end
    // values in the fixture: 1,500 registered (basic), nothing on the other plans.
    const own = screen.getAllByTestId('ent-own-row');
    expect(own.map((r) => r.dataset.plan)).toEqual(['basic', 'premium', 'standard']);
    const basic = within(own[0]);
    expect(basic.getByTestId('ent-seats')).toHaveTextContent('250');
    expect(basic.getByTestId('ent-used')).toHaveTextContent('1,500');
    expect(basic.getByTestId('ent-overage')).toHaveTextContent('1,250');
    expect(basic.getByTestId('ent-utilization')).toHaveTextContent('600 %');
    expect(own[0]).toHaveAttribute('data-state', 'over');
    expect(within(own[2]).getByTestId('ent-utilization')).toHaveTextContent('0 %');
    expect(own[2]).toHaveAttribute('data-state', 'under');
    // The same use every month: the forecast is flat at 1,500, over the 250 seats.
    expect(basic.getByTestId('ent-forecast')).toHaveTextContent('1,500.0');
    expect(basic.getByTestId('ent-forecast-over')).toBeInTheDocument();
    expect(within(own[2]).queryByTestId('ent-forecast-over')).toBeNull();
    const rolled = screen.getAllByTestId('ent-rollup-row');
    expect(rolled.map((r) => r.dataset.plan)).toEqual(['basic', 'standard', 'premium']);
    expect(within(rolled[0]).getByTestId('ent-overage')).toHaveTextContent('1,250');
    expect(fake.calls.some((c) => c.cmd === 'entitlement_card')).toBe(true);
  });

  it('says so when no license is in force in the subtree', async () => {
    const months = recentMonths();
    fake = installFake({ months });
    // Beta LLC's only license expired twelve days ago, before the end of any completed month
    // of the window's last; it has no descendants.
    render(EntitlementsCard, { props: { accountId: 'b', month: months[1], plans: PLANS, version: 0 } });
    expect(await screen.findByTestId('entitlements-none')).toHaveTextContent('No license is in force');
    expect(screen.queryByTestId('ent-own-row')).toBeNull();
  });

  it('shows the backend’s refusal', async () => {
    fake = installFake({ months: recentMonths() });
    render(EntitlementsCard, { props: { accountId: 'nobody', month: recentMonths()[1], plans: PLANS, version: 0 } });
    expect(await screen.findByTestId('inline-error')).toHaveTextContent('not in the cache');
  });
});

describe('Licenses to watch', () => {
  it('pages the subtree’s licenses over their seats and switches to the under-used ones', async () => {
    const months = recentMonths();
    fake = installFake({ months });
    const user = userEvent.setup();
    render(LicenseList, { props: { accountId: 'sp', month: months[1], plans: PLANS, version: 0, onopen: () => {} } });
    await waitFor(() => expect(screen.getAllByTestId('license-row')).toHaveLength(1));
    expect(screen.getByTestId('license-row')).toHaveAttribute('data-plan', 'basic');
    await user.click(screen.getByTestId('license-filter-under'));
    await waitFor(() => expect(screen.getByTestId('license-list')).toHaveAttribute('data-filter', 'under'));
    await waitFor(() => expect(screen.getAllByTestId('license-row').map((r) => r.dataset.plan)).toContain('standard'));
    const asked = fake.calls.filter((c) => c.cmd === 'license_list').map((c) => c.args);
    expect(asked.at(-1)).toMatchObject({ accountId: 'sp', filter: 'under', offset: 0, limit: 25 });
  });

  it('draws its rows only when the list comes near the screen, keeping their height meanwhile', async () => {
    vi.stubGlobal('IntersectionObserver', FakeIntersectionObserver);
    const months = recentMonths();
    fake = installFake({ months });
    render(LicenseList, { props: { accountId: 'sp', month: months[1], plans: PLANS, version: 0, onopen: () => {} } });
    // The page (one license over its seats, as above) is fetched; its row waits.
    const pending = await screen.findByTestId('licenses-pending');
    expect(fake.calls.filter((c) => c.cmd === 'license_list')).toHaveLength(1);
    expect(screen.queryAllByTestId('license-row')).toHaveLength(0);
    expect(pending.querySelector('td')?.style.height).toBe('31px');
    expect(pending.querySelector('td')?.colSpan).toBe(7);
    FakeIntersectionObserver.made.at(-1)!.report(true);
    await waitFor(() => expect(screen.getAllByTestId('license-row')).toHaveLength(1));
    expect(screen.queryByTestId('licenses-pending')).toBeNull();
    expect(fake.calls.filter((c) => c.cmd === 'license_list')).toHaveLength(1);
  });
});
