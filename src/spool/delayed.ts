// Delayed jobs, kept in the spool for as long as they wait. A job admitted with time left is
// written to the spool (before its trigger counts as handled) and waits here holding its slot
// and its claim. Jobs that a dead warden left in the spool are claimed, waited out and handed
// back to start, each by one process only. Ctrl-C cancels them (they leave the spool); SIGTERM
// and SIGHUP only let go of them, so the next `watch` or `once` of the pool takes them up.
import type { Emit } from '../events.js';
import { msg } from '../messages.js';
import type { KeyLock } from '../locks/key-lock.js';
import type { Slot } from '../pool/pool.js';
import type { Holds, JobRequest } from '../job-request.js';
import type { Spool, SpoolEntry } from './spool.js';

/** Locks that go with a job into its process tree. */
export type { Holds } from '../job-request.js';

export interface DelayedOptions {
  spool: Spool;
  pool: string;
  maxLateMs?: number;
  emit: Emit;
  /** Spool bookkeeping under way (a cancel's removal): the owner waits for it before it is done. */
  track(work: Promise<void>): void;
  /** The job's time has come: start it in `slot`, or take a slot first when there is none. */
  due(request: JobRequest, slot: Slot | undefined, holds: Holds): void;
}

interface Waiting {
  request: JobRequest;
  slot?: Slot;
  holds: Holds;
  cancel: () => void;
}

// Node fires a timer set past 2^31-1 ms (24.8 days) after 1 ms: a resumer whose clock is far
// behind, or an entry due far ahead, must wait in steps instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Call `fn` after `ms` of the monotonic clock, however long that is. */
export function longTimeout(fn: () => void, ms: number): () => void {
  const until = performance.now() + Math.max(0, Number.isFinite(ms) ? ms : 0);
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = until - performance.now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}

export class DelayedJobs {
  private readonly waiting = new Set<Waiting>();
  private stopped = false;
  /** Damaged entries this process has reported (once each). */
  private readonly toldDamaged = new Set<string>();

  constructor(private readonly options: DelayedOptions) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Write a request to the spool, durably, and log it: the returned claim keeps every other
   * process from resuming it while this one (or the job it starts) lives.
   */
  async spool(request: JobRequest): Promise<{ request: JobRequest; claim: KeyLock }> {
    const dueAt = Date.parse(request.trigger) + request.spec.delayMs;
    const { entry, claim } = await this.options.spool.create({
      pool: this.options.pool,
      jobId: request.jobId,
      command: request.command,
      dueAt,
      delayMs: request.spec.delayMs,
      tick: request.tick,
      trigger: request.trigger,
      checkOutput: request.checkOutput,
      cwd: request.cwd ?? process.cwd(),
      ...(request.item !== undefined ? { item: request.item } : {}),
      ...(request.uniqueKey !== undefined ? { uniqueKey: request.uniqueKey } : {}),
    });
    this.options.emit({ event: 'delay', jobId: request.jobId, command: request.command, dueAt: new Date(dueAt).toISOString(), delayMs: request.spec.delayMs, spoolId: entry.id, ...(request.item !== undefined ? { item: request.item } : {}) });
    return { request: { ...request, spoolId: entry.id, cwd: entry.cwd, ...(claim.lease !== undefined ? { claimLease: claim.lease } : {}) }, claim };
  }

  /** Log a delayed job that could not be spooled (it waits in this process only). */
  announce(request: JobRequest, dueAt: number): void {
    this.options.emit({ event: 'delay', jobId: request.jobId, command: request.command, dueAt: new Date(dueAt).toISOString(), delayMs: request.spec.delayMs, ...(request.item !== undefined ? { item: request.item } : {}) });
  }

  /** Hold a request, its slot and its locks until it is due, then hand it to `due`. */
  hold(request: JobRequest, slot: Slot | undefined, holds: Holds): void {
    if (this.stopped) return this.letGo(slot, holds);
    this.wait(request, slot, holds);
  }

