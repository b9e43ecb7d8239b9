// USAGEDESK_FAKE_BACKEND — the fake backend (src/fake) over the demo world (demo-world.ts),
// put behind the app by `vite dev` outside Tauri (see main.ts), so the UI can be looked at in a
// browser. Never part of a production build.
//
// Query parameters: ?scenario=first-run|demo|connected|empty|offline|unauthorized|syncing|signed-out
//                   &theme=dark|light &view=settings &open=<account id> &search=<text> &hover=1
//                   &connect=<url>|<token> &latency=<ms> &kids=<children of the big reseller, default 8000>
//                   &export=self|children|tree (opens the export dialog with that scope)
//                   &from=<YYYY-MM> (its first month) &save=<path> (answers the save dialog and exports)
//                   &view=airgap (the Air-gapped view) &synckey=<instance id> (opens its sync key dialog)
//                   &days=<n> (its validity; with &save= it saves)
//                   &drop=<path>[,<path>…] (drops these files on the window) &import=1 (and imports)
//                   &drag=1 (shows the drop overlay, as while dragging) &nocert=1 (no signing certificate)
//                   &view=customers (the Customers view) &customer=<account id> (opens its customer
//                   page; acc-000002 production, acc-000003 trial, acc-000004 expired with an
//                   overdue air-gapped instance) &instance=<instance id> (opens its details)
//
// The save dialog is a window.prompt here (unless &save= is given; a &save= ending in / is a
// folder, the suggested name is added): a path, or Cancel. A path containing "readonly" fails
// with `io`; nothing is written, an export only reports progress.
//
// Dropped files: drag any file from the desktop onto the page (it is "dropped" as
// /home/anna/Downloads/<name>), use &drop=, or call window.usagedeskFake.drop([...paths]) in the
// console. The file name picks the answer: "expired", "altered", "foreign", "unreadable" and
// "nocert" are refused as the shell would; "again" was imported before; "remaining" leaves
// records on the instance; a name starting with an instance id is for that instance (else for
// the overdue one). Importing with a verification key path containing "readonly" imports, then
// fails to write the key (as the shell can).
import { useBackend } from '$lib/backend/backend';
import { createFakeBackend } from '../fake';
import { demoWorld } from './demo-world';

const params = new URLSearchParams(location.search);
const scenario = params.get('scenario') ?? 'demo';
const latency = Number(params.get('latency') ?? 60);

const world = demoWorld({ scenario, kids: Number(params.get('kids') ?? 8000), noCert: params.has('nocert') });
const { backend } = createFakeBackend(world, {
  latency: () => latency * (0.5 + Math.random()),
  saveDialog: (options) => {
    const suggested = options.defaultPath || 'usage.csv';
    const save = params.get('save');
    if (save) return save.endsWith('/') ? `${save}${suggested}` : save;
    const what = options.filters[0]?.name ?? 'file';
    return window.prompt(`Save the ${what} as (the dev backend writes nothing)`, `/home/anna/Documents/${suggested}`);
  },
});

/** Drops files on the window, as the webview reports a native drop. */
const dropFiles = (paths: string[]) => backend.drop(paths);

/** A file dragged from the desktop onto the page stands in for a native drop. */
function wireHtmlDrops() {
  const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  let depth = 0;
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    if (depth++ === 0) void backend.drag({ type: 'enter', paths: [] });
  });
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    void backend.drag({ type: 'over' });
  });
  window.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    if (--depth <= 0) {
      depth = 0;
      void backend.drag({ type: 'leave' });
    }
  });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    const paths = [...(e.dataTransfer?.files ?? [])].map((f) => `/home/anna/Downloads/${f.name}`);
    void backend.drag({ type: 'drop', paths });
  });
}

