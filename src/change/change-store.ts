// Where --on-change keeps the last result of each pool's check, shared by every process:
// read, decide, write, as one step. The file store does the step under a per-key lock that
// lives with the process (locks/key-lock.ts): the kernel frees it when its holder dies, so a
// crash never leaves it held, and two one-shots that see the same edge fire it once.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fnv64 } from '../hash.js';
import { socketKeyLocks } from '../locks/key-lock.js';
import type { KeyLocks } from '../locks/key-lock.js';
import { privateDir, readPrivate, replaceFile } from '../state-files.js';
import { sameState } from './change.js';
import type { ChangeState } from './change.js';

export interface ChangeStore {
  /** Decide on the recorded state of `key` and record the decision's next state, as one step across processes. */
  transact<T>(key: string, decide: (prev: ChangeState | undefined) => { next: ChangeState | undefined; result: T }): Promise<T>;
}

// A holder keeps the lock for a read and a write (well under a millisecond): a short retry is
// all a waiter needs, and the deadline only guards against a holder stopped by SIGSTOP.
const RETRY_MS = 2;
const LOCK_DEADLINE_MS = 10_000;

export class ChangeLockTimeout extends Error {}

export class FileChangeStore implements ChangeStore {
  private readonly root: string;
  private readonly locks: KeyLocks;

  /** `dir`: where the state is kept (it must survive a reboot); `stateDir`: where the live lock is. */
  constructor(dir: string, stateDir: string, private readonly prepare: () => void = () => undefined) {
    this.root = path.join(dir, 'changes');
    this.locks = socketKeyLocks(stateDir, 'changes');
  }

  async transact<T>(key: string, decide: (prev: ChangeState | undefined) => { next: ChangeState | undefined; result: T }): Promise<T> {
    this.prepare();
    const file = path.join(privateDir(this.root), `${fnv64(key)}${fnv64(key, 1)}.json`);
    const deadline = performance.now() + LOCK_DEADLINE_MS;
    let lock = await this.locks.tryLock(key);
    while (!lock) {
      if (performance.now() > deadline) throw new ChangeLockTimeout(`the change state of this check stayed locked for ${LOCK_DEADLINE_MS / 1000}s`);
      await sleep(RETRY_MS);
      lock = await this.locks.tryLock(key);
    }
    try {
      const text = readPrivate(file);
      const prev = text === undefined ? undefined : parseState(text);
      const { next, result } = decide(prev);
      if (next !== undefined && !sameState(next, prev)) await replaceFile(file, JSON.stringify({ key, ...next, at: new Date().toISOString() }) + '\n');
      return result;
    } finally {
      lock.release();
    }
  }
}

export function parseState(text: string): ChangeState | undefined {
  try {
    const v = JSON.parse(text) as Partial<ChangeState>;
    if (typeof v.firing !== 'boolean' || typeof v.output !== 'string' || !Array.isArray(v.items)) return undefined;
    return { firing: v.firing, output: v.output, items: v.items.filter((i): i is string => typeof i === 'string') };
  } catch {
    // A damaged record counts as no record: the next result fires, as a first run would.
    return undefined;
  }
}
