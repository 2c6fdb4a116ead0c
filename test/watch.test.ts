// `warden watch` end to end: schedule, check outcomes, admission policies, launch and reap,
// reporting, and shutdown, always through the real binary and real processes.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { alive, eventsNamed, expectUsageError, maxOverlap, parseEvents, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;
let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  ({ dir, env } = testDir());
});

const watch = (...args: string[]): string[] => ['watch', '--log', 'json', ...args];
const logEvents = (file: string): Ev[] => parseEvents(readText(file));

describe('schedule', () => {
  it('never overlaps a slow check: missed ticks are skipped as overrun', async () => {
    const r = await runWarden(watch('--every', '100ms', '--check', `echo x >> "${dir}/checks"; sleep 0.25`, '--check-timeout', '2s', '--max-runs', '8', '--job', 'true'), { env });
    expect(r.code).toBe(0);
    const events = parseEvents(r.stdout);
    const checks = eventsNamed(events, 'check');
    const skips = eventsNamed(events, 'skip');
    expect(skips.length).toBeGreaterThan(0);
    expect(skips.every((s) => s.reason === 'overrun')).toBe(true);
    expect(checks.length + skips.length).toBe(8);
    // One check at a time: each starts after the previous one ended.
    const spans = checks.map((c) => ({ end: Date.parse(c.ts as string), start: Date.parse(c.ts as string) - (c.durationMs as number) }));
    for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end - 5);
  });

  it('keeps ticking on time while jobs run ten times longer than the interval', async () => {
    // The jobs run until the test releases them: ten ticks that each started a job while none
    // had ended show that the schedule never waited for a job, however slow the machine.
    const release = path.join(dir, 'release');
    const w = startWarden(watch('--every', '100ms', '--max-live', 'unlimited', '--job', `while [ ! -e "${release}" ]; do sleep 0.02; done`, '--kill-after', '1s'), { env });
    await waitFor('ten jobs started', () => eventsNamed(w.events(), 'spawn').length >= 10);
    fs.writeFileSync(release, '');
    process.kill(w.pid, 'SIGTERM');
    expect((await w.done).code).toBe(143);
    const events = w.events();
    const spawns = eventsNamed(events, 'spawn');
    expect(events.slice(0, events.indexOf(spawns[9])).filter((e) => e.event === 'exit')).toEqual([]);
    // Every grid point is accounted for, in order (a tick made late by a loaded machine is a logged skip).
    const ticks = events.filter((e) => e.event === 'spawn' || e.event === 'skip').map((e) => e.tick);
    expect(ticks).toEqual(ticks.map((_, i) => i + 1));
    // And they follow the grid, not a burst: the ticks between the first and the tenth job span
    // their intervals (less the first spawn's own lateness, up to a tick, on a loaded machine).
    const gridMs = ((spawns[9].tick as number) - (spawns[0].tick as number) - 1) * 100;
    expect(Date.parse(spawns[9].ts as string) - Date.parse(spawns[0].ts as string)).toBeGreaterThanOrEqual(gridMs - 20);
  });

  it('accepts a cron schedule with a seconds field', async () => {
    const r = await runWarden(watch('--cron', '* * * * * *', '--max-runs', '2', '--job', 'echo $WARDEN_TICK'), { env });
    expect(r.code).toBe(0);
    expect(eventsNamed(parseEvents(r.stdout), 'spawn')).toHaveLength(2);
  });
});

