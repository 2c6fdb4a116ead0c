// SPEC 5/6: a full disk, a closed stdout, an unusable or vanishing state dir: clear errors, no crash, the cap holds.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { maxConcurrent, readLedger } from '../helpers/ledger.js';
import { readLogFile } from '../helpers/supervised.js';
import { statusLive } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';
import { expectUsageError } from '../helpers/errors.js';

const fixture = useFixture();

const crashed = (stderr: string): boolean => /^\s+at .+:\d+:\d+\)?$/m.test(stderr) || /^Node\.js v\d+/m.test(stderr);

describe('a full disk or a closed stdout', () => {
  it('keeps capping and reaping jobs, and says so once on stderr, when --log-file is on a full filesystem (/dev/full)', async () => {
    const f = fixture('devfull');
    // Every trigger is queued (never dropped), so each tick that was not overrun starts its three jobs.
    const r = await f.start(['watch', '--every', '50ms', '--max-runs', '6', '--pool', 'full', '--max-live', '2', '--max-queue', 'unlimited', '--log', 'json',
      '--log-file', '/dev/full', '--job', f.job('sleep 0.1'), '--job', f.job('sleep 0.1'), '--job', f.job('sleep 0.1')], { settleMs: 0 }).done;
    const ledger = maxConcurrent(readLedger(f.ledger));
    expect(crashed(r.stderr), r.stderr.slice(-800)).toBe(false);
    expect(r.code, r.stderr.slice(-400)).toBe(0);
    expect(ledger.max, 'jobs live at once').toBeLessThanOrEqual(2);
    const spawns = r.events().filter((e) => e.event === 'spawn').length;
    const overruns = r.events().filter((e) => e.event === 'skip').length;
    expect(overruns, 'some tick fired').toBeLessThan(6);
    expect(ledger.starts, 'three jobs for every tick that fired').toBe(3 * (6 - overruns));
    expect(ledger.starts, 'one ledger start per spawn event').toBe(spawns);
    expect(ledger.ends, 'every job ran to its end').toBe(ledger.starts);
    expect(r.events().filter((e) => e.event === 'exit'), 'exits still reach stdout').toHaveLength(spawns);
    const complaints = r.stderr.split('\n').filter((l) => /dev\/full|no space|ENOSPC/i.test(l));
    expect(complaints.length, `an error on stderr: ${r.stderr.slice(-400)}`).toBeGreaterThanOrEqual(1);
    expect(complaints.length, 'said once, not once per event').toBeLessThanOrEqual(3);
    expect(r.report.escaped).toEqual([]);
    expect(await statusLive(f.stateDir, 'full')).toBe(0);
  }, 30_000);

  it('keeps capping, reaping and logging jobs to --log-file after its stdout reader goes away (| head -1)', async () => {
    const f = fixture('epipe');
    const w = f.start(['watch', '--every', '50ms', '--max-runs', '6', '--pool', 'pipe', '--max-live', '2', '--max-queue', 'unlimited', '--log', 'json',
      '--log-file', f.logFile, '--job', f.job('sleep 0.1'), '--job', f.job('sleep 0.1'), '--job', f.job('sleep 0.1')], { settleMs: 0 });
    await waitFor(() => w.stdout().includes('\n'), 10_000, 'the first line on stdout');
    w.child.stdout!.destroy();
    const r = await w.done;
    const ledger = maxConcurrent(readLedger(f.ledger));
    expect(crashed(r.stderr), r.stderr.slice(-800)).toBe(false);
    expect(r.code, r.stderr.slice(-400)).toBe(0);
    expect(ledger.max).toBeLessThanOrEqual(2);
    const log = readLogFile(f.logFile);
    const overruns = log.events.filter((e) => e.event === 'skip').length;
    expect(overruns, 'some tick fired').toBeLessThan(6);
    expect(ledger.starts, 'three jobs for every tick that fired').toBe(3 * (6 - overruns));
    expect(ledger.ends, 'every job ran to its end').toBe(ledger.starts);
    expect(log.events.filter((e) => e.event === 'exit'), 'every exit still reaches the log file').toHaveLength(ledger.starts);
    expect(log.torn).toEqual([]);
    expect(r.stderr, 'an error on stderr about stdout').toMatch(/stdout|EPIPE|pipe/i);
    expect(r.report.escaped).toEqual([]);
  }, 60_000);
});

