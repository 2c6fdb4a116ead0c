// `warden status --redis URL`: the fleet pools' holders on every host (host, pid, job, command,
// age, token), their waiters and their spooled delayed jobs, read from Redis at one instant of
// the server's clock; every fleet pool of the database, or the one named with --pool.
import { formatDuration } from '../duration.js';
import { EXIT, UnavailableError } from '../exit.js';
import { formatCap, msg } from '../messages.js';
import { connect, UnreachableError } from '../pool/redis/client.js';
import type { Connection } from '../pool/redis/client.js';
import { listFleetPools, readFleet } from '../pool/redis/fleet-view.js';
import type { FleetEntry, FleetView } from '../pool/redis/fleet-view.js';
import { Sink } from '../report/sink.js';
import type { Settings } from '../settings.js';
import { dropFleetSpooled, fleetSpooled } from '../stores-redis/fleet-spool.js';
import type { FleetSpooled } from '../stores-redis/fleet-spool.js';
import { SPOOLED_COLUMNS, spooledRow } from '../spool/spooled-view.js';

interface FleetPool extends FleetView {
  pool: string;
  /** The largest cap its holders and waiters were given (they may differ); null if none says. */
  maxLive: number | null;
  spooled: FleetSpooled[];
}

/** `only`: the pool named with --pool (or WARDEN_POOL); every fleet pool otherwise. */
export async function fleetStatus(settings: Settings, only?: string): Promise<number> {
  const target = settings.redis;
  if (!target) return EXIT.usage;
  let redis;
  try {
    redis = await connect(target, { failFast: true, name: 'warden-status' });
  } catch (err) {
    if (err instanceof UnreachableError) throw new UnavailableError(msg.redisUnavailable(target.shown, err.message));
    throw err;
  }
  const out = new Sink(1, 'stdout', () => undefined);
  const pools: FleetPool[] = [];
  try {
    if (settings.drop !== undefined) return await dropInFleet(redis, settings, out);
    for (const name of only !== undefined ? [only] : await listFleetPools(redis)) {
      const view = await readFleet(redis, name);
      const caps = [...view.holders, ...view.waiters].flatMap((e) => (e.maxLive === null ? [] : [e.maxLive]));
      const spooled = await fleetSpooled(redis, name);
      pools.push({ pool: name, maxLive: caps.length ? Math.max(...caps) : null, ...view, spooled });
    }
  } catch (err) {
    if (err instanceof UnreachableError) throw new UnavailableError(msg.redisUnavailable(target.shown, err.message));
    throw err;
  } finally {
    await redis.close();
  }
  const iso = (p: FleetPool): string => new Date(p.serverTime).toISOString();
  if (settings.json) {
    const shown =
      only !== undefined
        ? { redis: target.shown, pool: only, serverTime: iso(pools[0]), holders: pools[0].holders, waiters: pools[0].waiters, spooled: pools[0].spooled }
        : { redis: target.shown, pools: pools.map((p) => ({ pool: p.pool, serverTime: iso(p), maxLive: p.maxLive, holders: p.holders, waiters: p.waiters, spooled: p.spooled })) };
    out.write(JSON.stringify(shown, null, 2) + '\n');
    return EXIT.ok;
  }
  if (!pools.length) {
    out.write(msg.noFleetPools(target.shown) + '\n');
    return EXIT.ok;
  }
  out.write(pools.map((p) => renderPool(p, target.shown)).join('\n') + '\n');
  return EXIT.ok;
}

function renderPool(p: FleetPool, shown: string): string {
  const live = p.holders.length;
  const cap = p.maxLive === null ? `${live} live` : `${live} live of ${formatCap(p.maxLive)}, ${Math.max(0, p.maxLive - live)} free`;
  const lines = [`pool ${p.pool} (redis, ${shown}): ${cap}, ${p.waiters.length} waiting`];
  const table = (head: string[], rows: string[][]): void => {
    const all = [head, ...rows];
    const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
    for (const r of all) lines.push('  ' + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  };
  const age = (e: FleetEntry): string => (e.ageMs === null ? '?' : formatDuration(e.ageMs));
  if (p.holders.length) {
    table(
      ['slot', 'host', 'pid', 'job', 'age', 'token', 'command'],
      p.holders.map((h) => [String(h.slot ?? '?'), h.host, String(h.pid), h.jobId ?? '-', age(h), String(h.token ?? '?'), h.command ?? '(waiting to start)']),
    );
  }
  if (p.waiters.length) {
    lines.push('  waiting, first come first served:');
    table(['#', 'host', 'pid', 'waiting'], p.waiters.map((w, i) => [String(i + 1), w.host, String(w.pid), age(w)]));
  }
  if (p.spooled.length) {
    lines.push(`  spooled delayed jobs (drop one with: warden status --redis URL --pool ${p.pool} --drop ID):`);
    table(
      SPOOLED_COLUMNS,
      p.spooled.map((j) => (j.startingOn ? spooledRow(j, `start cut short on host ${j.startingOn}; settled by its next warden`) : spooledRow(j))),
    );
  }
  return lines.join('\n');
}

/** `--drop ID` with --redis: only a job that has not started can be dropped. */
async function dropInFleet(redis: Connection, settings: Settings, out: Sink): Promise<number> {
  const id = settings.drop ?? '';
  const { outcome, entry } = await dropFleetSpooled(redis, settings.pool, id);
  if (outcome !== 'dropped') {
    const why = outcome === 'started' ? msg.spooledStarted(id) : msg.noSpooledJob(id, `pool ${settings.pool} on ${settings.redis?.shown ?? ''}`);
    new Sink(2, 'stderr', () => undefined).write(msg.usageError(why) + '\n');
    return EXIT.failed;
  }
  // A damaged entry has only its id.
  const dropped = entry ? { id: entry.id, jobId: entry.jobId, command: entry.command, dueAt: new Date(entry.dueAt).toISOString() } : { id, jobId: '?', command: msg.spooledDamaged() };
  out.write(settings.json ? JSON.stringify({ dropped }, null, 2) + '\n' : msg.droppedSpooled(dropped.id, dropped.jobId, dropped.command, false) + '\n');
  return EXIT.ok;
}