describe('check', () => {
  it('fires on 0, idles on 1, and logs errors, signals and timeouts without stopping', async () => {
    // The check's own counter picks its behaviour, so a tick skipped on a loaded machine changes nothing.
    const check = `n=$(cat "${dir}/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/n"; case $n in 1) exit 0;; 2) exit 1;; 3) exit 2;; 4) kill -TERM $$;; 5) sleep 5;; *) exit 1;; esac`;
    const w = startWarden(watch('--every', '300ms', '--check', check, '--check-timeout', '250ms', '--kill-after', '100ms', '--job', 'true'), { env });
    await waitFor('five checks', () => eventsNamed(w.events(), 'check').length >= 5);
    process.kill(w.pid, 'SIGTERM');
    const checks = eventsNamed(parseEvents((await w.done).stdout), 'check').slice(0, 5);
    expect(checks.map((c) => c.outcome)).toEqual(['fired', 'idle', 'error', 'error', 'timeout']);
    expect(checks[2]).toMatchObject({ exitCode: 2 });
    expect(checks[3]).toMatchObject({ signal: 'SIGTERM' });
    expect(eventsNamed(w.events(), 'spawn')).toHaveLength(1);
  });

  it('--each-line starts one trigger per non-empty line, with WARDEN_ITEM', async () => {
    const r = await runWarden(watch('--every', '1s', '--max-runs', '1', '--max-queue', 'unlimited', '--max-live', '2', '--check', `printf 'apple\\n\\nbanana split\\ncherry\\n'`, '--each-line', '--job', `echo "$WARDEN_ITEM|$WARDEN_CHECK_OUTPUT" | head -1 >> "${dir}/items"`), { env });
    expect(r.code).toBe(0);
    expect(readText(`${dir}/items`).split('\n').filter(Boolean).map((l) => l.split('|')[0]).sort()).toEqual(['apple', 'banana split', 'cherry']);
    expect(eventsNamed(parseEvents(r.stdout), 'check')[0]).toMatchObject({ outcome: 'fired', triggers: 3 });
  });

  it('gives jobs the environment in the spec', async () => {
    await runWarden(watch('--every', '1s', '--max-runs', '1', '--pool', 'envpool', '--check', 'echo stock', '--job', `env | grep ^WARDEN_ | sort > "${dir}/env"`), { env });
    const vars = Object.fromEntries(readText(`${dir}/env`).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(vars).toMatchObject({ WARDEN_JOB_ID: '1.1', WARDEN_POOL: 'envpool', WARDEN_SLOT: '0', WARDEN_ATTEMPT: '1', WARDEN_CHECK_OUTPUT: 'stock', WARDEN_SLOT_FD: '19' });
    expect(Date.parse(vars.WARDEN_TRIGGER)).not.toBeNaN();
  });
});

describe('admission', () => {
  it('--delay takes the slot at once and holds it while waiting', async () => {
    // Three jobs of one trigger on a pool of one: the first takes the slot and holds it through
    // its delay, so the other two find the pool full (judged without depending on tick timing).
    const w = startWarden(['once', '--log', 'json', '--max-live', '1', '--overflow', 'skip', '--delay', '900ms', '--job', `echo ran >> "${dir}/ran"`, '--job', 'true', '--job', 'true'], { env });
    const r = await w.done;
    expect(r.code).toBe(75);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'spawn')).toHaveLength(1);
    expect(eventsNamed(events, 'delay')).toMatchObject([{ jobId: '1.1', delayMs: expect.any(Number) }]);
    expect(eventsNamed(events, 'skip').map((s) => s.reason)).toEqual(['pool-full', 'pool-full']);
    expect(readText(`${dir}/ran`)).toBe('ran\n');
    const spawnAt = Date.parse(eventsNamed(events, 'spawn')[0].ts as string) - Date.parse(eventsNamed(events, 'start')[0].ts as string);
    expect(spawnAt).toBeGreaterThanOrEqual(850);
  });

  it('skip drops a trigger when the pool is full; a queue holds --max-queue of them', async () => {
    // Four jobs of one trigger on a pool of one: the first runs, one waits in the queue, two are dropped.
    const release = path.join(dir, 'release');
    const hold = `while [ ! -e "${release}" ]; do sleep 0.02; done`;
    const w = startWarden(['once', '--log', 'json', '--max-live', '1', '--max-queue', '1', '--overflow', 'skip', '--job', hold, '--job', hold, '--job', hold, '--job', hold], { env });
    await waitFor('two skips', () => eventsNamed(w.events(), 'skip').length >= 2);
    fs.writeFileSync(release, '');
    const r = await w.done;
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'spawn')).toHaveLength(2);
    expect(eventsNamed(events, 'skip').map((s) => s.reason)).toEqual(['queue-full', 'queue-full']);
    expect(eventsNamed(events, 'exit')).toHaveLength(2);
  });

  it('wait pauses the schedule until a slot frees, skipping the ticks missed meanwhile', async () => {
    // The first job holds the only slot until the test has seen the schedule wait and miss a tick.
    const release = path.join(dir, 'release');
    const job = `echo "start $$" >> "${dir}/ledger"; while [ ! -e "${release}" ]; do sleep 0.02; done; echo "end $$" >> "${dir}/ledger"`;
    const w = startWarden(watch('--every', '100ms', '--max-runs', '6', '--max-live', '1', '--overflow', 'wait', '--job', job), { env });
    await waitFor('a wait, then a missed tick', () => {
      const events = w.events();
      const at = events.findIndex((e) => e.event === 'wait');
      return at >= 0 && events.slice(at).some((e) => e.event === 'skip');
    });
    fs.writeFileSync(release, '');
    const r = await w.done;
    expect(r.code).toBe(0);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'wait').length).toBeGreaterThan(0);
    expect(eventsNamed(events, 'skip').every((s) => s.reason === 'overrun')).toBe(true);
    expect(eventsNamed(events, 'skip').length).toBeGreaterThan(0);
    const spawns = eventsNamed(events, 'spawn').length;
    expect(spawns + eventsNamed(events, 'skip').length).toBe(6);
    // Never two at once (the exit event may follow the next spawn: the kernel frees the slot
    // as the job dies, before warden hears of it; the jobs' own ledger is the judge).
    expect(maxOverlap(readText(`${dir}/ledger`)).max).toBe(1);
  });

  // Admission is the same for every tick; one `once` trigger with two jobs shows it without
  // depending on when a loaded machine's timers fire.
  it('--wait-timeout gives up and logs a skip', async () => {
    const release = path.join(dir, 'release');
    const w = startWarden(['once', '--log', 'json', '--max-live', '1', '--overflow', 'wait', '--wait-timeout', '150ms', '--job', `while [ ! -e "${release}" ]; do sleep 0.02; done`, '--job', 'true'], { env });
    await waitFor('the wait-timeout skip', () => eventsNamed(w.events(), 'skip').length > 0);
    fs.writeFileSync(release, '');
    const events = parseEvents((await w.done).stdout);
    expect(eventsNamed(events, 'skip').map((s) => s.reason)).toEqual(['wait-timeout']);
    expect(eventsNamed(events, 'spawn')).toHaveLength(1);
  });

  it("replace terminates this process's oldest job and starts the new one", async () => {
    const r = await runWarden(['once', '--log', 'json', '--max-live', '1', '--overflow', 'replace', '--kill-after', '1s', '--job', 'sleep 30 & wait', '--job', 'true'], { env });
    expect(r.code).toBe(0);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'spawn').map((e) => e.jobId)).toEqual(['1.1', '1.2']);
    // The first is replaced (its whole group, the sleep too); the new one runs to its end.
    expect(eventsNamed(events, 'exit').map((e) => [e.jobId, e.outcome, e.leftover])).toEqual([['1.1', 'killed', false], ['1.2', 'ok', false]]);
  });
});

