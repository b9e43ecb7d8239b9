// The fake backend: the Backend interface (lib/backend/contract.ts) in memory, for `vite dev`
// outside Tauri and for the tests. Commands go to one handler each (shell.ts); what crosses
// the boundary is copied through JSON both ways, as over the real IPC, so neither side can
// change the other's objects. Every call is logged (the save dialog as the plugin command it is
// in the app, `plugin:dialog|save`), so tests can check what the UI asked for.
import type { Answer, Args, Backend, CommandName, DragDrop, EventName, Events, SaveDialogOptions, Unlisten } from '$lib/backend/contract';

/** One function per command of the contract: a command without one does not compile. */
export type Handlers = { [K in CommandName]: (args: Args<K>) => Answer<K> | Promise<Answer<K>> };

export type Call = { cmd: string; args: Record<string, unknown> };

export type FakeBackendOptions = {
  /** What the save dialog answers: a path, or null (cancelled). */
  saveDialog: (options: SaveDialogOptions) => string | null | Promise<string | null>;
  /** Milliseconds each command waits before it runs (the dev server's latency); none by default. */
  latency?: () => number;
};

/** A value as it arrives on the other side of the IPC: JSON, `undefined` as null. */
const wire = <T>(v: T): T => (v === undefined ? (null as T) : JSON.parse(JSON.stringify(v)));

export class FakeBackend implements Backend {
  readonly calls: Call[] = [];
  private listeners = new Map<string, Set<(payload: never) => void>>();
  private drags = new Set<(e: DragDrop) => void>();

  constructor(
    private handlers: Handlers,
    private options: FakeBackendOptions,
  ) {}

  async invoke<K extends CommandName>(cmd: K, args: Args<K>): Promise<Answer<K>> {
    const sent = wire(args ?? {}) as Args<K>;
    this.calls.push({ cmd, args: sent as Record<string, unknown> });
    const handler = this.handlers[cmd] as ((a: Args<K>) => Answer<K> | Promise<Answer<K>>) | undefined;
    if (!handler) throw `command ${cmd} not found`;
    const ms = this.options.latency?.() ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    try {
      return wire(await handler(sent));
    } catch (e) {
      throw wire(e);
    }
  }

  async listen<E extends EventName>(event: E, cb: (payload: Events[E]) => void): Promise<Unlisten> {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    const f = cb as (payload: never) => void;
    set.add(f);
    return () => void set.delete(f);
  }

  async saveDialog(options: SaveDialogOptions): Promise<string | null> {
    this.calls.push({ cmd: 'plugin:dialog|save', args: { options: wire(options) } });
    return this.options.saveDialog(options);
  }

  async onDragDrop(cb: (e: DragDrop) => void): Promise<Unlisten> {
    this.drags.add(cb);
    return () => void this.drags.delete(cb);
  }

  /** Emits an event of the shell to its listeners. */
  async emit<E extends EventName>(event: E, payload: Events[E]): Promise<void> {
    for (const cb of [...(this.listeners.get(event) ?? [])]) (cb as (p: Events[E]) => void)(wire(payload));
  }

  /** A drag over the window, as the webview reports it. */
  async drag(e: DragDrop): Promise<void> {
    for (const cb of [...this.drags]) cb(wire(e));
  }

  /** Files dragged onto the window and dropped there. */
  async drop(paths: string[]): Promise<void> {
    await this.drag({ type: 'enter', paths });
    await this.drag({ type: 'drop', paths });
  }
}
