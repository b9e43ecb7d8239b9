// Local dates and times from the shell's table of the computer's UTC offsets (`local_zone`),
// with UTC arithmetic only. JavaScript's local-time functions (getHours, getDate, ...) made
// WebKit's web process read the time zone through ICU, which kept 1.3 MiB of ICU's data and
// code resident for the rest of the session. Until a table is set (tests, a shell that has
// none), JavaScript's own local time is used.
import type { LocalZone, ZoneChange } from '$lib/bindings';

/** A local calendar day and time; `month` is 0-11, as in `Date`. */
export type LocalParts = { year: number; month: number; day: number; hours: number; minutes: number };

let changes: ZoneChange[] | null = null;

/** Takes the shell's table; `null` or an empty one: JavaScript's local time from then on. */
export function setLocalZone(zone: LocalZone | null): void {
  changes = zone && zone.changes.length > 0 ? zone.changes : null;
}

/** The UTC offset in seconds at `ms`: the last change at or before it (the first one before all). */
export function offsetAt(table: readonly ZoneChange[], ms: number): number {
  let lo = 0;
  let hi = table.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (table[mid].from_ms <= ms) lo = mid;
    else hi = mid - 1;
  }
  return table[lo]?.offset_seconds ?? 0;
}

/** The local day and time of an RFC 3339 instant; `null` when it is not one. */
export function localPartsOf(iso: string): LocalParts | null {
  const ms = new Date(iso).getTime();
  return Number.isNaN(ms) ? null : localParts(ms);
}

/** The local day and time of the instant `ms` (milliseconds since 1970 UTC). */
export function localParts(ms: number): LocalParts {
  if (changes === null) {
    const d = new Date(ms);
    return { year: d.getFullYear(), month: d.getMonth(), day: d.getDate(), hours: d.getHours(), minutes: d.getMinutes() };
  }
  const d = new Date(ms + offsetAt(changes, ms) * 1000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), hours: d.getUTCHours(), minutes: d.getUTCMinutes() };
}
