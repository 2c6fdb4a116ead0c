// The edges of a waiting run's ready job (ready-job.ts): a descriptor 19 already in use, a cap
// that gives perl many watch sockets, a signal in the instant perl takes the slot, and a slot
// that frees before perl is up. Each found by attacking it; each must behave as a spawned job.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/paths.js';
import { eventsNamed, listPids, parseEvents, readCmdline, readStat, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';
import type { Started } from './helpers/warden.js';

/** What a job sees of its descriptor 19: what it is, and its file status flags (fdinfo). */
const describeFd19 = (out: string): string => `readlink /proc/$$/fd/19 | cut -c1-7 > "${out}"; grep flags /proc/$$/fdinfo/19 >> "${out}"`;

/** The ready helper of a waiting warden: its perl child. */
const helperOf = (wardenPid: number): number | undefined =>
  listPids().find((pid) => readStat(pid)?.ppid === wardenPid && readStat(pid)?.state !== 'Z' && /(^|\/)perl\b/.test(readCmdline(pid)));

/** How many sockets a process has open. */
function socketsOf(pid: number | undefined): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')).length;
  } catch {
    return 0;
  }
}

/** Hold `n` slots of pool p (cap n) until `<dir>/release` appears. */
async function holdSlots(dir: string, env: NodeJS.ProcessEnv, n: number): Promise<Started[]> {
  const holders = Array.from({ length: n }, (_, i) =>
    startWarden(['run', '--pool', 'p', '--max-live', String(n), '--', `touch "${dir}/held-${i}"; while [ ! -f "${dir}/release" ]; do sleep 0.05; done`], { env }),
  );
  await waitFor('the holders', () => holders.every((_, i) => fs.existsSync(`${dir}/held-${i}`)), 30_000);
  return holders;
}

/** A waiting `run` started with descriptor 19 open on /dev/null (as in a job of another pool). */
function runWithFd19(args: string[], env: NodeJS.ProcessEnv): { done: Promise<{ code: number | null; stderr: string }>; stderr: () => string } {
  const devNull = fs.openSync('/dev/null', 'r');
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe', ...Array<'ignore'>(16).fill('ignore'), devNull] });
  fs.closeSync(devNull);
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr: err })));
  return { done, stderr: () => err };
}

describe("a waiting run's job gets its slot at descriptor 19, as a spawned one does", () => {
  it('when warden was started with a descriptor 19 of its own (a job of another pool)', async () => {
    const { dir, env } = testDir('ready-fd19');
    const alone = await runWarden(['run', '--pool', 'q', '--', describeFd19(`${dir}/alone`)], { env });
    expect(alone.code).toBe(0);
    const [holder] = await holdSlots(dir, env, 1);
    const waiter = runWithFd19(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', describeFd19(`${dir}/waited`)], env);
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    fs.writeFileSync(`${dir}/release`, '');
    const result = await waiter.done;
    expect(result.code, result.stderr).toBe(0);
    expect(readText(`${dir}/waited`)).toBe(readText(`${dir}/alone`));
    expect(readText(`${dir}/alone`)).toMatch(/^socket:\nflags:\s+0*4002\n$/);
    await holder.done;
  });

  it('when the cap is 16 or more (the ready job watches that many slots)', async () => {
    const { dir, env } = testDir('ready-cap16');
    const holders = await holdSlots(dir, env, 16);
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '16', '--log', 'json', '--', `echo "$WARDEN_SLOT" > "${dir}/slot"; ${describeFd19(`${dir}/waited`)}`], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    // Armed: its control socket and one connection to each held slot.
    await waitFor('the ready job to watch the 16 slots', () => socketsOf(helperOf(waiter.pid)) >= 17);
    fs.writeFileSync(`${dir}/release`, '');
    const result = await waiter.done;
    expect(result.code, result.stderr).toBe(0);
    expect(readText(`${dir}/waited`)).toMatch(/^socket:\nflags:\s+0*4002\n$/);
    expect(eventsNamed(parseEvents(waiter.stderr()), 'spawn')).toMatchObject([{ slot: Number(readText(`${dir}/slot`)) }]);
    await Promise.all(holders.map((h) => h.done));
  });
});

describe('a waiting run', () => {
  for (const [sig, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const) {
    it(`sent ${sig} in the instant its ready job takes the slot logs the job, which gets the ${sig} (three tries)`, async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const { dir, env } = testDir('ready-sig-take');
        // The holder's job frees the slot (its descriptor 19) and at once signals the waiter.
        const free = `perl -MPOSIX -e 'select(undef, undef, undef, 0.02) until -e "${dir}/wpid"; open(my $f, "<", "${dir}/wpid"); my $w = <$f>; POSIX::close(19); kill "${sig.slice(3)}", $w; sleep 1'`;
        const holder = startWarden(['run', '--pool', 'p', '--max-live', '1', '--', `touch "${dir}/held-0"; exec ${free}`], { env });
        await waitFor('the holder', () => fs.existsSync(`${dir}/held-0`));
        const job = `echo ran >> "${dir}/ledger"; sleep 3; echo ended >> "${dir}/ledger"`;
        const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', job], { env });
        await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
        await waitFor('its ready job to watch the slot', () => socketsOf(helperOf(waiter.pid)) >= 2);
        fs.writeFileSync(`${dir}/wpid`, String(waiter.pid));
        const result = await waiter.done;
        await holder.done;
        expect(result.code).toBe(code);
        const events = parseEvents(result.stderr);
        const ledger = readText(`${dir}/ledger`);
        if (eventsNamed(events, 'spawn').length) {
          // Its job started: logged, and given the signal at once (it never got to its last line).
          expect(eventsNamed(events, 'exit'), `attempt ${attempt}`).toMatchObject([{ signal: sig }]);
          expect(ledger, `attempt ${attempt}`).not.toContain('ended');
        } else {
          // None started: none ran unlogged.
          expect(ledger, `attempt ${attempt}`).toBe('');
        }
        expect((await runWarden(['status', '--pool', 'p', '--json'], { env })).stdout).toMatch(/"live": 0/);
      }
    }, 60_000);
  }

  it('whose ready job is not up yet when the slot frees starts its job at once all the same', async () => {
    const { dir, env } = testDir('ready-not-up');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    // A perl that cannot start until the test lets it (a machine too loaded to run it).
    fs.writeFileSync(path.join(bin, 'perl'), `#!/bin/sh\nwhile [ ! -f "${dir}/perl-may-start" ]; do sleep 0.05; done\nexec /usr/bin/perl "$@"\n`, { mode: 0o755 });
    const [holder] = await holdSlots(dir, env, 1);
    const waiter = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log', 'json', '--', `touch "${dir}/job-ran"`], { env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
    try {
      await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
      fs.writeFileSync(`${dir}/release`, '');
      await waitFor('the job, perl still not up', () => fs.existsSync(`${dir}/job-ran`));
      expect((await waiter.done).code).toBe(0);
      expect(eventsNamed(parseEvents(waiter.stderr()), 'spawn')).toHaveLength(1);
    } finally {
      fs.writeFileSync(`${dir}/perl-may-start`, '');
      waiter.child.kill('SIGKILL');
      await holder.done;
    }
  });
});
