// The dev server's fake backend, as `vite dev` starts it (main.ts): the app comes up on the demo
// world, signed in, with the generated tree, and a sync runs with its progress.
import { afterEach, expect, it } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { useBackend } from '$lib/backend/backend';
import App from '../App.svelte';

afterEach(() => {
  cleanup();
  useBackend(null);
});

it('starts the app on the demo world and syncs', async () => {
  // a small tree, answers without latency
  history.replaceState(null, '', '/?scenario=connected&kids=30&latency=0');
  const { installFakeBackend } = await import('./dev-backend');
  installFakeBackend();
  render(App);
  expect(await screen.findByTestId('account-name', {}, { timeout: 5000 })).toHaveTextContent('Contoso Managed Services');
  const roots = screen.getAllByTestId('tree-row').map((r) => r.textContent ?? '');
  expect(roots.some((t) => t.includes('Northwind Partners'))).toBe(true);
  await userEvent.setup().click(screen.getByTestId('sync-button'));
  expect(await screen.findByTestId('sync-progress')).toBeInTheDocument();
  // the sync ends: the progress goes, the status says synced
  await waitFor(() => expect(screen.queryByTestId('sync-progress')).toBeNull(), { timeout: 8000 });
  expect(screen.getByTestId('sync-status')).toHaveAttribute('data-state', 'synced');
}, 15_000);
