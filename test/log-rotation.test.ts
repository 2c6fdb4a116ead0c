// --log-file survives rotation while warden runs: renamed away (logrotate's default) or copied
// and truncated (copytruncate), noticed by itself or at once on SIGUSR1; no line is lost or
// split across the files, and a path planted with a symlink or a FIFO is never followed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { eventsNamed, parseEvents, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;
let dir: string;
let env: NodeJS.ProcessEnv;
let log: string;
beforeEach(() => {
  ({ dir, env } = testDir('warden-rotate'));
  log = path.join(dir, 'warden.jsonl');
});

/** Every line of a file, which must each be one whole JSON event ending in a newline. */
function wholeLines(file: string): Ev[] {
  const text = readText(file);
  if (text === '') return [];
  expect(text.endsWith('\n'), `${file} ends mid-line`).toBe(true);
  expect(text.includes('\0'), `${file} has NUL bytes`).toBe(false);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Ev);
}

/** The inode the running warden has open for the log file, from /proc. */
function openInode(pid: number): number | undefined {
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      // The log file, or what it was renamed to (the state dir's files are open too).
      if (target.startsWith(log)) return fs.statSync(`/proc/${pid}/fd/${fd}`).ino;
    } catch {
      // Closed meanwhile.
    }
  }
  return undefined;
}

const inodeOf = (file: string): number | undefined => (fs.existsSync(file) ? fs.statSync(file).ino : undefined);

/** Every tick's job has one spawn and one exit across all the files, the run one start and one stop. */
function expectComplete(events: Ev[]): void {
  expect(eventsNamed(events, 'start')).toHaveLength(1);
  expect(eventsNamed(events, 'stop')).toHaveLength(1);
  const spawns = eventsNamed(events, 'spawn').map((e) => e.jobId as string);
  const exits = eventsNamed(events, 'exit').map((e) => e.jobId as string);
  expect(new Set(spawns).size).toBe(spawns.length);
  expect([...exits].sort()).toEqual([...spawns].sort());
  // No tick is missing: each one either started its job or was logged as skipped.
  const ticks = new Set([...eventsNamed(events, 'spawn'), ...eventsNamed(events, 'skip')].map((e) => e.tick as number));
  const last = Math.max(...ticks);
  for (let t = 1; t <= last; t++) expect(ticks.has(t), `tick ${t}`).toBe(true);
}

describe('--log-file rotation', () => {
  it('renamed away twice during a busy run: reopened, every line whole and in exactly one file', async () => {
    const w = startWarden(['watch', '--every', '30ms', '--max-live', '4', '--log', 'json', '--log-file', log, '--job', 'echo out'], { env });
    const rotated: string[] = [];
    for (const n of [1, 2]) {
      await waitFor('events before the rotation', () => eventsNamed(wholeLinesLoose(log), 'exit').length >= 10);
      const before = inodeOf(log);
      const to = `${log}.${n}`;
      fs.renameSync(log, to);
      rotated.push(to);
      // Noticed by itself (no signal): warden opens a new file at the path and writes there.
      await waitFor('the new file in use', () => inodeOf(log) !== undefined && inodeOf(log) !== before && openInode(w.pid) === inodeOf(log), 5000);
    }
    await waitFor('events after the rotations', () => eventsNamed(wholeLinesLoose(log), 'exit').length >= 10);
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    const files = [...rotated, log].map(wholeLines);
    for (const events of files) expect(eventsNamed(events, 'exit').length).toBeGreaterThan(0);
    expectComplete(files.flat());
    // Nothing went only to the display: the files together hold every event warden printed.
    expect(files.flat().length).toBe(w.events().length);
  });

  it('copied and truncated (copytruncate) during a busy run: no NUL hole, no split line, writing goes on', async () => {
    const w = startWarden(['watch', '--every', '30ms', '--max-live', '4', '--log-file', log, '--job', 'echo out'], { env });
    await waitFor('events before the rotation', () => eventsNamed(wholeLinesLoose(log), 'exit').length >= 10);
    fs.copyFileSync(log, `${log}.1`);
    fs.truncateSync(log, 0);
    await waitFor('events after the truncation', () => eventsNamed(wholeLinesLoose(log), 'exit').length >= 10);
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    // The copy and the truncated file hold whole lines only (a line written between the copy and
    // the truncation is lost: copytruncate's own window, which logrotate documents).
    expect(eventsNamed(wholeLines(`${log}.1`), 'start')).toHaveLength(1);
    expect(eventsNamed(wholeLines(log), 'stop')).toHaveLength(1);
  });

  it('copytruncate between two writes loses nothing, and SIGUSR1 reopens at once', async () => {
    const gate = path.join(dir, 'go');
    const w = startWarden(['watch', '--every', '1h', '--log-file', log, '--job', `while [ ! -e "${gate}" ]; do sleep 0.02; done`], { env });
    await waitFor('the job running', () => eventsNamed(wholeLinesLoose(log), 'spawn').length === 1);
    fs.copyFileSync(log, `${log}.1`);
    fs.truncateSync(log, 0);
    process.kill(w.pid, 'SIGUSR1');
    // A rename as well, with the signal: warden leaves the renamed file and creates a new one.
    await waitFor('warden still running', () => openInode(w.pid) === inodeOf(log));
    fs.renameSync(log, `${log}.2`);
    process.kill(w.pid, 'SIGUSR1');
    await waitFor('the new file open', () => inodeOf(log) !== undefined && openInode(w.pid) === inodeOf(log), 5000);
    fs.writeFileSync(gate, '');
    await waitFor('the exit', () => eventsNamed(wholeLinesLoose(log), 'exit').length === 1);
    process.kill(w.pid, 'SIGTERM');
    const r = await w.done;
    expect(r.code).toBe(143);
    expect(r.stderr).not.toMatch(/Debugger/);
    expect(readText(`${log}.2`)).toBe('');
    const events = [...wholeLines(`${log}.1`), ...wholeLines(log)];
    expect(events.map((e) => e.event)).toEqual(['start', 'spawn', 'exit', 'stop']);
  });

  it('never writes through a symlink planted where the rotated file was, nor hangs on a FIFO', async () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    const w = startWarden(['watch', '--every', '50ms', '--max-live', '2', '--log-file', log, '--job', 'true'], { env });
    await waitFor('events', () => eventsNamed(wholeLinesLoose(log), 'exit').length >= 3);
    fs.renameSync(log, `${log}.1`);
    fs.symlinkSync(victim, log);
    await waitFor('the refusal', () => /cannot reopen .* symbolic link/.test(w.stderr()), 5000);
    const size = fs.statSync(`${log}.1`).size;
    await waitFor('writing on into the file open before', () => fs.statSync(`${log}.1`).size > size);
    fs.unlinkSync(log);
    const fifo = path.join(dir, 'fifo');
    mkfifo(fifo);
    fs.renameSync(fifo, log);
    await waitFor('the second refusal', () => /cannot reopen .* not a regular file/.test(w.stderr()), 5000);
    const after = fs.statSync(`${log}.1`).size;
    await waitFor('still writing', () => fs.statSync(`${log}.1`).size > after);
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    expect(readText(victim)).toBe('precious\n');
    expectComplete(wholeLines(`${log}.1`));
  });
});

