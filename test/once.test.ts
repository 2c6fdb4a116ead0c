// `warden once` for cron: exit codes, overlapping one-shots on one pool, --detach, --config
// files, WARDEN_* variables and cron's bare environment.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCommand, wardenArgv } from './helpers/other-user.js';
import { BIN, ROOT, alive, eventsNamed, expectUsageError, maxOverlap, parseEvents, readText, runWarden, startWarden, taggedPids, testDir, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;
let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  ({ dir, env } = testDir());
});

describe('warden once exit status', () => {
  it.each([
    ['not fired', ['--check', 'exit 1', '--job', 'true'], 0],
    ['all jobs succeeded', ['--job', 'true', '--job', 'echo ok'], 0],
    ["the only job's own code", ['--job', 'exit 4'], 4],
    ['1 when one of several jobs failed', ['--job', 'true', '--job', 'exit 4'], 1],
    ['3 when the check itself failed', ['--check', 'exit 9', '--job', 'true'], 3],
  ])('%s', async (_name, args, code) => {
    expect((await runWarden(['once', ...args], { env })).code).toBe(code);
  });
});

describe('warden once, correctness', () => {
  it('acts on a SIGTERM that arrives while the check is being started: exits 143 before the check would end', async () => {
    const w = startWarden(['once', '--log', 'json', '--check', `sleep 4; touch "${dir}/check-done"`, '--job', `touch "${dir}/ran"`], { env });
    // The start event comes just before the check is started: the signal lands in its start-up.
    await waitFor('the start event', () => eventsNamed(w.events(), 'start').length > 0);
    process.kill(w.pid, 'SIGTERM');
    const r = await w.done;
    expect(r.code).toBe(143);
    // Warden was back before the check could have finished on its own, and ended it.
    expect(fs.existsSync(`${dir}/check-done`)).toBe(false);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    expect(eventsNamed(parseEvents(r.stdout), 'stop')[0]).toMatchObject({ reason: 'SIGTERM' });
  });

  it('judges the check when its process exits, not when a background child lets go of its stdout', async () => {
    const bg = path.join(dir, 'bg');
    // The background child holds the check's stdout for 30 s, then marks that it is done.
    const r = await runWarden(['once', '--log', 'json', '--check', `sh -c 'echo $$ > "${bg}"; sleep 30; touch "${bg}.done"' & echo in-stock`, '--job', `[ ! -e "${bg}.done" ] && touch "${dir}/fired-first"`], { env });
    expect(r.code).toBe(0);
    expect(eventsNamed(parseEvents(r.stdout), 'check')[0]).toMatchObject({ outcome: 'fired', exitCode: 0 });
    // The job ran while the check's background child still held the check's stdout.
    expect(fs.existsSync(`${dir}/fired-first`)).toBe(true);
    // And what the check left behind did not outlive warden.
    expect(alive(Number(readText(bg)))).toBe(false);
  });

  it('exits 70 with a message when the pool itself fails, and runs nothing', async () => {
    // The flock backend locks through a perl helper: without perl on PATH the pool cannot work.
    const r = await runWarden(['once', '--pool-backend', 'flock', '--job', `touch "${dir}/ran"`], { env: { ...env, PATH: path.join(dir, 'empty-path') } });
    expect(r.code).toBe(70);
    expect(r.stderr + r.stdout).toMatch(/perl/);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });

  it('exits 124 when the only job is ended by its timeout, whatever it exited with', async () => {
    const r = await runWarden(['once', '--job-timeout', '300ms', '--job', 'trap "exit 0" TERM; sleep 5 & wait'], { env });
    expect(r.code).toBe(124);
  });

  it('--help names the state dir that WARDEN_STATE_DIR gives', async () => {
    const r = await runWarden(['once', '--help'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`here: ${env.WARDEN_STATE_DIR}`);
  });

  describe('a retry goes through admission like any trigger', () => {
    // The failing job leaves a process holding its slot (descriptor 19 inherited), so the pool
    // of one is still full when the retry comes.
    const failingHolder = (): string => `(exec sleep 30) & echo $! > "${dir}/holder"; exit 1`;

    it('--overflow skip: the retry is skipped, not waited for', async () => {
      const r = await runWarden(['once', '--log', 'json', '--max-live', '1', '--retries', '1', '--retry-delay', '50ms', '--kill-after', '1s', '--job', failingHolder()], { env });
      const events = parseEvents(r.stdout);
      expect(eventsNamed(events, 'retry')).toHaveLength(1);
      expect(eventsNamed(events, 'skip').map((e) => e.reason)).toEqual(['pool-full']);
      expect(eventsNamed(events, 'spawn')).toHaveLength(1);
      expect(r.code).toBe(1);
      expect(alive(Number(readText(`${dir}/holder`)))).toBe(false);
    });

    it('--overflow wait --wait-timeout: the retry gives up after the wait timeout', async () => {
      const r = await runWarden(['once', '--log', 'json', '--max-live', '1', '--overflow', 'wait', '--wait-timeout', '200ms', '--retries', '1', '--retry-delay', '50ms', '--kill-after', '1s', '--job', failingHolder()], { env });
      const events = parseEvents(r.stdout);
      expect(eventsNamed(events, 'skip').map((e) => e.reason)).toEqual(['wait-timeout']);
      expect(eventsNamed(events, 'spawn')).toHaveLength(1);
      expect(r.code).toBe(1);
    });
  });
});

describe('overlapping one-shots', () => {
  it('twenty started at once on a pool of 3: at most 3 jobs live, the rest exit 75, nothing left behind', async () => {
    const tag = `once-${process.pid}-${Date.now()}`;
    const ledger = path.join(dir, 'ledger');
    const job = `echo "start $$" >> "${ledger}"; sleep 1; echo "end $$" >> "${ledger}"`;
    const runs = Array.from({ length: 20 }, () => startWarden(['once', '--pool', 'cron', '--max-live', '3', '--job', job], { env: { ...env, ONCE_TAG: tag } }));
    const codes = (await Promise.all(runs.map((r) => r.done))).map((r) => r.code);
    expect(codes.filter((c) => c === 0).length).toBeGreaterThanOrEqual(3);
    expect(codes.filter((c) => c !== 0).every((c) => c === 75)).toBe(true);
    const overlap = maxOverlap(readText(ledger));
    expect(overlap.max).toBeLessThanOrEqual(3);
    expect(overlap.starts).toBe(codes.filter((c) => c === 0).length);
    expect(taggedPids('ONCE_TAG', tag)).toEqual([]);
  });

  it('with --detach every one-shot returns before its job ends, and the detached jobs still never exceed 3', async () => {
    const tag = `detach-${process.pid}-${Date.now()}`;
    const ledger = path.join(dir, 'ledger');
    const log = path.join(dir, 'log.jsonl');
    const release = path.join(dir, 'release');
    // The jobs end only once the test says so: every one-shot must be back while they still run.
    const job = `echo "start $$" >> "${ledger}"; while [ ! -e "${release}" ]; do sleep 0.02; done; echo "end $$" >> "${ledger}"`;
    const runs = Array.from({ length: 20 }, () => startWarden(['once', '--detach', '--log-file', log, '--pool', 'cron', '--max-live', '3', '--job', job], { env: { ...env, ONCE_TAG: tag } }));
    const codes = (await Promise.all(runs.map((r) => r.done))).map((r) => r.code);
    // All one-shots are back while the jobs they started still run.
    expect(readText(ledger)).not.toContain('end ');
    const started = codes.filter((c) => c === 0).length;
    expect(started).toBeGreaterThanOrEqual(3);
    expect(codes.filter((c) => c !== 0).every((c) => c === 75)).toBe(true);
    fs.writeFileSync(release, '');
    await waitFor('detached jobs to finish', () => taggedPids('ONCE_TAG', tag).length === 0, 20_000);
    const overlap = maxOverlap(readText(ledger));
    expect(overlap.max).toBeLessThanOrEqual(3);
    expect(overlap.ends).toBe(started);
    expect(eventsNamed(parseEvents(readText(log)), 'exit')).toHaveLength(started);
  });

  it('a detached delayed job runs after its one-shot exited, holding its slot meanwhile, and logs its exit', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(['once', '--detach', '--log-file', log, '--max-live', '1', '--delay', '10s', '--job', `date +%s%N > "${dir}/ran"`], { env });
    const returnedNs = BigInt(Date.now()) * 1_000_000n;
    expect(r.code).toBe(0);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    const delay = eventsNamed(parseEvents(readText(log)), 'delay')[0];
    expect(delay).toMatchObject({ jobId: '1.1', delayMs: expect.any(Number) });
    // While it waits, the slot counts: another one-shot is turned away.
    const probe = await runWarden(['once', '--max-live', '1', '--job', 'true'], { env });
    expect(fs.existsSync(`${dir}/ran`), 'the probe came while the job still waited (a machine this slow proves nothing)').toBe(false);
    expect(probe.code).toBe(75);
    await waitFor('the delayed job', () => eventsNamed(parseEvents(readText(log)), 'exit').length === 1, 30_000);
    // The job's own stamp: it ran after the one-shot was back, at the time its delay event named.
    const ranNs = BigInt(readText(`${dir}/ran`).trim());
    expect(ranNs).toBeGreaterThan(returnedNs);
    // (A timer may fire a millisecond early by the wall clock: libuv caches its loop time.)
    expect(Number(ranNs / 1_000_000n)).toBeGreaterThanOrEqual(Date.parse(delay.dueAt as string) - 2);
    expect(eventsNamed(parseEvents(readText(log)), 'exit')[0]).toMatchObject({ outcome: 'ok', jobId: '1.1' });
  });

  it('--detach hands the runner a pool named Infinity as a name, and the job runs', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(['once', '--detach', '--log-file', log, '--pool', 'Infinity', '--job', `touch "${dir}/ran"`], { env });
    expect(r.code).toBe(0);
    await waitFor('the detached job to exit', () => eventsNamed(parseEvents(readText(log)), 'exit').length === 1);
    expect(fs.existsSync(`${dir}/ran`)).toBe(true);
    expect(eventsNamed(parseEvents(readText(log)), 'spawn')[0]).toMatchObject({ jobId: '1.1' });
  });

  it('--detach fails loudly (stderr, log file, exit 70) when the runner cannot take over', async () => {
    // A copy of the installed package that the check removes: the one-shot is loaded already,
    // the runner it starts next finds nothing to run.
    const copy = path.join(dir, 'pkg');
    fs.mkdirSync(path.join(copy, 'dist'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
    for (const file of ['warden.cjs', 'boot.cjs']) fs.copyFileSync(path.join(ROOT, 'dist', file), path.join(copy, 'dist', file));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const log = path.join(dir, 'log.jsonl');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(copy, 'bin/warden.js'), 'once', '--log', 'json', '--detach', '--log-file', log, '--check', `rm -rf "${copy}/dist"`, '--job', `touch "${dir}/ran"`], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/runner did not take over/);
    expect(eventsNamed(parseEvents(readText(log)), 'error')[0]?.message).toMatch(/runner did not take over/);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });

  it('does not keep the output pipe open: `warden once --detach ... | cat` ends when warden exits', async () => {
    const log = path.join(dir, 'log.jsonl');
    const cmd = `"${process.execPath}" "${BIN}" once --detach --log-file "${log}" --job 'echo $$ > "${dir}/job"; sleep 3' | cat`;
    const sh = spawn('/bin/sh', ['-c', cmd], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => sh.on('exit', resolve));
    expect(code).toBe(0);
    const job = Number(await waitFor('job pid', () => readText(`${dir}/job`).trim()));
    expect(alive(job)).toBe(true);
    process.kill(job, 'SIGKILL');
  });

  it('--detach needs --log-file', async () => {
    const r = await runWarden(['once', '--detach', '--job', 'true'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--detach needs --log-file/);
  });
});