describe('the log file is line-atomic', () => {
  it('writes every event as one whole JSON line when several processes append big events to one --log-file at once', async () => {
    const f = fixture('shared-log');
    // Each job ends with ~3 KB lines of output, so exit events (with their tails) are several KB long.
    const noisy = f.job(`i=0; while [ $i -lt 40 ]; do printf '%03000d\\n' $i; i=$((i+1)); done`);
    const watches = Array.from({ length: 4 }, () =>
      f.start(['watch', '--every', '30ms', '--max-runs', '15', '--pool', 'log', '--max-live', '8', '--overflow', 'skip',
        '--log-file', f.logFile, '--job', noisy, '--job', noisy], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const results = await Promise.all(watches.map((w) => w.done));
    const log = readLogFile(f.logFile);
    const exits = log.events.filter((e) => e.event === 'exit');
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(log.torn.map((l) => l.slice(0, 120)), 'lines that are not whole JSON objects').toEqual([]);
    expect(exits.length, 'every job has its exit').toBe(log.events.filter((e) => e.event === 'spawn').length);
    expect(Math.max(...exits.map((e) => JSON.stringify(e).length)), 'events bigger than a pipe buffer were written').toBeGreaterThan(4096);
    expect(log.events.filter((e) => e.event === 'stop')).toHaveLength(4);
  }, 60_000);
});

describe('an unusable or vanishing state dir', () => {
  it('refuses a state dir under a regular file with a one-line error naming --state-dir, exit 2, nothing started', async () => {
    const f = fixture('badstate');
    const bad = '/etc/passwd/warden-state';
    for (const args of [
      ['run', '--state-dir', bad, '--', ...f.argv('true')],
      ['watch', '--every', '100ms', '--state-dir', bad, '--job', f.job('true')],
      ['once', '--state-dir', bad, '--job', f.job('true')],
    ]) {
      const r = await f.start(args).done;
      expectUsageError(r, '--state-dir', args[0]);
    }
    const viaEnv = await f.start(['run', '--', ...f.argv('true')], { env: { WARDEN_STATE_DIR: bad } }).done;
    expect(viaEnv.code, viaEnv.stderr).toBe(2);
    expect(readLedger(f.ledger), 'nothing started').toEqual([]);
  }, 30_000);

  it('refuses an immutable (chattr +i) state dir with exit 2, even as root', async (ctx) => {
    const f = fixture('immutable');
    const dir = path.join(f.work, 'locked');
    fs.mkdirSync(dir);
    if (spawnSync('chattr', ['+i', dir]).status !== 0) {
      ctx.skip('chattr +i is not supported on this filesystem');
      return;
    }
    try {
      const r = await f.start(['run', '--state-dir', dir, '--', ...f.argv('true')]).done;
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('--state-dir');
      expect(readLedger(f.ledger), 'nothing started').toEqual([]);
    } finally {
      spawnSync('chattr', ['-i', dir]);
    }
  }, 30_000);

  it('keeps running and keeps the cap across processes when the state dir is removed while jobs run', async () => {
    const f = fixture('rmstate');
    const args = ['watch', '--every', '50ms', '--pool', 'gone', '--max-live', '2', '--overflow', 'skip', '--kill-after', '2s',
      '--log-file', f.logFile, '--job', f.job('sleep 0.15'), '--job', f.job('sleep 0.15')];
    const sampler = f.sampler(3).start();
    const a = f.start(args, { settleMs: 0 });
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'start').length >= 2, 10_000, 'the first jobs');
    fs.rmSync(f.stateDir, { recursive: true, force: true });
    const removedAt = Date.now();
    const b = f.start(args, { settleMs: 0 });
    const [pa, pb] = await Promise.all([a.pid(), b.pid()]);
    // Both go on starting jobs after the removal: judged by their spawn events, not by a window.
    const spawnsAfter = (pid: number): number =>
      readLogFile(f.logFile).events.filter((e) => e.event === 'spawn' && e.pid === pid && Date.parse(e.ts) > removedAt).length;
    await waitFor(() => spawnsAfter(pa) >= 2 && spawnsAfter(pb) >= 2, 20_000, 'jobs of both processes after the removal');
    await Promise.all([a.signal('SIGTERM'), b.signal('SIGTERM')]);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    const report = sampler.stop();
    const ledger = maxConcurrent(readLedger(f.ledger));
    for (const r of [ra, rb]) {
      expect(crashed(r.stderr), r.stderr.slice(-800)).toBe(false);
      expect(r.code, r.stderr.slice(-400)).toBe(143);
      expect(r.report.escaped).toEqual([]);
    }
    expect(report.maxGroups, JSON.stringify(report.atMax)).toBeLessThanOrEqual(2);
    expect(ledger.max).toBeLessThanOrEqual(2);
    // Jobs stopped by the SIGTERM write no end line (dash skips the EXIT trap on a signal):
    // each such job has its exit record, and nothing of it escaped (above).
    const killed = readLogFile(f.logFile).events.filter((e) => e.event === 'exit' && e.outcome === 'killed').length;
    expect(ledger.unfinished.length).toBeLessThanOrEqual(killed);
  }, 60_000);
});
