// The supervisor behind `watch`, `once` and the --detach runner: each tick runs the check, each
// trigger goes through admission, an admitted job waits out its delay and then runs. Shutdown
// follows the one policy in shutdown.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { Admission } from './admission.js';
import type { RunningCheck } from './check.js';
import { checkStep } from './check-step.js';
import type { CheckStep } from './check-step.js';
import type { Signal } from './exit.js';
import { newTally } from './exit-status.js';
import type { Tally } from './exit-status.js';
import { JobRunner } from './job-runner.js';
import type { JobRequest } from './job-runner.js';
import { msg } from './messages.js';
import { finite } from './pool/pool.js';
import type { Pool, Slot } from './pool/pool.js';
import type { Reporter } from './report/reporter.js';
import type { Settings } from './settings.js';
import { Shutdown } from './shutdown.js';
import { DelayedJobs } from './spool/delayed.js';
import type { Holds } from './spool/delayed.js';
import { openStores } from './stores.js';
import { decideChange } from './change/change.js';
import type { ChangeDecision, Observation } from './change/change.js';
import type { ChangeStore } from './change/change-store.js';
import type { Stores } from './stores.js';

export type { JobRequest } from './job-runner.js';

export class Supervisor {
  readonly tally: Tally = newTally();
  readonly shutdown = new Shutdown({ drain: (sig) => this.drain(sig), terminate: (sig, first) => this.terminate(sig, first) });
  private readonly admission: Admission<JobRequest>;
  private readonly runner: JobRunner;
  private readonly delays: DelayedJobs;
  private readonly resumeAbort = new AbortController();
  private readonly stores: Stores;
  /** Admitted requests still being accepted (their key, their spool entry), and resumed jobs waiting for a slot. */
  private accepting = 0;
  /** With --detach: spooled jobs to take up go to a runner instead of waiting here. */
  resumeElsewhere: (() => void) | undefined;
  private readonly checkStep: CheckStep;
  private check: RunningCheck | undefined;
  private busy = 0;
  private acceptingTicks = true;
  private idle: (() => void) | undefined;
  private readonly finished: Promise<void>;
  /** Settles when a signal stops admitting: waits that should end early race it. */
  private readonly stopped: Promise<void>;
  private markStopped: () => void = () => undefined;
  private onStopTicks: () => void = () => undefined;

  constructor(
    private readonly settings: Settings,
    private readonly pool: Pool,
    private readonly reporter: Reporter,
    /** With --detach: admitted requests, their slots and locks go here instead of starting. */
    private readonly handOff?: (request: JobRequest, slot: Slot, holds: Holds) => void,
  ) {
    this.stores = openStores(settings.stateDir, pool.name, settings.onChange !== undefined);
    this.admission = new Admission<JobRequest>({
      pool,
      maxQueue: settings.maxQueue,
      overflow: settings.overflow,
      waitTimeoutMs: settings.waitTimeoutMs,
      emit: (e) => {
        if (e.event === 'skip') this.tally.skipped++;
        // Admission reports only the pool's own failures as errors.
        if (e.event === 'error') this.tally.internal++;
        reporter.emit(e);
      },
      admit: (request, slot) => this.admit(request, slot),
      replaceOldest: () => this.runner.replaceOldest(),
    });
    this.runner = new JobRunner({
      settings,
      pool: pool.name,
      reporter,
      tally: this.tally,
      stopping: () => this.shutdown.active,
      resubmit: (request) => this.admission.submit(request),
      changed: () => this.maybeDone(),
      spool: this.stores.spool,
    });
    this.delays = new DelayedJobs({
      spool: this.stores.spool,
      pool: pool.name,
      maxLateMs: settings.maxLateMs,
      emit: (e) => reporter.emit(e),
      due: (request, slot, holds) => (slot ? this.runner.start(request, slot, holds) : void this.resumeInto(request, holds)),
    });
    this.checkStep = {
      settings,
      pool: pool.name,
      emit: (e) => reporter.emit(e),
      running: (check) => {
        this.check = check;
        // A signal that came while the check was being started acts on it now.
        if (check && this.shutdown.state === 'terminating') check.stop();
      },
      leftover: (group) => this.runner.strays.add(group),
      change: this.stores.change && onChange(this.stores.change, pool.name, settings),
    };
    this.finished = new Promise((resolve) => (this.idle = resolve));
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
  }

