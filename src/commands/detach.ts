// --detach: the one-shot admits its jobs, then hands each slot's descriptor to a small runner
// (a hidden `warden __runner`) in a session of its own with no terminal and no inherited
// pipes, so cron's output pipe closes when the one-shot exits. The runner holds the slots
// through the delays, starts and reaps the jobs, and appends their exits to --log-file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createExclusive, readPrivate } from '../pool/safe-fs.js';
import { inheritedSlot } from '../pool/slot.js';
import type { Slot } from '../pool/pool.js';
import type { Settings } from '../settings.js';
import { Supervisor } from '../supervisor.js';
import type { JobRequest } from '../supervisor.js';
import { RUNNER_COMMAND } from '../exit.js';
import { watchExitCode } from '../exit-status.js';
import { handleSignals } from '../shutdown.js';
import { startEvent, openReporter, openSettingsPool } from './common.js';

interface RunnerSpec {
  settings: Settings;
  jobs: { request: JobRequest; slot: number }[];
}

/** Collects admitted jobs and starts one runner per batch (those admitted in one turn of the loop). */
let batches = 0;

export class Detacher {
  private batch: { request: JobRequest; slot: Slot }[] = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly settings: Settings) {}

  add(request: JobRequest, slot: Slot): void {
    this.batch.push({ request, slot });
    this.flushing ??= new Promise((resolve) =>
      setImmediate(() => {
        this.flushing = undefined;
        this.flush();
        resolve();
      }),
    );
  }

  /** Wait for any batch still to be handed over. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    if (!batch.length) return;
    const file = path.join(this.settings.stateDir, `runner-${process.pid}-${++batches}.json`);
    const spec: RunnerSpec = { settings: this.settings, jobs: batch.map((b) => ({ request: b.request, slot: b.slot.index })) };
    const fd = createExclusive(file);
    try {
      fs.writeSync(fd, JSON.stringify(spec, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v)));
    } finally {
      fs.closeSync(fd);
    }
    const child = spawn(process.execPath, [process.argv[1], RUNNER_COMMAND, file], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', ...batch.map((b) => b.slot.fd)],
    });
    child.unref();
    // The runner has its copies now; ours must close or the slots would wait for us too.
    for (const b of batch) b.slot.handOff();
  }
}

/** The hidden runner: adopt the inherited slots and run their jobs as a supervisor would. */
export async function runnerCommand(file: string): Promise<number> {
  const spec = JSON.parse(readPrivate(file, 16 * 1024 * 1024) ?? '', (_k, v: unknown) => (v === 'Infinity' ? Infinity : v)) as RunnerSpec;
  fs.rmSync(file, { force: true });
  const settings: Settings = { ...spec.settings, detach: false };
  const reporter = await openReporter(settings, 'none', 2);
  const pool = openSettingsPool(settings);
  const supervisor = new Supervisor(settings, pool, reporter);
  reporter.emit(startEvent('runner', pool, settings));
  // Our parent, the one-shot, exits at once by design: its death is no reason to stop.
  const undo = handleSignals((sig) => supervisor.onSignal(sig), false);
  spec.jobs.forEach((job, k) => supervisor.admit(job.request, inheritedSlot(pool.name, job.slot, 3 + k, settings.stateDir, settings.maxLive)));
  supervisor.endScheduling();
  try {
    await supervisor.done();
  } finally {
    undo();
    pool.close();
    reporter.close();
  }
  return watchExitCode(supervisor.tally, supervisor.signalExit);
}
