// The fake backend, put together: a FakeWorld, the fake shell's commands over it, and the
// Backend implementation that the app talks to (see ui/README.md, "The fake backend").
import { FakeBackend, type FakeBackendOptions } from './backend';
import { fakeShell } from './shell';
import type { FakeWorld } from './world';

export type { FakeWorld, AccountSource } from './world';
export { FakeBackend } from './backend';
export { FakeCustomers } from './customers';

export function createFakeBackend(world: FakeWorld, options: FakeBackendOptions) {
  let backend: FakeBackend | null = null;
  const shell = fakeShell(world, async (event, payload) => backend?.emit(event, payload));
  backend = new FakeBackend(shell.handlers, options);
  return { backend, release: shell.release, exportRunning: shell.exportRunning };
}
