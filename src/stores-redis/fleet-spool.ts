// What `warden status --redis` shows of a fleet pool's spool, and `--drop` there: read and
// changed without taking any lease (status holds nothing).
import type { Connection } from '../pool/redis/client.js';
import { LeaseLocks } from './redis-locks.js';
import { RedisSpool } from './redis-spool.js';
import { triggerKeys } from './scripts.js';
import { spooledViews } from '../spool/spooled-view.js';
import type { SpooledJobView } from '../spool/spooled-view.js';

/** `held`: by a warden (or its job) on any host; else the next watch or once of any host takes it up. */
export interface FleetSpooled extends SpooledJobView {
  /** Its start was under way on a host (the id of that host's durable folder). */
  startingOn?: string;
}

function spoolOf(redis: Connection, pool: string): RedisSpool {
  const keys = triggerKeys(pool);
  const locks = new LeaseLocks(redis, keys, () => Promise.reject(new Error('status takes no lock')));
  // Status marks nothing as started, so this host's folder is never used.
  return new RedisSpool(redis, keys, locks, pool, '/nonexistent');
}

/** Due times are read back in this host's clock (from the server's). */
export function fleetSpooled(redis: Connection, pool: string): Promise<FleetSpooled[]> {
  return spooledViews(spoolOf(redis, pool), (e): { startingOn?: string } => (e.starting ? { startingOn: e.starting.host } : {}), {});
}

export function dropFleetSpooled(redis: Connection, pool: string, id: string): ReturnType<RedisSpool['drop']> {
  return spoolOf(redis, pool).drop(id);
}
