// SPEC "Shutdown is clean": signal storms, Ctrl-C on a real terminal, and a terminal that goes away.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { countByPid, readLedger } from '../helpers/ledger.js';
import { openTerminal } from '../helpers/pty.js';
import { allExitRecordProblems } from '../helpers/records.js';
import { readLogFile, wardenEnv } from '../helpers/supervised.js';
import { BIN } from '../helpers/paths.js';
import { isAlive } from '../helpers/procfs.js';
import { statusLive } from '../helpers/status.js';
import { commandPid, readReport, underSubreaper } from '../helpers/subreaper.js';
import { sq } from '../helpers/shell.js';
import { monotonicMs, waitFor } from '../helpers/wait.js';

const fixture = useFixture();

describe('shutdown under a signal storm', () => {
  it('shuts down once, logs every exit exactly once and leaves no zombies when hundreds of TERM/INT/HUP arrive within 100 ms while jobs exit', async () => {
    const f = fixture('storm');
    // The last job shrugs off SIGTERM for a while, so warden is still draining when the storm ends.
    const jobs = ['sleep 0.05', 'sleep 0.1', 'exit 1', 'sleep 0.2', 'true', "trap '' TERM INT HUP; sleep 0.4"];
    const w = f.start(['watch', '--every', '50ms', '--max-live', '16', '--max-queue', 'unlimited', '--kill-after', '2s', '--log-file', f.logFile,
      ...jobs.flatMap((j) => ['--job', f.job(j)])], { settleMs: 0 });
    const sampler = f.sampler(5).start();
    const pid = await w.pid();
    await waitFor(() => readLogFile(f.logFile).events.filter((e) => e.event === 'exit').length >= 30, 15_000, '30 jobs to have exited');
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    const t0 = monotonicMs();
    let sent = 0;
    while (monotonicMs() - t0 < 100 && sent < 900) {
      for (let i = 0; i < 300; i++) {
        try {
          process.kill(pid, signals[sent % 3]!);
          sent++;
        } catch {
          break;
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const r = await w.done;
    const report = sampler.stop();
    const events = readLogFile(f.logFile);
    const spawns = events.events.filter((e) => e.event === 'spawn').map((e) => String(e.jobId));
    const exits = events.events.filter((e) => e.event === 'exit').map((e) => String(e.jobId));

    expect(sent, 'signals delivered while warden was alive').toBeGreaterThanOrEqual(300);
    expect([129, 130, 143], `exit status ${r.code}: ${r.stderr.slice(-500)}`).toContain(r.code);
    expect(events.torn, 'torn log lines').toEqual([]);
    expect(allExitRecordProblems(events.events), 'exit records with missing or malformed fields').toEqual([]);
    expect(events.events.filter((e) => e.event === 'stop'), 'one orderly shutdown').toHaveLength(1);
    expect(new Set(exits).size, 'no exit is logged twice').toBe(exits.length);
    expect([...exits].sort(), 'every spawned job has its exit record').toEqual([...spawns].sort());
    expect(report.zombies.filter((z) => z.ppid === pid && z.forMs > 1000), 'jobs left as zombies by warden').toEqual([]);
    expect(r.report.escaped, 'processes alive after warden exited').toEqual([]);
    expect(await statusLive(f.stateDir, 'default')).toBe(0);
  }, 60_000);
});

describe('Ctrl-C and hang-up on a real terminal', () => {
  const intJob = 'trap \'echo "int $$ $(date +%s%N)" >> "$LEDGER"\' INT; while :; do sleep 0.05; done';

  it('forwards one Ctrl-C as exactly one SIGINT to each job, and a second Ctrl-C terminates them', async () => {
    const f = fixture('ctrlc');
    const sub = { report: path.join(f.work, 'sub.json'), settleMs: 0, forwardHup: true };
    const args = ['watch', '--every', '1h', '--max-live', '4', '--kill-after', '2s', '--log-file', f.logFile,
      '--job', f.job(intJob), '--job', f.job(intJob), '--job', f.job(intJob)];
    const term = openTerminal(underSubreaper(['node', BIN, ...args], sub), wardenEnv(f.stateDir));
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'start').length === 3, 10_000, 'three jobs to start');
    term.ctrlC();
    await waitFor(() => countByPid(readLedger(f.ledger), 'int').size === 3, 5000, 'each job to see SIGINT');
    // Jobs run on after the first Ctrl-C; warden shows what is still running.
    await waitFor(() => /running/i.test(term.screen()), 5000, 'warden to say what is still running');
    const ints = countByPid(readLedger(f.ledger), 'int');
    term.ctrlC();
    const code = await term.exited;
    const report = await readReport(sub);
    const ledger = readLedger(f.ledger);

    expect([...countByPid(ledger, 'int').values()], 'SIGINTs seen by each job').toEqual([1, 1, 1]);
    expect([...ints.values()]).toEqual([1, 1, 1]);
    expect(code, term.screen().slice(-1000)).toBe(130);
    expect(report.escaped, 'processes alive after warden exited').toEqual([]);
    expect(f.sampler().sample(), 'tagged processes left').toEqual([]);
    const exits = readLogFile(f.logFile).events.filter((e) => e.event === 'exit');
    expect(exits).toHaveLength(3);
    for (const e of exits) expect(e.outcome).toBe('killed');
  }, 30_000);

  it('leaves nothing running when the terminal is closed (hang-up)', async () => {
    const f = fixture('hangup');
    const sub = { report: path.join(f.work, 'sub.json'), settleMs: 0, forwardHup: true };
    const args = ['watch', '--every', '1h', '--max-live', '4', '--kill-after', '2s', '--log-file', f.logFile,
      '--job', f.job('sleep 30'), '--job', f.job(intJob)];
    const term = openTerminal(underSubreaper(['node', BIN, ...args], sub), wardenEnv(f.stateDir));
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'start').length === 2, 10_000, 'two jobs to start');
    term.hangUp();
    await term.exited;
    const report = await readReport(sub);
    expect(report.exitCode ?? 128 + (report.signal ?? 0), 'warden stops as on SIGHUP').toBe(129);
    expect(report.escaped, 'processes alive after warden exited').toEqual([]);
    expect(f.sampler().sample(), 'tagged processes left').toEqual([]);
    const exits = readLogFile(f.logFile).events.filter((e) => e.event === 'exit');
    expect(exits.map((e) => e.outcome)).toEqual(['killed', 'killed']);
    expect(await statusLive(f.stateDir, 'default')).toBe(0);
  }, 30_000);
});

