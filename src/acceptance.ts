// What happens to a request once admission found it a slot: it takes its --unique key, a
// delayed one is written to the spool and waits, then it starts (or goes to the --detach
// runner). Jobs left in the spool by a warden that is gone are taken up here too, each by one
// process only, and take a key and a slot again when they are due.
import type { JobRequest, JobRunner } from './job-runner.js';
import { msg } from './messages.js';
import { UnreachableError } from './pool/redis/client.js';
import type { Pool, Slot } from './pool/pool.js';
import type { Reporter } from './report/reporter.js';
import type { Settings } from './settings.js';
import type { Shutdown } from './shutdown.js';
import { DelayedJobs } from './spool/delayed.js';
import type { Holds } from './spool/delayed.js';
import type { Stores } from './stores.js';

export interface AcceptanceOptions {
  settings: Pick<Settings, 'unique' | 'maxLateMs'>;
  pool: Pool;
  reporter: Reporter;
  stores: Stores;
  runner: JobRunner;
  shutdown: Shutdown;
  /** With --detach: accepted requests, their slots and locks go here instead of starting. */
  handOff?: (request: JobRequest, slot: Slot, holds: Holds) => void;
  /** Something ended: the owner may be done now. */
  changed: () => void;
}

/** At most one live or delayed job per key: the job's command, and its item with --each-line. */
export function uniqueKeyOf(request: JobRequest): string {
  return request.item === undefined ? request.command : `${request.command}\n${request.item}`;
}

export class Acceptance {
  readonly delays: DelayedJobs;
  /** With --detach: spooled jobs to take up go to a runner instead of waiting here. */
  resumeElsewhere: (() => void) | undefined;
  private readonly resumeAbort = new AbortController();
  /** Requests still being accepted, and resumed jobs waiting for a slot. */
  private pending = 0;