describe('launch and reap', () => {
  it('times out a job: TERM to the group, KILL after --kill-after', async () => {
    const r = await runWarden(watch('--every', '1s', '--max-runs', '1', '--job-timeout', '200ms', '--kill-after', '300ms', '--job', `trap '' TERM; while :; do sleep 0.05; done`), { env });
    const exit = eventsNamed(parseEvents(r.stdout), 'exit')[0];
    expect(exit).toMatchObject({ outcome: 'timeout', signal: 'SIGKILL', forced: true });
    expect(exit.durationMs as number).toBeGreaterThanOrEqual(450);
  });

  it('retries a failed job with backoff, each attempt taking a slot again', async () => {
    const job = `n=$(cat "${dir}/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/n"; echo "attempt $WARDEN_ATTEMPT slot $WARDEN_SLOT"; [ $n -ge 3 ]`;
    const r = await runWarden(watch('--every', '5s', '--max-runs', '1', '--retries', '3', '--retry-delay', '50ms', '--job', job), { env });
    expect(r.code).toBe(0);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'spawn').map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(eventsNamed(events, 'exit').map((e) => e.outcome)).toEqual(['failed', 'failed', 'ok']);
    expect(eventsNamed(events, 'retry').map((e) => e.delayMs)).toEqual([50, 100]);
  });

  it('logs every exit exactly once, with the fields of the spec, as the job exits', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(watch('--every', '50ms', '--max-runs', '10', '--max-live', '4', '--max-queue', 'unlimited', '--log-file', log, '--job', 'exit $((WARDEN_TICK % 3))', '--job', 'echo out; echo err >&2'), { env });
    expect(r.code).toBe(1);
    const events = logEvents(log);
    const spawns = eventsNamed(events, 'spawn');
    const exits = eventsNamed(events, 'exit');
    // Two jobs per tick that was not skipped (a loaded machine may skip a late tick).
    const fired = 10 - eventsNamed(events, 'skip').length;
    expect(fired).toBeGreaterThan(0);
    expect(spawns).toHaveLength(2 * fired);
    expect(new Set(exits.map((e) => e.jobId)).size).toBe(2 * fired);
    expect(exits).toHaveLength(2 * fired);
    for (const e of events) expect(e).toMatchObject({ ts: expect.any(String), event: expect.any(String), pid: expect.any(Number) });
    expect(eventsNamed(events, 'start')[0]).toMatchObject({ mode: 'watch', pool: 'default', maxLive: 4, schedule: 'every 50ms', version: expect.any(String) });
    expect(eventsNamed(events, 'check')).toHaveLength(0);
    // The first tick that fired (tick 1 unless a loaded machine made it late).
    const t = spawns[0].tick as number;
    expect(spawns[0]).toMatchObject({ jobId: `${t}.1`, jobPid: expect.any(Number), command: 'exit $((WARDEN_TICK % 3))', slot: expect.any(Number), tick: t, attempt: 1 });
    const echo = exits.find((e) => e.jobId === `${t}.2`);
    expect(echo).toMatchObject({ exitCode: 0, signal: null, outcome: 'ok', durationMs: expect.any(Number) });
    expect(echo?.tail).toContain('out');
    expect(echo?.tail).toContain('err');
    expect(exits.find((e) => e.jobId === `${t}.1`)).toMatchObject({ exitCode: t % 3, outcome: t % 3 ? 'failed' : 'ok' });
  });

  it('logs the exit when the job exits, even if a grandchild holds its output open', async () => {
    const r = await runWarden(watch('--every', '5s', '--max-runs', '1', '--kill-after', '200ms', '--job', `(sleep 3; echo late) & echo early`), { env });
    const started = Date.now();
    expect(r.code).toBe(0);
    const exit = eventsNamed(parseEvents(r.stdout), 'exit')[0];
    expect(exit).toMatchObject({ outcome: 'ok', leftover: true });
    expect(exit.durationMs as number).toBeLessThan(1000);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('writes job output to --output DIR/<job-id>.log, or prefixed with the job id', async () => {
    const out = path.join(dir, 'out');
    await runWarden(['watch', '--every', '1s', '--max-runs', '1', '--output', out, '--job', 'echo to-file'], { env });
    expect(readText(path.join(out, '1.1.log'))).toBe('to-file\n');
    const r = await runWarden(['watch', '--every', '1s', '--max-runs', '1', '--job', 'echo shown'], { env });
    expect(r.stdout).toContain('[1.1] shown\n');
  });
});

