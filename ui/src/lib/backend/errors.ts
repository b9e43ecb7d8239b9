import type { AppError, ErrorKind } from '$lib/bindings';

// A record keyed by ErrorKind, so a kind added on the Rust side fails the type check here
// until it is listed (an unknown kind would otherwise be turned into `internal`).
const KINDS: Record<ErrorKind, true> = {
  offline: true,
  unauthorized: true,
  version_mismatch: true,
  bad_url: true,
  not_usage_desk: true,
  not_found: true,
  invalid_input: true,
  cache: true,
  keyring: true,
  io: true,
  file_refused: true,
  already_imported: true,
  no_certificate: true,
  cancelled: true,
  busy: true,
  pending_uploads: true,
  internal: true,
};

export const ERROR_KINDS = Object.keys(KINDS) as readonly ErrorKind[];

export function isAppError(value: unknown): value is AppError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.kind === 'string' &&
    (ERROR_KINDS as readonly string[]).includes(v.kind) &&
    typeof v.message === 'string'
  );
}

/**
 * Whatever a command rejected with, as an AppError. The shell always rejects with an AppError;
 * anything else (a plain string from Tauri itself, e.g. "command not found", or a JS exception)
 * becomes `internal`.
 */
export function toAppError(value: unknown): AppError {
  if (isAppError(value)) return value;
  if (typeof value === 'string') return { kind: 'internal', message: value || 'Something went wrong.' };
  if (value instanceof Error) return { kind: 'internal', message: value.message || 'Something went wrong.' };
  if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') {
    return { kind: 'internal', message: (value as { message: string }).message };
  }
  return { kind: 'internal', message: 'Something went wrong.' };
}

/** Which field of the connect form an error concerns. */
export type ConnectField = 'url' | 'token' | 'form';

export function connectErrorField(kind: ErrorKind): ConnectField {
  switch (kind) {
    case 'bad_url':
      return 'url';
    case 'unauthorized':
      return 'token';
    default:
      return 'form';
  }
}

export type Tone = 'neutral' | 'warning' | 'danger';

/** How the sidebar shows the last sync error. */
export type SyncErrorView = {
  tone: Tone;
  title: string;
  detail: string | null;
  /** a button that leads to the connect screen */
  action: 'sign_in' | null;
};

export function syncErrorView(err: AppError): SyncErrorView {
  switch (err.kind) {
    case 'offline':
      return { tone: 'neutral', title: 'Offline — showing cached data', detail: null, action: null };
    case 'unauthorized':
      return { tone: 'warning', title: 'Session expired', detail: err.message, action: 'sign_in' };
    case 'cancelled':
      return { tone: 'neutral', title: 'Sync cancelled', detail: null, action: null };
    case 'busy':
      return { tone: 'neutral', title: 'A sync is already running', detail: null, action: null };
    case 'version_mismatch':
    case 'not_usage_desk':
    case 'bad_url':
      return { tone: 'warning', title: 'Cannot sync', detail: err.message, action: null };
    default:
      return { tone: 'danger', title: 'Sync failed', detail: err.message, action: null };
  }
}
