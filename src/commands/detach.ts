// --detach: the one-shot admits its jobs, then hands each slot's descriptor to a small runner
// (a hidden `warden __runner`) in a session of its own with no terminal. The runner holds the
// slots through the delays, starts and reaps the jobs, and appends their exits to --log-file.
// The one-shot waits only until the runner says it has taken over (a line on descriptor 3);
// until then the runner's stderr is the one-shot's to show, so a runner that cannot start or
// dies early is reported, and the one-shot fails.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { decodeTicket, encodeTicket } from '../handoff-ticket.js';
import { msg } from '../messages.js';
import { createExclusive, readPrivate } from '../pool/safe-fs.js';
import { inheritedSlot } from '../pool/slot.js';
import type { Slot } from '../pool/pool.js';
import type { Settings } from '../settings.js';
import { Supervisor } from '../supervisor.js';
import type { JobRequest } from '../supervisor.js';
import { RUNNER_COMMAND } from '../exit.js';
import { watchExitCode } from '../exit-status.js';
import { attachNotifiers } from '../notify/notifiers.js';
import { handleSignals } from '../shutdown.js';
import { startEvent, openReporter, openCommandPool } from './common.js';
import { inheritedLock } from '../locks/key-lock.js';
import type { Holds } from '../spool/delayed.js';

/** The runner's line on descriptor 3 once it holds the slots and has its log open. */
const READY = 'ready\n';
const READY_FD = 3;
const FIRST_SLOT_FD = 4;

let batches = 0;

/** Collects admitted jobs and starts one runner per batch (those admitted in one turn of the loop). */
export class Detacher {
  private batch: { request: JobRequest; slot: Slot; holds: Holds }[] = [];
  private resume = false;
  private flushing: Promise<void> | undefined;
  private readonly handOvers: Promise<boolean>[] = [];

  /** `failed` hears every hand-off that did not happen, in words. */
  constructor(
    private readonly settings: Settings,
    private readonly failed: (message: string) => void,
  ) {}

  add(request: JobRequest, slot: Slot, holds: Holds = {}): void {
    this.batch.push({ request, slot, holds });
    this.schedule();
  }

  /** Have a runner take up the pool's spooled jobs whose warden is gone (with this batch, or alone). */
  resumeSpooled(): void {
    this.resume = true;
    this.schedule();
  }

  private schedule(): void {
    this.flushing ??= new Promise((resolve) =>
      setImmediate(() => {
        this.flushing = undefined;
        this.flush();
        resolve();
      }),
    );
  }

  /** Wait for every batch to be taken over; false when any runner did not take over. */
  async settled(): Promise<boolean> {
    while (this.flushing) await this.flushing;
    return (await Promise.all(this.handOvers)).every(Boolean);
  }

