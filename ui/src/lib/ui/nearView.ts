// Draw what sits below the fold only when it comes near the screen.
//
// A table costs the web process about 4 KiB a cell once drawn: at 100,000 accounts the
// Accounts pane's 50 child rows (below the account's cards, out of view until one scrolls)
// held 4-5 MiB of the web process at launch, and 0.7-1.2 MiB after every view, WebKit keeping
// what a view freed for the views after it (docs/architecture.md, "Memory").

/** How far outside the viewport a node counts as near: about a wheel step or two. */
export const NEAR_MARGIN_PX = 240;

/**
 * Calls `onNear` once, when `node` comes within `margin` px of the viewport (scrolled in any
 * scroll container between them); at once where there is no IntersectionObserver (jsdom).
 * Returns the cleanup, which stops watching.
 */
export function nearView(node: Element, onNear: () => void, margin = NEAR_MARGIN_PX): () => void {
  if (typeof IntersectionObserver === 'undefined') {
    onNear();
    return () => {};
  }
  let done = false;
  const observer = new IntersectionObserver(
    (entries) => {
      if (done || !entries.some((e) => e.isIntersecting)) return;
      done = true;
      observer.disconnect();
      onNear();
    },
    { rootMargin: `${margin}px 0px` },
  );
  observer.observe(node);
  return () => {
    done = true;
    observer.disconnect();
  };
}
