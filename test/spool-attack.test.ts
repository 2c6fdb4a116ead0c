// A hostile look at the spool: a resumer whose clock is far behind, a resumed job that waited
// for a slot past --max-late, and a damaged spool entry. Each was a defect before its fix.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { stopWarden, useSpoolScene } from './helpers/spool.js';
import { eventsNamed, parseEvents, runWarden, startWarden, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;

const t = useSpoolScene('spool-attack');
const { runs, spoolDir, spooled, spoolOne } = t;

const hasFaketime = spawnSync('faketime', ['-f', '-1d', 'true']).status === 0;

describe('the spool under attack', () => {
  it.runIf(hasFaketime)('a resumer whose clock is 30 days behind waits for the due time by its clock: it does not run the job at once', async () => {
    const delay = await spoolOne('2s');
    // The same binary under libfaketime, its wall clock 30 days back.
    const behind = startWarden(['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: { ...t.env, LD_PRELOAD: faketimeLib(), FAKETIME: '-30d' } });
    await waitFor('the resume', () => eventsNamed(behind.events(), 'resume')[0]);
    // A timer past 2^31 ms used to fire after 1 ms: the job ran 30 days early.
    await waitFor('1 s past the real due time', () => Date.now() > Date.parse(String(delay.dueAt)) + 1000);
    expect(eventsNamed(behind.events(), 'spawn')).toEqual([]);
    expect(runs()).toEqual([]);
    expect(behind.stderr()).not.toMatch(/TimeoutOverflowWarning/);
    await stopWarden(behind);
    // Still spooled: the next warden (right clock) runs it.
    expect(spooled()).toHaveLength(1);
    await runWarden(['once', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(runs()).toHaveLength(1);
  }, 30_000);

  it('--max-late is judged when the resumed job starts, not only when it is taken up: one that waited for a slot past it is dropped', async () => {
    const delay = await spoolOne('1s', ['--max-live', '1']);
    // Someone else holds the pool's only slot until told to stop.
    const holder = startWarden(['run', '--max-live', '1', '--', 'sleep', '60'], { env: t.env });
    await waitFor('the holder to hold the slot', async () => {
      const s = await runWarden(['status', '--json'], { env: t.env });
      return (JSON.parse(s.stdout).pools as { live: number }[])[0]?.live === 1;
    });
    const resumer = startWarden(['once', '--log', 'json', '--max-live', '1', '--max-late', '1s', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    await waitFor('the resume', () => eventsNamed(resumer.events(), 'resume')[0]);
    await waitFor('2 s past the due time', () => Date.now() > Date.parse(String(delay.dueAt)) + 2000);
    await stopWarden(holder);
    const r = await resumer.done;
    expect(r.code).toBe(0);
    const skips = eventsNamed(resumer.events(), 'skip');
    expect(skips).toMatchObject([{ reason: 'too-late', jobId: delay.jobId }]);
    expect(Number(skips[0].lateMs)).toBeGreaterThan(1000);
    expect(runs()).toEqual([]);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('--max-late 0 runs a job taken up before its due time: starting it a few ms after (its timer, a free slot) is not late', async () => {
    const delay = await spoolOne('2s');
    const r = await runWarden(['once', '--log', 'json', '--max-late', '0', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(r.code).toBe(0);
    expect(eventsNamed(parseEvents(r.stdout), 'resume')).toMatchObject([{ jobId: delay.jobId, lateMs: 0 }]);
    expect(eventsNamed(parseEvents(r.stdout), 'skip')).toEqual([]);
    expect(runs()).toHaveLength(1);
  }, 30_000);

  it('an entry planted as a symlink (to a well-formed entry) or a FIFO: never followed nor waited on, never run; listed as damaged and dropped', async () => {
    const delay = await spoolOne('1h');
    expect((await runWarden(['status', '--drop', String(delay.spoolId)], { env: t.env })).code).toBe(0);
    const outside = path.join(t.dir, 'outside.json');
    const pwned = path.join(t.dir, 'pwned');
    fs.writeFileSync(outside, JSON.stringify({ id: 'link-1', pool: 'default', jobId: '9.9', command: `touch '${pwned}'`, dueAt: 0, delayMs: 0, tick: 9, trigger: new Date().toISOString(), checkOutput: '', cwd: t.dir, owner: 1 }));
    fs.symlinkSync(outside, path.join(spoolDir(), 'link-1.json'));
    expect(spawnSync('mkfifo', [path.join(spoolDir(), 'fifo-1.json')]).status).toBe(0);
    const r = await runWarden(['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(r.code).toBe(0);
    expect(eventsNamed(parseEvents(r.stdout), 'resume')).toEqual([]);
    expect(fs.existsSync(pwned)).toBe(false);
    const status = await runWarden(['status', '--json'], { env: t.env });
    const ids = ((JSON.parse(status.stdout).pools as { spooled: Ev[] }[])[0].spooled).filter((e) => e.damaged).map((e) => e.id);
    expect(ids.sort()).toEqual(['fifo-1', 'link-1']);
    for (const id of ids) expect((await runWarden(['status', '--drop', String(id)], { env: t.env })).code).toBe(0);
    expect(fs.readdirSync(spoolDir())).toEqual([]);
    expect(fs.existsSync(outside)).toBe(true);
  }, 30_000);

  it('a damaged spool entry is not passed over in silence: warden and status name it, and --drop removes it', async () => {
    const delay = await spoolOne('1h');
    const good = path.join(spoolDir(), `${String(delay.spoolId)}.json`);
    // Cut short, as a disk error or a hand edit would leave it.
    fs.writeFileSync(path.join(spoolDir(), 'zz-damaged-1.json'), fs.readFileSync(good, 'utf8').slice(0, 40), { mode: 0o600 });
    const status = await runWarden(['status', '--json'], { env: t.env });
    const pools = JSON.parse(status.stdout).pools as { spooled: Ev[] }[];
    expect(pools[0].spooled).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'zz-damaged-1', damaged: true }), expect.objectContaining({ id: delay.spoolId })]));
    const text = await runWarden(['status'], { env: t.env });
    expect(text.stdout).toMatch(/zz-damaged-1 .*damaged/);
    // The good one goes (a once would wait an hour for it); the damaged one is named by warden.
    expect((await runWarden(['status', '--drop', String(delay.spoolId)], { env: t.env })).code).toBe(0);
    const r = await runWarden(['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(r.code).toBe(0);
    expect(eventsNamed(parseEvents(r.stdout), 'error').map((e) => String(e.message))).toEqual([expect.stringMatching(/zz-damaged-1.*damaged/)]);
    const drop = await runWarden(['status', '--drop', 'zz-damaged-1'], { env: t.env });
    expect(drop.code, drop.stderr).toBe(0);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('status --drop of a job a resumer holds and waits out: the resumer does not start it, and ends', async () => {
    // Due in 5 s: a resumer's start, a status and the drop (three warden starts) all come before
    // it, even on a loaded machine (2 s was not always enough under the whole suite).
    const delay = await spoolOne('5s');
    const resumer = startWarden(['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    await waitFor('the resume', () => eventsNamed(resumer.events(), 'resume')[0]);
    const status = await runWarden(['status', '--json'], { env: t.env });
    expect((JSON.parse(status.stdout).pools as { spooled: Ev[] }[])[0].spooled).toMatchObject([{ id: delay.spoolId, held: true }]);
    const drop = await runWarden(['status', '--drop', String(delay.spoolId)], { env: t.env });
    expect(drop.code).toBe(0);
    expect(drop.stdout).toMatch(/will not start it/);
    const r = await resumer.done;
    expect(r.code).toBe(0);
    expect(eventsNamed(resumer.events(), 'spawn')).toEqual([]);
    expect(runs()).toEqual([]);
  }, 30_000);
});

/** libfaketime's preload library, where Debian's faketime(1) finds it. */
function faketimeLib(): string {
  const found = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'].find((p) => fs.existsSync(p));
  if (!found) throw new Error('libfaketime not found');
  return found;
}