describe('a check whose output holds NUL bytes', () => {
  it('still starts its jobs, with WARDEN_CHECK_OUTPUT and WARDEN_ITEM without them (as $(...) drops them)', async () => {
    const job = `printf '%s' "$WARDEN_ITEM" > "${dir}/item.$WARDEN_JOB_ID"; printf '%s' "$WARDEN_CHECK_OUTPUT" > "${dir}/output.$WARDEN_JOB_ID"`;
    const r = await runWarden(['once', '--log', 'json', '--check', "printf 'a\\000b\\nc\\n'", '--each-line', '--job', job], { env });
    expect(r.code, r.stdout).toBe(0);
    expect(eventsNamed(parseEvents(r.stdout), 'exit').map((e) => e.outcome)).toEqual(['ok', 'ok']);
    expect([readText(`${dir}/item.1.1`), readText(`${dir}/item.1.2`)]).toEqual(['ab', 'c']);
    expect(readText(`${dir}/output.1.1`)).toMatch(/^ab\nc\n?$/);
  });

  it('fails a job whose --each-line item is too long for the environment, saying so', async () => {
    const check = `head -c 200000 /dev/zero | tr '\\000' x; echo; echo short`;
    const r = await runWarden(['once', '--log', 'json', '--check', check, '--each-line', '--job', 'true'], { env });
    const exits = eventsNamed(parseEvents(r.stdout), 'exit');
    expect(exits.map((e) => e.outcome)).toEqual(['failed', 'ok']);
    expect(exits[0].error).toMatch(/^E2BIG: its arguments and environment are too large/);
  });
});

