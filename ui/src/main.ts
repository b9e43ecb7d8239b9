import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { followSystemTheme } from './lib/app/theme';
import { localZone } from './lib/backend/ipc';
import { setLocalZone } from './lib/ui/localtime';

async function start(): Promise<void> {
  // Outside Tauri, in `vite dev` only, a fake backend stands in for the Rust shell.
  // The whole branch (and src/dev) is dropped from production builds.
  if (import.meta.env.DEV && !('__TAURI_INTERNALS__' in window)) {
    const { installFakeBackend } = await import('./dev/dev-backend');
    installFakeBackend();
  }
  followSystemTheme();
  // Before the first view: every local time then comes from the shell's table.
  setLocalZone(await localZone().catch(() => null));
  mount(App, { target: document.getElementById('app')! });
}

void start();
