// `warden run -- CMD`: take a slot, run one command in its own process group holding the slot,
// forward signals to the group, and exit with the command's own code. GNU `sem --fg` and
// `flock -n` done right: the slot is the kernel's, so no crash can leak it.
import { EXIT } from '../exit.js';
import { runExitCode } from '../exit-status.js';
import { inheritedEnv, jobEnv } from '../job-env.js';
import { launch, warmSpawn } from '../launcher.js';
import { ReadyJob } from '../ready-job.js';
import { msg } from '../messages.js';
import { liveSlots } from '../pool/live-slots.js';
import { reportFailure } from '../report/failure.js';
import { PoolTimeoutError, finite, withLeaseToken } from '../pool/pool.js';
import type { Slot } from '../pool/pool.js';
import type { RunningJob } from '../running-job.js';
import type { Settings } from '../settings.js';
import { PLAIN_WORD, shellLine } from '../shell-quote.js';
import { attachNotifiers } from '../notify/notifiers.js';
import { Shutdown, handleSignals } from '../shutdown.js';
import { endGroups } from '../terminate.js';
import { startEvent, openReporter, openCommandPool } from './common.js';

export async function runCommand(settings: Settings): Promise<number> {
  const reporter = await openReporter(settings, settings.log === 'json' ? 'json' : 'none', 2);
  const pool = await openCommandPool(settings, reporter);
  const command = settings.argv.length === 1 ? settings.argv[0] : shellLine(settings.argv);
  const jobId = `run-${process.pid}`;
  const identity = { jobId, command, slot: -1, tick: 1, attempt: 1, timeoutMs: settings.jobTimeoutMs, killAfterMs: settings.killAfterMs, output: { kind: 'inherit' } as const };
  // One plain word needs no shell: exec it directly (a shell start saved per one-shot).
  const jobArgv = (): string[] => (settings.argv.length === 1 && !PLAIN_WORD.test(settings.argv[0]) ? ['/bin/sh', '-c', settings.argv[0]] : settings.argv);
  const envFor = (slot: number, trigger: string): NodeJS.ProcessEnv => jobEnv(inheritedEnv(), { jobId, pool: pool.name, slot, trigger, attempt: 1 });
  const notifiers = await attachNotifiers(settings, reporter, 'run');

  // Waiting for a slot, any signal ends the wait and warden exits as signalled, having run
  // nothing. Once the job runs, the terminal's Ctrl-C reaches only warden (the job leads its
  // own group): it is passed on, as the job would have seen it; a second Ctrl-C, or TERM/HUP,
  // terminates the group.
  const waitAbort = new AbortController();
  let job: RunningJob | undefined;
  let ready: ReadyJob | undefined;
  // What the signals that came while there was no job would have done to it: done to a job the
  // ready job turns out to have started in that same instant (see the wait below).
  let missed: ((j: RunningJob) => void) | undefined;
  const toJob = (act: (j: RunningJob) => void): void => {
    if (job) act(job);
    else missed = act;
  };
  const shutdown = new Shutdown({
    drain: () => {
      // A job the ready job just started is running already: it gets the signal.
      ready?.settle();
      toJob((j) => j.signal('SIGINT'));
      if (!job) waitAbort.abort();
    },
    terminate: (sig) => {
      ready?.settle();
      waitAbort.abort();
      toJob((j) => {
        if (sig === 'SIGHUP') j.signal('SIGHUP');
        j.stop('terminated');
      });
    },
  });
  const undoSignals = handleSignals((sig) => {
    shutdown.onSignal(sig);
    notifiers.onSignal(sig);
  });
  reporter.emit(startEvent('run', pool, settings));
  const admitAndRun = async (): Promise<number> => {
    let slot: Slot | undefined;
    try {
      // A newcomer that will wait does not take a slot that frees as it starts ahead of those
      // already waiting: it queues behind them.
      if (settings.overflow !== 'wait' || !pool.othersWaiting?.()) slot = await pool.tryAcquire();
    } catch (err) {
      reportFailure(reporter, msg.poolFailed(pool.name, err));
      return EXIT.software;
    }
    if (!slot && settings.overflow === 'skip') {
      reporter.emit({ event: 'skip', reason: 'pool-full', tick: 1, pool: pool.name, command });
      reporter.notice(msg.runSkipped(pool.name, await liveSlots(pool), pool.maxLive));
      return EXIT.tempFail;
    }
    if (!slot) {
      // The job waits with us, ready to start the moment a slot frees (not with --detach: its
      // runner starts the job).
      ready =
        settings.detach || pool.backend !== 'socket'
          ? undefined
          : ReadyJob.start({
              identity,
              argv: jobArgv(),
              // A socket slot has no lease token: the job gets none (not one warden inherited).
              env: withLeaseToken(envFor(0, ''), {}),
              vars: { slot: 'WARDEN_SLOT', trigger: 'WARDEN_TRIGGER' },
              onJob: (started) => (job = started),
            });
      // In line first, then say so: whoever reads the `wait` event knows this run is waiting.
      const acquiring = pool.acquire({ signal: waitAbort.signal, timeoutMs: settings.waitTimeoutMs, taker: ready });
      acquiring.catch(() => undefined);
      inheritedEnv();
      if (!ready) warmSpawn();
      reporter.emit({ event: 'wait', pool: pool.name, live: await liveSlots(pool), maxLive: finite(pool.maxLive), tick: 1 });
      let err: unknown;
      try {
        slot = await acquiring;
      } catch (failure) {
        err = failure;
        // The ready job may have taken a slot by itself as the wait ended: its job runs then,
        // and gets what the signal that ended the wait does to a job.
        slot = await ready?.disarm();
        if (slot && job) missed?.(job);
      }
      if (!slot) {
        ready?.close();
        if (shutdown.exitCode !== undefined) return shutdown.exitCode;
        if (!(err instanceof PoolTimeoutError)) {
          reportFailure(reporter, msg.poolFailed(pool.name, err));
          return EXIT.software;
        }
        reporter.emit({ event: 'skip', reason: 'wait-timeout', tick: 1, pool: pool.name, command });
        reporter.notice(msg.runWaitTimeout(pool.name));
        return EXIT.tempFail;
      }
    }
    // A signal since the ready job was started went to the job: it is handled as the job's.
    if (shutdown.exitCode !== undefined && !job) {
      slot.release();
      return shutdown.exitCode;
    }

    const trigger = new Date().toISOString();
    if (settings.detach) {
      const { Detacher } = await import('./detach.js');
      const detacher = new Detacher(settings, (message) => reportFailure(reporter, message));
      detacher.add({ tick: 1, jobId, command, spec: { run: command, delayMs: 0 }, trigger, checkOutput: '', attempt: 1 }, slot);
      return (await detacher.settled()) ? EXIT.ok : EXIT.software;
    }
    // Taken by the ready job (it is the job now), or bound here: spawn it.
    ready?.close();
    job ??= launch({ ...identity, argv: jobArgv(), env: withLeaseToken(envFor(slot.index, trigger), slot), slot, stdin: 'inherit' });
    const pid = job.pid;
    if (pid !== null && (await job.started)) {
      slot.describe({ pid, owner: process.pid, command, jobId, startedAt: new Date().toISOString() });
      reporter.emit({ event: 'spawn', jobId, jobPid: pid, command, slot: slot.index, tick: 1, attempt: 1, delayMs: 0, ...(slot.token !== undefined ? { token: slot.token } : {}) });
    }
    const record = await job.exited;
    reporter.emit({ event: 'exit', ...record });
    if (record.error) reporter.notice(msg.cannotStart(command, record.error));
    if (job.group) await endGroups([job.group], settings.killAfterMs);
    return runExitCode(record, shutdown.exitCode);
  };
  try {
    const code = await admitAndRun();
    await notifiers.finish(code);
    return code;
  } finally {
    undoSignals();
    pool.close();
    reporter.close();
  }
}
