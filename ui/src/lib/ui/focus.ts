// Keeping Tab inside a modal dialog.

export const FOCUSABLE =
  'button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [href], [tabindex]:not([tabindex="-1"])';

/** The elements Tab visits in `root`, in document order; a radio group is one stop. */
export function tabStops(root: HTMLElement): HTMLElement[] {
  // `matches` over all elements keeps document order (a selector list need not, in every engine)
  return [...root.querySelectorAll<HTMLElement>('*')].filter(
    (n) => n.matches(FOCUSABLE) && !(n instanceof HTMLInputElement && n.type === 'radio' && !n.checked),
  );
}

/** On Tab, wraps focus around the ends of `root` (and pulls it back in from outside). */
export function trapTab(e: KeyboardEvent, root: HTMLElement | undefined): void {
  if (e.key !== 'Tab' || !root) return;
  const nodes = tabStops(root);
  if (nodes.length === 0) {
    e.preventDefault();
    return;
  }
  const first = nodes[0];
  const last = nodes[nodes.length - 1];
  const active = document.activeElement as HTMLElement | null;
  const inside = !!active && nodes.includes(active);
  if (e.shiftKey && (active === first || !inside)) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (active === last || !inside)) {
    e.preventDefault();
    first.focus();
  }
}
