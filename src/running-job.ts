// A started job: its own process group holding the slot, output drained as it comes, the
// timeout, and one ExitRecord the moment its own process exits.
import type { ChildProcess } from 'node:child_process';
import { childEnd } from './child-exit.js';
import type { ExitRecord } from './events.js';
import { exitRecord, notStartedRecord } from './exit-record.js';
import type { RecordBase, StopReason } from './exit-record.js';
import { drainOutput } from './job-output.js';
import type { OutputMode } from './job-output.js';
import { OwnGroup } from './own-group.js';
import { Termination } from './terminate.js';

export interface JobIdentity {
  jobId: string;
  /** What the user wrote; shown in logs. */
  command: string;
  slot: number;
  tick: number;
  attempt: number;
  timeoutMs?: number;
  killAfterMs: number;
  output: OutputMode;
}

export class RunningJob {
  readonly pid: number | null;
  /** Whether the job's own program started (a ready job's exec may still fail). */
  readonly started: Promise<boolean>;
  readonly startedAt: number;
  readonly exited: Promise<ExitRecord>;
  /** The job's process group; outlives the job while members it left behind are alive. */
  readonly group: OwnGroup | undefined;
  private stopReason: StopReason | undefined;
  private readonly termination: Termination | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly identity: JobIdentity,
    child: ChildProcess | undefined,
    spawnError: Error | undefined,
    /** For a process that becomes the job by an exec (ready-job.ts): that exec's failure, or undefined. */
    private readonly execFailure: Promise<Error | undefined> = Promise.resolve(undefined),
    /** When it started, if before now (a ready job's take, see ready-job.ts). */
    startedAt = performance.now(),
  ) {
    this.startedAt = startedAt;
    this.pid = child?.pid ?? null;
    if (this.pid !== null) {
      this.group = new OwnGroup(this.pid);
      this.termination = new Termination(this.group, identity.killAfterMs);
    }
    this.exited = spawnError || !child || this.pid === null ? this.notStarted(child, spawnError) : this.watch(child);
    this.started = this.pid === null ? Promise.resolve(false) : this.execFailure.then((err) => !err);
    if (identity.timeoutMs !== undefined && this.pid !== null) {
      this.timeoutTimer = setTimeout(() => this.stop('timeout'), Math.max(0, identity.timeoutMs - (performance.now() - startedAt)));
    }
  }

  get stopping(): boolean {
    return this.stopReason !== undefined;
  }

  /** Forward a signal (e.g. the terminal's SIGINT) to the whole group. */
  signal(sig: NodeJS.Signals): void {
    this.group?.signal(sig);
  }

  /** TERM and CONT to the group now, KILL after the grace if anything of it is left. */
  stop(reason: StopReason): void {
    if (!this.termination || this.stopReason) return;
    this.stopReason = reason;
    this.termination.start();
  }

  private async notStarted(child: ChildProcess | undefined, spawnError: Error | undefined): Promise<ExitRecord> {
    // A spawn without a pid reports its error asynchronously.
    const end = spawnError ?? (child ? await errorOf(child) : undefined);
    return notStartedRecord(this.base(), performance.now() - this.startedAt, end);
  }

  private async watch(child: ChildProcess): Promise<ExitRecord> {
    const tail = drainOutput(child, this.identity.output, this.identity.jobId);
    const end = await childEnd(child, () => {
      if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
      this.group?.leaderGone();
      this.termination?.leaderExited();
    });
    if (end.kind === 'error') return notStartedRecord(this.base(), performance.now() - this.startedAt, end.error);
    const execError = await this.execFailure;
    // Its program never ran: as a spawn that failed, no pid.
    if (execError) return notStartedRecord({ ...this.base(), jobPid: null }, end.exitedAt - this.startedAt, execError);
    return exitRecord(this.base(), {
      exitCode: end.exitCode,
      signal: end.signal,
      durationMs: end.exitedAt - this.startedAt,
      tail: tail(),
      stopReason: this.stopReason,
      forced: this.termination?.forced ?? false,
      leftover: this.group?.alive() ?? false,
    });
  }

  private base(): RecordBase {
    const i = this.identity;
    return { jobId: i.jobId, jobPid: this.pid, command: i.command, attempt: i.attempt, tick: i.tick, slot: i.slot };
  }
}

function errorOf(child: ChildProcess): Promise<Error> {
  return new Promise((resolve) => child.once('error', resolve));
}