  /** 128+n once a signal has started the shutdown. */
  get signalExit(): number | undefined {
    return this.shutdown.exitCode;
  }

  /** Called to stop the ticker when scheduling ends. */
  set stopTicks(fn: () => void) {
    this.onStopTicks = fn;
  }

  /** No more ticks will come; finish what is under way. */
  endScheduling(): void {
    this.acceptingTicks = false;
    this.onStopTicks();
    this.maybeDone();
  }

  /** Resolves once scheduling has ended and every job, delay, queue entry and retry is done. */
  async done(): Promise<void> {
    await this.finished;
    await this.runner.strays.end(this.settings.killAfterMs);
  }

  onSignal(signal: Signal): void {
    this.shutdown.onSignal(signal);
  }

  /** One tick: skip it if the last one is still busy, else check, then admit every trigger. */
  async tick(tick: number, late: boolean): Promise<void> {
    if (!this.acceptingTicks || this.shutdown.active) return;
    if (late || this.busy) {
      this.tally.skipped++;
      this.reporter.emit({ event: 'skip', reason: 'overrun', tick, pool: this.pool.name });
      return;
    }
    this.busy++;
    try {
      await this.resumeSpooled();
      if (this.settings.jitterMs > 0) {
        await Promise.race([sleep(Math.random() * this.settings.jitterMs), this.stopped]);
        if (this.shutdown.active) return;
      }
      const { fired, failed } = await checkStep(this.checkStep, tick);
      if (failed) this.tally.checkErrors++;
      if (!fired || this.shutdown.active) return;
      const trigger = new Date().toISOString();
      let n = 0;
      for (const item of fired.items) {
        for (const spec of this.settings.jobs) {
          if (this.shutdown.active) return;
          const request: JobRequest = { tick, jobId: `${tick}.${++n}`, command: spec.run, spec, item, trigger, checkOutput: fired.output, attempt: 1 };
          // Its key is live already: no need to wait for a slot to find that out.
          if (this.settings.unique && this.stores.unique.isLocked(uniqueKeyOf(request))) {
            this.duplicate(request);
            continue;
          }
          try {
            await this.admission.submit(request);
          } catch (err) {
            this.tally.internal++;
            this.reporter.emit({ event: 'error', message: msg.poolFailed(this.pool.name, err) });
          }
        }
      }
    } finally {
      this.busy--;
      this.maybeDone();
    }
  }

  /** A request with its slot (and locks): admitted here, or by the one-shot that detached this runner. */
  admit(request: JobRequest, slot: Slot, holds: Holds = {}): void {
    this.accepting++;
    void this.accept(request, slot, holds).finally(() => {
      this.accepting--;
      this.maybeDone();
    });
  }

  /** Take up delayed jobs that a warden which is gone left in the pool's spool. */
  async resumeSpooled(): Promise<void> {
    try {
      if (!this.resumeElsewhere) await this.delays.resumeOrphans();
      else if (this.delays.hasOrphans()) this.resumeElsewhere();
    } catch (err) {
      this.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
    }
  }

  /** A request has its slot: take its --unique key, spool it if it has time to wait, start or hold it. */
  private async accept(request: JobRequest, slot: Slot, holds: Holds): Promise<void> {
    const release = (): void => {
      slot.release();
      holds.claim?.release();
      holds.unique?.release();
    };
    if (this.shutdown.active) return release();
    // A new trigger takes its key; a retry takes it back (the failed attempt's tree took it along).
    const key = request.uniqueKey ?? (this.settings.unique ? uniqueKeyOf(request) : undefined);
    if (key !== undefined && !holds.unique && (request.uniqueKey === undefined || request.attempt > 1)) {
      const lock = await this.stores.unique.tryLock(key);
      // Live, or waiting in the spool for a warden that is gone.
      if (!lock || (request.attempt === 1 && this.stores.spool.list().some((e) => e.uniqueKey === key))) {
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
        this.reporter.emit({ event: 'error', message: msg.spoolFailed(err) });
        this.delays.announce(request, dueAt);
      }
    }
    if (this.shutdown.active) {
      if (this.shutdown.state === 'draining' && request.spoolId) this.stores.spool.remove(request.spoolId);
      return release();
    }
    if (this.handOff) return this.handOff(request, slot, holds);
    if (dueAt <= Date.now()) return this.runner.start(request, slot, holds);
    slot.describe({ pid: process.pid, owner: process.pid, command: `${request.command} (delayed)`, jobId: request.jobId, startedAt: new Date().toISOString() });
    this.delays.hold(request, slot, holds);
  }