  /** Claim every entry of the pool that no live process holds, and wait each out. */
  async resumeOrphans(): Promise<void> {
    const { spool } = this.options;
    for (const id of await spool.damaged()) {
      if (this.toldDamaged.has(id)) continue;
      this.toldDamaged.add(id);
      this.options.emit({ event: 'error', message: msg.spoolDamaged(id) });
    }
    for (const entry of await spool.orphans()) {
      if (this.stopped) return;
      if (entry.pool !== this.options.pool) continue;
      const claim = await spool.tryClaim(entry.id);
      if (!claim) continue;
      // Claimed: read again, it may have started (or been dropped) just before our claim.
      const current = await spool.read(entry.id);
      if (!current || this.stopped) {
        claim.release();
        continue;
      }
      await this.adopt(current, claim);
    }
  }

  /** Whether the spool holds entries of the pool that no live process holds. */
  async hasOrphans(): Promise<boolean> {
    return (await this.options.spool.orphans()).some((e) => e.pool === this.options.pool);
  }

  /** Stop waiting: cancel (Ctrl-C: the jobs leave the spool) or let go (they stay). How many. */
  stop(cancel: boolean): number {
    this.stopped = true;
    const n = this.waiting.size;
    for (const w of this.waiting) {
      w.cancel();
      const { spoolId } = w.request;
      // The claim is let go only once the entry is gone: no one may resume a cancelled job.
      if (cancel && spoolId) this.options.track(this.options.spool.remove(spoolId).then(() => this.letGo(w.slot, w.holds), (err: unknown) => {
        this.letGo(w.slot, w.holds);
        throw err;
      }).then(() => undefined));
      else this.letGo(w.slot, w.holds);
    }
    this.waiting.clear();
    return n;
  }

  private async adopt(entry: SpoolEntry, claim: KeyLock): Promise<void> {
    const lateMs = Math.max(0, Date.now() - entry.dueAt);
    if (await this.droppedTooLate(entry, entry.id)) return claim.release();
    this.options.emit({ event: 'resume', jobId: entry.jobId, command: entry.command, dueAt: new Date(entry.dueAt).toISOString(), lateMs, spoolId: entry.id, ...(entry.item !== undefined ? { item: entry.item } : {}) });
    const request: JobRequest = {
      tick: entry.tick,
      jobId: entry.jobId,
      command: entry.command,
      spec: { run: entry.command, delayMs: entry.delayMs },
      trigger: entry.trigger,
      checkOutput: entry.checkOutput,
      attempt: 1,
      spoolId: entry.id,
      dueAt: entry.dueAt,
      cwd: entry.cwd,
      ...(entry.item !== undefined ? { item: entry.item } : {}),
      ...(entry.uniqueKey !== undefined ? { uniqueKey: entry.uniqueKey } : {}),
    };
    this.wait(request, undefined, { claim });
  }

  /**
   * With --max-late, a spooled job past it leaves the spool and is logged as too late. Asked when
   * it is taken up, and again when it is about to start (it may have waited for a slot).
   */
  async droppedTooLate(job: Pick<JobRequest, 'tick' | 'command' | 'jobId' | 'item'> & { dueAt: number }, spoolId: string): Promise<boolean> {
    const lateMs = Math.max(0, Date.now() - job.dueAt);
    const { maxLateMs } = this.options;
    if (maxLateMs === undefined || lateMs <= maxLateMs) return false;
    await this.options.spool.remove(spoolId);
    this.options.emit({ event: 'skip', reason: 'too-late', tick: job.tick, pool: this.options.pool, command: job.command, jobId: job.jobId, lateMs, ...(job.item !== undefined ? { item: job.item } : {}) });
    return true;
  }

  private wait(request: JobRequest, slot: Slot | undefined, holds: Holds): void {
    const dueAt = request.dueAt ?? Date.parse(request.trigger) + request.spec.delayMs;
    const w: Waiting = {
      request,
      slot,
      holds,
      // Dropped from the spool meanwhile (`warden status --drop`): the start finds it gone.
      cancel: longTimeout(() => {
        this.waiting.delete(w);
        this.options.due(request, slot, holds);
      }, dueAt - Date.now()),
    };
    this.waiting.add(w);
  }

  private letGo(slot: Slot | undefined, holds: Holds): void {
    slot?.release();
    holds.claim?.release();
    holds.unique?.release();
  }
}
