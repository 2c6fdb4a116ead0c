// With --redis, the state behind --on-change, --unique and delayed jobs lives in Redis beside
// the fleet pool, so every host shares it and any host can resume a delayed job whose host died.
import type { Emit } from '../events.js';
import { KeeperLink } from '../pool/redis/keeper-link.js';
import { RedisPool } from '../pool/redis/redis-pool.js';
import type { Settings } from '../settings.js';
import type { Stores } from '../stores.js';
import { RedisChangeStore } from './redis-change.js';
import { LeaseLocks, leaseKeyLocks } from './redis-locks.js';
import { RedisSpool } from './redis-spool.js';
import { lockPoolName, triggerKeys } from './scripts.js';

export type StoreSettings = Pick<Settings, 'stateDir' | 'leaseMs' | 'killAfterMs' | 'logFile' | 'redis'>;

/** `dir`: this host's durable folder (the spool's start markers live there). */
export function openRedisStores(pool: RedisPool, settings: StoreSettings, onChange: boolean, dir: string, emit: Emit, prepare: () => void): Stores {
  const target = settings.redis;
  if (!target) throw new Error('Redis stores without --redis');
  const redis = pool.connection;
  const keys = triggerKeys(pool.name);
  // The lock pool and its line to the keeper, opened by the first lock taken: its own line, so
  // that lost leases of locks are told apart from the job pool's.
  let leases: Promise<RedisPool> | undefined;
  const open = (): Promise<RedisPool> =>
    (leases ??= KeeperLink.open(settings.stateDir, target).then(
      (link) =>
        new RedisPool(
          {
            name: lockPoolName(pool.name),
            maxLive: Infinity,
            stateDir: settings.stateDir,
            target,
            leaseMs: settings.leaseMs,
            onLeaseLost: 'warn',
            killAfterMs: settings.killAfterMs,
            logFile: settings.logFile,
            failFast: false,
            emit,
          },
          redis,
          link,
        ),
      (err: unknown) => {
        leases = undefined;
        throw err;
      },
    ));
  const locks = new LeaseLocks(redis, keys, open);
  return {
    change: onChange ? new RedisChangeStore(redis, keys) : undefined,
    unique: leaseKeyLocks(locks, 'unique', true),
    spool: new RedisSpool(redis, keys, locks, pool.name, dir, prepare),
    where: `${target.shown} (pool ${pool.name})`,
  };
}
