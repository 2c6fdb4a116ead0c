// One pool, one backend. Socket slots and flock slots are different kernel objects, so a socket
// process and a flock process naming the same pool would each admit N. Each, once it holds a
// slot, looks whether the other kind holds any, and gives its slot back if so: taking before
// looking means that of two processes racing, at least one sees the other (never both admitted).
import fs from 'node:fs';
import path from 'node:path';
import { fileKey, procLockedFiles } from './proc-locks.js';
import { recordedSlots } from './holders.js';
import { poolIdentity } from './identity.js';
import { PoolNames, boundAbstractNames } from './names.js';

/** The file every flock scan of the pool whose folder is `dir` opens: slot 0's. */
export const flockMark = (dir: string): string => path.join(dir, 'slot-0.lock');

/** Whether a flock process has ever used the pool whose folder is `dir`. */
export function flockUsed(dir: string): boolean {
  return fs.existsSync(flockMark(dir));
}

/** Whether some flock process holds a slot of the pool whose folder is `dir`. */
export function flockSlotsHeld(dir: string): boolean {
  if (!flockUsed(dir)) return false;
  const locked = procLockedFiles();
  if (!locked) return false;
  return fs.readdirSync(dir).some((name) => {
    if (!/^slot-\d+\.lock$/.test(name)) return false;
    try {
      return locked.has(fileKey(fs.lstatSync(path.join(dir, name), { bigint: true })));
    } catch {
      return false;
    }
  });
}

/** Slot names hashed at most per look (a few ms): caps beyond it are looked at only this far. */
const MAX_NAMES = 4096;

/** Whether some socket process holds a slot of the pool (up to its largest known cap, at least 256). */
export function socketSlotsHeld(stateDir: string, pool: string, dir: string, maxLive: number): boolean {
  // No identity (and none a live warden holds): nobody can have named a slot of it.
  const secret = poolIdentity(stateDir, false);
  const bound = secret === undefined ? undefined : boundAbstractNames();
  if (secret === undefined || !bound) return false;
  const names = new PoolNames(secret, stateDir, pool);
  const top = Math.min(MAX_NAMES, Math.max(Number.isFinite(maxLive) ? maxLive : 0, 256, ...recordedSlots(dir).map((i) => i + 1)));
  for (let i = 0; i < top; i++) if (bound.has(names.slot(i))) return true;
  return false;
}
