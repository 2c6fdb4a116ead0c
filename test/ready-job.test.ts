// A waiting `run` starts its job in a process that waited with it (ready-job.ts): the job must
// be exactly the job a spawn would have made, and a wait that ends must leave nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventsNamed, listPids, parseEvents, readCmdline, readStat, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

/** Pids of live processes whose command line holds `marker` (a job's, or its ready helper's). */
const withMarker = (marker: string): number[] => listPids().filter((pid) => readCmdline(pid).includes(marker) && readStat(pid)?.state !== 'Z');

/** The ready helper of a waiting warden: its perl child. */
const helperOf = (wardenPid: number): number | undefined =>
  listPids().find((pid) => readStat(pid)?.ppid === wardenPid && readStat(pid)?.state !== 'Z' && /(^|\/)perl\b/.test(readCmdline(pid)));

/** Hold pool p's one slot until `<dir>/release` appears. */
async function holdSlot(dir: string, env: NodeJS.ProcessEnv): Promise<ReturnType<typeof startWarden>> {
  const holder = startWarden(['run', '--pool', 'p', '--max-live', '1', '--', `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`], { env });
  await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
  return holder;
}

describe('a waiting run', () => {
  it("starts its job in the process that waited with it: the job's pid, slot, environment and exit code are its own", async () => {
    const { dir, env } = testDir('ready');
    const holder = await holdSlot(dir, env);
    const job = `echo "$$|$WARDEN_SLOT|$WARDEN_POOL|$WARDEN_JOB_ID|\${WARDEN_LEASE_TOKEN-unset}|$PERL5OPT|$MY_VAR|$WARDEN_TRIGGER" > "${dir}/seen"; readlink /proc/$$/fd/19 > "${dir}/fd19"; touch "${dir}/started"; while [ ! -f "${dir}/done" ]; do sleep 0.02; done; exit 7`;
    const myVar = 'a b=c ü\ttab';
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', job], {
      env: { ...env, MY_VAR: myVar, WARDEN_LEASE_TOKEN: '99', PERL5OPT: '-e die' },
    });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    // The helper that waits with it: a perl child of the waiting warden, already the job's own group.
    const helper = await waitFor('the ready helper', () => helperOf(waiter.pid));
    expect(readStat(helper)?.pgid).toBe(helper);
    fs.writeFileSync(`${dir}/release`, '');
    await waitFor('the job', () => fs.existsSync(`${dir}/started`));
    const [pid, slot, pool, jobId, token, perl5opt, mine, trigger] = fs.readFileSync(`${dir}/seen`, 'utf8').trimEnd().split('|');
    expect(Number(pid)).toBe(helper);
    expect([slot, pool, jobId, token, perl5opt, mine]).toEqual(['0', 'p', `run-${waiter.pid}`, 'unset', '-e die', myVar]);
    expect(Date.now() - Date.parse(trigger)).toBeLessThan(60_000);
    expect(fs.readFileSync(`${dir}/fd19`, 'utf8')).toMatch(/^socket:\[\d+\]/);
    // It holds the slot: status names it, and another run finds the pool full.
    const status = JSON.parse((await runWarden(['status', '--pool', 'p', '--json'], { env })).stdout) as { pools: { live: number; holders: { slot: number; pid: number }[] }[] };
    expect(status.pools[0]).toMatchObject({ live: 1, holders: [{ slot: 0, pid: helper }] });
    expect((await runWarden(['run', '--pool', 'p', '--max-live', '1', '--overflow', 'skip', '--', 'true'], { env })).code).toBe(75);
    fs.writeFileSync(`${dir}/done`, '');
    const result = await waiter.done;
    expect(result.code).toBe(7);
    expect(eventsNamed(parseEvents(waiter.stderr()), 'spawn')[0]?.jobPid).toBe(helper);
    expect(eventsNamed(parseEvents(waiter.stderr()), 'exit')[0]).toMatchObject({ jobPid: helper, exitCode: 7, slot: 0 });
    expect((await holder.done).code).toBe(0);
  });

  it('whose command cannot start fails as a spawned one does: 127, the same message, no spawn event', async () => {
    const { dir, env } = testDir('ready-enoent');
    const alone = await runWarden(['run', '--pool', 'q', '--log', 'json', '--', 'no-such-command-ready'], { env });
    const holder = await holdSlot(dir, env);
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', 'no-such-command-ready'], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    fs.writeFileSync(`${dir}/release`, '');
    const waited = await waiter.done;
    expect(alone.code).toBe(127);
    expect(waited.code).toBe(127);
    const notices = (stderr: string): string[] => stderr.split('\n').filter((l) => l && !l.startsWith('{'));
    expect(notices(waited.stderr)).toEqual(notices(alone.stderr));
    expect(notices(waited.stderr)).toHaveLength(1);
    expect(eventsNamed(parseEvents(waiter.stderr()), 'spawn')).toEqual([]);
    expect(eventsNamed(parseEvents(waiter.stderr()), 'exit')[0]).toMatchObject({ jobPid: null, error: expect.stringMatching(/^ENOENT/) });
    await holder.done;
  });

  it('runs its job without perl, spawning it as usual', async () => {
    const { dir, env } = testDir('ready-noperl');
    const holder = await holdSlot(dir, env);
    const noPerl = { ...env, PATH: path.join(dir, 'empty-path') };
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', '/bin/touch', `${dir}/ran`], { env: noPerl });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    fs.writeFileSync(`${dir}/release`, '');
    expect((await waiter.done).code).toBe(0);
    expect(fs.existsSync(`${dir}/ran`)).toBe(true);
    await holder.done;
  });

  for (const [how, end, code] of [
    ['a --wait-timeout', undefined, 75],
    ['SIGTERM', 'SIGTERM', 143],
    ['SIGKILL', 'SIGKILL', null],
  ] as const) {
    it(`that ends by ${how} leaves no helper behind, and its job never runs`, async () => {
      const { dir, env } = testDir('ready-end');
      const holder = await holdSlot(dir, env);
      const marker = `ready-end-${process.pid}-${Math.random().toString(36).slice(2)}`;
      const timeout = end ? [] : ['--wait-timeout', '1s'];
      const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', ...timeout, '--', `touch "${dir}/ran"; : ${marker}`], { env });
      await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
      await waitFor('the ready helper', () => withMarker(marker).length > 0);
      if (end) process.kill(waiter.pid, end);
      const result = await waiter.done;
      if (code === null) expect(result.signal).toBe('SIGKILL');
      else expect(result.code).toBe(code);
      await waitFor('no helper left', () => withMarker(marker).length === 0);
      fs.writeFileSync(`${dir}/release`, '');
      expect((await holder.done).code).toBe(0);
      // The slot is free: a new run takes it at once, and the old waiter's job never ran.
      expect((await runWarden(['run', '--pool', 'p', '--max-live', '1', '--overflow', 'skip', '--', 'true'], { env })).code).toBe(0);
      expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    });
  }
});

