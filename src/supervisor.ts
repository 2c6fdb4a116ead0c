// The supervisor behind `watch` and `once`: tick -> check -> admission -> launch -> exit record,
// and the shutdown rules (first Ctrl-C drains, second terminates; TERM and HUP terminate).
import { setTimeout as sleep } from 'node:timers/promises';
import { Admission } from './admission.js';
import type { Request } from './admission.js';
import { startCheck } from './check.js';
import type { RunningCheck } from './check.js';
import type { ExitRecord } from './events.js';
import { launch } from './launcher.js';
import type { OutputMode, RunningJob } from './launcher.js';
import { msg } from './messages.js';
import { finite } from './pool/pool.js';
import type { Pool, Slot } from './pool/pool.js';
import { reapGroups } from './process-group.js';
import type { Reporter } from './report/reporter.js';
import type { JobSpec, Settings } from './settings.js';

const MAX_CHECK_OUTPUT_ENV = 64 * 1024;

export interface JobRequest extends Request {
  jobId: string;
  spec: JobSpec;
  trigger: string;
  checkOutput: string;
}

interface Delayed {
  request: JobRequest;
  slot: Slot;
  timer: NodeJS.Timeout;
}

export interface Tally {
  ok: number;
  failed: number;
  skipped: number;
  checkErrors: number;
  fired: number;
  /** The last job's record, for `once` with one job: its own exit code. */
  last?: ExitRecord;
}

type Shutdown = 'none' | 'draining' | 'terminating';

