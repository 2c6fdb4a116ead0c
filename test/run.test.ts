// `warden run`: exit codes, timeouts that kill the whole group, kill escalation, signal
// forwarding, and a slot that outlives a SIGKILLed warden while its job runs.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { alive, expectOneLineError, expectUsageError, parseEvents, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  ({ dir, env } = testDir());
});

const holdUntil = (name: string): string =>
  `touch "${dir}/started.$WARDEN_SLOT"; while [ ! -f "${dir}/${name}" ]; do sleep 0.02; done`;

describe('warden run exit status', () => {
  it('is 0 for a command that succeeds, and runs argv directly', async () => {
    const r = await runWarden(['run', '--', 'sh', '-c', 'echo "$1 $WARDEN_POOL $WARDEN_SLOT_FD"', 'sh', 'hello world'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello world default 19\n');
  });

  it("is the command's own code", async () => {
    expect((await runWarden(['run', '--', 'exit 7'], { env })).code).toBe(7);
  });

  it('is 127 with a clear line for a command that does not exist', async () => {
    const r = await runWarden(['run', '--', 'no-such-command-here', 'x'], { env });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/cannot start/);
  });

  it('is 2 for bad usage, and nothing runs', async () => {
    const marker = path.join(dir, 'ran');
    for (const args of [
      ['run', '--max-live', '0', '--', 'touch', marker],
      ['run', '--timeout', 'soon', '--', 'touch', marker],
      ['run', '--bogus', '--', 'touch', marker],
      ['run', '--overflow', 'replace', '--', 'touch', marker],
      ['run'],
    ]) {
      const r = await runWarden(args, { env });
      expectUsageError(r, /^warden: /, args.join(' '));
    }
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('is 75 when the pool is full and the policy is skip, or the wait times out', async () => {
    const holder = startWarden(['run', '--max-live', '1', '--', holdUntil('release')], { env });
    await waitFor('holder', () => fs.existsSync(`${dir}/started.0`));
    const skip = await runWarden(['run', '--max-live', '1', '--overflow', 'skip', '--', 'touch', `${dir}/ran`], { env });
    expect(skip.code).toBe(75);
    expect(skip.stderr).toMatch(/pool 'default' is full \(1\/1\)/);
    const waited = await runWarden(['run', '--max-live', '1', '--wait-timeout', '200ms', '--', 'touch', `${dir}/ran`], { env });
    expect(waited.code).toBe(75);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
  });

  it('is 128+n when the command dies of signal n, and SIGTERM to warden reaches the whole group', async () => {
    expect((await runWarden(['run', '--', 'kill -TERM $$'], { env })).code).toBe(143);
    const w = startWarden(['run', '--', `sleep 30 & echo $! > "${dir}/gc"; ${holdUntil('never')}`], { env });
    await waitFor('job', () => readText(`${dir}/gc`).trim());
    process.kill(w.pid, 'SIGTERM');
    expect((await w.done).code).toBe(143);
    expect(alive(Number(readText(`${dir}/gc`)))).toBe(false);
  });

  it('forwards Ctrl-C (SIGINT) to the job, which sees it once, and exits 130', async () => {
    const w = startWarden(['run', '--', `trap 'echo int >> "${dir}/ints"; exit 5' INT; ${holdUntil('never')}`], { env });
    await waitFor('job', () => fs.existsSync(`${dir}/started.0`));
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    expect(readText(`${dir}/ints`)).toBe('int\n');
  });
});

describe('warden run when the pool itself fails', () => {
  // The flock backend locks through a perl helper: without perl on PATH the pool cannot work.
  const noPerl = (): NodeJS.ProcessEnv => ({ ...env, PATH: path.join(dir, 'empty-path') });

  it('exits 70 with one line naming the pool, and runs nothing', async () => {
    const r = await runWarden(['run', '--pool', 'fp', '--pool-backend', 'flock', '--', 'touch', `${dir}/ran`], { env: noPerl() });
    expectOneLineError(r, 70, /^warden: .*perl/);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });

  it('is not mistaken for a signal while waiting: 70 and a message, not a silent 143', async () => {
    // A holder with perl takes the only slot; the waiter's pool then fails as it waits.
    const holder = startWarden(['run', '--pool', 'fw', '--pool-backend', 'flock', '--max-live', '1', '--', holdUntil('release')], { env });
    await waitFor('holder', () => fs.existsSync(`${dir}/started.0`));
    const r = await runWarden(['run', '--pool', 'fw', '--pool-backend', 'flock', '--max-live', '1', '--', 'touch', `${dir}/ran`], { env: noPerl() });
    fs.writeFileSync(`${dir}/release`, '');
    await holder.done;
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/^warden: .*perl/m);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });
});

describe('warden run timeouts', () => {
  it('kills the whole group on --timeout, background grandchildren included, and exits 124', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(['run', '--timeout', '300ms', '--kill-after', '2s', '--log-file', log, '--', `sleep 30 & echo $! > "${dir}/gc"; sleep 30`], { env });
    expect(r.code).toBe(124);
    expect(alive(Number(readText(`${dir}/gc`)))).toBe(false);
    const exit = parseEvents(readText(log)).find((e) => e.event === 'exit');
    expect(exit).toMatchObject({ outcome: 'timeout', signal: 'SIGTERM', forced: false });
  });

  it('SIGKILLs a job that ignores SIGTERM after --kill-after', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(['run', '--timeout', '200ms', '--kill-after', '400ms', '--log-file', log, '--', `trap '' TERM; while :; do sleep 0.05; done`], { env });
    expect(r.code).toBe(124);
    const exit = parseEvents(readText(log)).find((e) => e.event === 'exit');
    expect(exit).toMatchObject({ outcome: 'timeout', signal: 'SIGKILL', forced: true });
    // The KILL cannot come before the timeout plus the grace.
    expect(exit?.durationMs as number).toBeGreaterThanOrEqual(600);
  });

  it('exits 124 after --timeout, as timeout(1) does, even when the command exits 0 on the TERM', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(['run', '--timeout', '300ms', '--log-file', log, '--', 'trap "exit 0" TERM; sleep 5 & wait'], { env });
    expect(parseEvents(readText(log)).find((e) => e.event === 'exit')).toMatchObject({ outcome: 'timeout', exitCode: 0 });
    expect(r.code).toBe(124);
  });
});

