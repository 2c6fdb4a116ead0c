// `warden status --redis URL`: a fleet pool's holders on every host (host, pid, job, command,
// age, token) and its waiters, read from Redis at one instant of the server's clock.
import { formatDuration } from '../duration.js';
import { EXIT, UnavailableError } from '../exit.js';
import { msg } from '../messages.js';
import { connect, UnreachableError } from '../pool/redis/client.js';
import { readFleet } from '../pool/redis/redis-pool.js';
import type { FleetEntry, FleetView } from '../pool/redis/redis-pool.js';
import { Sink } from '../report/sink.js';
import type { Settings } from '../settings.js';
import type { Connection } from '../pool/redis/client.js';
import { dropFleetSpooled, fleetSpooled } from '../stores-redis/fleet-spool.js';
import type { FleetSpooled } from '../stores-redis/fleet-spool.js';

export async function fleetStatus(settings: Settings): Promise<number> {
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
  let view: FleetView;
  let spooled: FleetSpooled[];
  try {
    if (settings.drop !== undefined) return await dropInFleet(redis, settings, out);
    view = await readFleet(redis, settings.pool);
    spooled = await fleetSpooled(redis, settings.pool);
  } finally {
    await redis.close();
  }
  if (settings.json) {
    out.write(JSON.stringify({ redis: target.shown, pool: settings.pool, serverTime: new Date(view.serverTime).toISOString(), holders: view.holders, waiters: view.waiters, spooled }, null, 2) + '\n');
    return EXIT.ok;
  }
  const lines = [`pool ${settings.pool} on ${target.shown}: ${view.holders.length} live, ${view.waiters.length} waiting`];
  const table = (head: string[], rows: string[][]): void => {
    const all = [head, ...rows];
    const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
    for (const r of all) lines.push('  ' + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  };
  const age = (e: FleetEntry): string => {
    return e.ageMs === null ? '?' : formatDuration(e.ageMs);
  };
  if (view.holders.length) {
    table(
      ['slot', 'host', 'pid', 'job', 'age', 'token', 'command'],
      view.holders.map((h) => [String(h.slot ?? '?'), h.host, String(h.pid), h.jobId ?? '-', age(h), String(h.token ?? '?'), h.command ?? '(waiting to start)']),
    );
  }
  if (view.waiters.length) {
    lines.push('  waiting, first come first served:');
    table(['#', 'host', 'pid', 'waiting'], view.waiters.map((w, i) => [String(i + 1), w.host, String(w.pid), age(w)]));
  }
  if (spooled.length) {
    lines.push(`  spooled delayed jobs (drop one with: warden status --redis URL --pool ${settings.pool} --drop ID):`);
    table(
      ['id', 'job', 'due', 'in', 'state', 'command'],
      spooled.map((j) => [
        j.id,
        j.jobId,
        j.damaged ? '?' : j.dueAt.replace('T', ' ').slice(0, 19),
        j.damaged ? '?' : j.dueInMs >= 0 ? formatDuration(j.dueInMs) : `overdue ${formatDuration(-j.dueInMs)}`,
        j.damaged ? 'damaged' : j.held ? 'held' : j.startingOn ? `start cut short on host ${j.startingOn}; settled by its next warden` : 'waiting for the next watch or once',
        j.command + (j.item !== undefined ? ` [${j.item}]` : ''),
      ]),
    );
  }
  out.write(lines.join('\n') + '\n');
  return EXIT.ok;
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
