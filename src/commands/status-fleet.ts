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
  let view: FleetView;
  try {
    view = await readFleet(redis, settings.pool);
  } finally {
    await redis.close();
  }
  const out = new Sink(1, 'stdout', () => undefined);
  if (settings.json) {
    out.write(JSON.stringify({ redis: target.shown, pool: settings.pool, serverTime: new Date(view.serverTime).toISOString(), holders: view.holders, waiters: view.waiters }, null, 2) + '\n');
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
  out.write(lines.join('\n') + '\n');
  return EXIT.ok;
}