describe('--config and WARDEN_* variables', () => {
  it('runs jobs with different delays from one trigger', async () => {
    const config = path.join(dir, 'stock.json');
    fs.writeFileSync(config, JSON.stringify({ pool: 'mail', maxLive: 2, log: 'json', jobs: [{ run: `echo vip >> "${dir}/mail"` }, { run: `echo rest >> "${dir}/mail"`, delay: '400ms' }] }));
    const r = await runWarden(['once', '--config', config], { env });
    expect(r.code).toBe(0);
    expect(readText(`${dir}/mail`)).toBe('vip\nrest\n');
    const spawns = eventsNamed(parseEvents(r.stdout), 'spawn');
    expect(spawns.map((s) => s.delayMs)).toEqual([0, 400]);
    // The delay counts from the trigger, which comes after warden's start event.
    const start = eventsNamed(parseEvents(r.stdout), 'start')[0];
    expect(Date.parse(spawns[1].ts as string) - Date.parse(start.ts as string)).toBeGreaterThanOrEqual(399);
  });

  it.each([
    [{ jobs: [{ run: 'x' }, { run: 'y', delay: '10 minutes' }] }, /jobs\[1\]\.delay: "10 minutes" is not a duration/],
    [{ job: 'x', maxLive: '3' }, /maxLive: expected a whole number/],
    [{ job: 'x', colour: true }, /colour: unknown setting/],
    [{ jobs: [{ run: 'x', when: 'now' }] }, /jobs\[0\]\.when: unknown setting/],
    [{ job: 'x', quiet: 'yes' }, /quiet: expected true or false/],
    [{ job: 'x', maxLive: 0 }, /maxLive: "0" must be a whole number of 1 or more/],
  ])('reports config error %j with its key path and exit 2', async (config, pattern) => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify(config));
    const r = await runWarden(['once', '--config', file], { env });
    expectUsageError(r, pattern);
  });

  it('refuses a --config that never ends or never comes (endless device, FIFO without a writer, over 1 MiB) with exit 2, and still reads a pipe', async () => {
    const fifo = path.join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const big = path.join(dir, 'big.json');
    fs.writeFileSync(big, `{"job": "true", "check": "${'x'.repeat(2 * 1024 * 1024)}"}`);
    for (const [file, pattern] of [
      ['/dev/zero', /--config: \/dev\/zero is larger than 1 MiB/],
      [fifo, /--config: .*config\.fifo is not valid JSON/],
      [big, /--config: .*big\.json is larger than 1 MiB/],
    ] as const) {
      const r = await runCommand(wardenArgv(['once', '--config', file]), { ...process.env, ...env }, 10_000);
      expect(r.timedOut, `${file}: warden hung`).toBe(false);
      expectUsageError(r, pattern, file);
    }
    // A pipe whose writer takes its time (bash's <(...), /dev/stdin) is still read to its end.
    const sh = `( sleep 0.3; printf '{"job": "touch ${dir}/piped"}' ) | "${process.execPath}" "${BIN}" once --config /dev/stdin`;
    const piped = await runCommand(['/bin/sh', '-c', sh], { ...process.env, ...env }, 20_000);
    expect(piped.code, piped.stderr).toBe(0);
    expect(fs.existsSync(`${dir}/piped`)).toBe(true);
  });

  it('takes flag over environment over config over default', async () => {
    const config = path.join(dir, 'c.json');
    fs.writeFileSync(config, JSON.stringify({ pool: 'from-config', maxLive: 5, job: 'echo $WARDEN_POOL' }));
    const pools = async (args: string[], extra: NodeJS.ProcessEnv): Promise<Ev> => {
      const r = await runWarden(['once', '--log', 'json', '--config', config, ...args], { env: { ...env, ...extra } });
      return eventsNamed(parseEvents(r.stdout), 'start')[0];
    };
    expect(await pools([], {})).toMatchObject({ pool: 'from-config', maxLive: 5 });
    expect(await pools([], { WARDEN_POOL: 'from-env' })).toMatchObject({ pool: 'from-env', maxLive: 5 });
    expect(await pools(['--pool', 'from-flag'], { WARDEN_POOL: 'from-env', WARDEN_MAX_LIVE: '7' })).toMatchObject({ pool: 'from-flag', maxLive: 7 });
  });

  it('reads booleans from the environment only as 1/0/true/false', async () => {
    expect((await runWarden(['once', '--job', 'echo hi'], { env: { ...env, WARDEN_QUIET: '1' } })).stdout).toBe('');
    const bad = await runWarden(['once', '--job', 'true'], { env: { ...env, WARDEN_QUIET: 'yes' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/WARDEN_QUIET: "yes"/);
  });
});