describe('stopping while jobs wait', () => {
  // The running job ignores SIGINT: warden forwards Ctrl-C to jobs, so only such a job can show "let running jobs finish".
  it('on SIGINT cancels a delayed job that has not started, lets the running job finish, and frees the delayed job\'s slot', async () => {
    const f = fixture('delay');
    const config = path.join(f.work, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ every: '1h', maxLive: 4, pool: 'dl', logFile: f.logFile,
      jobs: [{ run: f.job("trap '' INT; sleep 0.5"), delay: '0s' }, { run: f.job('echo never'), delay: '10s' }] }));
    const w = f.start(['watch', '--config', config], { settleMs: 0 });
    await waitFor(() => readLedger(f.ledger).some((e) => e.kind === 'start'), 10_000, 'the undelayed job to start');
    const t0 = monotonicMs();
    await w.signal('SIGINT');
    const r = await w.done;
    const ledger = readLedger(f.ledger);
    expect(r.code, r.stderr.slice(-300)).toBe(130);
    expect(monotonicMs() - t0, 'ms until warden exited: it must not wait out the 10 s delay').toBeLessThan(3000);
    expect(ledger.filter((e) => e.kind === 'start'), 'the delayed job never started').toHaveLength(1);
    expect(ledger.filter((e) => e.kind === 'end'), 'the running job finished on its own').toHaveLength(1);
    const exits = readLogFile(f.logFile).events.filter((e) => e.event === 'exit');
    expect(exits.map((e) => e.outcome)).toEqual(['ok']);
    expect(r.report.escaped).toEqual([]);
    expect(await statusLive(f.stateDir, 'dl')).toBe(0);
  }, 30_000);

  it('on SIGTERM while waiting for a full pool, exits 143 promptly and never starts the job (watch and run)', async () => {
    const f = fixture('waitterm');
    const release = path.join(f.work, 'release');
    const pool = ['--pool', 'wt', '--max-live', '1'];
    const holder = f.start(['run', ...pool, '--', 'sh', '-c', `while [ ! -e ${release} ]; do sleep 0.01; done`]);
    await waitFor(async () => (await f.start(['run', ...pool, '--overflow', 'skip', '--', 'true']).done).code === 75, 10_000, 'the pool to be full');
    const watch = f.start(['watch', '--every', '1h', ...pool, '--overflow', 'wait', '--log', 'json', '--job', f.job('true')], { settleMs: 0 });
    const run = f.start(['run', ...pool, '--log', 'json', '--', ...f.argv('true')], { settleMs: 0 });
    await waitFor(() => watch.events().some((e) => e.event === 'wait') && run.events().some((e) => e.event === 'wait'), 10_000, 'both to wait for a slot');
    const t0 = monotonicMs();
    await Promise.all([watch.signal('SIGTERM'), run.signal('SIGTERM')]);
    const [rw, rr] = await Promise.all([watch.done, run.done]);
    expect(monotonicMs() - t0).toBeLessThan(3000);
    expect([rw.code, rr.code]).toEqual([143, 143]);
    fs.writeFileSync(release, '');
    expect((await holder.done).code).toBe(0);
    expect(readLedger(f.ledger), 'neither job ever started').toEqual([]);
  }, 30_000);
});