describe('a waiting run first in line', () => {
  it('stopped (Ctrl-Z) does not start its job behind warden back when the slot frees; resumed, it runs it', async () => {
    const { dir, env } = testDir('ready-stopped');
    const holder = await holdSlot(dir, env);
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', `touch "${dir}/ran"`], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    await waitFor('the ready helper', () => helperOf(waiter.pid));
    process.kill(waiter.pid, 'SIGSTOP');
    await waitFor('the waiter to stop', () => readStat(waiter.pid)?.state === 'T');
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    // The freed slot is left to others: a run that skips when full gets it.
    await waitFor('the slot to be free for another run', async () => (await runWarden(['run', '--pool', 'p', '--max-live', '1', '--overflow', 'skip', '--', 'true'], { env })).code === 0);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    process.kill(waiter.pid, 'SIGCONT');
    expect((await waiter.done).code).toBe(0);
    expect(fs.existsSync(`${dir}/ran`)).toBe(true);
  });
});

describe('the perl a waiting run uses', () => {
  it('is never one planted in the working folder (PATH with "."), even for an absolute command', async () => {
    const { dir, env } = testDir('ready-planted');
    const work = path.join(dir, 'work');
    fs.mkdirSync(work);
    fs.writeFileSync(path.join(work, 'perl'), `#!/bin/sh\ntouch "${dir}/planted-ran"\nexec /usr/bin/perl "$@"\n`, { mode: 0o755 });
    const holder = await holdSlot(dir, env);
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', '/bin/touch', `${dir}/job-ran`], {
      env: { ...env, PATH: `.:${process.env.PATH}` },
      cwd: work,
    });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    await waitFor('the ready helper', () => helperOf(waiter.pid));
    fs.writeFileSync(`${dir}/release`, '');
    expect((await waiter.done).code).toBe(0);
    await holder.done;
    expect(fs.existsSync(`${dir}/job-ran`)).toBe(true);
    expect(fs.existsSync(`${dir}/planted-ran`)).toBe(false);
  });

  for (const [when, slowStart] of [
    ['as it waits', false],
    // A perl slow to start (a loaded machine), the same process once it runs.
    ['before it is even up', true],
  ] as const) {
    it(`stopped (SIGSTOP) ${when} is given up: the job still starts soon after the slot frees`, async () => {
      const { dir, env } = testDir('ready-stopped-helper');
      let pathEnv = process.env.PATH;
      if (slowStart) {
        const bin = path.join(dir, 'bin');
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, 'perl'), '#!/bin/sh\nsleep 1\nexec /usr/bin/perl "$@"\n', { mode: 0o755 });
        pathEnv = `${bin}:${pathEnv}`;
      }
      const holder = await holdSlot(dir, env);
      const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', '/bin/touch', `${dir}/job-ran`], { env: { ...env, PATH: pathEnv } });
      await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
      const helper = await waitFor('the ready helper', () => helperOf(waiter.pid));
      process.kill(helper, 'SIGSTOP');
      try {
        fs.writeFileSync(`${dir}/release`, '');
        expect((await holder.done).code).toBe(0);
        await waitFor('the job to run with the slot free', () => fs.existsSync(`${dir}/job-ran`), 3000);
        expect((await waiter.done).code).toBe(0);
      } finally {
        try {
          process.kill(helper, 'SIGCONT');
        } catch {
          // Gone.
        }
        waiter.child.kill('SIGKILL');
      }
    });
  }

  it("that is a wrapper (runs perl as its child) is not used: the spawn event comes as the job starts, with the job's pid", async () => {
    const { dir, env } = testDir('ready-wrapper');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'perl'), '#!/bin/sh\n/usr/bin/perl "$@"\n', { mode: 0o755 });
    const holder = await holdSlot(dir, env);
    const job = `echo $$ > "${dir}/job-pid.tmp"; mv "${dir}/job-pid.tmp" "${dir}/job-pid"; while [ ! -f "${dir}/done" ]; do sleep 0.02; done`;
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', job], { env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    fs.writeFileSync(`${dir}/release`, '');
    await waitFor('the job', () => fs.existsSync(`${dir}/job-pid`));
    const jobPid = Number(fs.readFileSync(`${dir}/job-pid`, 'utf8'));
    try {
      const spawned = await waitFor('the spawn event while the job runs', () => eventsNamed(parseEvents(waiter.stderr()), 'spawn')[0], 3000);
      expect(spawned.jobPid).toBe(jobPid);
    } finally {
      fs.writeFileSync(`${dir}/done`, '');
      await waiter.done;
      await holder.done;
    }
    await waitFor('no perl of the wrapper left', () => !listPids().some((pid) => readCmdline(pid).includes(`${dir}/job-pid.tmp`) && readStat(pid)?.state !== 'Z'));
  });
});

describe('an armed take', () => {
  it("passes a Ctrl-C that lands in its job's first milliseconds on as SIGINT: the job runs already", async () => {
    const { dir, env } = testDir('ready-int-early');
    const holder = await holdSlot(dir, env);
    // The job's first act, once its traps are set: Ctrl-C to its warden, which at that moment is
    // still in the moment after the take (or past it: the job must see SIGINT either way).
    const job = `trap 'echo INT >> "${dir}/sig"; exit 3' INT; trap 'echo TERM >> "${dir}/sig"; exit 4' TERM; echo up >> "${dir}/sig"; kill -INT $PPID; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.05; done`;
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', job], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    await waitFor('the helper to be up', () => readStat(helperOf(waiter.pid) ?? -1)?.state === 'S');
    fs.writeFileSync(`${dir}/release`, '');
    const result = await waiter.done;
    await holder.done;
    expect(result.code).toBe(130);
    expect(fs.readFileSync(`${dir}/sig`, 'utf8').split('\n').filter(Boolean)).toEqual(['up', 'INT']);
    expect((await runWarden(['status', '--pool', 'p', '--json'], { env })).stdout).toMatch(/"live": 0/);
  });
});
