// Runs the real bin/warden.js for tests: each test gets its own state dir and temp folder.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/warden.js');

/** A fresh folder for one test; its state dir is `<dir>/state`. */
export function tempDir(label = 'warden-test'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
}

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
  events(): Record<string, unknown>[];
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

export function parseEvents(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The events of one kind (`spawn`, `exit`, ...), in log order. */
export function eventsNamed(events: Record<string, unknown>[], name: string): Record<string, unknown>[] {
  return events.filter((e) => e.event === name);
}

/** Poll a condition until it holds or the deadline passes (then throw with `what`). */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, deadlineMs = 15_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Whether a process (not a zombie) is alive. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Pids of live processes whose environment carries `KEY=value` (jobs tag themselves this way). */
export function taggedPids(key: string, value: string): number[] {
  const needle = Buffer.from(`${key}=${value}\0`);
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`);
      if ((env.indexOf(needle) === 0 || env.includes(Buffer.concat([Buffer.from('\0'), needle]))) && alive(pid)) pids.push(pid);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** Kill whatever is left of a test's processes. */
export function killTagged(key: string, value: string): void {
  for (const pid of taggedPids(key, value)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * The most jobs live at once according to a ledger of "start ID" / "end ID" lines that jobs
 * append while they hold their slot: each interval lies inside the slot's hold.
 */
export function maxOverlap(ledger: string): { max: number; starts: number; ends: number } {
  let live = 0;
  let max = 0;
  let starts = 0;
  let ends = 0;
  for (const line of ledger.split('\n')) {
    if (line.startsWith('start ')) {
      starts++;
      max = Math.max(max, ++live);
    } else if (line.startsWith('end ')) {
      ends++;
      live--;
    }
  }
  return { max, starts, ends };
}

export function writeScript(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
