import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../../App.svelte';
import { installFake } from '../../test/fake';
import { fakeAttention } from '../../fake/attention';

let fake: ReturnType<typeof installFake>;

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  fake?.clear();
});

async function openAttention() {
  fake = installFake();
  const user = userEvent.setup();
  render(App);
  await screen.findByTestId('account-name');
  await waitFor(() => expect(screen.getByTestId('nav-attention-count')).toBeInTheDocument());
  await user.click(screen.getByTestId('nav-attention'));
  await waitFor(() => expect(rows().length).toBeGreaterThan(0));
  return user;
}

const rows = () => screen.queryAllByTestId('attention-row');
const cmds = (name: string) => fake.calls.filter((c) => c.cmd === name).map((c) => c.args);

describe('Attention view', () => {
  it('has a sidebar entry whose badge counts every item, and lists them overdue first', async () => {
    await openAttention();
    const all = fakeAttention(fake.state, null, 0, 500);
    expect(all.total).toBeGreaterThan(0);
    expect(screen.getByTestId('nav-attention-count')).toHaveTextContent(String(all.total));
    expect(rows().map((r) => r.dataset.kind)).toEqual(all.items.map((i) => i.kind));
    const first = rows()[0];
    expect(first.dataset.kind).toBe('overdue');
    expect(within(first).getByTestId('attention-title')).toHaveTextContent(all.items[0].title);
    expect(within(first).getByTestId('attention-next')).toHaveTextContent(all.items[0].next_step);
    expect(screen.getByTestId('attention-count')).toHaveTextContent(`${all.total} item`);
    // one page at a time, from the top
    expect(cmds('attention')[0]).toEqual({ kind: null, offset: 0, limit: 100 });
  });

  it('filters by kind through the shell and opens an item’s customer', async () => {
    const user = await openAttention();
    await user.click(screen.getByTestId('attention-kind-overdue'));
    await waitFor(() => expect(cmds('attention').at(-1)).toMatchObject({ kind: 'overdue', offset: 0 }));
    await waitFor(() => expect(rows().every((r) => r.dataset.kind === 'overdue')).toBe(true));
    const account = rows()[0].dataset.accountId!;
    await user.click(within(rows()[0]).getByTestId('attention-customer'));
    await waitFor(() => expect(screen.getByTestId('customers-view')).toBeInTheDocument());
    expect(cmds('customer').at(-1)).toEqual({ accountId: account });
  });

  it('switches reminders in Settings, kept by the shell', async () => {
    const user = await openAttention();
    await user.click(screen.getByTestId('nav-settings'));
    const toggle = await screen.findByTestId('reminders-toggle');
    await waitFor(() => expect(toggle).toBeChecked());
    await user.click(toggle);
    await waitFor(() => expect(cmds('set_reminders').at(-1)).toEqual({ enabled: false }));
    expect(fake.state.remindersOff).toBe(true);
    await waitFor(() => expect(toggle).not.toBeChecked());
  });
});