describe('a parent that dies', () => {
  // npx -> sh -> warden: a SIGTERM to npx never reaches warden, so warden must notice its parent is gone.
  it('shuts down as on SIGHUP, leaving nothing running, when the shell that started it is SIGKILLed', async () => {
    const f = fixture('orphaned-warden');
    const sub = { report: path.join(f.work, 'sub.json'), settleMs: 8000 };
    const inner = ['node', BIN, 'watch', '--every', '1h', '--max-live', '4', '--kill-after', '1s', '--log-file', f.logFile,
      '--job', f.job('sleep 30'), '--job', f.job("trap '' HUP INT; sleep 30")];
    // `; echo after` keeps sh from exec'ing warden: sh stays warden's parent, as npm's sh does.
    const argv = underSubreaper(['sh', '-c', `${inner.map(sq).join(' ')}; echo after`], sub);
    const shell = spawn(argv[0]!, argv.slice(1), { env: wardenEnv(f.stateDir), stdio: 'ignore' });
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'start').length === 2, 10_000, 'both jobs to start');
    const wardenPid = readLogFile(f.logFile).events.find((e) => e.event === 'start')?.pid;
    expect(wardenPid).toBeDefined();
    process.kill(await commandPid(sub), 'SIGKILL');
    const t0 = monotonicMs();
    await waitFor(() => !isAlive(wardenPid!), 8000, 'warden to notice its parent died and stop');
    const report = await readReport(sub);
    expect(monotonicMs() - t0, 'ms until warden stopped').toBeLessThan(5000);
    expect(report.escaped, 'processes alive after warden stopped').toEqual([]);
    const events = readLogFile(f.logFile).events;
    expect(events.filter((e) => e.event === 'stop'), 'one orderly stop').toHaveLength(1);
    expect(events.filter((e) => e.event === 'exit').map((e) => e.outcome)).toEqual(['killed', 'killed']);
    shell.kill();
  }, 30_000);
});