describe.each(['socket', 'flock'] as const)('the slot belongs to the job (%s)', (backend) => {
  it('outlives a SIGKILLed warden run while its job runs, and frees when the job ends', async () => {
    const args = ['run', '--max-live', '1', '--pool-backend', backend];
    const w = startWarden([...args, '--', holdUntil('release')], { env });
    await waitFor('job', () => fs.existsSync(`${dir}/started.0`));
    process.kill(w.pid, 'SIGKILL');
    await w.done;
    expect((await runWarden([...args, '--overflow', 'skip', '--', 'true'], { env })).code).toBe(75);
    // A waiter gets the slot as soon as the orphaned job ends.
    const waiter = startWarden([...args, '--', `touch "${dir}/waiter-ran"`], { env });
    fs.writeFileSync(`${dir}/release`, '');
    expect((await waiter.done).code).toBe(0);
    expect(fs.existsSync(`${dir}/waiter-ran`)).toBe(true);
    expect((await runWarden([...args, '--overflow', 'skip', '--', 'true'], { env })).code).toBe(0);
  });
});

// The flock backend serves waiters in the kernel's order (it wakes every waiter at once).
describe('waiting for a slot', () => {
  it('serves waiters first come, first served', async () => {
    const args = ['run', '--max-live', '1', '--pool-backend', 'socket'];
    const holder = startWarden([...args, '--', holdUntil('release')], { env });
    await waitFor('holder', () => fs.existsSync(`${dir}/started.0`));
    const waiters = [];
    for (const name of ['first', 'second', 'third']) {
      waiters.push(startWarden([...args, '--log-file', `${dir}/${name}.jsonl`, '--', `echo ${name} >> "${dir}/order"; sleep 0.1`], { env }));
      await waitFor(`${name} to wait`, () => readText(`${dir}/${name}.jsonl`).includes('"wait"'));
    }
    fs.writeFileSync(`${dir}/release`, '');
    await holder.done;
    for (const w of waiters) expect((await w.done).code).toBe(0);
    expect(readText(`${dir}/order`)).toBe('first\nsecond\nthird\n');
  });
});
