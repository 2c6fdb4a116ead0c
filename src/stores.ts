// The shared state behind --on-change, --unique and delayed jobs, opened for one pool. Each is
// an interface with a file- or kernel-backed implementation here; a Redis pool brings its own
// (stores-redis/), so that every host of the fleet shares them.
import { FileChangeStore } from './change/change-store.js';
import type { ChangeStore } from './change/change-store.js';
import { durableDirFor, makeDurableDir } from './durable-dir.js';
import type { Emit } from './events.js';
import type { Pool } from './pool/pool.js';
import { RedisPool } from './pool/redis/redis-pool.js';
import { openRedisStores } from './stores-redis/redis-stores.js';
import type { StoreSettings } from './stores-redis/redis-stores.js';
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
  /** Why what must survive a reboot may not (no usable home), when it may not. */
  volatile?: string;
  /** Where the spool and the change state are, for people to read. */
  where: string;
}

/**
 * Live things (key locks) stay in the state dir; the spool and the change state go where a
 * reboot keeps them (durable-dir.ts). A fleet pool keeps all three in Redis.
 */
export function openStores(settings: StoreSettings, pool: Pool, onChange: boolean, emit: Emit): Stores {
  const { stateDir } = settings;
  const durable = durableDirFor(stateDir);
  const prepare = (): void => makeDurableDir(durable);
  if (pool instanceof RedisPool) return openRedisStores(pool, settings, onChange, durable.dir, emit, prepare);
  return {
    change: onChange ? new FileChangeStore(durable.dir, stateDir, prepare) : undefined,
    unique: socketKeyLocks(stateDir, `unique:${pool.name}`),
    spool: new FileSpool(durable.dir, pool.name, stateDir, prepare),
    volatile: durable.volatile,
    where: durable.dir,
  };
}