  private flush(): void {
    const batch = this.batch;
    const resume = this.resume;
    this.batch = [];
    this.resume = false;
    if (!batch.length && !resume) return;
    const file = path.join(this.settings.stateDir, `runner-${process.pid}-${++batches}.json`);
    // Descriptors handed down, from FIRST_SLOT_FD on: each job's slot, then its claim and key if any.
    const fds: number[] = [];
    const at = (fd: number): number => fds.push(fd) - 1 + FIRST_SLOT_FD;
    const jobs = batch.map((b) => ({
      request: b.request,
      slot: b.slot.index,
      fd: at(b.slot.fd),
      ...(b.slot.handle !== undefined ? { handle: b.slot.handle } : {}),
      ...(b.holds.claim ? { claimFd: at(b.holds.claim.fd) } : {}),
      ...(b.holds.unique ? { uniqueFd: at(b.holds.unique.fd) } : {}),
    }));
    let child: ChildProcess | undefined;
    try {
      // A new private file, never through a planted file or symlink.
      const fd = createExclusive(file);
      try {
        fs.writeSync(fd, encodeTicket({ settings: this.settings, jobs, resume }));
      } finally {
        fs.closeSync(fd);
      }
      child = spawn(process.execPath, [process.argv[1], RUNNER_COMMAND, file], {
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...fds],
      });
    } catch (err) {
      fs.rmSync(file, { force: true });
      this.failed(msg.runnerFailed(err instanceof Error ? err.message : String(err)));
      this.handOvers.push(Promise.resolve(false));
    }
    // The runner has its copies now (or never will): ours must close or the slots would wait for us too.
    for (const b of batch) {
      for (const held of [b.slot, b.holds.claim, b.holds.unique]) {
        if (child?.pid !== undefined) held?.handOff();
        else held?.release();
      }
    }
    if (child) this.handOvers.push(this.takenOver(child, file));
  }

  /** Resolves true once the runner says it took over; false (reported) if it failed first. */
  private takenOver(child: ChildProcess, file: string): Promise<boolean> {
    return new Promise((resolve) => {
      let stderr = '';
      let ready = '';
      let done = false;
      const finish = (ok: boolean, why?: string): void => {
        if (done) return;
        done = true;
        if (!ok) {
          fs.rmSync(file, { force: true });
          const said = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
          this.failed(msg.runnerFailed([why, said].filter(Boolean).join(': ')));
        }
        // The runner lives on alone: nothing of it may keep the one-shot waiting.
        child.stderr?.destroy();
        child.stdio[READY_FD]?.destroy();
        child.unref();
        resolve(ok);
      };
      child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      child.stdio[READY_FD]?.on('data', (d: Buffer) => {
        ready += d.toString();
        if (ready.includes(READY)) finish(true);
      });
      child.on('error', (err) => finish(false, err.message));
      child.on('exit', (code, signal) => finish(false, signal ? `runner killed by ${signal}` : `runner exited with ${code}`));
    });
  }
}

/** The hidden runner: adopt the inherited slots and run their jobs as a supervisor would. */
export async function runnerCommand(file: string): Promise<number> {
  const ticket = decodeTicket(readPrivate(file, 16 * 1024 * 1024) ?? '');
  fs.rmSync(file, { force: true });
  const settings: Settings = { ...ticket.settings, detach: false };
  const reporter = await openReporter(settings, 'none', 2);
  const pool = await openCommandPool(settings, reporter, false);
  const supervisor = new Supervisor(settings, pool, reporter);
  const notifiers = await attachNotifiers(settings, reporter, 'runner');
  // Our parent, the one-shot, exits at once by design: its death is no reason to stop.
  const undo = handleSignals((sig) => {
    supervisor.onSignal(sig);
    notifiers.onSignal(sig);
  }, false);
  reporter.emit(startEvent('runner', pool, settings));
  for (const job of ticket.jobs) {
    const holds: Holds = {
      ...(job.claimFd !== undefined ? { claim: inheritedLock(job.claimFd) } : {}),
      ...(job.uniqueFd !== undefined ? { unique: inheritedLock(job.uniqueFd) } : {}),
    };
    // A fleet lease is taken over by its handle; a local slot is known by its descriptor.
    const slot = job.handle && pool.adopt ? pool.adopt(job.fd, job.handle) : inheritedSlot(pool.name, job.slot, job.fd, settings.stateDir, settings.maxLive);
    supervisor.admit(job.request, slot, holds);
  }
  if (ticket.resume) await supervisor.resumeSpooled();
  supervisor.endScheduling();
  tellReady();
  try {
    await supervisor.done();
    await notifiers.finish(watchExitCode(supervisor.tally, supervisor.signalExit));
  } finally {
    undo();
    pool.close();
    reporter.close();
  }
  return watchExitCode(supervisor.tally, supervisor.signalExit);
}

function tellReady(): void {
  try {
    fs.writeSync(READY_FD, READY);
    fs.closeSync(READY_FD);
  } catch {
    // The one-shot is gone already: nobody is waiting for the word.
  }
}