export class Supervisor {
  readonly tally: Tally = { ok: 0, failed: 0, skipped: 0, checkErrors: 0, fired: 0 };
  /** 128+n once a signal has started the shutdown. */
  signalExit: number | undefined;
  private readonly jobs = new Map<string, RunningJob>();
  private readonly strays = new Set<RunningJob>();
  private readonly delayed = new Set<Delayed>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly retryAbort = new AbortController();
  private readonly admission: Admission<JobRequest>;
  private check: RunningCheck | undefined;
  private busy = 0;
  private pendingRetries = 0;
  private acceptingTicks = true;
  private shutdown: Shutdown = 'none';
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
    /** With --detach: admitted requests and their slots go here instead of starting. */
    private readonly handOff?: (request: JobRequest, slot: Slot) => void,
  ) {
    this.admission = new Admission<JobRequest>({
      pool,
      maxQueue: settings.maxQueue,
      overflow: settings.overflow,
      waitTimeoutMs: settings.waitTimeoutMs,
      emit: (e) => {
        if (e.event === 'skip') this.tally.skipped++;
        reporter.emit(e);
      },
      admit: (request, slot) => this.admit(request, slot),
      replaceOldest: () => this.replaceOldest(),
    });
    this.finished = new Promise((resolve) => (this.idle = resolve));
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
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
    await this.reapStrays();
  }

  /** One tick: skip it if the last one is still busy, else check, then admit every trigger. */
  async tick(tick: number, late: boolean): Promise<void> {
    if (!this.acceptingTicks || this.shutdown !== 'none') return;
    if (late || this.busy) {
      this.tally.skipped++;
      this.reporter.emit({ event: 'skip', reason: 'overrun', tick, pool: this.pool.name });
      return;
    }
    this.busy++;
    try {
      if (this.settings.jitterMs > 0) {
        await Promise.race([sleep(Math.random() * this.settings.jitterMs), this.stopped]);
        if (this.shutdown !== 'none') return;
      }
      const fired = await this.runCheck(tick);
      if (!fired) return;
      this.tally.fired++;
      const trigger = new Date().toISOString();
      let n = 0;
      for (const item of fired.items) {
        for (const spec of this.settings.jobs) {
          if (this.shutdown !== 'none') return;
          const request: JobRequest = { tick, jobId: `${tick}.${++n}`, command: spec.run, spec, item, trigger, checkOutput: fired.output };
          try {
            await this.admission.submit(request);
          } catch (err) {
            this.reporter.emit({ event: 'error', message: msg.poolFailed(this.pool.name, err) });
          }
        }
      }
    } finally {
      this.busy--;
      this.maybeDone();
    }
  }

  /** SIGINT drains (a second one terminates); SIGTERM and SIGHUP terminate. */
  onSignal(signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', code: number): void {
    this.signalExit ??= code;
    if (signal === 'SIGINT' && this.shutdown === 'none') {
      this.stopAdmitting(signal);
      this.check?.signal('SIGINT');
      for (const job of this.jobs.values()) job.signal('SIGINT');
      if (this.jobs.size) this.reporter.notice(msg.stillRunning(this.jobs.size));
      this.shutdown = 'draining';
      this.maybeDone();
      return;
    }
    if (this.shutdown === 'terminating') return;
    if (this.shutdown === 'none') this.stopAdmitting(signal);
    this.shutdown = 'terminating';
    this.check?.stop();
    for (const job of this.jobs.values()) job.stop('terminated');
    for (const job of this.strays) job.stop('terminated');
    this.maybeDone();
  }

  private stopAdmitting(reason: string): void {
    this.acceptingTicks = false;
    this.markStopped();
    this.onStopTicks();
    const cancelled = this.admission.close() + this.delayed.size;
    for (const d of this.delayed) {
      clearTimeout(d.timer);
      d.slot.release();
    }
    this.delayed.clear();
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.retryAbort.abort();
    const now = performance.now();
    this.reporter.emit({
      event: 'stop',
      reason,
      liveJobs: this.jobs.size,
      cancelled,
      running: [...this.jobs.values()].map((j) => ({ jobId: j.request.jobId, jobPid: j.pid, command: j.request.command, runningMs: Math.round(now - j.startedAt) })),
    });
  }

  private async runCheck(tick: number): Promise<{ items: (string | undefined)[]; output: string } | undefined> {
    const { settings } = this;
    if (!settings.check) return { items: [undefined], output: '' };
    let result;
    try {
      this.check = await startCheck({
        command: settings.check,
        env: { ...process.env, WARDEN_TICK: String(tick), WARDEN_POOL: this.pool.name },
        timeoutMs: settings.checkTimeoutMs,
        killAfterMs: settings.killAfterMs,
      });
      result = await this.check.result;
    } catch (err) {
      this.tally.checkErrors++;
      this.reporter.emit({ event: 'check', tick, outcome: 'error', exitCode: null, signal: null, durationMs: 0, triggers: 0, stderr: err instanceof Error ? err.message : String(err) });
      return undefined;
    } finally {
      this.check = undefined;
    }
    const items = result.outcome !== 'fired' ? [] : settings.eachLine ? lines(result.stdout) : [undefined];
    const failed = result.outcome === 'error' || result.outcome === 'timeout';
    if (failed) this.tally.checkErrors++;
    this.reporter.emit({
      event: 'check',
      tick,
      outcome: result.outcome,
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      triggers: items.length,
      ...(failed && result.stderr ? { stderr: result.stderr } : {}),
    });
    if (result.outcome !== 'fired' || this.shutdown !== 'none') return undefined;
    return { items, output: truncateUtf8(result.stdout, MAX_CHECK_OUTPUT_ENV) };
  }

  /** A request admitted elsewhere (the one-shot that detached us) with its slot. */
  adopt(request: JobRequest, slot: Slot): void {
    this.admit(request, slot);
  }

  private admit(request: JobRequest, slot: Slot): void {
    if (this.shutdown !== 'none') {
      slot.release();
      return;
    }
    if (this.handOff) return this.handOff(request, slot);
    // The delay counts from the trigger, not from the moment a queued request got its slot.
    const delayMs = Date.parse(request.trigger) + request.spec.delayMs - Date.now();
    if (delayMs <= 0) return this.start(request, slot, 1);
    slot.describe({ pid: process.pid, owner: process.pid, command: `${request.command} (delayed)`, jobId: request.jobId, startedAt: new Date().toISOString() });
    const d: Delayed = {
      request,
      slot,
      timer: setTimeout(() => {
        this.delayed.delete(d);
        this.start(request, slot, 1);
      }, delayMs),
    };
    this.delayed.add(d);
  }

  private start(request: JobRequest, slot: Slot, attempt: number): void {
    const { settings } = this;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WARDEN_JOB_ID: request.jobId,
      WARDEN_POOL: this.pool.name,
      WARDEN_SLOT: String(slot.index),
      WARDEN_TRIGGER: request.trigger,
      WARDEN_ATTEMPT: String(attempt),
      WARDEN_TICK: String(request.tick),
      WARDEN_CHECK_OUTPUT: request.checkOutput,
    };
    if (request.item !== undefined) env.WARDEN_ITEM = request.item;
    else delete env.WARDEN_ITEM;
    const output: OutputMode = settings.output
      ? { kind: 'file', dir: settings.output }
      : this.reporter.showsOutput
        ? { kind: 'relay', prefix: this.reporter.outputPrefix(request.jobId), write: (framed) => this.reporter.jobOutput(framed) }
        : { kind: 'drain' };
    const job = launch({
      jobId: request.jobId,
      command: request.command,
      shell: request.command,
      env,
      slot,
      tick: request.tick,
      attempt,
      timeoutMs: settings.jobTimeoutMs,
      killAfterMs: settings.killAfterMs,
      output,
      stdin: 'ignore',
    });
    if (job.pid !== null) {
      slot.describe({ pid: job.pid, owner: process.pid, command: request.command, jobId: request.jobId, startedAt: new Date().toISOString() });
      this.reporter.emit({ event: 'spawn', jobId: request.jobId, jobPid: job.pid, command: request.command, slot: slot.index, tick: request.tick, attempt, delayMs: request.spec.delayMs, ...(request.item !== undefined ? { item: request.item } : {}) });
      this.jobs.set(request.jobId, job);
    }
    void job.exited.then((record) => this.onExit(job, request, record));
  }

  private onExit(job: RunningJob, request: JobRequest, record: ExitRecord): void {
    this.jobs.delete(request.jobId);
    job.request.slot.forget();
    this.reporter.emit({ event: 'exit', ...record });
    this.tally.last = record;
    if (record.leftover) this.strays.add(job);
    if (this.shutdown === 'terminating' && record.leftover) job.stop('terminated');
    const failed = record.outcome === 'failed' || record.outcome === 'timeout' || (record.outcome === 'killed' && !job.stopping);
    if (!failed) {
      if (record.outcome === 'ok') this.tally.ok++;
    } else if (record.attempt <= this.settings.retries && this.shutdown === 'none') {
      this.retry(request, record.attempt);
    } else {
      this.tally.failed++;
    }
    this.maybeDone();
  }

  private retry(request: JobRequest, attempt: number): void {
    const delayMs = this.settings.retryDelayMs * 2 ** (attempt - 1);
    this.reporter.emit({ event: 'retry', jobId: request.jobId, attempt: attempt + 1, delayMs });
    const timer = setTimeout(async () => {
      this.retryTimers.delete(timer);
      this.pendingRetries++;
      try {
        const slot = await this.pool.acquire({ signal: this.retryAbort.signal });
        if (this.shutdown !== 'none') slot.release();
        else this.start(request, slot, attempt + 1);
      } catch {
        // Shut down while waiting for a slot: the retry is dropped with everything else.
      } finally {
        this.pendingRetries--;
        this.maybeDone();
      }
    }, delayMs);
    this.retryTimers.add(timer);
  }

  private replaceOldest(): boolean {
    const oldest = [...this.jobs.values()].filter((j) => !j.stopping).sort((a, b) => a.startedAt - b.startedAt)[0];
    if (!oldest) return false;
    oldest.stop('terminated');
    return true;
  }

  private maybeDone(): void {
    if (this.acceptingTicks || this.busy) return;
    if (this.jobs.size || this.delayed.size || this.admission.queued || this.retryTimers.size || this.pendingRetries) return;
    this.idle?.();
  }

  /** Processes left in finished jobs' groups must not outlive warden. */
  private async reapStrays(): Promise<void> {
    await reapGroups([...this.strays].flatMap((j) => (j.pid === null ? [] : [j.pid])), this.settings.killAfterMs);
  }

  /** For the status line: live and queued counts. */
  describe(): string {
    const parts = [`live ${this.jobs.size}/${finite(this.pool.maxLive) ?? 'unlimited'}`];
    if (this.delayed.size) parts.push(`delayed ${this.delayed.size}`);
    if (this.admission.queued) parts.push(`queued ${this.admission.queued}`);
    return parts.join(' · ');
  }
}

function lines(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}
