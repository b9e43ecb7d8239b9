// Application-wide state: status, navigation, sync progress and the last sync error; the
// accounts, the customers and the air-gapped exchange (files dropped on the window land here).
import type { AppError, AppStatus, OpenedFile, Progress, SyncFinished } from '$lib/bindings';
import * as ipc from '../backend/ipc';
import { toAppError } from '../backend/errors';
import { getContext, setContext } from 'svelte';
import { AccountsStore } from '../accounts/accounts.svelte';
import { AirgapStore } from '../airgap/airgap.svelte';
import { AttentionStore } from '../attention/attention.svelte';
import { CustomersStore } from '../customers/customers.svelte';

export type View = 'loading' | 'connect' | 'accounts' | 'customers' | 'health' | 'renewals' | 'airgap' | 'attention' | 'settings';

/** Which screen to open on start: the app is usable once connected, or in demo mode. */
export function initialView(s: AppStatus): View {
  return s.demo || s.cloud_url !== null ? 'accounts' : 'connect';
}

export class AppStore {
  status = $state.raw<AppStatus | null>(null);
  view = $state<View>('loading');
  progress = $state.raw<Progress | null>(null);
  /** a sync was asked for and its first status has not arrived */
  syncRequested = $state(false);
  syncError = $state.raw<AppError | null>(null);
  startupError = $state.raw<AppError | null>(null);
  /** ticks every 30 s so "2 min ago" stays true */
  now = $state(Date.now());

  /** files the OS opened with the app, shown one at a time once the sidebar and views are up */
  openedQueue = $state.raw<OpenedFile[]>([]);
  /** a sync key, a verification key or another file that is explained, not imported */
  explained = $state.raw<OpenedFile | null>(null);

  accounts = new AccountsStore();
  airgap = new AirgapStore();
  customers = new CustomersStore();
  attention = new AttentionStore();

  syncing = $derived(!!this.status?.syncing || this.syncRequested || this.progress !== null);
  offline = $derived(this.status?.online === false);
  /** the connect screen came from "Sign in again" or Settings, not from a first run */
  canLeaveConnect = $derived(!!this.status && (this.status.demo || this.status.cloud_url !== null));
  /** the sidebar and a view are shown (not the splash or the connect screen) */
  inShell = $derived(this.view !== 'loading' && this.view !== 'connect');

  private unlisten: (() => void)[] = [];
  private finishedCount = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  async init(): Promise<void> {
    let ticks = 0;
    this.timer = setInterval(() => {
      this.now = Date.now();
      // items fall due as time passes, not only at a sync: the badge follows every 5 min
      if (++ticks % 10 === 0 && this.inShell) void this.attention.refresh();
    }, 30_000);
    // The listeners are asked for together: each is a round trip to the shell.
    await Promise.all([this.listenToSync(), this.listenToDrops(), this.listenToOpenedFiles()]);
    try {
      const s = await ipc.appStatus();
      this.setStatus(s);
      this.view = initialView(s);
      if (this.view === 'accounts') void this.openShell();
    } catch (e) {
      this.startupError = toAppError(e);
      this.view = 'connect';
    }
    try {
      this.opened(await ipc.takeOpenedFiles());
    } catch (e) {
      console.warn('[usagedesk] cannot take the opened files:', toAppError(e).message);
    }
  }

  private async listenToSync(): Promise<void> {
    const listening = await Promise.allSettled([
      ipc.onStatusChanged((s) => this.setStatus(s)),
      ipc.onSyncProgress((p) => this.onProgress(p)),
      ipc.onSyncFinished((f) => this.onFinished(f)),
    ]);
    for (const l of listening) {
      if (l.status === 'fulfilled') this.unlisten.push(l.value);
      else this.startupError = toAppError(l.reason);
    }
  }

  /** Files dropped anywhere on the window go to the import dialog. */
  private async listenToDrops(): Promise<void> {
    try {
      this.unlisten.push(
        await ipc.onFileDrop(
          (paths) => this.inShell && this.airgap.dropped(paths),
          (hover) => this.airgap.hover(this.inShell ? hover : 'leave'),
        ),
      );
    } catch (e) {
      // the app works without drops; the Air-gapped view still lists the instances
      console.warn('[usagedesk] cannot listen to file drops:', toAppError(e).message);
    }
  }

  /** Files opened with the app: a usage data file opens the import dialog, like a drop. */
  private async listenToOpenedFiles(): Promise<void> {
    try {
      this.unlisten.push(await ipc.onFileOpened((f) => this.opened([f])));
    } catch (e) {
      console.warn('[usagedesk] cannot listen to opened files:', toAppError(e).message);
    }
  }

  /** Files the OS opened with the app: queued, shown one at a time. */
  opened(files: OpenedFile[]): void {
    if (files.length === 0) return;
    this.openedQueue = [...this.openedQueue, ...files];
    this.showNextOpened();
  }

  /** Shows the next opened file, once the shell is up and no dialog for a file is open. */
  showNextOpened(): void {
    if (!this.inShell || this.explained || this.airgap.drop) return;
    const [next, ...rest] = this.openedQueue;
    if (!next) return;
    this.openedQueue = rest;
    if (next.kind === 'usage_data') this.airgap.dropped([next.path]);
    else this.explained = next;
  }

