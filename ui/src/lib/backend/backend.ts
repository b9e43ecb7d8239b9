// Which backend the app talks to: the Tauri one, unless the dev server or a test put the fake
// backend (src/fake) in its place before the app starts.
import type { Backend } from './contract';
import { tauriBackend } from './tauri';

let current: Backend = tauriBackend;

export const backend = (): Backend => current;

/** Puts `b` in place of the current backend; null puts the Tauri backend back. */
export function useBackend(b: Backend | null): void {
  current = b ?? tauriBackend;
}
