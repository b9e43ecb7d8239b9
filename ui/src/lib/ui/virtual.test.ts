import { describe, expect, it } from 'vitest';
import { computeWindow, scrollToReveal } from './virtual';

describe('computeWindow', () => {
  const base = { rowHeight: 28, viewportHeight: 280, overscan: 0 };
  it('renders nothing for an empty list', () => {
    expect(computeWindow({ ...base, scrollTop: 0, count: 0 })).toEqual({ start: 0, end: 0, offsetTop: 0, totalHeight: 0 });
  });
  it('renders only the visible rows at the top', () => {
    const w = computeWindow({ ...base, scrollTop: 0, count: 8000 });
    expect(w).toEqual({ start: 0, end: 10, offsetTop: 0, totalHeight: 224000 });
  });
  it('includes a partly visible row', () => {
    const w = computeWindow({ ...base, scrollTop: 14, count: 8000 });
    expect(w.start).toBe(0);
    expect(w.end).toBe(11);
  });
  it('adds overscan on both sides, clamped', () => {
    const w = computeWindow({ ...base, overscan: 5, scrollTop: 28 * 100, count: 8000 });
    expect(w.start).toBe(95);
    expect(w.end).toBe(115);
    expect(w.offsetTop).toBe(95 * 28);
    const top = computeWindow({ ...base, overscan: 5, scrollTop: 0, count: 8000 });
    expect(top.start).toBe(0);
  });
  it('clamps a scroll position past the end (list shrank)', () => {
    const w = computeWindow({ ...base, scrollTop: 1e9, count: 50 });
    expect(w.end).toBe(50);
    expect(w.start).toBe(40);
  });
  it('keeps the DOM small for 8,000 rows anywhere', () => {
    for (const top of [0, 12345, 100000, 223720]) {
      const w = computeWindow({ rowHeight: 28, viewportHeight: 600, overscan: 6, scrollTop: top, count: 8000 });
      expect(w.end - w.start).toBeLessThanOrEqual(Math.ceil(600 / 28) + 1 + 12);
      expect(w.start * 28).toBeLessThanOrEqual(Math.min(top, 8000 * 28 - 600));
    }
  });
  it('handles a list shorter than the viewport', () => {
    expect(computeWindow({ ...base, scrollTop: 0, count: 3 })).toMatchObject({ start: 0, end: 3, totalHeight: 84 });
  });
});

describe('scrollToReveal', () => {
  it('returns null when the row is visible', () => {
    expect(scrollToReveal(5, 0, 280, 28)).toBeNull();
  });
  it('scrolls up to a row above', () => {
    expect(scrollToReveal(2, 280, 280, 28)).toBe(56);
  });
  it('scrolls down just enough for a row below', () => {
    expect(scrollToReveal(20, 0, 280, 28)).toBe(21 * 28 - 280);
  });
});
