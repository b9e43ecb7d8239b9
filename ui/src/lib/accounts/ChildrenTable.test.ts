import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import ChildrenTable from './ChildrenTable.svelte';
import { installFake } from '../../test/fake';
import { FakeIntersectionObserver as FakeObserver } from '../../test/intersection';

let fake: ReturnType<typeof installFake>;

afterEach(() => {
  cleanup();
  fake?.clear();
});

const PLANS = [
  { id: 'basic', name: 'Basic', seat_metric: 'users_registered' as const },
  { id: 'standard', name: 'Standard', seat_metric: 'users_with_token' as const },
  { id: 'premium', name: 'Premium', seat_metric: 'users_with_activity' as const },
];
const props = (parentId: string, childCount: number) => ({
  parentId,
  childCount,
  month: '2024-05',
  metric: 'users_with_activity' as const,
  plans: PLANS,
  version: 0,
  onopen: () => {},
});

describe('the children table', () => {
  it('fetches its page at once and draws the rows only when the table comes near the screen', async () => {
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    fake = installFake();
    const view = render(ChildrenTable, { props: props('sp', 3) });
    // The fixture's service provider has three children: the page is there, its cells wait,
    // and the space they will take is kept (three rows of 31 px) so the pane does not jump.
    const pending = await screen.findByTestId('children-pending');
    expect(fake.calls.filter((c) => c.cmd === 'children')).toHaveLength(1);
    expect(screen.queryAllByTestId('child-row')).toHaveLength(0);
    expect(pending.querySelector('td')?.style.height).toBe('93px');
    // name, status, plan, own, one per plan, total
    expect(pending.querySelector('td')?.colSpan).toBe(PLANS.length + 5);

    FakeObserver.made.at(-1)!.report(false);
    expect(screen.queryAllByTestId('child-row')).toHaveLength(0);
    FakeObserver.made.at(-1)!.report(true);
    const rows = await screen.findAllByTestId('child-row');
    expect(rows.map((r) => r.dataset.accountId)).toEqual(['a', 'b', 'c']);
    expect(screen.queryByTestId('children-pending')).toBeNull();
    // no second fetch for drawing what was already fetched
    expect(fake.calls.filter((c) => c.cmd === 'children')).toHaveLength(1);

    // Another account opened: its rows wait for the screen again.
    await view.rerender(props('a', 0));
    await view.rerender(props('sp', 3));
    await screen.findByTestId('children-pending');
    expect(screen.queryAllByTestId('child-row')).toHaveLength(0);
    FakeObserver.made.at(-1)!.report(true);
    await waitFor(() => expect(screen.getAllByTestId('child-row')).toHaveLength(3));
  });
});