describe('reporting', () => {
  it('--quiet prints nothing when all is well, and the failure with its tail otherwise', async () => {
    const ok = await runWarden(['watch', '--quiet', '--every', '1s', '--max-runs', '1', '--job', 'echo fine'], { env });
    expect(ok.stdout).toBe('');
    const bad = await runWarden(['watch', '--quiet', '--every', '1s', '--max-runs', '1', '--job', 'echo broken-thing; exit 4'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/exit +1\.1 failed \(exit 4/);
    expect(bad.stdout).toContain('broken-thing');
  });

  it('colours only when allowed: FORCE_COLOR on, NO_COLOR off', async () => {
    const args = ['watch', '--every', '1s', '--max-runs', '1', '--job', 'true'];
    const forced = await runWarden(args, { env: { ...env, NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain('\x1b[');
    const plain = await runWarden(args, { env: { ...env, NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(plain.stdout).not.toContain('\x1b[');
    const pipe = await runWarden(args, { env: { ...env, NO_COLOR: '' } });
    expect(pipe.stdout).not.toContain('\x1b[');
  });

  it('survives a closed stdout (EPIPE from | head -1) and keeps reaping', async () => {
    const log = path.join(dir, 'log.jsonl');
    const w = startWarden(watch('--every', '50ms', '--max-live', '2', '--log-file', log, '--job', 'echo lots of output'), { env });
    await waitFor('first line', () => w.stdout().length > 0);
    w.child.stdout?.destroy();
    await waitFor('more exits after the pipe closed', () => eventsNamed(logEvents(log), 'exit').length > 10);
    expect(alive(w.pid)).toBe(true);
    process.kill(w.pid, 'SIGTERM');
    const r = await w.done;
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/cannot write stdout/);
    const events = logEvents(log);
    expect(eventsNamed(events, 'exit').length).toBe(eventsNamed(events, 'spawn').length);
  });
});

describe('shutdown', () => {
  it('first SIGINT drains: cancels delayed jobs, forwards SIGINT once, waits for running jobs', async () => {
    const log = path.join(dir, 'log.jsonl');
    const job = `trap 'echo int >> "${dir}/ints"; sleep 0.3; echo done >> "${dir}/done"; exit 0' INT; touch "${dir}/started"; while :; do sleep 0.05; done`;
    const w = startWarden(['watch', '--every', '200ms', '--max-live', '4', '--log-file', log, '--job', job, '--job', `touch "${dir}/delayed-ran"`, '--delay', '0'], { env });
    await waitFor('a job', () => fs.existsSync(`${dir}/started`));
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    const spawned = eventsNamed(logEvents(log), 'spawn').filter((s) => (s.command as string).startsWith('trap')).length;
    expect(readText(`${dir}/ints`).trim().split('\n')).toHaveLength(spawned);
    expect(readText(`${dir}/done`).trim().split('\n')).toHaveLength(spawned);
    expect(eventsNamed(logEvents(log), 'stop')[0]).toMatchObject({ reason: 'SIGINT' });
  });

  it('first SIGINT cancels jobs still in their delay; nothing of them ever runs', async () => {
    const w = startWarden(watch('--every', '5s', '--delay', '2s', '--job', `touch "${dir}/ran"`), { env });
    await waitFor('the trigger', () => eventsNamed(w.events(), 'check').length > 0 || w.stdout().includes('"start"'));
    await new Promise((r) => setTimeout(r, 200));
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(eventsNamed(parseEvents(r.stdout), 'stop')[0]).toMatchObject({ cancelled: 1 });
    await new Promise((r) => setTimeout(r, 2200));
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });

  it('second SIGINT terminates jobs that ignore the first', async () => {
    const w = startWarden(watch('--every', '5s', '--kill-after', '300ms', '--job', `trap '' INT; touch "${dir}/started"; sleep 30 & wait`), { env });
    await waitFor('job', () => fs.existsSync(`${dir}/started`));
    process.kill(w.pid, 'SIGINT');
    await waitFor('stop event', () => eventsNamed(w.events(), 'stop').length > 0);
    expect(alive(w.pid)).toBe(true);
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(eventsNamed(parseEvents(r.stdout), 'exit')[0]).toMatchObject({ outcome: 'killed' });
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s terminates every job group, grandchildren included, and exits %i', async (sig, code) => {
    const w = startWarden(watch('--every', '100ms', '--max-live', '3', '--kill-after', '500ms', '--job', `sleep 30 & echo $! >> "${dir}/gc"; trap '' TERM; sleep 30 & wait`), { env });
    await waitFor('three jobs', () => eventsNamed(w.events(), 'spawn').length >= 3);
    process.kill(w.pid, sig);
    const r = await w.done;
    expect(r.code).toBe(code);
    const exits = eventsNamed(parseEvents(r.stdout), 'exit');
    expect(exits).toHaveLength(eventsNamed(parseEvents(r.stdout), 'spawn').length);
    for (const e of exits) expect(e.outcome).toBe('killed');
    for (const gc of readText(`${dir}/gc`).trim().split('\n')) expect(alive(Number(gc))).toBe(false);
    for (const e of exits) expect(alive(e.jobPid as number)).toBe(false);
  });

  it('shuts down as on SIGHUP when its parent dies', async () => {
    const script = `"${process.execPath}" "${path.resolve('bin/warden.js')}" watch --log json --every 100ms --kill-after 300ms --job 'echo $$ >> "${dir}/jobs"; sleep 30' > "${dir}/out" & echo $! > "${dir}/warden"; wait`;
    const { spawn } = await import('node:child_process');
    const sh = spawn('/bin/sh', ['-c', script], { env: { ...process.env, ...env }, stdio: 'ignore' });
    await waitFor('a job', () => readText(`${dir}/jobs`).trim());
    const wardenPid = Number(readText(`${dir}/warden`));
    sh.kill('SIGKILL');
    await waitFor('warden to exit', () => !alive(wardenPid), 10_000);
    const events = parseEvents(readText(`${dir}/out`));
    expect(eventsNamed(events, 'stop')[0]).toMatchObject({ reason: 'SIGHUP' });
    for (const job of readText(`${dir}/jobs`).trim().split('\n')) expect(alive(Number(job))).toBe(false);
  });
});

describe('usage errors', () => {
  it.each([
    [['watch', '--job', 'true'], /--every DUR/],
    [['watch', '--every', '1s'], /--job CMD/],
    [['watch', '--every', '1s', '--cron', '* * * * *', '--job', 'x'], /--every and --cron/],
    [['watch', '--every', '-5s', '--job', 'x'], /--every: "-5s" is not a duration/],
    [['watch', '--every', '0', '--job', 'x'], /--every: "0" must be a duration above zero/],
    [['watch', '--cron', '61 * * * *', '--job', 'x'], /--cron: "61 \* \* \* \*" is not a cron expression/],
    [['watch', '--every', '1s', '--job', 'x', '--overflow', 'drop'], /--overflow: "drop" is not one of wait, skip, replace/],
    [['watch', '--evry', '1s', '--job', 'x'], /unknown option '--evry' \(Did you mean --every\?\)/],
    [['watch', '--every', '1s', '--job', 'x', '--max-queue', '-1'], /--max-queue/],
    [['watch', '--every', '1s', '--job', 'x', '--state-dir', '/etc/passwd/x'], /--state-dir: cannot use/],
    [['watch', '--every', '1s', '--job', 'x', '--log-file', '/nonexistent/dir/log'], /--log-file: cannot write/],
  ])('%j is refused with one clear line and exit 2', async (args, pattern) => {
    const r = await runWarden(args, { env });
    expectUsageError(r, pattern);
    expect(r.stdout).toBe('');
  });
});
