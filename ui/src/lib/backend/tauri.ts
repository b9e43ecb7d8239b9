// The backend inside the real app: the Rust shell through @tauri-apps/api, the native save
// dialog through tauri-plugin-dialog, file drops from the webview. The only module that imports
// Tauri.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { save } from '@tauri-apps/plugin-dialog';
import type { Backend } from './contract';

export const tauriBackend: Backend = {
  invoke: (cmd, args) => invoke(cmd, args),
  listen: (event, cb) => listen<never>(event, (e) => cb(e.payload)),
  saveDialog: (options) => save(options),
  async onDragDrop(cb) {
    const unlisten = await getCurrentWebview().onDragDropEvent((e) => {
      const p = e.payload;
      cb(p.type === 'enter' || p.type === 'drop' ? { type: p.type, paths: p.paths } : { type: p.type });
    });
    return () => void unlisten();
  },
};
