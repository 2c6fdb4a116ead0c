// --unique keys and spool claims across hosts: a lock is held by a fleet lease of its own (in the
// pool's lock pool, with no cap), kept by the host's keeper like a job's slot. Its socket goes
// into the job's process tree as a local lock's does, so the lock lives exactly as long as the
// job: the keeper releases the lease the moment the tree is gone, and if the host dies or loses
// Redis the lease lapses after --lease by the server's clock, freeing the lock for other hosts.
import { createHash } from 'node:crypto';
import { texts } from '../pool/redis/client.js';
import type { Connection } from '../pool/redis/client.js';
import type { RedisPool } from '../pool/redis/redis-pool.js';
import type { Slot } from '../pool/pool.js';
import type { KeyLock, KeyLocks } from '../locks/key-lock.js';
import { HELD, LOCK, UNLOCK } from './scripts.js';
import type { TriggerKeys } from './scripts.js';

/** A lock held here, with the id of the lease that holds it. */
export interface LeaseLock extends KeyLock {
  readonly lease: string;
}

/** The leases behind every lock of one pool, taken from the lock pool (opened on first use). */
export class LeaseLocks {
  constructor(
    private readonly redis: Connection,
    private readonly keys: TriggerKeys,
    private readonly leases: () => Promise<RedisPool>,
  ) {}

  /** Lock `field` (scope and key): held by a new lease, or undefined while a live one holds it. */
  async lock(field: string): Promise<LeaseLock | undefined> {
    const pool = await this.leases();
    const slot = await pool.tryAcquire();
    if (!slot) throw new Error('the lock pool granted no lease');
    const lease = leaseIdOf(slot);
    let taken: boolean;
    try {
      taken = Number(await this.redis.script(LOCK, [this.keys.owners, this.keys.expiry], [field, lease])) === 1;
    } catch (err) {
      slot.release();
      throw err;
    }
    if (!taken) {
      slot.release();
      return undefined;
    }
    let done = false;
    return {
      lease,
      fd: slot.fd,
      // The job's tree holds the lease's socket now: the keeper frees the lock when it is gone.
      handOff: () => {
        if (done) return;
        done = true;
        slot.handOff();
        slot.forget();
      },
      release: () => {
        if (done) return;
        done = true;
        this.redis.script(UNLOCK, [this.keys.owners], [field, lease]).catch(() => undefined);
        slot.release();
      },
    };
  }

  async held(fields: string[]): Promise<boolean[]> {
    if (!fields.length) return [];
    const reply = texts(await this.redis.script(HELD, [this.keys.owners, this.keys.expiry], fields));
    return reply.map((r) => r === '1');
  }
}

/** The lease id in a fleet slot's hand-over handle. */
function leaseIdOf(slot: Slot): string {
  const id = slot.handle ? (JSON.parse(slot.handle) as { id?: unknown }).id : undefined;
  if (typeof id !== 'string') throw new Error('a fleet slot without a lease id');
  return id;
}

/**
 * One family of locks (a scope: the --unique keys, or the spool's claims) as KeyLocks. `hashed`:
 * the server keeps a digest of each key, not the key (a job command may hold what no one else
 * should read).
 */
export function leaseKeyLocks(locks: LeaseLocks, scope: string, hashed: boolean): KeyLocks & { lock(key: string): Promise<LeaseLock | undefined> } {
  const field = (key: string): string => `${scope}\n${hashed ? createHash('sha256').update(key).digest('base64url') : key}`;
  return {
    lock: (key) => locks.lock(field(key)),
    tryLock: (key) => locks.lock(field(key)),
    isLocked: async (key) => (await locks.held([field(key)]))[0],
    heldAmong: async (keys) => {
      const held = await locks.held(keys.map(field));
      return new Set(keys.filter((_, k) => held[k]));
    },
  };
}
