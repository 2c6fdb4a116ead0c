// The test harness's entry point: runs the real bin/warden.js for tests (each test gets its own
// state dir and temp folder), and gathers every helper of test/helpers/ in one import: events,
// waiting, /proc, ledgers, tagged jobs, and the supervised runs of the fault suite.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseEvents } from './events.js';
import type { LogEvent } from './events.js';
import { maxConcurrent } from './ledger.js';
import { isAlive, pidsWithEnv } from './procfs.js';
import { BIN, tempDir } from './paths.js';

export { BIN, ROOT, tempDir } from './paths.js';
export { eventsNamed, parseEvents } from './events.js';
export type { LogEvent } from './events.js';
export { waitFor, waitForFile, monotonicMs, pause, random } from './wait.js';
export { isAlive, isAlive as alive, readStat, readEnviron, readCmdline, listPids, samplePeakRss } from './procfs.js';
export { readLedger, countByPid, maxConcurrent } from './ledger.js';
export { TAG_VAR, newTag, sq, taggedArgv, taggedJob } from './shell.js';
export { expectOneLineError, expectUsageError } from './errors.js';
export { readLogFile, runSupervised, startSupervised, wardenEnv } from './supervised.js';
export type { Supervised, SupervisedOptions, SupervisedResult } from './supervised.js';

/** A fresh folder for one test, and the env that points warden's state dir at `<dir>/state`. */
export function testDir(label?: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir(label);
  return { dir, env: { WARDEN_STATE_DIR: path.join(dir, 'state') } };
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  done: Promise<Result>;
  /** JSON objects printed on stdout so far (with --log json). */
  events(): LogEvent[];
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdin?: 'ignore' | 'pipe';
  detached?: boolean;
}

/** Start warden; the state dir comes from WARDEN_STATE_DIR in `env` (tests always set one). */
export function startWarden(args: string[], options: StartOptions = {}): Started {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    detached: options.detached,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  // 'close' waits for the pipes, which a job of a SIGKILLed warden may still hold: after the
  // exit, give them a moment and then settle anyway.
  const done = new Promise<Result>((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null): void => resolve({ code, signal, stdout: out, stderr: err });
    child.on('close', settle);
    child.on('exit', (code, signal) => setTimeout(() => settle(code, signal), 300));
  });
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    done,
    events: () => parseEvents(out),
  };
}

export function runWarden(args: string[], options: StartOptions = {}): Promise<Result> {
  return startWarden(args, options).done;
}

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Pids of live processes whose environment carries `KEY=value` (jobs tag themselves this way). */
export function taggedPids(key: string, value: string): number[] {
  return pidsWithEnv(`${key}=${value}`).filter(isAlive);
}

/** Kill whatever is left of a test's processes. */
export function killTagged(key: string, value: string): number {
  let n = 0;
  for (const pid of taggedPids(key, value)) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // Already gone.
    }
  }
  return n;
}

/**
 * The most jobs live at once according to a ledger of "start ID" / "end ID" lines that jobs
 * append while they hold their slot: each interval lies inside the slot's hold. The lines'
 * order is their time.
 */
export function maxOverlap(ledger: string): { max: number; starts: number; ends: number } {
  const entries = ledger
    .split('\n')
    .map((line, i) => /^(start|end) (\d+)/.exec(line) && { kind: line.split(' ')[0], pid: Number(line.split(' ')[1]), ns: BigInt(i) })
    .filter((e): e is { kind: string; pid: number; ns: bigint } => Boolean(e));
  const { max, starts, ends } = maxConcurrent(entries);
  return { max, starts, ends };
}

export function writeScript(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
