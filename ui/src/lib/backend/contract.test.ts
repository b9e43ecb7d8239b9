/// <reference types="node" />
// The contract list (contract.ts) against the Rust shell's own source: the same commands, each
// with the same arguments in the same order, and every wrapper of ipc.ts sending exactly those.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS, type Backend, type CommandName, type UnlistedArgs } from './contract';
import { useBackend } from './backend';
import * as ipc from './ipc';

const SHELL = join(dirname(fileURLToPath(import.meta.url)), '../../../../src-tauri/src');
const shell = (file: string) => readFileSync(join(SHELL, file), 'utf8');

/** `generate_handler![commands::a, commands::b, …]` → [a, b, …] */
function registered(lib: string): string[] {
  const list = /generate_handler!\[([^\]]*)\]/.exec(lib);
  if (!list) throw new Error('no generate_handler! in src-tauri/src/lib.rs');
  return list[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replace(/^commands::/, ''));
}

/** A parameter list split at its top-level commas (not those inside `<…>`). */
function topLevel(params: string): string[] {
  const out = [''];
  let depth = 0;
  for (const c of params) {
    if (c === '<') depth++;
    if (c === '>') depth--;
    if (c === ',' && depth === 0) out.push('');
    else out[out.length - 1] += c;
  }
  return out;
}

/** Each `#[tauri::command]` (or `(async)`) fn's arguments, as Tauri names them (camelCase), without the injected ones. */
function signatures(commands: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const re = /#\[tauri::command(?:\(async\))?\]\s*pub (?:async )?fn (\w+)(?:<[^>]*>)?\(([^)]*)\)/g;
  for (const m of commands.matchAll(re)) {
    const args = topLevel(m[2])
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => p.split(':').map((x) => x.trim()) as [string, string])
      .filter(([, ty]) => !/^(AppHandle|Desktop|State|Window|WebviewWindow)\b/.test(ty))
      .map(([name]) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
    out.set(m[1], args);
  }
  return out;
}

describe('the IPC contract', () => {
  it('lists the commands the shell registers, no more, no fewer', () => {
    expect(Object.keys(COMMANDS).sort()).toEqual(registered(shell('lib.rs')).sort());
  });

  it('names every argument as the shell does, in its order', () => {
    const sigs = signatures(shell('commands.rs'));
    // every registered command was found with its signature
    expect([...sigs.keys()].sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [cmd, args] of Object.entries(COMMANDS)) expect({ cmd, args: [...args] }).toEqual({ cmd, args: sigs.get(cmd) });
  });

  it('lists every argument of the command types', () => {
    // a type-level check: an argument in `Commands` but not in `COMMANDS` fails svelte-check here
    const complete: [UnlistedArgs] extends [never] ? true : false = true;
    expect(complete).toBe(true);
  });
});

describe('ipc.ts', () => {
  afterEach(() => useBackend(null));

  it('has a wrapper for every command, sending exactly its listed arguments', async () => {
    const sent: [string, string[]][] = [];
    const recorder: Backend = {
      invoke: async (cmd, args) => {
        sent.push([cmd, Object.keys(args)]);
        return null as never;
      },
      listen: async () => () => {},
      saveDialog: async () => null,
      onDragDrop: async () => () => {},
    };
    useBackend(recorder);
    const request = { report: 'usage', account_id: 'a', scope: 'self', from: '2024-01', to: '2024-01' } as const;
    const filter = { text: null, license_type: null, expiring_within_days: null, not_ready: false, reporting_overdue: false };
    await Promise.all([
      ipc.appStatus(),
      ipc.connect('https://u.example.com', 'token'),
      ipc.startDemo(),
      ipc.syncNow(),
      ipc.cancelSync(),
      ipc.signOut(),
      ipc.clearCache(),
      ipc.plans(),
      ipc.completedMonths(),
      ipc.children(null, '2024-01', { by: 'name' }, 0, 10),
      ipc.accountDetail('a', '2024-01'),
      ipc.search('a', 10),
      ipc.trend('a', '2024-01', 12),
      ipc.exportPreview(request),
      ipc.exportCsv(request, '/x.csv'),
      ipc.cancelExport(),
      ipc.airgapInstances({ kind: 'all', overdue_only: false, text: null, sort: 'status', descending: false, offset: 0, limit: 10 }),
      ipc.airgapOverdueCount(),
      ipc.airgapLedger({ instance: null, kept_only: false, offset: 0, limit: 10 }),
      ipc.airgapRetry(1),
      ipc.airgapDiscard(1),
      ipc.airgapIssueSyncKey('i', 30, '/k'),
      ipc.airgapPreview('/f'),
      ipc.airgapImport('/f', '/v'),
      ipc.airgapSaveDocument(1, '/d'),
      ipc.customers(filter, 'name', 0, 10),
      ipc.customerCounts(),
      ipc.customer('a'),
      ipc.customerInstances('a', 0, 10),
      ipc.installAttempts('a', 0, 10),
      ipc.instanceDetail('i'),
      ipc.instanceEvents('i', 0, 10),
      ipc.entitlementCard('a', '2024-05'),
      ipc.licenseList(null, '2024-05', 'over', 0, 10),
      ipc.healthList('utilization', false, 0, 10),
      ipc.customerHealth('a'),
      ipc.renewalCalendar(12, 0, 10),
      ipc.exportRenewals(12, '/r.csv'),
      ipc.attention(null, 0, 10),
      ipc.attentionCounts(),
      ipc.remindersEnabled(),
      ipc.setReminders(false),
      ipc.takeOpenedFiles(),
      ipc.localZone(),
    ]);
    const names = sent.map(([cmd]) => cmd as CommandName);
    expect([...names].sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [cmd, keys] of sent) expect({ cmd, keys }).toEqual({ cmd, keys: [...COMMANDS[cmd as CommandName]] });
  });
});
