import { describe, expect, it, vi } from 'vitest';
import { NEAR_MARGIN_PX, nearView } from './nearView';
import { FakeIntersectionObserver as FakeObserver } from '../../test/intersection';

describe('nearView', () => {
  it('waits for the node to come near, then calls once and stops watching', () => {
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    const node = document.createElement('section');
    const onNear = vi.fn();
    nearView(node, onNear);
    const [observer] = FakeObserver.made;
    // watched with the margin above and below, the node itself
    expect(observer.observed).toEqual([node]);
    expect(observer.options.rootMargin).toBe(`${NEAR_MARGIN_PX}px 0px`);
    // still far from the viewport: nothing drawn
    observer.report(false);
    expect(onNear).not.toHaveBeenCalled();
    observer.report(true);
    expect(onNear).toHaveBeenCalledTimes(1);
    expect(observer.disconnected).toBe(true);
    // a late report (queued before the disconnect) does not call again
    observer.report(true);
    expect(onNear).toHaveBeenCalledTimes(1);
  });

  it('never calls after its cleanup, which stops watching', () => {
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    const onNear = vi.fn();
    const stop = nearView(document.createElement('div'), onNear, 10);
    const [observer] = FakeObserver.made;
    expect(observer.options.rootMargin).toBe('10px 0px');
    stop();
    expect(observer.disconnected).toBe(true);
    observer.report(true);
    expect(onNear).not.toHaveBeenCalled();
  });

  it('calls at once where there is no IntersectionObserver (nothing would ever report)', () => {
    vi.stubGlobal('IntersectionObserver', undefined);
    const onNear = vi.fn();
    nearView(document.createElement('div'), onNear);
    expect(onNear).toHaveBeenCalledTimes(1);
  });
});
