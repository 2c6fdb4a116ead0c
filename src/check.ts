// Runs the check command once: exit 0 fires, 1 is idle, anything else (a signal, a timeout)
// is a check error. Like a job it leads its own process group, so a timeout ends its whole tree,
// and it is judged the moment its own process exits: a background process it left holding
// stdout does not hold up the verdict.
import { spawn as nodeSpawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { childEnd } from './child-exit.js';
import type { CheckOutcome } from './events.js';
import type { SpawnFn } from './launcher.js';
import { OwnGroup } from './own-group.js';
import { Termination } from './terminate.js';

// The check's stdout is kept for --each-line and WARDEN_CHECK_OUTPUT; far more is a mistake.
const MAX_CHECK_OUTPUT = 16 * 1024 * 1024;
const MAX_CHECK_STDERR = 64 * 1024;

/** Keeps the first `max` bytes of a stream and drops the rest (still reading it). */
class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}

  add(chunk: Buffer): void {
    if (this.size >= this.max) return;
    const part = chunk.subarray(0, this.max - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export interface CheckResult {
  outcome: CheckOutcome;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** The check's group, when members it started are still alive after its exit. */
  leftover?: OwnGroup;
}

export interface RunningCheck {
  result: Promise<CheckResult>;
  /** Forward a signal to the check's group. */
  signal(sig: NodeJS.Signals): void;
  /** TERM and CONT now, KILL after the grace. */
  stop(): void;
}

export interface CheckOptions {
  command: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  killAfterMs: number;
}

/** Start the check now (synchronously: a signal that comes next finds it to stop). */
export function startCheck(options: CheckOptions, spawn: SpawnFn = nodeSpawn): RunningCheck {
  const started = performance.now();
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', options.command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
  } catch (err) {
    return { result: Promise.resolve(notStarted(err, started)), signal: () => undefined, stop: () => undefined };
  }
  const stdout = new Capped(MAX_CHECK_OUTPUT);
  const stderr = new Capped(MAX_CHECK_STDERR);
  // Drained here, not buffered: past the cap the output is read and dropped, so a chatty
  // check is never cut off (its writer would die of SIGPIPE and the check would fail).
  child.stdout?.on('data', (chunk: Buffer) => stdout.add(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk));
  const group = child.pid === undefined ? undefined : new OwnGroup(child.pid);
  const termination = group && new Termination(group, options.killAfterMs);
  let timedOut = false;
  const timer = options.timeoutMs === undefined || !termination ? undefined : setTimeout(() => ((timedOut = true), termination.start()), options.timeoutMs);
  const result = childEnd(child, () => {
    if (timer) clearTimeout(timer);
    group?.leaderGone();
    termination?.leaderExited();
  }).then((end): CheckResult => {
    if (end.kind === 'error') return notStarted(end.error, started);
    const { exitCode, signal } = end;
    const outcome: CheckOutcome = timedOut ? 'timeout' : exitCode === 0 ? 'fired' : exitCode === 1 ? 'idle' : 'error';
    return {
      outcome,
      exitCode,
      signal,
      durationMs: Math.round(end.exitedAt - started),
      stdout: stdout.text(),
      stderr: lastLines(stderr.text()),
      ...(group?.alive() ? { leftover: group } : {}),
    };
  });
  return {
    result,
    signal: (sig) => void group?.signal(sig),
    stop: () => termination?.start(),
  };
}

function notStarted(err: unknown, started: number): CheckResult {
  const message = err instanceof Error ? err.message : String(err);
  return { outcome: 'error', exitCode: null, signal: null, durationMs: Math.round(performance.now() - started), stdout: '', stderr: message };
}

function lastLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-5)
    .join('\n');
}
