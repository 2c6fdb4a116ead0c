// Runs the check command once: exit 0 fires, 1 is idle, anything else (a signal, a timeout)
// is a check error. Like a job it leads its own process group, so a timeout kills its tree.
import type { CheckOutcome } from './events.js';
import { groupAlive, signalGroup, terminateGroup } from './process-group.js';

// The check's stdout is kept for --each-line and WARDEN_CHECK_OUTPUT; far more is a mistake.
const MAX_CHECK_OUTPUT = 16 * 1024 * 1024;
const MAX_CHECK_STDERR = 64 * 1024;

/** Keeps the first `max` bytes of a stream and counts the rest. */
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
}

export interface RunningCheck {
  pid: number | undefined;
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

export async function startCheck(options: CheckOptions): Promise<RunningCheck> {
  const { execa } = await import('execa');
  const started = performance.now();
  const sub = execa('/bin/sh', ['-c', options.command], {
    detached: true,
    stdin: 'ignore',
    env: options.env,
    extendEnv: false,
    reject: false,
    // Drained here, not buffered by execa: past the cap the output is read and dropped, so a
    // chatty check is never cut off (its writer would die of SIGPIPE and the check would fail).
    buffer: false,
    cleanup: false,
  });
  const stdout = new Capped(MAX_CHECK_OUTPUT);
  const stderr = new Capped(MAX_CHECK_STDERR);
  sub.stdout?.on('data', (chunk: Buffer) => stdout.add(chunk));
  sub.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk));
  const pid = sub.pid;
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (pid === undefined || killTimer) return;
    terminateGroup(pid);
    killTimer = setTimeout(() => groupAlive(pid) && signalGroup(pid, 'SIGKILL'), options.killAfterMs);
  };
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), stop()), options.timeoutMs);
  const result = sub.then((r): CheckResult => {
    if (timer) clearTimeout(timer);
    if (killTimer && pid !== undefined && !groupAlive(pid)) clearTimeout(killTimer);
    const exitCode = r.exitCode ?? null;
    const signal = r.signal ?? null;
    const outcome: CheckOutcome = timedOut ? 'timeout' : exitCode === 0 ? 'fired' : exitCode === 1 ? 'idle' : 'error';
    return {
      outcome,
      exitCode,
      signal,
      durationMs: Math.round(performance.now() - started),
      stdout: stdout.text(),
      stderr: lastLines(stderr.text(), r.failed && exitCode === null && !signal ? (r.shortMessage ?? '') : ''),
    };
  });
  return {
    pid,
    result,
    signal: (sig) => pid !== undefined && signalGroup(pid, sig),
    stop,
  };
}

function lastLines(stderr: string, extra: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  if (extra) lines.push(extra);
  return lines.slice(-5).join('\n');
}
