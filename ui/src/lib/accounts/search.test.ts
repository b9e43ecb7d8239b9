import { describe, expect, it } from 'vitest';
import { Latest, isSearchShortcut, searchKey, withResults, type SearchUi } from './search';

const ui = (p: Partial<SearchUi> = {}): SearchUi => ({ open: true, active: 0, count: 3, ...p });

describe('searchKey', () => {
  it('moves down and wraps', () => {
    expect(searchKey(ui({ active: 0 }), 'ArrowDown').ui.active).toBe(1);
    expect(searchKey(ui({ active: 2 }), 'ArrowDown').ui.active).toBe(0);
  });
  it('moves up and wraps', () => {
    expect(searchKey(ui({ active: 1 }), 'ArrowUp').ui.active).toBe(0);
    expect(searchKey(ui({ active: 0 }), 'ArrowUp').ui.active).toBe(2);
  });
  it('reopens a closed list on arrows without moving past the first', () => {
    const r = searchKey(ui({ open: false, active: -1 }), 'ArrowDown');
    expect(r.ui.open).toBe(true);
    expect(r.ui.active).toBe(0);
  });
  it('selects the highlighted result on Enter', () => {
    const r = searchKey(ui({ active: 2 }), 'Enter');
    expect(r.action).toEqual({ type: 'select', index: 2 });
    expect(r.ui.open).toBe(false);
    expect(searchKey(ui({ active: -1 }), 'Enter').action).toEqual({ type: 'select', index: 0 });
  });
  it('does nothing on Enter without results', () => {
    expect(searchKey(ui({ count: 0, active: -1 }), 'Enter').action.type).toBe('none');
  });
  it('Escape closes, then clears', () => {
    const first = searchKey(ui(), 'Escape');
    expect(first.action.type).toBe('close');
    expect(first.ui.open).toBe(false);
    expect(searchKey(first.ui, 'Escape').action.type).toBe('clear');
  });
  it('leaves other keys to the input', () => {
    expect(searchKey(ui(), 'a').handled).toBe(false);
    expect(searchKey(ui(), 'Tab').ui.open).toBe(false);
  });
  it('highlights the first of new results', () => {
    expect(withResults(5)).toEqual({ open: true, active: 0, count: 5 });
    expect(withResults(0)).toEqual({ open: true, active: -1, count: 0 });
  });
});

describe('isSearchShortcut', () => {
  const k = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({
    key,
    ctrlKey: false,
    metaKey: false,
    altKey: false,
    ...mods,
  });
  it('knows / and Ctrl+K', () => {
    expect(isSearchShortcut(k('/'), false)).toBe(true);
    expect(isSearchShortcut(k('k', { ctrlKey: true }), false)).toBe(true);
    expect(isSearchShortcut(k('k', { metaKey: true }), true)).toBe(true);
  });
  it('lets / be typed in a field', () => {
    expect(isSearchShortcut(k('/'), true)).toBe(false);
    expect(isSearchShortcut(k('k'), false)).toBe(false);
  });
});

describe('Latest', () => {
  it('keeps only the newest request current', () => {
    const l = new Latest();
    const a = l.begin();
    const b = l.begin();
    expect(l.isCurrent(a)).toBe(false);
    expect(l.isCurrent(b)).toBe(true);
    l.cancel();
    expect(l.isCurrent(b)).toBe(false);
  });
});
