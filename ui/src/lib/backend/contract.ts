// The IPC contract of the Rust shell (src-tauri/src/commands.rs, docs/ipc.md) as types: every
// command with its arguments and answer, every event with its payload. The types come from the
// generated bindings; the argument names are those Tauri takes (camelCase of the Rust ones).
// Both backends (tauri.ts, the fake in src/fake) are checked against this one list.
import type {
  CustomerHealth,
  Factor,
  HealthPage,
  RenewalCalendar,
  AccountDetail,
  AccountRow,
  AirgapPage,
  AppStatus,
  AttentionCounts,
  AttentionKind,
  AttentionPage,
  ChildSort,
  CustomerCounts,
  CustomerFilter,
  CustomerPage,
  CustomerSort,
  CustomerSummary,
  DroppedFile,
  EntitlementCard,
  ExportOutcome,
  ExportPlan,
  ExportProgress,
  ExportRequest,
  ImportOutcome,
  InstallAttempt,
  InstanceCard,
  InstanceDetail,
  InstanceEvent,
  InstanceQuery,
  InstanceView,
  IssuedSyncKey,
  LedgerQuery,
  LedgerRow,
  LicenseFilter,
  LicenseListItem,
  LocalZone,
  OpenedFile,
  Page,
  Plan,
  Progress,
  PushReport,
  SearchHit,
  SyncFinished,
  SyncReport,
  TrendPoint,
  YearMonth,
} from '$lib/bindings';

type None = Record<never, never>;
type Paged = { offset: number; limit: number };

/** Every command of the shell: `args` as sent to `invoke`, `result` as answered. */
export type Commands = {
  app_status: { args: None; result: AppStatus };
  connect: { args: { url: string; token: string; force: boolean }; result: AppStatus };
  start_demo: { args: None; result: AppStatus };
  sync_now: { args: None; result: SyncReport };
  cancel_sync: { args: None; result: null };
  sign_out: { args: None; result: AppStatus };
  clear_cache: { args: { force: boolean }; result: AppStatus };
  plans: { args: None; result: Plan[] };
  completed_months: { args: None; result: YearMonth[] };
  children: { args: { parent: string | null; month: YearMonth; sort: ChildSort } & Paged; result: Page<AccountRow> };
  account_detail: { args: { id: string; month: YearMonth }; result: AccountDetail };
  search: { args: { text: string; limit: number }; result: SearchHit[] };
  trend: { args: { id: string; to: YearMonth; count: number }; result: TrendPoint[] };
  export_preview: { args: { request: ExportRequest }; result: ExportPlan };
  export_csv: { args: { request: ExportRequest; path: string }; result: ExportOutcome };
  cancel_export: { args: None; result: null };
  airgap_instances: { args: { query: InstanceQuery }; result: AirgapPage<InstanceView> };
  airgap_overdue_count: { args: None; result: number };
  airgap_ledger: { args: { query: LedgerQuery }; result: AirgapPage<LedgerRow> };
  airgap_retry: { args: { ledgerId: number }; result: PushReport };
  airgap_discard: { args: { ledgerId: number }; result: null };
  airgap_issue_sync_key: { args: { instanceId: string; validDays: number; path: string }; result: IssuedSyncKey };
  airgap_preview: { args: { path: string }; result: DroppedFile };
  airgap_import: { args: { path: string; verificationPath: string }; result: ImportOutcome };
  airgap_save_document: { args: { ledgerId: number; path: string }; result: null };
  customers: { args: { filter: CustomerFilter; sort: CustomerSort } & Paged; result: Page<CustomerSummary> };
  customer_counts: { args: None; result: CustomerCounts };
  customer: { args: { accountId: string }; result: CustomerPage };
  customer_instances: { args: { accountId: string } & Paged; result: Page<InstanceCard> };
  install_attempts: { args: { accountId: string } & Paged; result: Page<InstallAttempt> };
  instance_detail: { args: { instanceId: string }; result: InstanceDetail };
  instance_events: { args: { instanceId: string } & Paged; result: Page<InstanceEvent> };
  entitlement_card: { args: { accountId: string; month: YearMonth }; result: EntitlementCard };
  license_list: { args: { accountId: string | null; month: YearMonth; filter: LicenseFilter } & Paged; result: Page<LicenseListItem> };
  health_list: { args: { sort: Factor | null; descending: boolean } & Paged; result: HealthPage };
  customer_health: { args: { accountId: string }; result: CustomerHealth };
  renewal_calendar: { args: { months: number } & Paged; result: RenewalCalendar };
  export_renewals: { args: { months: number; path: string }; result: number };
  attention: { args: { kind: AttentionKind | null } & Paged; result: AttentionPage };
  attention_counts: { args: None; result: AttentionCounts };
  reminders_enabled: { args: None; result: boolean };
  set_reminders: { args: { enabled: boolean }; result: boolean };
  take_opened_files: { args: None; result: OpenedFile[] };
  local_zone: { args: None; result: LocalZone };
};

