import '@testing-library/jest-dom/vitest';
import { afterEach } from 'vitest';
import { FakeIntersectionObserver } from './intersection';

// Each test starts with no fake observer made (the globals themselves: `unstubGlobals`).
afterEach(() => {
  FakeIntersectionObserver.made = [];
});

// jsdom lacks these browser APIs that components use.
if (!('ResizeObserver' in globalThis)) {
  class ResizeObserverStub {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
  (globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver = ResizeObserverStub;
}
if (typeof Element !== 'undefined') {
  Element.prototype.scrollIntoView ??= function () {};
  Element.prototype.setPointerCapture ??= function () {};
}
