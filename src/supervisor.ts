// The supervisor behind `watch`, `once` and the --detach runner: each tick runs the check, each
// trigger goes through admission, an admitted job waits out its delay and then runs. Shutdown
// follows the one policy in shutdown.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { Admission } from './admission.js';
import type { RunningCheck } from './check.js';
import { checkStep } from './check-step.js';
import type { CheckStep } from './check-step.js';
import { UnavailableError } from './exit.js';
import type { Signal } from './exit.js';
import { reportFailure } from './report/failure.js';
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
import { Acceptance } from './acceptance.js';
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
  private readonly acceptance: Acceptance;
  private readonly stores: Stores;
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
  private elect: ((at: number) => Promise<boolean>) | undefined;
  private warnedVolatile = false;

  constructor(
    private readonly settings: Settings,
    private readonly pool: Pool,
    private readonly reporter: Reporter,
    /** With --detach: admitted requests, their slots and locks go here instead of starting. */
    handOff?: (request: JobRequest, slot: Slot, holds: Holds) => void,
  ) {
    this.stores = openStores(settings, pool, settings.onChange !== undefined, (e) => reporter.emit(e));
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
    this.acceptance = new Acceptance({
      settings,
      pool,
      reporter,
      stores: this.stores,
      runner: this.runner,
      shutdown: this.shutdown,
      handOff,
      changed: () => this.maybeDone(),
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

  /** With --redis: the fleet decides which process runs each tick's check (by its scheduled time). */
  set election(claim: (at: number) => Promise<boolean>) {
    this.elect = claim;
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
  async tick(tick: number, late: boolean, at?: number): Promise<void> {
    if (!this.acceptingTicks || this.shutdown.active) return;
    if (late || this.busy) {
      this.tally.skipped++;
      this.reporter.emit({ event: 'skip', reason: 'overrun', tick, pool: this.pool.name });
      return;
    }
    this.busy++;
    try {
      this.warnVolatile();
      await this.resumeSpooled();
      const tickAt = this.elect && at !== undefined ? new Date(at).toISOString() : undefined;
      if (tickAt !== undefined && !(await this.wonTick(tick, at as number, tickAt))) return;
      if (this.settings.jitterMs > 0) {
        await Promise.race([sleep(Math.random() * this.settings.jitterMs), this.stopped]);
        if (this.shutdown.active) return;
      }
      const { fired, failed } = await checkStep(this.checkStep, tick, tickAt);
      if (failed) this.tally.checkErrors++;
      if (!fired || this.shutdown.active) return;
      const trigger = new Date().toISOString();
      let n = 0;
      for (const item of fired.items) {
        for (const spec of this.settings.jobs) {
          if (this.shutdown.active) return;
          const request: JobRequest = { tick, jobId: `${tick}.${++n}`, command: spec.run, spec, item, trigger, checkOutput: fired.output, attempt: 1 };
          if (await this.acceptance.isDuplicate(request)) continue;
          try {
            await this.admission.submit(request);
          } catch (err) {
            if (err instanceof UnavailableError) {
              // A one-shot's server away: said once, on stderr too, and the exit is 69.
              if (!this.tally.unavailable++) reportFailure(this.reporter, err.message);
            } else {
              this.tally.internal++;
              this.reporter.emit({ event: 'error', message: msg.poolFailed(this.pool.name, err) });
            }
          }
        }
      }
    } finally {
      this.busy--;
      this.maybeDone();
    }
  }

  /** Said once, where it matters: this process keeps delayed jobs or a check's last result where a reboot may lose them. */
  private warnVolatile(): void {
    const { volatile, where } = this.stores;
    if (!volatile || this.warnedVolatile) return;
    this.warnedVolatile = true;
    if (this.settings.onChange !== undefined || this.settings.jobs.some((j) => j.delayMs > 0)) {
      this.reporter.emit({ event: 'error', message: msg.durable.volatile(where, volatile) });
    }
  }

  /** Another process of the fleet claimed this tick: a skip, not counted against `once`. */
  private async wonTick(tick: number, at: number, tickAt: string): Promise<boolean> {
    let won = true;
    try {
      won = (await this.elect?.(at)) ?? true;
    } catch (err) {
      this.reporter.emit({ event: 'error', message: msg.poolFailed(this.pool.name, err) });
    }
    if (!won) this.reporter.emit({ event: 'skip', reason: 'other-host', tick, pool: this.pool.name, tickAt });
    return won;
  }

  /** A request with its slot (and locks): admitted here, or by the one-shot that detached this runner. */
  admit(request: JobRequest, slot: Slot, holds: Holds = {}): void {
    this.acceptance.admit(request, slot, holds);
  }

  /** Take up delayed jobs that a warden which is gone left in the pool's spool. */
  resumeSpooled(): Promise<void> {
    return this.acceptance.resumeSpooled();
  }

  /** With --detach: spooled jobs to take up go to a runner instead of waiting here. */
  set resumeElsewhere(fn: () => void) {
    this.acceptance.resumeElsewhere = fn;
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
    // Ctrl-C cancels delayed jobs, a user's choice; TERM and HUP leave them in the spool, for
    // the next warden: kept, not counted as cancelled.
    const draining = this.shutdown.state === 'draining';
    const stopped = this.acceptance.stop(draining);
    const cancelled = this.admission.close() + (draining ? stopped : 0);
    this.runner.cancelRetries();
    this.reporter.emit({ event: 'stop', reason, liveJobs: this.runner.live, cancelled, running: this.runner.running() });
  }

  private maybeDone(): void {
    if (this.acceptingTicks || this.busy) return;
    if (this.runner.busy || this.acceptance.busy || this.admission.queued) return;
    this.idle?.();
  }

  /** Triggers waiting in this process's queue for a slot. */
  get queued(): number {
    return this.admission.queued;
  }

  /** For the status line: live and queued counts. */
  describe(): string {
    const parts = [`live ${this.runner.live}/${finite(this.pool.maxLive) ?? 'unlimited'}`];
    if (this.acceptance.delays.size) parts.push(`delayed ${this.acceptance.delays.size}`);
    if (this.admission.queued) parts.push(`queued ${this.admission.queued}`);
    return parts.join(' · ');
  }
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