export type CommandName = keyof Commands;
export type Args<K extends CommandName> = Commands[K]['args'];
export type Answer<K extends CommandName> = Commands[K]['result'];

/**
 * Every command and its argument names, in the order of the Rust function's parameters. The
 * contract test compares this list with the shell's `generate_handler!` and signatures.
 */
export const COMMANDS = {
  app_status: [],
  connect: ['url', 'token', 'force'],
  start_demo: [],
  sync_now: [],
  cancel_sync: [],
  sign_out: [],
  clear_cache: ['force'],
  plans: [],
  completed_months: [],
  children: ['parent', 'month', 'sort', 'offset', 'limit'],
  account_detail: ['id', 'month'],
  search: ['text', 'limit'],
  trend: ['id', 'to', 'count'],
  export_preview: ['request'],
  export_csv: ['request', 'path'],
  cancel_export: [],
  airgap_instances: ['query'],
  airgap_overdue_count: [],
  airgap_ledger: ['query'],
  airgap_retry: ['ledgerId'],
  airgap_discard: ['ledgerId'],
  airgap_issue_sync_key: ['instanceId', 'validDays', 'path'],
  airgap_preview: ['path'],
  airgap_import: ['path', 'verificationPath'],
  airgap_save_document: ['ledgerId', 'path'],
  customers: ['filter', 'sort', 'offset', 'limit'],
  customer_counts: [],
  customer: ['accountId'],
  customer_instances: ['accountId', 'offset', 'limit'],
  install_attempts: ['accountId', 'offset', 'limit'],
  instance_detail: ['instanceId'],
  instance_events: ['instanceId', 'offset', 'limit'],
  entitlement_card: ['accountId', 'month'],
  license_list: ['accountId', 'month', 'filter', 'offset', 'limit'],
  health_list: ['sort', 'descending', 'offset', 'limit'],
  customer_health: ['accountId'],
  renewal_calendar: ['months', 'offset', 'limit'],
  export_renewals: ['months', 'path'],
  attention: ['kind', 'offset', 'limit'],
  attention_counts: [],
  reminders_enabled: [],
  set_reminders: ['enabled'],
  take_opened_files: [],
  local_zone: [],
} as const satisfies { readonly [K in CommandName]: readonly (keyof Args<K>)[] };

/** Argument names of a command's type that {@link COMMANDS} does not list (never, when complete). */
export type UnlistedArgs = { [K in CommandName]: Exclude<keyof Args<K>, (typeof COMMANDS)[K][number]> }[CommandName];

/** The events the shell emits, by name. */
export const EVENTS = {
  progress: 'sync://progress',
  finished: 'sync://finished',
  status: 'status://changed',
  exportProgress: 'export://progress',
  fileOpened: 'file://opened',
} as const;

/** Every event's payload. */
export type Events = {
  'sync://progress': Progress;
  'sync://finished': SyncFinished;
  'status://changed': AppStatus;
  'export://progress': ExportProgress;
  'file://opened': OpenedFile;
};

export type EventName = keyof Events;

/** The native save dialog's options (tauri-plugin-dialog `save`). */
export type SaveDialogOptions = { defaultPath: string; filters: { name: string; extensions: string[] }[] };

/** A drag over the window, as the webview reports it. */
export type DragDrop = { type: 'enter'; paths: string[] } | { type: 'over' } | { type: 'drop'; paths: string[] } | { type: 'leave' };

export type Unlisten = () => void;

/**
 * What the app needs from its host: the shell's commands and events, the native save dialog,
 * and files dragged onto the window. `tauri.ts` implements it over `@tauri-apps/api`; the fake
 * backend (src/fake) in memory, for `vite dev` and the tests.
 */
export interface Backend {
  /** Runs a command; rejects with what the shell rejected with (an AppError as a rule). */
  invoke<K extends CommandName>(cmd: K, args: Args<K>): Promise<Answer<K>>;
  listen<E extends EventName>(event: E, cb: (payload: Events[E]) => void): Promise<Unlisten>;
  /** The chosen path, or null when the user cancelled. */
  saveDialog(options: SaveDialogOptions): Promise<string | null>;
  onDragDrop(cb: (e: DragDrop) => void): Promise<Unlisten>;
}
