// SPEC 5: a check or job that cannot be started is a failed job, logged; the supervisor goes on; no slot leaks.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { probePool } from '../helpers/pool-probe.js';
import { allExitRecordProblems } from '../helpers/records.js';
import { readLogFile, type LogEvent } from '../helpers/supervised.js';
import { statusLive } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';
import { expectUsageError } from '../helpers/errors.js';

const fixture = useFixture();

const of = (file: string, name: string): LogEvent[] => readLogFile(file).events.filter((e) => e.event === name);
/** A crash shows as a Node stack trace or the Node version banner on stderr. */
const crashed = (stderr: string): boolean => /^\s+at .+\(.*:\d+:\d+\)$/m.test(stderr) || /^Node\.js v\d+/m.test(stderr);

describe('spawn failures are failed jobs, never crashes or leaks', () => {
  it('logs a missing command and a non-executable file as failed jobs on every tick, keeps supervising and frees the slots', async () => {
    const f = fixture('enoent');
    const noexec = path.join(f.work, 'noexec.sh');
    fs.writeFileSync(noexec, '#!/bin/sh\necho never\n', { mode: 0o644 });
    const r = await f.start(['watch', '--every', '300ms', '--max-runs', '3', '--pool', 'sf', '--max-live', '2', '--log-file', f.logFile,
      '--job', 'warden-fault-no-such-command-xyz', '--job', noexec]).done;
    const exits = of(f.logFile, 'exit');
    // On a loaded machine a tick can be missed (logged as an overrun skip); every other tick starts both jobs.
    const ticks = 3 - of(f.logFile, 'skip').filter((e) => e.reason === 'overrun').length;
    expect(crashed(r.stderr), r.stderr).toBe(false);
    expect([0, 1], `watch exit status (stderr: ${r.stderr.slice(-300)})`).toContain(r.code);
    expect(ticks, 'the supervisor went on ticking after failed jobs').toBeGreaterThanOrEqual(2);
    expect(exits, 'one exit record per job per tick').toHaveLength(2 * ticks);
    expect(exits.map((e) => e.outcome)).toEqual(Array(2 * ticks).fill('failed'));
    expect(allExitRecordProblems(exits)).toEqual([]);
    expect(exits.map((e) => e.exitCode).sort()).toEqual([...Array(ticks).fill(126), ...Array(ticks).fill(127)]);
    expect(r.report.escaped).toEqual([]);
    expect(await probePool(f.stateDir, 'sf', 2)).toMatchObject({ holders: [0, 0], extra: 75 });
  }, 30_000);

  it('treats a check that cannot be started as a check error and goes on ticking', async () => {
    const f = fixture('badcheck');
    const r = await f.start(['watch', '--every', '500ms', '--max-runs', '3', '--log-file', f.logFile,
      '--check', 'warden-fault-no-such-check-xyz', '--job', f.job('true')]).done;
    expect(crashed(r.stderr), r.stderr).toBe(false);
    const checks = of(f.logFile, 'check');
    const overruns = of(f.logFile, 'skip').filter((e) => e.reason === 'overrun');
    expect(checks.length + overruns.length, `every tick is a check or a logged overrun: ${JSON.stringify(readLogFile(f.logFile).events)}`).toBe(3);
    expect(checks.length, 'the supervisor goes on after a check error').toBeGreaterThanOrEqual(2);
    expect(checks.map((e) => e.outcome)).toEqual(Array(checks.length).fill('error'));
    expect(checks.map((e) => e.exitCode)).toEqual(Array(checks.length).fill(127));
    expect(of(f.logFile, 'spawn')).toEqual([]);
    expect(r.report.escaped).toEqual([]);
  }, 30_000);

  it('reports run with a missing or non-executable command as a failed job with the shell\'s 127/126, and frees the slot', async () => {
    const f = fixture('runenoent');
    const noexec = path.join(f.work, 'noexec');
    fs.writeFileSync(noexec, 'x', { mode: 0o644 });
    const args = ['run', '--pool', 'r', '--max-live', '1', '--log-file', f.logFile, '--'];
    const missing = await f.start([...args, '/nonexistent/warden-fault-cmd']).done;
    const denied = await f.start([...args, noexec]).done;
    expect(crashed(missing.stderr + denied.stderr)).toBe(false);
    expect(missing.code).toBe(127);
    expect(denied.code).toBe(126);
    expect(missing.stderr, 'the error names the command').toContain('/nonexistent/warden-fault-cmd');
    expect(of(f.logFile, 'exit').map((e) => e.outcome)).toEqual(['failed', 'failed']);
    expect(await probePool(f.stateDir, 'r', 1)).toMatchObject({ holders: [0], extra: 75 });
  }, 30_000);

  it('rejects an empty command with a clear one-line error (exit 2) and starts nothing', async () => {
    const f = fixture('empty');
    const watch = await f.start(['watch', '--every', '1s', '--job', '']).done;
    const run = await f.start(['run', '--log-file', f.logFile, '--', '']).done;
    expectUsageError(watch, '--job', 'one line naming the option');
    expect(run.code, `run -- '' (stderr: ${JSON.stringify(run.stderr)})`).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(of(f.logFile, 'spawn'), 'nothing started').toEqual([]);
  }, 30_000);

  it('survives descriptor exhaustion (prlimit --nofile): spawns that fail with EMFILE are logged as failed jobs, the rest are reaped, no slot leaks', async () => {
    const f = fixture('emfile');
    // Thirty triggers of one check, each job held until the test releases it: thirty jobs' pipes
    // at once need far more than 40 descriptors, however slow the machine.
    const release = path.join(f.work, 'release');
    const w = f.start(['once', '--check', 'seq 30', '--each-line', '--pool', 'fd', '--max-live', '30', '--kill-after', '1s', '--log-file', f.logFile,
      '--job', f.job(`while [ ! -e ${release} ]; do sleep 0.02; done`)], { wrap: (argv) => ['prlimit', '--nofile=40', ...argv], settleMs: 0 });
    const settled = (): boolean => {
      const ev = readLogFile(f.logFile).events;
      return ev.filter((e) => e.event === 'spawn').length + ev.filter((e) => e.event === 'exit' && e.jobPid === null).length >= 30;
    };
    await waitFor(settled, 60_000, 'thirty jobs started or failed to start');
    fs.writeFileSync(release, '');
    const r = await w.done;
    const events = readLogFile(f.logFile).events;
    const exits = events.filter((e) => e.event === 'exit');
    const spawns = events.filter((e) => e.event === 'spawn');
    const skips = events.filter((e) => e.event === 'skip');
    expect(crashed(r.stderr), `warden crashed: ${r.stderr.slice(-800)}`).toBe(false);
    expect([0, 1]).toContain(r.code);
    expect(exits.length + skips.length, 'every trigger ends in an exit record or a logged skip').toBe(30);
    expect(exits.filter((e) => e.outcome === 'failed').length, 'some spawns failed for lack of descriptors').toBeGreaterThan(0);
    for (const s of spawns) expect(exits.some((e) => e.jobId === s.jobId), `exit of ${String(s.jobId)}`).toBe(true);
    expect(allExitRecordProblems(exits), 'exit records of jobs that could not start').toEqual([]);
    expect(r.report.escaped, 'processes alive after warden exited').toEqual([]);
    expect(await statusLive(f.stateDir, 'fd')).toBe(0);
  }, 90_000);
});
