import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';
import SkeletonLines from './SkeletonLines.svelte';

afterEach(cleanup);

describe('SkeletonLines', () => {
  it('draws each line shorter by the step, hidden from assistive technology', () => {
    const { container } = render(SkeletonLines, { lines: 3, from: 80, step: 15, height: 14, gap: 12, padding: '14px' });
    const box = container.querySelector('.skel') as HTMLElement;
    expect(box.getAttribute('aria-hidden'), 'placeholders say nothing to a screen reader').toBe('true');
    expect(box.style.gap).toBe('12px');
    expect(box.style.padding).toBe('14px');
    const bars = [...box.querySelectorAll<HTMLElement>('.skeleton')];
    expect(bars.map((b) => b.style.width), '80 %, then 15 points less each').toEqual(['80%', '65%', '50%']);
    expect(bars.every((b) => b.style.height === '14px')).toBe(true);
  });

  it('defaults to the list placeholder: 90 % down by 12, 10 px bars, 14 px apart, 16 px padding', () => {
    const { container } = render(SkeletonLines, { lines: 2 });
    const box = container.querySelector('.skel') as HTMLElement;
    expect(box.style.gap).toBe('14px');
    expect(box.style.padding).toBe('16px');
    expect([...box.querySelectorAll<HTMLElement>('.skeleton')].map((b) => [b.style.width, b.style.height])).toEqual([
      ['90%', '10px'],
      ['78%', '10px'],
    ]);
  });
});