  /** The import dialog (of a drop or an opened file) closed. */
  closeImport(): void {
    this.airgap.closeDrop();
    this.showNextOpened();
  }

  closeExplained(): void {
    this.explained = null;
    this.showNextOpened();
  }

  dispose(): void {
    for (const u of this.unlisten) u();
    this.unlisten = [];
    if (this.timer) clearInterval(this.timer);
    this.customers.dispose();
  }

  setStatus(s: AppStatus): void {
    const wasSyncing = this.status?.syncing ?? false;
    this.status = s;
    if (s.syncing) this.syncRequested = false;
    this.syncError = s.last_error;
    // The status is authoritative: no sync running means no progress to show (a finished
    // event may have fired before this window started listening).
    if ((wasSyncing || !this.syncRequested) && !s.syncing) this.progress = null;
  }

  private onProgress(p: Progress): void {
    this.progress = p.phase === 'done' ? null : p;
  }

  private onFinished(f: SyncFinished): void {
    this.finishedCount++;
    this.progress = null;
    this.syncRequested = false;
    this.syncError = f.ok ? null : f.error;
    void this.afterSync();
  }

  private async afterSync(): Promise<void> {
    try {
      this.setStatus(await ipc.appStatus());
    } catch {
      /* the status event will tell */
    }
    if (this.inShell) await Promise.all([this.accounts.refresh(), this.airgap.refreshIfOpened(), this.customers.refresh(), this.attention.refresh()]);
  }

  /** After an import from a dropped file: its usage shows at once (pending upload). */
  async afterImport(): Promise<void> {
    await Promise.all([this.accounts.refresh(), this.airgap.refreshIfOpened(), this.customers.refresh(), this.attention.refresh()]);
  }

  navigate(view: View): void {
    if (view === 'accounts' && this.view !== 'accounts' && !this.accounts.ready) void this.accounts.refresh();
    if (view === 'airgap' && this.view !== 'airgap') void this.airgap.refresh();
    if (view === 'attention' && this.view !== 'attention') void this.attention.load();
    if (view === 'customers') {
      // the sidebar entry leads to the list (a second click, back from a customer page)
      if (this.view === 'customers' && this.customers.open !== null) this.customers.closeCustomer();
      else if (this.view !== 'customers') void this.customers.load();
    }
    this.view = view;
  }

  /** Opens an account's customer page (from the Accounts view, say). */
  async openCustomer(accountId: string): Promise<void> {
    this.view = 'customers';
    await this.customers.openCustomer(accountId);
  }

  /** Opens an account in the Accounts view (from the Air-gapped view, say). */
  async openAccount(id: string): Promise<void> {
    const load = !this.accounts.ready;
    this.view = 'accounts';
    if (load) await this.accounts.refresh();
    await this.accounts.openAccount(id);
  }

  /** After connect / start_demo: the shell starts a sync by itself. */
  private entered(s: AppStatus): void {
    this.setStatus(s);
    this.startupError = null;
    this.view = 'accounts';
    void this.openShell();
    this.showNextOpened();
  }

  /**
   * The shell's first reads: the tree first, then the sidebar's badges. The cache has one
   * reading connection, so the shell answers reads in turn, and a badge asked for at once
   * would hold the tree back (the overdue and attention counts take 15-35 ms at 100,000
   * accounts). The air-gapped list itself is read once its view has been opened (its first
   * page took 100 ms).
   */
  private async openShell(): Promise<void> {
    await this.accounts.refresh();
    await Promise.all([this.airgap.refreshIfOpened(), this.attention.refreshCounts()]);
  }

  /** Rejects with the AppError so the form can place it. */
  async connect(url: string, token: string, force = false): Promise<void> {
    this.entered(await ipc.connect(url, token, force));
  }

  async startDemo(): Promise<void> {
    this.entered(await ipc.startDemo());
  }

  async sync(): Promise<void> {
    if (this.syncing) return;
    this.syncRequested = true;
    this.syncError = null;
    const before = this.finishedCount;
    try {
      await ipc.syncNow();
      this.syncRequested = false;
      if (this.finishedCount === before) await this.afterSync();
    } catch (e) {
      this.syncRequested = false;
      this.progress = null;
      this.syncError = toAppError(e);
    }
  }

  async cancelSync(): Promise<void> {
    try {
      await ipc.cancelSync();
    } catch (e) {
      this.syncError = toAppError(e);
    }
  }

  async signOut(): Promise<void> {
    this.setStatus(await ipc.signOut());
    this.view = 'connect';
  }

  /** `force`: the user was told that kept imported files stay queued (else `pending_uploads`). */
  async clearCache(force = false): Promise<void> {
    this.setStatus(await ipc.clearCache(force));
    this.accounts.tree.select(null);
    await Promise.all([this.accounts.refresh(), this.airgap.refreshIfOpened(), this.customers.refresh(), this.attention.refresh()]);
  }

  signInAgain(): void {
    this.view = 'connect';
  }
}

const KEY = Symbol('usagedesk.app');

/** Called once by App.svelte: the store lives as long as the app's root component. */
export function provideApp(store: AppStore = new AppStore()): AppStore {
  return setContext(KEY, store);
}

/** The app store, for any component below App.svelte. */
export function useApp(): AppStore {
  const store = getContext<AppStore | undefined>(KEY);
  if (!store) throw new Error('useApp() outside App');
  return store;
}