describe("cron's bare environment", () => {
  it('works under env -i with stdin closed, no HOME, no TTY: no colour, exit code kept', async () => {
    const state = path.join(dir, 'state');
    const cmd = `env -i PATH=/usr/bin:/bin WARDEN_STATE_DIR="${state}" "${process.execPath}" "${BIN}" once --check 'echo in-stock' --job 'echo mailed "$WARDEN_CHECK_OUTPUT"' <&- ; echo "rc=$?"`;
    const out = await new Promise<string>((resolve) => {
      const sh = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      sh.stdout.on('data', (c: Buffer) => (text += c.toString()));
      sh.on('close', () => resolve(text));
    });
    expect(out).toContain('[1.1] mailed in-stock');
    expect(out).toContain('rc=0');
    expect(out).not.toContain('\x1b[');
  });

  it('falls back to a per-user folder in the temp dir when there is no XDG_RUNTIME_DIR', async () => {
    const r = await runWarden(['run', '--help'], { env: { XDG_RUNTIME_DIR: '' } });
    expect(r.stdout).toMatch(/else \/tmp\/warden-\d+/);
    const s = startWarden(['once', '--log', 'json', '--job', 'true'], { env: { WARDEN_STATE_DIR: '', XDG_RUNTIME_DIR: '', HOME: '' } });
    const start = eventsNamed(parseEvents((await s.done).stdout), 'start')[0];
    expect(start.stateDir).toMatch(/warden-\d+$/);
  });
});
