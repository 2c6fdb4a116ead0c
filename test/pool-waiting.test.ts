// Waiting for a slot of a socket pool: a waiter costs no CPU however many probes came before,
// a stopped waiter delays the line once, and a request that gave up waiting takes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectPools } from '../src/commands/status.js';
import { boundNamesOf } from './helpers/bound-names.js';
import { listPids, readStat, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

/** utime + stime of a process, in clock ticks (1/100 s), from /proc/PID/stat. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const ledgerJob = (ledger: string, name: string, holdS = 0.05): string =>
  `echo "start ${name} $(date +%s%N)" >> "${ledger}"; sleep ${holdS}; echo "end ${name} $(date +%s%N)" >> "${ledger}"`;

function stamps(ledger: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of readText(ledger).split('\n')) {
    const [kind, name, ns] = line.split(' ');
    if (ns) out.set(`${kind} ${name}`, BigInt(ns));
  }
  return out;
}

describe('a waiter of a socket pool', () => {
  it('costs no CPU while it waits behind a slot that had 500 status probes, and still wakes at once', async () => {
    const { dir, env } = testDir('probes');
    const stateDir = path.join(dir, 'state');
    const holder = startWarden(['run', '--pool', 'p', '--max-live', '1', '--', `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    for (let i = 0; i < 500; i++) {
      const [pool] = await inspectPools(stateDir, 'p');
      expect(pool.live).toBe(1);
    }
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', 'touch', `${dir}/waiter-ran`], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    // The measuring window: ten more real `status` runs while the waiter waits.
    const before = cpuTicks(waiter.pid);
    const started = performance.now();
    for (let i = 0; i < 10; i++) expect((await runWarden(['status', '--pool', 'p', '--json'], { env })).code).toBe(0);
    const ticks = cpuTicks(waiter.pid) - before;
    const windowMs = performance.now() - started;
    expect(ticks, `the waiter used ${ticks * 10} ms of CPU in ${windowMs.toFixed(0)} ms of waiting`).toBeLessThanOrEqual(3);
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    expect((await waiter.done).code).toBe(0);
    expect(fs.existsSync(`${dir}/waiter-ran`)).toBe(true);
  });

  it('costs no CPU behind a job that accepts and drops connections on its slot (a wake that is no free slot)', async () => {
    const { dir, env } = testDir('accepting-holder');
    const serve = `perl -e 'open(my $s, "+<&=", 19) or die; until (-e "${dir}/release") { accept(my $c, $s) and close $c }'`;
    const holder = startWarden(['run', '--pool', 'p', '--max-live', '1', '--', `touch "${dir}/held"; exec ${serve}`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', 'touch', `${dir}/waiter-ran`], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    // Whatever the waiter has running: itself, and the helper that waits with it.
    const family = (): number[] => [waiter.pid, ...listPids().filter((pid) => readStat(pid)?.ppid === waiter.pid)];
    const ticks = (): number => family().reduce((sum, pid) => sum + (readStat(pid) ? cpuTicks(pid) : 0), 0);
    // Settled first (a new process's start-up is not its waiting), then a window of ten status runs.
    for (let i = 0; i < 3; i++) await runWarden(['status', '--pool', 'p', '--json'], { env });
    const before = ticks();
    const started = performance.now();
    for (let i = 0; i < 10; i++) expect((await runWarden(['status', '--pool', 'p', '--json'], { env })).code).toBe(0);
    const used = ticks() - before;
    expect(used, `the waiter used ${used * 10} ms of CPU in ${(performance.now() - started).toFixed(0)} ms of waiting`).toBeLessThanOrEqual(5);
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    expect((await waiter.done).code).toBe(0);
    expect(fs.existsSync(`${dir}/waiter-ran`)).toBe(true);
  });

  it('that is stopped (Ctrl-Z) delays the line once, not at every hand-over', async () => {
    const { dir, env } = testDir('stopped');
    const ledger = path.join(dir, 'ledger');
    const args = ['run', '--pool', 'p', '--max-live', '1'];
    const holder = startWarden([...args, '--', `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done; echo "end h $(date +%s%N)" >> "${ledger}"`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    const waiting = (name: string, job: string): ReturnType<typeof startWarden> => startWarden([...args, '--log-file', `${dir}/${name}.jsonl`, '--', job], { env });
    const stopped = waiting('stopped', ledgerJob(ledger, 'stopped'));
    await waitFor('the first waiter to wait', () => readText(`${dir}/stopped.jsonl`).includes('"wait"'));
    process.kill(stopped.pid, 'SIGSTOP');
    const names = ['w1', 'w2', 'w3', 'w4'];
    const waiters = [];
    for (const name of names) {
      waiters.push(waiting(name, ledgerJob(ledger, name)));
      await waitFor(`${name} to wait`, () => readText(`${dir}/${name}.jsonl`).includes('"wait"'));
    }
    fs.writeFileSync(`${dir}/release`, '');
    await holder.done;
    for (const w of waiters) expect((await w.done).code).toBe(0);
    const s = stamps(ledger);
    const order = ['h', ...names];
    const gaps = order.slice(1).map((name, k) => Number((s.get(`start ${name}`) ?? 0n) - (s.get(`end ${order[k]}`) ?? 0n)) / 1e6);
    // In turn, each after the one before it ended.
    for (const g of gaps) expect(g, `hand-over gaps in ms: ${gaps.map((x) => x.toFixed(1)).join(', ')}`).toBeGreaterThan(0);
    // The first hand-over may wait up to 250 ms for the stopped waiter; the later ones must not.
    const later = gaps.slice(1).reduce((a, b) => a + b, 0);
    expect(later, `hand-over gaps in ms: ${gaps.map((x) => x.toFixed(1)).join(', ')}`).toBeLessThan(500);
    process.kill(stopped.pid, 'SIGCONT');
    expect((await stopped.done).code).toBe(0);
    expect(s.has('start stopped') || stamps(ledger).has('start stopped')).toBe(true);
  });

  it('that gave up (--wait-timeout) stops waiting: it keeps no place in the line and takes no slot', async () => {
    const { dir, env } = testDir('gaveup');
    const holder = startWarden(['run', '--pool', 'p', '--max-live', '1', '--', `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    const watch = startWarden(['watch', '--every', '1h', '--pool', 'p', '--max-live', '1', '--overflow', 'wait', '--wait-timeout', '300ms', '--log', 'json', '--job', `touch "${dir}/watch-ran"`], { env });
    await waitFor('the wait-timeout skip', () => watch.events().some((e) => e.event === 'skip' && e.reason === 'wait-timeout'));
    await waitFor('the watch to hold no name in the pool (no ticket, no slot)', () => boundNamesOf(watch.pid).length === 0, 5000);
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    expect((await runWarden(['run', '--pool', 'p', '--max-live', '1', '--overflow', 'skip', '--', 'true'], { env })).code).toBe(0);
    expect(fs.existsSync(`${dir}/watch-ran`)).toBe(false);
    process.kill(watch.pid, 'SIGTERM');
    await watch.done;
  });

  it('whose process asks again at once (the next job of a tick) queues behind a process that waited before that ask', async () => {
    const { dir, env } = testDir('no-jump');
    const order = path.join(dir, 'order');
    const pool = ['--pool', 'j', '--max-live', '1'];
    const holder = startWarden(['run', ...pool, '--', 'sh', '-c', `touch ${dir}/held; while [ ! -f ${dir}/go ]; do sleep 0.01; done`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));

    // A: one tick, three jobs, waiting for the slot one after the other.
    const aLog = path.join(dir, 'a.jsonl');
    const jobs = ['A1', 'A2', 'A3'].flatMap((j) => ['--job', `echo ${j} >> ${order}; sleep 0.3`]);
    const a = startWarden(['once', ...pool, '--overflow', 'wait', '--log-file', aLog, ...jobs], { env });
    await waitFor('A to wait', () => readText(aLog).includes('"event":"wait"'));

    // B: waits after A1 began to wait, but before A2 or A3 began to.
    const bLog = path.join(dir, 'b.jsonl');
    const b = startWarden(['run', ...pool, '--log-file', bLog, '--', 'sh', '-c', `echo B >> ${order}`], { env });
    await waitFor('B to wait', () => readText(bLog).includes('"event":"wait"'));

    fs.writeFileSync(`${dir}/go`, '');
    expect((await holder.done).code).toBe(0);
    const [ra, rb] = [await a.done, await b.done];
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    // A2 and A3 each began to wait after B: first come, first served puts B right after A1.
    const waits = readText(aLog).split('\n').filter((l) => l.includes('"event":"wait"')).length;
    expect(waits).toBeGreaterThanOrEqual(2);
    expect(readText(order).trim().split('\n')).toEqual(['A1', 'B', 'A2', 'A3']);
  });
});
