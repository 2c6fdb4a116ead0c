// One check per tick across the fleet: the first process to claim a tick's name (its scheduled
// wall-clock time) in Redis runs the check; the others skip it (`other-host`). The claim is
// a plain SET NX with an expiry long enough that no late host can claim the tick again.
import os from 'node:os';
import { fnv64 } from '../../hash.js';
import type { Connection } from './client.js';
import { UnreachableError } from './client.js';
import { tickKey } from './scripts.js';
import type { Pool } from '../pool.js';
import type { Settings } from '../../settings.js';
import { RedisPool } from './redis-pool.js';

// A claim outlives its tick by this much at least: hosts whose clocks are minutes apart still
// find it taken.
const HOLD_MIN_MS = 10 * 60_000;

export interface Election {
  /** Whether this process runs the check of the tick scheduled at `at` (wall-clock ms). */
  claim(at: number): Promise<boolean>;
}

/** Processes elect together when they share the pool, the schedule and the check. */
export function electionScope(schedule: string, check: string | undefined): string {
  return fnv64(JSON.stringify([schedule, check ?? null]));
}

export function tickElection(redis: Connection, pool: string, scope: string, intervalMs: number): Election {
  const holdMs = Math.max(HOLD_MIN_MS, 3 * intervalMs);
  const me = `${os.hostname()}:${process.pid}`;
  return {
    async claim(at) {
      try {
        const reply = await redis.command(['SET', tickKey(pool, scope, new Date(at).toISOString()), me, 'NX', 'PX', String(holdMs)]);
        return reply === 'OK';
      } catch (err) {
        // Redis away: better a check on every host than on none; jobs still need a lease.
        if (err instanceof UnreachableError) return true;
        throw err;
      }
    },
  };
}

/**
 * The claim for a command's ticks, when it has one: --redis, a schedule, and not --every-host.
 * (The fleet pool carries the connection.)
 */
export function settingsElection(settings: Settings, pool: Pool): ((at: number) => Promise<boolean>) | undefined {
  const { schedule } = settings;
  if (!settings.redis || settings.everyHost || !schedule || !(pool instanceof RedisPool)) return undefined;
  const described = schedule.kind === 'every' ? `every ${schedule.ms}` : `cron ${schedule.expr}`;
  const election = tickElection(pool.connection, pool.name, electionScope(described, settings.check), schedule.kind === 'every' ? schedule.ms : 0);
  return (at) => election.claim(at);
}
