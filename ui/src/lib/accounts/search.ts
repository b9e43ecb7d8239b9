// Keyboard handling of the search box and its results list, and a guard against stale answers.

export type SearchUi = {
  open: boolean;
  /** highlighted result, -1 for none */
  active: number;
  count: number;
};

export type SearchAction =
  | { type: 'none' }
  | { type: 'select'; index: number }
  | { type: 'close' }
  | { type: 'clear' };

export type SearchKeyResult = { ui: SearchUi; action: SearchAction; handled: boolean };

export function searchKey(ui: SearchUi, key: string): SearchKeyResult {
  const none: SearchKeyResult = { ui, action: { type: 'none' }, handled: false };
  switch (key) {
    case 'ArrowDown': {
      if (ui.count === 0) return { ...none, handled: true };
      if (!ui.open) return { ui: { ...ui, open: true, active: Math.max(0, ui.active) }, action: { type: 'none' }, handled: true };
      return { ui: { ...ui, active: (ui.active + 1) % ui.count }, action: { type: 'none' }, handled: true };
    }
    case 'ArrowUp': {
      if (ui.count === 0) return { ...none, handled: true };
      if (!ui.open) return { ui: { ...ui, open: true, active: ui.count - 1 }, action: { type: 'none' }, handled: true };
      const next = ui.active <= 0 ? ui.count - 1 : ui.active - 1;
      return { ui: { ...ui, active: next }, action: { type: 'none' }, handled: true };
    }
    case 'Home':
    case 'End':
      if (!ui.open || ui.count === 0) return none;
      return { ui: { ...ui, active: key === 'Home' ? 0 : ui.count - 1 }, action: { type: 'none' }, handled: true };
    case 'Enter': {
      if (ui.count === 0) return { ...none, handled: true };
      const index = ui.active >= 0 && ui.active < ui.count ? ui.active : 0;
      return { ui: { ...ui, open: false, active: index }, action: { type: 'select', index }, handled: true };
    }
    case 'Escape':
      if (ui.open) return { ui: { ...ui, open: false }, action: { type: 'close' }, handled: true };
      return { ui, action: { type: 'clear' }, handled: true };
    case 'Tab':
      return { ui: { ...ui, open: false }, action: { type: 'none' }, handled: false };
    default:
      return none;
  }
}

/** New results arrived: open the list with the first one highlighted. */
export function withResults(count: number): SearchUi {
  return { open: true, active: count > 0 ? 0 : -1, count };
}

/** Is this key press the global "focus search" shortcut (`/` or Ctrl/Cmd+K)? */
export function isSearchShortcut(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }, inEditable: boolean): boolean {
  if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'k' || e.key === 'K')) return true;
  return e.key === '/' && !inEditable && !e.ctrlKey && !e.metaKey && !e.altKey;
}

/**
 * Tracks the latest of a series of requests so that answers arriving out of order are dropped:
 * `const t = latest.begin(); …; if (latest.isCurrent(t)) apply()`.
 */
export class Latest {
  private seq = 0;
  begin(): number {
    return ++this.seq;
  }
  isCurrent(token: number): boolean {
    return token === this.seq;
  }
  /** the latest request's token, for work that belongs to it (it stays current) */
  current(): number {
    return this.seq;
  }
  /** invalidate every request in flight */
  cancel(): void {
    this.seq++;
  }
}
