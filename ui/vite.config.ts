/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

const lib = fileURLToPath(new URL('./src/lib', import.meta.url));

// Tauri loads devUrl http://localhost:5173 in development and ui/dist in release builds.
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  resolve: { alias: { $lib: lib } },
  clearScreen: false,
  server: { port: 5173, strictPort: true, host: 'localhost' },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: ['es2021', 'chrome105', 'safari15'],
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    // vi.stubGlobal (a fake IntersectionObserver) lasts one test
    unstubGlobals: true,
  },
});