// ---------------------------------------------------------------------------------------------
async function devScript() {
  const wait = (sel: string, ms = 4000) =>
    new Promise<HTMLElement | null>((resolve) => {
      const t0 = Date.now();
      const tick = () => {
        const el = document.querySelector<HTMLElement>(sel);
        if (el || Date.now() - t0 > ms) resolve(el);
        else setTimeout(tick, 50);
      };
      tick();
    });
  const type = async (text: string) => {
    const input = (await wait('[data-testid="search-input"]')) as HTMLInputElement | null;
    if (!input) return null;
    input.focus();
    input.value = text;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    return input;
  };
  const connect = params.get('connect');
  if (connect) {
    const [u, t] = connect.split('|');
    const url = (await wait('[data-testid="connect-url"]')) as HTMLInputElement | null;
    const token = document.querySelector<HTMLInputElement>('[data-testid="connect-token"]');
    if (url && token) {
      url.value = u ?? '';
      url.dispatchEvent(new Event('input', { bubbles: true }));
      token.value = t ?? '';
      token.dispatchEvent(new Event('input', { bubbles: true }));
      document.querySelector<HTMLButtonElement>('[data-testid="connect-submit"]')?.click();
    }
  }
  if (params.get('view') === 'settings') (await wait('[data-testid="nav-settings"]'))?.click();
  if (params.get('view') === 'airgap') (await wait('[data-testid="nav-airgap"]'))?.click();
  const customer = params.get('customer');
  if (params.get('view') === 'customers' || customer) (await wait('[data-testid="nav-customers"]', 6000))?.click();
  if (customer) (await wait(`[data-testid="customer-row"][data-account-id="${customer}"]`, 6000))?.click();
  const instance = params.get('instance');
  if (instance) (await wait(`[data-testid="instance-card"][data-instance-id="${instance}"]`, 6000))?.click();
  const syncKeyFor = params.get('synckey');
  if (syncKeyFor) {
    (await wait(`[data-testid="instance-row"][data-instance-id="${syncKeyFor}"] [data-testid="issue-sync-key"]`, 6000))?.click();
    const days = params.get('days');
    const input = (await wait('[data-testid="sync-key-days"]')) as HTMLInputElement | null;
    if (days && input) {
      input.value = days;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }
    if (params.get('save')) (await wait('[data-testid="sync-key-save"]'))?.click();
  }
  const drop = params.get('drop');
  if (drop) {
    await wait('[data-testid="nav-accounts"]', 6000);
    await new Promise((r) => setTimeout(r, 600));
    await dropFiles(drop.split(','));
    if (params.get('import')) {
      (await wait('[data-testid="import-confirm"]:not(:disabled)', 6000))?.click();
    }
  }
  if (params.get('drag')) {
    await wait('[data-testid="nav-accounts"]', 6000);
    await backend.drag({ type: 'enter', paths: ['/home/anna/Downloads/cedar-hq-01-20251123.usagedata'] });
  }
  const open = params.get('open');
  if (open) {
    await wait('[data-testid="tree-row"]');
    const input = await type(open);
    await wait('[data-testid="search-result"]');
    await new Promise((r) => setTimeout(r, 200));
    input?.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  }
  const search = params.get('search');
  if (search) {
    await wait('[data-testid="tree-row"]');
    await type(search);
  }
  if (params.get('hover')) {
    await new Promise((r) => setTimeout(r, 1500));
    const svg = await wait('[data-testid="trend-chart"] svg', 6000);
    if (svg) {
      const r = svg.getBoundingClientRect();
      svg.dispatchEvent(new PointerEvent('pointermove', { clientX: r.left + r.width * 0.62, clientY: r.top + 60, bubbles: true }));
    }
  }
  if (scenario === 'syncing') (await wait('[data-testid="sync-button"]'))?.click();
  const exportScope = params.get('export');
  if (exportScope) {
    await wait('[data-testid="account-name"]', 6000);
    (await wait('[data-testid="export-open"]'))?.click();
    (await wait(`[data-testid="export-scope-${exportScope}"]`))?.click();
    const from = params.get('from');
    const select = document.querySelector<HTMLSelectElement>('[data-testid="export-from"]');
    if (from && select) {
      select.value = from;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    }
    if (params.get('save')) {
      await wait('[data-testid="export-preview"][data-state="ready"]');
      document.querySelector<HTMLButtonElement>('[data-testid="export-save"]')?.click();
    }
  }
}


export function installFakeBackend(): void {
  const theme = params.get('theme');
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
  useBackend(backend);
  wireHtmlDrops();
  (window as unknown as { usagedeskFake: unknown }).usagedeskFake = { drop: dropFiles };
  console.info(`[dev] fake backend (scenario ${scenario}, ${world.accounts.count()} accounts)`);
  void devScript();
}