describe('SIGUSR1', () => {
  it('without --log-file it is ignored: no debugger port opens, warden runs on', async () => {
    const w = startWarden(['watch', '--every', '50ms', '--log', 'json', '--job', 'true'], { env });
    await waitFor('a job', () => eventsNamed(w.events(), 'exit').length > 0);
    process.kill(w.pid, 'SIGUSR1');
    const seen = w.events().length;
    await waitFor('more jobs after the signal', () => eventsNamed(w.events(), 'exit').length > seen + 2);
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(r.stderr).not.toMatch(/Debugger/);
  });

  it('one that comes while the program loads opens no debugger port either', async () => {
    // The signal is sent from inside the process at the moment bin/warden.js asks for its loader
    // (which then compiles the bundle): before, warden's own handler came with the bundle, and
    // Node opened its debugger on 9229. The preload leaves a mark, so the test knows it fired.
    const preload = path.join(dir, 'usr1-on-load.cjs');
    const sent = path.join(dir, 'usr1-sent');
    fs.writeFileSync(
      preload,
      `const Module = require('module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (/(boot|warden)\\.cjs$/.test(request)) {
    require('fs').writeFileSync(${JSON.stringify(sent)}, request);
    process.kill(process.pid, 'SIGUSR1');
  }
  return load.call(this, request, ...rest);
};
`,
    );
    const r = await runWarden(['once', '--log', 'json', '--job', 'sleep 0.3'], { env: { ...env, NODE_OPTIONS: `--require ${preload}` } });
    expect(r.code).toBe(0);
    expect(readText(sent)).toMatch(/boot\.cjs$/);
    expect(r.stderr).not.toMatch(/Debugger/);
    expect(eventsNamed(parseEvents(r.stderr + r.stdout), 'stop')).toHaveLength(1);
  });
});

describe('--log-file the user named', () => {
  it('a symlink given at start is the user\'s own: followed again when its target is rotated', async () => {
    const real = path.join(dir, 'real.jsonl');
    fs.symlinkSync(real, log);
    const w = startWarden(['watch', '--every', '50ms', '--log-file', log, '--job', 'true'], { env });
    await waitFor('events', () => eventsNamed(wholeLinesLoose(real), 'exit').length >= 3);
    fs.renameSync(real, `${real}.1`);
    await waitFor('the target recreated through the link', () => eventsNamed(wholeLinesLoose(real), 'exit').length >= 3, 5000);
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(r.stderr).not.toMatch(/cannot reopen/);
    expectComplete([...wholeLines(`${real}.1`), ...wholeLines(real)]);
  });

  it('a device is written as before and never rotated', async () => {
    const r = await runWarden(['once', '--log-file', '/dev/null', '--job', 'true'], { env });
    expect(r.code).toBe(0);
  });
});

/** The whole lines of a file being written (the last one may be incomplete). */
function wholeLinesLoose(file: string): Ev[] {
  const text = readText(file);
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as Ev);
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', [file]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr.toString()}`);
}
