// --on-failure CMD: after a job's last attempt fails, times out or is killed, run CMD with the
// exit record in its environment. It takes no pool slot, is bounded by its timeout, and its
// own failure is an `error` event, never the supervisor's. A few run at once; a bounded number wait.
import type { ExitRecord, Stamped } from '../events.js';
import type { Signal } from '../exit.js';
import { formatDuration } from '../duration.js';
import { msg } from '../messages.js';
import type { Reporter } from '../report/reporter.js';
import { FinalExits } from './final-exits.js';
import type { FinalExit } from './final-exits.js';
import { HookProcess } from './hook-process.js';
import type { HookResult } from './hook-process.js';

/** Hooks running at once: a burst of failures must not become a burst of processes. */
export const MAX_RUNNING_HOOKS = 4;
/**
 * Failures waiting for a hook: jobs failing faster than hooks end must not grow warden's memory
 * for weeks, nor have hooks fire hours after their failure. Past this, a failure is logged as
 * not hooked.
 */
export const MAX_WAITING_HOOKS = 100;

export interface OnFailureOptions {
  command: string;
  timeoutMs: number;
  killAfterMs: number;
  pool: string;
}

export class OnFailure {
  private readonly exits = new FinalExits({ final: (exit) => this.final(exit), skipped: () => undefined });
  private readonly queue: ExitRecord[] = [];
  private readonly running = new Set<HookProcess>();
  private idle: (() => void) | undefined;

  constructor(
    private readonly options: OnFailureOptions,
    private readonly reporter: Reporter,
  ) {}

  readonly hear = (e: Stamped): void => this.exits.hear(e);

  onSignal(signal: Signal): void {
    this.exits.onSignal(signal);
    if (this.exits.stopping !== 'terminating') return;
    for (const record of this.queue.splice(0)) this.reporter.emit({ event: 'error', message: msg.onFailureDropped(record.jobId) });
    for (const hook of this.running) hook.stop();
    this.maybeIdle();
  }

  /** Resolves when no hook runs or waits (the last exit's retry decision comes first). */
  async settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (!this.running.size && !this.queue.length) return;
    await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private final({ record, stopping }: FinalExit): void {
    if (record.outcome === 'ok') return;
    // A job that warden itself interrupted while stopping did not fail on its own.
    if (record.outcome === 'killed' && stopping !== 'none') return;
    if (stopping === 'terminating') {
      this.reporter.emit({ event: 'error', message: msg.onFailureDropped(record.jobId) });
      return;
    }
    if (this.queue.length >= MAX_WAITING_HOOKS) {
      this.reporter.emit({ event: 'error', message: msg.onFailureBacklog(record.jobId, this.queue.length) });
      return;
    }
    this.queue.push(record);
    this.next();
  }

  private next(): void {
    while (this.running.size < MAX_RUNNING_HOOKS && this.queue.length) {
      const record = this.queue.shift();
      if (record) this.start(record);
    }
    this.maybeIdle();
  }

  private start(record: ExitRecord): void {
    const hook = new HookProcess({
      command: this.options.command,
      env: this.environment(record),
      timeoutMs: this.options.timeoutMs,
      killAfterMs: this.options.killAfterMs,
      relay: this.reporter.showsOutput
        ? { prefix: this.reporter.outputPrefix(`${record.jobId} on-failure`), write: (framed) => this.reporter.jobOutput(framed) }
        : undefined,
    });
    this.running.add(hook);
    void hook.done.then((result) => {
      this.running.delete(hook);
      const problem = this.problem(result);
      if (problem) this.reporter.emit({ event: 'error', message: msg.onFailureFailed(record.jobId, problem) });
      this.next();
    });
  }

  private environment(r: ExitRecord): NodeJS.ProcessEnv {
    const record: Record<string, string> = {
      WARDEN_OUTCOME: r.outcome,
      WARDEN_EXIT_CODE: r.exitCode === null ? '' : String(r.exitCode),
      WARDEN_SIGNAL: r.signal ?? '',
      WARDEN_TAIL: r.tail,
      WARDEN_JOB_ID: r.jobId,
      WARDEN_COMMAND: r.command,
      WARDEN_ATTEMPT: String(r.attempt),
      WARDEN_DURATION_MS: String(r.durationMs),
      WARDEN_POOL: this.options.pool,
      WARDEN_ERROR: r.error ?? '',
    };
    // An environment cannot hold a NUL byte (the hook would not start at all): a job that
    // printed binary output before it failed gets U+FFFD there, as undecodable bytes do.
    for (const [key, value] of Object.entries(record)) record[key] = value.replaceAll('\0', '\uFFFD');
    return { ...process.env, ...record };
  }

  /** How the hook went wrong, in words, or undefined when it succeeded. */
  private problem(r: HookResult): string | undefined {
    const last = r.tail.split('\n').filter(Boolean).pop();
    const said = last ? `: ${last}` : '';
    if (r.error) return msg.hookCannotStart(r.error);
    if (r.timedOut) return msg.hookTimedOut(formatDuration(this.options.timeoutMs)) + said;
    if (r.signal) return msg.hookKilled(r.signal) + said;
    if (r.exitCode !== 0) return msg.hookExited(r.exitCode ?? -1) + said;
    return undefined;
  }

  private maybeIdle(): void {
    if (this.running.size || this.queue.length) return;
    this.idle?.();
    this.idle = undefined;
  }
}
