// The shared state behind --on-change, --unique and delayed jobs, opened for one pool. Each is
// an interface with a file- or kernel-backed implementation here; a Redis pool can bring its own.
import { FileChangeStore } from './change/change-store.js';
import type { ChangeStore } from './change/change-store.js';
import { socketKeyLocks } from './locks/key-lock.js';
import type { KeyLocks } from './locks/key-lock.js';
import { FileSpool } from './spool/spool.js';
import type { Spool } from './spool/spool.js';

export interface Stores {
  /** With --on-change: the last result of each check. */
  change?: ChangeStore;
  /** --unique keys (also taken by a resumed job that was accepted under one). */
  unique: KeyLocks;
  spool: Spool;
}

export function openStores(stateDir: string, pool: string, onChange: boolean): Stores {
  return {
    change: onChange ? new FileChangeStore(stateDir) : undefined,
    unique: socketKeyLocks(stateDir, `unique:${pool}`),
    spool: new FileSpool(stateDir, pool),
  };
}
