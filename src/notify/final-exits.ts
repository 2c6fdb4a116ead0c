// Which exit is a job's last: a failed attempt followed by a retry is not, so notifications
// count a job with retries as one. Read from the event stream alone: the supervisor logs
// `retry` in the same turn as the `exit` it follows, and a signal that stops warden cancels
// every retry not yet started (those failures become final then), and a retry that admission
// turns away is logged as a `skip` of the job's tick and command.
import type { Event, ExitRecord, Stamped } from '../events.js';
import type { Signal } from '../exit.js';

export type Stopping = 'none' | 'draining' | 'terminating';

export interface FinalExit {
  record: ExitRecord;
  /** Warden was stopping when the job ended (a job it interrupted itself is no surprise). */
  stopping: Stopping;
}

type Skip = Extract<Event, { event: 'skip' }>;

export interface FinalListener {
  /** A job's last exit. */
  final(exit: FinalExit): void;
  /** A trigger's job skipped by admission (not a retry: that ends in `final`). */
  skipped(skip: Skip): void;
}

export class FinalExits {
  private state: Stopping = 'none';
  /** Failed attempts whose exit was just logged: final unless a retry follows in this turn. */
  private readonly undecided = new Map<string, ExitRecord>();
  private readonly retried = new Set<string>();
  /** Failed attempts waiting for their retry to start. */
  private readonly pending = new Map<string, ExitRecord>();

  constructor(private readonly listener: FinalListener) {}

  get stopping(): Stopping {
    return this.state;
  }

  hear(e: Stamped): void {
    if (e.event === 'retry') this.retried.add(e.jobId);
    else if (e.event === 'spawn') this.pending.delete(e.jobId);
    else if (e.event === 'exit') this.exit(e);
    else if (e.event === 'skip' && e.command !== undefined) this.skip(e);
  }

  private skip(e: Skip): void {
    for (const [jobId, record] of this.pending) {
      if (record.tick === e.tick && record.command === e.command) {
        this.pending.delete(jobId);
        this.listener.final({ record, stopping: this.state });
        return;
      }
    }
    this.listener.skipped(e);
  }

  /** SIGINT drains (a second one terminates); SIGTERM and SIGHUP terminate. */
  onSignal(signal: Signal): void {
    this.state = signal === 'SIGINT' && this.state === 'none' ? 'draining' : 'terminating';
    // The supervisor drops every retry not yet started: their last failure was final.
    for (const [jobId, record] of this.pending) {
      this.pending.delete(jobId);
      this.listener.final({ record, stopping: this.state });
    }
  }

  private exit(e: ExitRecord): void {
    const { jobId } = e;
    this.pending.delete(jobId);
    if (e.outcome === 'ok') {
      this.listener.final({ record: e, stopping: this.state });
      return;
    }
    const first = this.undecided.size === 0;
    this.undecided.set(jobId, e);
    if (first) setImmediate(() => this.decide());
  }

  private decide(): void {
    for (const [jobId, record] of this.undecided) {
      if (this.retried.delete(jobId) && this.state === 'none') this.pending.set(jobId, record);
      else this.listener.final({ record, stopping: this.state });
    }
    this.undecided.clear();
  }
}
