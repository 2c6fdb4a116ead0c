// Supervised runs for the fault suite: the real bin/warden.js under a subreaper that reports
// whatever it left behind, with its output, log lines and exit.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEvents } from './events.js';
import type { LogEvent } from './events.js';

export type { LogEvent } from './events.js';
import { BIN, tempDir } from './paths.js';
import { isAlive, readCmdline } from './procfs.js';
import { commandPid, readReport, underSubreaper, type SubreaperReport } from './subreaper.js';
import { waitFor } from './wait.js';


/** Why: everything a finished warden left for the test to judge. */
export interface SupervisedResult {
  /** Exit status as a shell would see it (128+n when killed by signal n). */
  code: number;
  stdout: string;
  stderr: string;
  /** JSON events printed on stdout or stderr. */
  events: () => LogEvent[];
  report: SubreaperReport;
  ms: number;
}

/** Why: how to start warden: state dir, environment, subreaper settings, stdio. */
export interface SupervisedOptions {
  stateDir: string;
  env?: Record<string, string>;
  /** Let descendants this long to end after warden exits before calling them escaped. */
  settleMs?: number;
  forwardHup?: boolean;
  stdio?: StdioOptions;
  /** Wrap the warden command line, e.g. in `prlimit` (gets the argv, returns the argv to run). */
  wrap?: (argv: string[]) => string[];
}

/** Why: a running warden: its pid, its output so far, and its end. */
export interface Supervised {
  child: ChildProcess;
  /** The warden process's pid (not the subreaper's). */
  pid: () => Promise<number>;
  stdout: () => string;
  stderr: () => string;
  /** JSON events printed on stdout or stderr (with `--log json`; `run` keeps stdout for its command). */
  events: () => LogEvent[];
  done: Promise<SupervisedResult>;
  /** Send a signal to the warden process itself (never to a process that reused its pid); false if it was gone. */
  signal: (sig: NodeJS.Signals) => Promise<boolean>;
}

/** Why: each test owns a state dir, so pools, logs and ledgers of parallel tests never meet. */
export function makeTempDir(label: string): string {
  return tempDir(`warden-faults-${label}`);
}

/** Why: the environment warden sees: the test's own, minus any WARDEN_* that would change its behaviour. */
export function wardenEnv(stateDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WARDEN_') && !k.startsWith('VITEST') && k !== 'FAULT_TAG') env[k] = v;
  return { ...env, NO_COLOR: '1', WARDEN_STATE_DIR: stateDir, ...extra };
}

/** Why: reads a `--log-file` as events; also returns lines that are not whole JSON objects (torn writes). */
export function readLogFile(file: string): { events: LogEvent[]; torn: string[] } {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { events: [], torn: [] };
  }
  const torn: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      JSON.parse(line);
    } catch {
      torn.push(line);
    }
  }
  return { events: parseEvents(text), torn };
}

let counter = 0;
/** Why: subreaper reports live apart from state dirs (which tests remove on purpose); each is deleted once read. */
function reportDir(): string {
  const dir = path.join(os.tmpdir(), 'warden-faults-reports');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Why: keeps the last `limit` characters of a stream in amortised linear time, so floods cost little. */
export class Tail {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  add(chunk: string): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.limit) this.compact();
  }
  text(): string {
    this.compact();
    return this.parts[0] ?? '';
  }
  private compact(): void {
    const all = this.parts.join('').slice(-this.limit);
    this.parts = [all];
    this.size = all.length;
  }
}

/** Why: starts `node bin/warden.js ARGS` under a subreaper and collects everything it says. */
export function startSupervised(args: string[], options: SupervisedOptions): Supervised {
  const report = path.join(reportDir(), `subreaper-${process.pid}-${++counter}.json`);
  const sub = { report, settleMs: options.settleMs ?? 0, forwardHup: options.forwardHup ?? false };
  const base = ['node', BIN, ...args];
  const argv = underSubreaper(options.wrap ? options.wrap(base) : base, sub);
  const started = Date.now();
  const child = spawn(argv[0]!, argv.slice(1), {
    env: wardenEnv(options.stateDir, options.env),
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  const out = new Tail(4_000_000);
  const err = new Tail(1_000_000);
  child.stdout?.setEncoding('utf8').on('data', (d: string) => out.add(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => err.add(d));
  let knownPid: number | undefined;
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const done = closed.then(async () => {
    const rep = await readReport(sub);
    knownPid = rep.pid;
    fs.rmSync(report, { force: true });
    fs.rmSync(`${report}.pid`, { force: true });
    const code = rep.exitCode ?? 128 + (rep.signal ?? 0);
    const stdout = out.text();
    const stderr = err.text();
    const events = (): LogEvent[] => [...parseEvents(stdout), ...parseEvents(stderr)];
    return { code, stdout, stderr, events, report: rep, ms: Date.now() - started };
  });
  const pid = async (): Promise<number> => (knownPid ??= await commandPid(sub));
  return {
    child,
    pid,
    stdout: () => out.text(),
    stderr: () => err.text(),
    events: () => [...parseEvents(out.text()), ...parseEvents(err.text())],
    done,
    signal: async (sig) => {
      const p = await pid();
      // Just started: the subreaper may not have exec'd node yet. Gone or a zombie: nothing to signal.
      const isWarden = (): boolean => readCmdline(p).includes(BIN);
      await waitFor(() => isWarden() || !isAlive(p), 5000, `pid ${p} to run warden`).catch(() => undefined);
      // Never signal a recycled pid: only a process that still runs warden.js.
      if (!isWarden()) return false;
      try {
        process.kill(p, sig);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** Why: the common case: run warden to completion and get its result. */
export function runSupervised(args: string[], options: SupervisedOptions): Promise<SupervisedResult> {
  return startSupervised(args, options).done;
}

/** Why: waits until warden has printed (or logged) an event matching `test`. */
export function waitForEvent(source: () => LogEvent[], test: (e: LogEvent) => boolean, deadlineMs: number, what: string): Promise<LogEvent> {
  return waitFor(() => source().find(test), deadlineMs, what);
}

/** Why: waits until a line of some growing text matches `test`. */
export function waitForLine(source: () => string, test: (line: string) => boolean, deadlineMs: number, what: string): Promise<string> {
  return waitFor(() => source().split('\n').find(test), deadlineMs, what);
}

