import { describe, expect, it } from 'vitest';
import { followSystemTheme, type ColorSchemeQuery } from './theme';

/** A system preference the test can change. */
function system(dark: boolean): ColorSchemeQuery & { set(dark: boolean): void } {
  const listeners: (() => void)[] = [];
  return {
    matches: dark,
    addEventListener: (_type, listener) => listeners.push(listener),
    set(d: boolean) {
      (this as { matches: boolean }).matches = d;
      listeners.forEach((l) => l());
    },
  };
}

describe('followSystemTheme', () => {
  it('takes the system preference and follows its changes', () => {
    const root = document.createElement('html');
    const pref = system(true);
    followSystemTheme(root, pref);
    expect(root.dataset.theme).toBe('dark');
    pref.set(false);
    expect(root.dataset.theme).toBe('light');
  });

  it('leaves a theme that was set on purpose alone', () => {
    const root = document.createElement('html');
    root.dataset.theme = 'light';
    const pref = system(true);
    followSystemTheme(root, pref);
    expect(root.dataset.theme).toBe('light');
    pref.set(true);
    expect(root.dataset.theme, 'a forced theme does not follow the system').toBe('light');
  });
});