  constructor(private readonly o: AcceptanceOptions) {
    this.delays = new DelayedJobs({
      spool: o.stores.spool,
      pool: o.pool.name,
      maxLateMs: o.settings.maxLateMs,
      emit: (e) => o.reporter.emit(e),
      track: (work) => this.track(work.catch((err: unknown) => o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) }))),
      due: (request, slot, holds) => (slot ? o.runner.start(request, slot, holds) : this.track(this.resumeInto(request, holds))),
    });
  }

  /** Anything accepted and not started yet. */
  get busy(): boolean {
    return this.pending > 0 || this.delays.size > 0;
  }

  /** A new trigger whose --unique key is live already: no need to wait for a slot to find that out. */
  async isDuplicate(request: JobRequest): Promise<boolean> {
    if (!this.o.settings.unique) return false;
    // Not known (the server is away): admission finds out when it takes the key.
    const live = await this.o.stores.unique.isLocked(uniqueKeyOf(request)).catch(() => false);
    if (!live) return false;
    this.duplicate(request);
    return true;
  }

  /** A request with its slot (and locks, when the one-shot that detached us took them). */
  admit(request: JobRequest, slot: Slot, holds: Holds = {}): void {
    this.track(
      this.accept(request, slot, holds).catch((err: unknown) => {
        // Its key could not be taken (the server away): it is not accepted, and says so.
        slot.release();
        holds.claim?.release();
        holds.unique?.release();
        this.o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
      }),
    );
  }

  /** Take up delayed jobs that a warden which is gone left in the pool's spool. */
  async resumeSpooled(): Promise<void> {
    try {
      if (!this.resumeElsewhere) await this.delays.resumeOrphans();
      else if (await this.delays.hasOrphans()) this.resumeElsewhere();
    } catch (err) {
      // A server that is away is reported once by the pool, not at every tick here.
      if (!(err instanceof UnreachableError)) this.o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
    }
  }

  /** Stop: cancel the delayed jobs (Ctrl-C: they leave the spool) or let go of them (they stay). How many. */
  stop(cancel: boolean): number {
    this.resumeAbort.abort();
    return this.delays.stop(cancel);
  }

  private track(work: Promise<void>): void {
    this.pending++;
    void work.finally(() => {
      this.pending--;
      this.o.changed();
    });
  }

  private async accept(request: JobRequest, slot: Slot, holds: Holds): Promise<void> {
    const { stores, shutdown } = this.o;
    const release = (): void => {
      slot.release();
      holds.claim?.release();
      holds.unique?.release();
    };
    if (shutdown.active) return release();
    // A new trigger takes its key; a retry takes it back (the failed attempt's tree took it along).
    const key = request.uniqueKey ?? (this.o.settings.unique ? uniqueKeyOf(request) : undefined);
    if (key !== undefined && !holds.unique && (request.uniqueKey === undefined || request.attempt > 1)) {
      const lock = await stores.unique.tryLock(key);
      // Live, or waiting in the spool for a warden that is gone.
      const waiting = lock && request.attempt === 1 ? await stores.spool.list().then((all) => all.some((e) => e.uniqueKey === key), (err: unknown) => {
        lock.release();
        throw err;
      }) : false;
      if (!lock || waiting) {
        lock?.release();
        release();
        return this.duplicate(request);
      }
      request = { ...request, uniqueKey: key };
      holds = { ...holds, unique: lock };
    }
    // The delay counts from the trigger, not from the moment a queued request got its slot; a
    // retry has waited out its backoff already.
    const dueAt = request.attempt > 1 ? 0 : Date.parse(request.trigger) + request.spec.delayMs;
    if (dueAt > Date.now() && request.spoolId === undefined) {
      try {
        const spooled = await this.delays.spool(request);
        request = spooled.request;
        holds = { ...holds, claim: spooled.claim };
      } catch (err) {
        // Not in the spool, it still waits here: only a restart during its delay would lose it.
        this.o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
        this.delays.announce(request, dueAt);
      }
    }
    if (shutdown.active) {
      if (shutdown.state === 'draining' && request.spoolId) await stores.spool.remove(request.spoolId).catch(() => false);
      return release();
    }
    if (this.o.handOff) return this.o.handOff(request, slot, holds);
    if (dueAt <= Date.now()) return this.o.runner.start(request, slot, holds);
    slot.describe({ pid: process.pid, owner: process.pid, command: `${request.command} (delayed)`, jobId: request.jobId, startedAt: new Date().toISOString() });
    this.delays.hold(request, slot, holds);
  }

  /** A job resumed from the spool is due: it takes its --unique key and a slot again, then starts. */
  private async resumeInto(request: JobRequest, holds: Holds): Promise<void> {
    const { stores, shutdown } = this.o;
    const release = (): void => {
      holds.claim?.release();
      holds.unique?.release();
    };
    // Dropped from the spool while it waited (`warden status --drop`): it does not run.
    try {
      if (request.spoolId && !(await stores.spool.read(request.spoolId))) return release();
      if (request.uniqueKey !== undefined) {
        const lock = await stores.unique.tryLock(request.uniqueKey);
        if (!lock) {
          if (request.spoolId) await stores.spool.remove(request.spoolId);
          release();
          return this.duplicate(request);
        }
        holds = { ...holds, unique: lock };
      }
    } catch (err) {
      // Left in the spool, its claim let go: taken up again by the next warden of the pool.
      release();
      this.o.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
      return;
    }
    let slot: Slot | undefined;
    // Whether it had to wait for a slot: only then is --max-late judged again below.
    let waited = false;
    try {
      slot = await this.o.pool.tryAcquire();
      if (!slot) {
        waited = true;
        slot = await this.o.pool.acquire({ signal: this.resumeAbort.signal });
      }
    } catch {
      // Stopped while waiting for a slot: Ctrl-C cancels it, TERM and HUP leave it spooled.
      if (shutdown.state === 'draining' && request.spoolId) await stores.spool.remove(request.spoolId).catch(() => false);
      return release();
    }
    if (shutdown.active) {
      slot.release();
      return release();
    }
    // It may have waited for the slot past --max-late (a prompt start a few ms after its due
    // time, its timer's own slack, is not late).
    const dueAt = request.dueAt ?? Date.parse(request.trigger) + request.spec.delayMs;
    if (waited && request.spoolId && (await this.delays.droppedTooLate({ ...request, dueAt }, request.spoolId).catch(() => false))) {
      slot.release();
      return release();
    }
    this.o.runner.start(request, slot, holds);
  }

  private duplicate(request: JobRequest): void {
    this.o.reporter.emit({ event: 'skip', reason: 'duplicate', tick: request.tick, pool: this.o.pool.name, command: request.command, jobId: request.jobId, ...(request.item !== undefined ? { item: request.item } : {}) });
  }
}
