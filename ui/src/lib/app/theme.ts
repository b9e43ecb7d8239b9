/**
 * The colour theme: `data-theme` on the root element picks the palette in `app.css` (one
 * definition per theme). Unless something set it already (the dev backend's `?theme=`), it
 * follows the system's light or dark preference, also when that changes while the app runs.
 */
export interface ColorSchemeQuery {
  readonly matches: boolean;
  addEventListener(type: 'change', listener: () => void): void;
}

export function followSystemTheme(
  root: HTMLElement = document.documentElement,
  prefersDark: ColorSchemeQuery = window.matchMedia('(prefers-color-scheme: dark)'),
): void {
  if (root.dataset.theme) return;
  const apply = () => {
    root.dataset.theme = prefersDark.matches ? 'dark' : 'light';
  };
  apply();
  prefersDark.addEventListener('change', apply);
}
