import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { followSystemTheme } from './lib/app/theme';

async function start(): Promise<void> {
  // Outside Tauri, in `vite dev` only, a fake backend stands in for the Rust shell.
  // The whole branch (and src/dev) is dropped from production builds.
  if (import.meta.env.DEV && !('__TAURI_INTERNALS__' in window)) {
    const { installFakeBackend } = await import('./dev/dev-backend');
    installFakeBackend();
  }
  followSystemTheme();
  mount(App, { target: document.getElementById('app')! });
}

void start();
