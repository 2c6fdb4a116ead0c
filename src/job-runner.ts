// Starts admitted jobs and follows them to their end: the spawn event, the exit record, the
// tally, and a retry of a failed job (back through admission, after its backoff). Processes a
// finished job left behind go to the strays.
import { MAX_DURATION_MS } from './duration.js';
import type { Decision } from './admission.js';
import type { ExitRecord } from './events.js';
import { isFailure } from './exit-record.js';
import type { Tally } from './exit-status.js';
import { inheritedEnv, jobEnv } from './job-env.js';
import type { OutputMode } from './job-output.js';
import { launch } from './launcher.js';
import { msg } from './messages.js';
import { withLeaseToken } from './pool/pool.js';
import type { Slot } from './pool/pool.js';
import type { Reporter } from './report/reporter.js';
import type { RunningJob } from './running-job.js';
import type { Settings } from './settings.js';
import { Strays } from './strays.js';
import type { KeyLock } from './locks/key-lock.js';
import type { Holds, JobRequest } from './job-request.js';
import type { Spool } from './spool/spool.js';

export type { JobRequest } from './job-request.js';

export interface JobRunnerOptions {
  settings: Pick<Settings, 'jobTimeoutMs' | 'killAfterMs' | 'retries' | 'retryDelayMs' | 'output'>;
  pool: string;
  reporter: Reporter;
  tally: Tally;
  /** Whether shutdown has begun (no retries then). */
  stopping: () => boolean;
  /** A failed job's next attempt goes back through admission. */
  resubmit: (request: JobRequest) => Promise<Decision>;
  /** Something ended: the owner may be done now. */
  changed: () => void;
  /** The pool's spool, for jobs that were spooled. */
  spool: Spool;
}

export class JobRunner {
  readonly strays = new Strays();
  private readonly jobs = new Map<string, RunningJob>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private pendingRetries = 0;
  /** Spooled jobs whose start is being marked, and spool entries being settled. */
  private pendingStarts = 0;

  constructor(private readonly o: JobRunnerOptions) {}

  get live(): number {
    return this.jobs.size;
  }

  /** Jobs running, or retries still to be decided. */
  get busy(): boolean {
    return this.jobs.size > 0 || this.retryTimers.size > 0 || this.pendingRetries > 0 || this.pendingStarts > 0;
  }

