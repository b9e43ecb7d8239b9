// A stand-in for the browser's IntersectionObserver (jsdom has none): the test says when the
// watched node comes near the screen. Install with `vi.stubGlobal('IntersectionObserver',
// FakeIntersectionObserver)` (undone after each test); `made` lists the observers created in
// the test, newest last.
import { flushSync } from 'svelte';

export class FakeIntersectionObserver {
  static made: FakeIntersectionObserver[] = [];
  observed: Element[] = [];
  disconnected = false;
  constructor(
    private readonly callback: (entries: { isIntersecting: boolean }[]) => void,
    readonly options: { rootMargin?: string } = {},
  ) {
    FakeIntersectionObserver.made.push(this);
  }
  observe(node: Element) {
    this.observed.push(node);
  }
  disconnect() {
    this.disconnected = true;
  }
  /** Reports the node as intersecting or not, and lets Svelte apply what that changed. */
  report(isIntersecting: boolean) {
    flushSync(() => this.callback([{ isIntersecting }]));
  }
}
