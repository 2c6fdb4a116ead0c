// Holder records and pool metadata: small JSON files in the state dir that `status` reads.
// They describe; the kernel decides. A stale record for a free slot is simply ignored.
import fs from 'node:fs';
import path from 'node:path';
import { finite } from './pool.js';
import { UnsafePathError, openPrivate, privacyProblem, readPrivate, writeAtomic } from './safe-fs.js';
import { ensurePrivateFolder } from './state-dir.js';
import type { HolderInfo, PoolBackend } from './pool.js';

export interface PoolMeta {
  name: string;
  backend: PoolBackend;
  maxLive: number;
  updatedAt: string;
}

export const poolsDir = (stateDir: string): string => path.join(stateDir, 'pools');
export const poolDir = (stateDir: string, pool: string): string => path.join(poolsDir(stateDir), pool);
const holderFile = (dir: string, slot: number): string => path.join(dir, `slot-${slot}.json`);
const metaFile = (dir: string): string => path.join(dir, 'pool.json');

/**
 * Create the pool's folder and record this process's cap; throws if the state dir is unusable,
 * or UnsafePathError if anything in the pool's folder is not a regular file of ours.
 */
export function preparePoolDir(stateDir: string, meta: Omit<PoolMeta, 'updatedAt'>): string {
  const dir = poolDir(stateDir, meta.name);
  ensurePrivateFolder(poolsDir(stateDir));
  ensurePrivateFolder(dir);
  checkEntries(dir);
  // Rewritten only when it changes: a rename costs a millisecond here, on every one-shot.
  const known = readMeta(dir);
  if (!known || known.backend !== meta.backend || known.maxLive !== meta.maxLive) {
    writeAtomic(metaFile(dir), JSON.stringify({ ...meta, maxLive: finite(meta.maxLive), updatedAt: new Date().toISOString() }) + '\n');
  }
  return dir;
}

// Records are rewritten in place at a fixed size: no truncate, no rename. On ext4 a truncating
// rewrite costs about a millisecond, this about ten microseconds, and it happens once per job.
const RECORD_BYTES = 1024;

export function writeHolder(dir: string, info: HolderInfo): void {
  let json = JSON.stringify({ ...info, maxLive: finite(info.maxLive) });
  if (Buffer.byteLength(json) >= RECORD_BYTES) {
    json = JSON.stringify({ ...info, maxLive: finite(info.maxLive), command: info.command.slice(0, 400) + '…' });
  }
  writeRecord(holderFile(dir, info.slot), json);
}

/** Forget a holder record, but only if it is still ours (another process may hold the slot now). */
export function clearHolder(dir: string, slot: number, pid: number): void {
  const current = readHolder(dir, slot);
  if (current && current.pid !== pid && current.owner !== pid) return;
  writeRecord(holderFile(dir, slot), '');
}

function writeRecord(file: string, json: string): void {
  try {
    const fd = openPrivate(file);
    try {
      const buf = Buffer.alloc(RECORD_BYTES, ' ');
      buf.write(json);
      buf[RECORD_BYTES - 1] = 10;
      fs.writeSync(fd, buf, 0, RECORD_BYTES, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Information only: a state dir removed under us, or a planted entry, must not fail a job.
  }
}

export function readHolder(dir: string, slot: number): HolderInfo | undefined {
  const parsed = readJson(holderFile(dir, slot));
  if (!parsed || typeof parsed !== 'object') return undefined;
  const info = parsed as HolderInfo;
  return typeof info.pid === 'number' ? { ...info, maxLive: fromJsonCap(info.maxLive) } : undefined;
}

export function readMeta(dir: string): PoolMeta | undefined {
  const parsed = readJson(metaFile(dir));
  if (!parsed || typeof parsed !== 'object') return undefined;
  const meta = parsed as PoolMeta;
  return typeof meta.name === 'string' ? { ...meta, maxLive: fromJsonCap(meta.maxLive) } : undefined;
}

/** Slot indexes that have a holder record, so `status` can look past the recorded cap. */
export function recordedSlots(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = /^slot-(\d+)\.json$/.exec(n);
    return m ? [Number(m[1])] : [];
  });
}

export function listPools(stateDir: string): string[] {
  try {
    return fs
      .readdirSync(poolsDir(stateDir), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

// JSON has no Infinity: unlimited caps are stored as null.
const fromJsonCap = (n: number | null): number => (n === null ? Infinity : n);

function readJson(file: string): unknown {
  const text = readPrivate(file);
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Every entry of a pool's folder is a regular file of ours: nothing planted is followed or read. */
function checkEntries(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      continue;
    }
    const problem = privacyProblem(stat, false);
    if (problem) throw new UnsafePathError(file, problem);
  }
}