  /** Spool bookkeeping still under way counts as busy: the process must not exit before it. */
  private track(work: Promise<void>): void {
    this.pendingStarts++;
    void work
      .catch((err: unknown) => this.o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) }))
      .finally(() => {
        this.pendingStarts--;
        this.o.changed();
      });
  }

  /** Start a job in its slot; `holds` go with it into its process tree (its spool claim, its --unique key). */
  start(request: JobRequest, slot: Slot, holds: Holds = {}): void {
    const spooled = request.spoolId !== undefined && request.attempt === 1 ? request.spoolId : undefined;
    if (spooled === undefined) return this.launchJob(request, slot, holds);
    // A spooled job's shell first marks its spool entry started: once it has, no one resumes it.
    this.pendingStarts++;
    void this.o.spool
      .startLine(spooled, request.claimLease)
      .then(
        (line) => {
          // Dropped from the spool (`status --drop`), or stopping meanwhile: it does not start.
          if (line === undefined || this.o.stopping()) return this.letGo(slot, holds);
          this.launchJob(request, slot, holds, line, spooled);
        },
        (err: unknown) => {
          // Left in the spool, its claim free: the next warden of the pool takes it up.
          this.o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
          this.letGo(slot, holds);
        },
      )
      .finally(() => {
        this.pendingStarts--;
        this.o.changed();
      });
  }

  private letGo(slot: Slot, holds: Holds): void {
    slot.release();
    holds.claim?.release();
    holds.unique?.release();
  }

  private launchJob(request: JobRequest, slot: Slot, holds: Holds, startLine?: string, spooled?: string): void {
    const { settings, reporter } = this.o;
    const job = launch({
      jobId: request.jobId,
      command: request.command,
      shell: startLine !== undefined ? `${startLine}\n${request.command}` : request.command,
      holds: [holds.claim, holds.unique].filter((h): h is KeyLock => h !== undefined),
      cwd: request.cwd,
      env: withLeaseToken(jobEnv(inheritedEnv(), {
        jobId: request.jobId,
        pool: this.o.pool,
        slot: slot.index,
        trigger: request.trigger,
        attempt: request.attempt,
        tick: request.tick,
        checkOutput: request.checkOutput,
        item: request.item,
      }), slot),
      slot,
      tick: request.tick,
      attempt: request.attempt,
      timeoutMs: settings.jobTimeoutMs,
      killAfterMs: settings.killAfterMs,
      output: this.outputMode(request.jobId),
      stdin: 'ignore',
    });
    if (job.pid !== null) {
      slot.describe({ pid: job.pid, owner: process.pid, command: request.command, jobId: request.jobId, startedAt: new Date().toISOString() });
      reporter.emit({
        event: 'spawn',
        jobId: request.jobId,
        jobPid: job.pid,
        command: request.command,
        slot: slot.index,
        tick: request.tick,
        attempt: request.attempt,
        delayMs: request.spec.delayMs,
        ...(request.item !== undefined ? { item: request.item } : {}),
        ...(slot.token !== undefined ? { token: slot.token } : {}),
      });
      this.jobs.set(request.jobId, job);
    }
    const started = job.pid !== null;
    void job.exited.then((record) => {
      // One that could not start had its run (a failed one): it is not a job left to resume.
      if (spooled !== undefined) this.track(this.o.spool.finished(spooled, started));
      this.onExit(job, slot, request, record);
    });
  }

  /** Pass a signal on to every running job's group (the terminal's Ctrl-C). */
  signalAll(sig: NodeJS.Signals): void {
    for (const job of this.jobs.values()) job.signal(sig);
  }

  /** Terminate every running job and whatever finished ones left behind. */
  stopAll(): void {
    for (const job of this.jobs.values()) job.stop('terminated');
    this.strays.terminate();
  }

  /** Drop retries that have not been admitted yet. */
  cancelRetries(): void {
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
  }

  /** For --overflow replace: terminate the oldest job not already stopping; false when there is none. */
  replaceOldest(): boolean {
    const oldest = [...this.jobs.values()].filter((j) => !j.stopping).sort((a, b) => a.startedAt - b.startedAt)[0];
    if (!oldest) return false;
    oldest.stop('terminated');
    return true;
  }

  /** The running jobs, for the `stop` event. */
  running(): { jobId: string; jobPid: number | null; command: string; runningMs: number }[] {
    const now = performance.now();
    return [...this.jobs.values()].map((j) => ({ jobId: j.identity.jobId, jobPid: j.pid, command: j.identity.command, runningMs: Math.round(now - j.startedAt) }));
  }

  private outputMode(jobId: string): OutputMode {
    const { settings, reporter } = this.o;
    if (settings.output) return { kind: 'file', dir: settings.output };
    if (!reporter.showsOutput) return { kind: 'drain' };
    return { kind: 'relay', prefix: reporter.outputPrefix(jobId), write: (framed) => reporter.jobOutput(framed) };
  }

  private onExit(job: RunningJob, slot: Slot, request: JobRequest, record: ExitRecord): void {
    const { tally, settings } = this.o;
    this.jobs.delete(request.jobId);
    this.o.reporter.emit({ event: 'exit', ...record });
    // Our copy of the slot goes after the exit is logged, so a waiter's spawn never precedes it;
    // processes the job left behind still hold theirs.
    slot.forget();
    tally.last = record;
    if (record.leftover && job.group) this.strays.add(job.group);
    if (!isFailure(record, job.stopping)) {
      if (record.outcome === 'ok') tally.ok++;
    } else if (record.attempt <= settings.retries && !this.o.stopping()) {
      this.retry(request);
    } else {
      tally.failed++;
    }
    this.o.changed();
  }

  private retry(request: JobRequest): void {
    const delayMs = retryBackoffMs(this.o.settings.retryDelayMs, request.attempt);
    const next: JobRequest = { ...request, attempt: request.attempt + 1 };
    this.o.reporter.emit({ event: 'retry', jobId: request.jobId, attempt: next.attempt, delayMs });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.pendingRetries++;
      void this.o
        .resubmit(next)
        .then(
          (decision) => decision,
          () => 'skipped' as const,
        )
        .then((decision) => {
          // Not admitted (the pool was full, a shutdown): the job's failure stands.
          if (decision === 'skipped') this.o.tally.failed++;
          this.pendingRetries--;
          this.o.changed();
        });
    }, delayMs);
    this.retryTimers.add(timer);
  }
}

/**
 * The wait after failed attempt `attempt`: doubling from --retry-delay, but never past what a
 * timer holds; Node runs a longer timer after 1 ms, which turned a long backoff into none.
 */
export function retryBackoffMs(baseMs: number, attempt: number): number {
  return Math.min(MAX_DURATION_MS, baseMs * 2 ** (attempt - 1));
}
