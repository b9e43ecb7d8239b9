// What the fake shell knows: the state behind every command (status, cached accounts and
// months, air-gap instances and ledger, customers, opened files) and the knobs that make a
// command fail or wait. The dev server (src/dev) and the tests (src/test) each build one.
import type {
  Account,
  AccountRow,
  AppError,
  AppStatus,
  ImportPreview,
  InstanceView,
  LedgerEntry,
  OpenedFile,
  Plan,
  YearMonth,
} from '$lib/bindings';
import type { FakeCustomers } from './customers';

/** The accounts of the fake cache, however they are made (generated, or a fixture). */
export interface AccountSource {
  /** Ids of the root accounts, in the source's order. */
  roots(): string[];
  /** Ids of an account's children; null for an unknown account. */
  children(id: string): string[] | null;
  account(id: string): Account | null;
  /** An account's row in a month (its own usage, its subtree's totals); null when unknown. */
  row(id: string, month: YearMonth): AccountRow | null;
  count(): number;
  all(): Iterable<Account>;
}

/** Long operations that run step by step: on a timer in dev, released by the tests. */
export type LongRun = 'sync' | 'export';

export type FakeWorld = {
  status: AppStatus;
  plans: Plan[];
  /** Completed months the cache has data for ([] before the first sync). */
  months: YearMonth[];
  /** The months a sync brings. */
  syncedMonths: YearMonth[];
  /** Months of `months` without any synced data (an export has no rows for them). */
  monthsWithoutData: YearMonth[];
  accounts: AccountSource;
  /** Whether a sync reaches the cloud (else it fails `offline`). */
  cloudReachable: boolean;
  /** The cloud account's name once signed in. */
  cloudAccountName: string;
  /** Steps of a sync (progress events) when paced. */
  syncSteps: number;
  /** Milliseconds per step of a sync or an export; null: each waits for `release` (tests). */
  pace: Partial<Record<LongRun, number>> | null;

  instances: InstanceView[];
  /** The exchange ledger, any order. */
  ledger: LedgerEntry[];
  /** Bumped when the air-gap data changes (the shell's page generation). */
  generation: number;
  /** Months per account imported here and not uploaded yet. */
  pendingMonths: Record<string, YearMonth[]>;
  /** What `airgap_preview` answers for these paths (an AppError is a refusal). */
  files: Record<string, ImportPreview | AppError>;
  /** What any other path answers: throws an AppError for a refused file. */
  fileAt: (path: string) => ImportPreview;
  /** Paths imported, with their ledger entry (a second preview says "already imported"). */
  imported: Map<string, number>;
  /** Files imported before this session, recognised by their path: their ledger entry. */
  importedBefore?: (path: string) => number | undefined;
  /** Who signs ledger entries. */
  signer: string;
  /** Days until the signing certificate ends (a sync key is shortened to it); null: none yet. */
  certificateDays: number | null;
  /** A SHA-256 in hex for a seed (a file's digest). */
  sha256: (seed: string) => string;

  customers: FakeCustomers;
  /** Files the OS opened with the app before the window listened (`take_opened_files`). */
  opened: OpenedFile[];

  /** The commands reject with these when set. */
  previewError: AppError | null;
  exportError: AppError | null;
  importError: AppError | null;
  issueError: AppError | null;
  saveDocumentError: AppError | null;
  customersError: AppError | null;
  /** `airgap_import` imports, then rejects with this (the verification key was not written). */
  verificationWriteError: AppError | null;
  /** `airgap_import` waits for `release('import')`. */
  holdImport: boolean;
  /** The customer commands wait for `release('customers')`. */
  holdCustomers: boolean;
  /** Reminders were switched off in Settings (on when unset). */
  remindersOff?: boolean;
};