  /** A job resumed from the spool is due: it takes its --unique key and a slot again, then starts. */
  private async resumeInto(request: JobRequest, holds: Holds): Promise<void> {
    this.accepting++;
    const release = (): void => {
      holds.claim?.release();
      holds.unique?.release();
    };
    try {
      if (request.uniqueKey !== undefined) {
        const lock = await this.stores.unique.tryLock(request.uniqueKey);
        if (!lock) {
          if (request.spoolId) this.stores.spool.remove(request.spoolId);
          release();
          return this.duplicate(request);
        }
        holds = { ...holds, unique: lock };
      }
      let slot: Slot;
      try {
        slot = await this.pool.acquire({ signal: this.resumeAbort.signal });
      } catch {
        // Stopped while waiting for a slot: Ctrl-C cancels it, TERM and HUP leave it spooled.
        if (this.shutdown.state === 'draining' && request.spoolId) this.stores.spool.remove(request.spoolId);
        return release();
      }
      if (this.shutdown.active) {
        slot.release();
        return release();
      }
      this.runner.start(request, slot, holds);
    } finally {
      this.accepting--;
      this.maybeDone();
    }
  }

  private duplicate(request: JobRequest): void {
    this.reporter.emit({ event: 'skip', reason: 'duplicate', tick: request.tick, pool: this.pool.name, command: request.command, jobId: request.jobId, ...(request.item !== undefined ? { item: request.item } : {}) });
  }

  private drain(signal: Signal): void {
    this.stopAdmitting(signal);
    this.check?.signal('SIGINT');
    this.runner.signalAll('SIGINT');
    if (this.runner.live) this.reporter.notice(msg.stillRunning(this.runner.live));
    this.maybeDone();
  }

  private terminate(signal: Signal, first: boolean): void {
    if (first) this.stopAdmitting(signal);
    this.check?.stop();
    this.runner.stopAll();
    this.maybeDone();
  }

  private stopAdmitting(reason: string): void {
    this.acceptingTicks = false;
    this.markStopped();
    this.onStopTicks();
    this.resumeAbort.abort();
    // Ctrl-C cancels delayed jobs, a user's choice; TERM and HUP leave them in the spool.
    const cancelled = this.admission.close() + this.delays.stop(this.shutdown.state === 'draining');
    this.runner.cancelRetries();
    this.reporter.emit({ event: 'stop', reason, liveJobs: this.runner.live, cancelled, running: this.runner.running() });
  }

  private maybeDone(): void {
    if (this.acceptingTicks || this.busy) return;
    if (this.runner.busy || this.delays.size || this.accepting || this.admission.queued) return;
    this.idle?.();
  }

  /** For the status line: live and queued counts. */
  describe(): string {
    const parts = [`live ${this.runner.live}/${finite(this.pool.maxLive) ?? 'unlimited'}`];
    if (this.delays.size) parts.push(`delayed ${this.delays.size}`);
    if (this.admission.queued) parts.push(`queued ${this.admission.queued}`);
    return parts.join(' · ');
  }
}

/** At most one live or delayed job per key: the job's command, and its item with --each-line. */
function uniqueKeyOf(request: JobRequest): string {
  return request.item === undefined ? request.command : `${request.command}\n${request.item}`;
}

/** --on-change: decide and record, as one step with every other process, whether the check's result changed. */
function onChange(store: ChangeStore, pool: string, settings: Settings): (obs: Observation) => Promise<ChangeDecision> {
  const mode = settings.onChange ?? 'exit';
  return (obs) =>
    store.transact(`${pool}\n${settings.check ?? ''}`, (prev) => {
      const decision = decideChange(mode, settings.eachLine, prev, obs);
      return { next: decision.next, result: decision };
    });
}
