// A fleet of three "hosts" on one machine, each with its own state dir and its own network
// namespace (so no kernel object is shared; only Redis, over its unix socket): the cap holds
// while watch, once and run race and wardens are SIGKILLed, nothing leaks, and each tick's
// check runs on exactly one host.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxConcurrent, readLedger } from './helpers/ledger.js';
import { newTag, taggedArgv, taggedJob } from './helpers/shell.js';
import { netnsHosts } from './helpers/netns-host.js';
import type { Host, HostProc } from './helpers/netns-host.js';
import { useRedisFile, withRedisClient } from './helpers/redis.js';
import { parseEvents, pause, taggedPids, waitFor } from './helpers/warden.js';

const { redis, dir, tag } = useRedisFile('redis-fleet');
const { makeHost, onHost } = netnsHosts(dir, tag);

const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)];

describe('three hosts on one pool', () => {
  it('never has more than 2 jobs live while watch, once and run race on every host and wardens are SIGKILLed; no slot leaks', async () => {
    const hosts = ['a', 'b', 'c'].map(makeHost);
    const jobTag = newTag('fleet');
    const ledger = path.join(dir, 'race-ledger');
    const body = (): string => `sleep 0.${1 + Math.floor(Math.random() * 3)}`;
    const common = ['--redis', redis.url, '--pool', 'race', '--max-live', '2', '--kill-after', '1s'];
    const live = new Set<HostProc>();
    const track = (p: HostProc): HostProc => {
      live.add(p);
      void p.done.then(() => live.delete(p));
      return p;
    };
    const watches = new Map<Host, HostProc>();
    const startWatch = (h: Host): void => {
      watches.set(h, track(onHost(h, ['watch', ...common, '--every', '200ms', '--every-host', '--max-queue', '1', '--job', taggedJob(jobTag, ledger, body())])));
    };
    hosts.forEach(startWatch);
    let kills = 0;
    let oneShots = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (live.size < 9) {
        oneShots++;
        const h = pick(hosts);
        track(Math.random() < 0.5 ? onHost(h, ['run', ...common, '--', ...taggedArgv(jobTag, ledger, body())]) : onHost(h, ['once', ...common, '--job', taggedJob(jobTag, ledger, body())]));
      }
      if (Math.random() < 0.4) {
        const victim = pick([...live]);
        if (victim && victim.child.exitCode === null && victim.child.kill('SIGKILL')) {
          kills++;
          for (const [h, w] of watches) if (w === victim) startWatch(h);
        }
      }
      // Pacing the load, not measuring anything.
      await pause(100 + Math.random() * 150);
    }
    for (const p of live) p.child.kill('SIGKILL');
    await Promise.all([...live].map((p) => p.done));
    await waitFor('every job to end', () => taggedPids('FAULT_TAG', jobTag).length === 0, 15_000);

    const overlap = maxConcurrent(readLedger(ledger));
    expect(kills).toBeGreaterThanOrEqual(10);
    expect(oneShots).toBeGreaterThan(10);
    expect(overlap.starts, 'jobs ran').toBeGreaterThan(10);
    expect(overlap.max, 'jobs live at once, by their own start/end lines').toBeLessThanOrEqual(2);
    // Every lease and every place in the line is given back as its holder goes, long before
    // the 30 s lease could lapse.
    await withRedisClient(redis.url, (client) =>
      waitFor('the pool to be empty', async () => (await client.command(['HLEN', 'warden:{race}:leases'])) === 0 && (await client.command(['ZCARD', 'warden:{race}:queue'])) === 0, 10_000),
    );
    for (const h of hosts) h.ns.kill('SIGKILL');
  }, 90_000);
});

describe('one check per tick across the fleet', () => {
  const ticks = (p: HostProc): Record<string, unknown>[] => parseEvents(p.out).filter((e) => e.event === 'check' || (e.event === 'skip' && e.reason === 'other-host'));

  it('three watch processes run each tick\'s check once between them: 20 ticks, 20 checks', async () => {
    const hosts = ['e1', 'e2', 'e3'].map(makeHost);
    const args = ['watch', '--redis', redis.url, '--pool', 'elect', '--max-live', '10', '--every', '1s', '--check', 'true', '--job', 'true', '--log', 'json'];
    const procs = hosts.map((h) => onHost(h, args));
    // The ticks every process saw (ran or skipped for another host), by their scheduled time:
    // they started at different moments, so run until 20 (and the one after) are common to all.
    const common = (): string[] => {
      const seen = procs.map((p) => new Set(ticks(p).map((e) => e.tickAt as string)));
      return [...seen[0]].filter((t) => seen[1].has(t) && seen[2].has(t)).sort();
    };
    await waitFor('20 ticks seen by all three', () => common().length >= 21, 80_000);
    for (const p of procs) p.child.kill('SIGTERM');
    expect(await Promise.all(procs.map((p) => p.done))).toEqual([143, 143, 143]);
    const window = new Set(common().slice(0, 20));
    const checks = procs.flatMap((p) => parseEvents(p.out).filter((e) => e.event === 'check' && window.has(e.tickAt as string)));
    expect(checks).toHaveLength(20);
    expect(new Set(checks.map((e) => e.tickAt)).size).toBe(20);
    // And over everything they ran, no tick was checked twice.
    const all = procs.flatMap((p) => parseEvents(p.out).filter((e) => e.event === 'check').map((e) => e.tickAt));
    expect(new Set(all).size).toBe(all.length);
    for (const h of hosts) h.ns.kill('SIGKILL');
  }, 120_000);

  it('with --every-host every process runs every tick: 3 x 20 = 60 checks (less ticks missed as overrun)', async () => {
    const hosts = ['f1', 'f2', 'f3'].map(makeHost);
    const args = ['watch', '--redis', redis.url, '--pool', 'every', '--max-live', '10', '--every', '1500ms', '--max-runs', '20', '--every-host', '--check', 'true', '--job', 'true', '--log', 'json'];
    const procs = hosts.map((h) => onHost(h, args));
    expect(await Promise.all(procs.map((p) => p.done))).toEqual([0, 0, 0]);
    const checks = procs.map((p) => parseEvents(p.out).filter((e) => e.event === 'check').length);
    // A tick whose timer fired more than an interval late (a machine far overloaded) is skipped
    // as `overrun`, as on one host; every other tick is checked on every host.
    const overruns = procs.map((p) => parseEvents(p.out).filter((e) => e.event === 'skip' && e.reason === 'overrun').length);
    expect(checks.map((c, i) => c + overruns[i])).toEqual([20, 20, 20]);
    expect(checks.reduce((a, b) => a + b)).toBe(60 - overruns.reduce((a, b) => a + b));
    expect(procs.flatMap((p) => parseEvents(p.out).filter((e) => e.event === 'skip' && e.reason !== 'overrun'))).toHaveLength(0);
    for (const h of hosts) h.ns.kill('SIGKILL');
  }, 90_000);
});
