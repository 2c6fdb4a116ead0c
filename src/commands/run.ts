// `warden run -- CMD`: take a slot, run one command in its own process group holding the slot,
// forward signals to the group, and exit with the command's own code. GNU `sem --fg` and
// `flock -n` done right: the slot is the kernel's, so no crash can leak it.
import { EXIT } from '../exit.js';
import { runExitCode } from '../exit-status.js';
import { inheritedEnv, jobEnv } from '../job-env.js';
import { launch, warmSpawn } from '../launcher.js';
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
  const notifiers = await attachNotifiers(settings, reporter, 'run');

  // Waiting for a slot, any signal ends the wait and warden exits as signalled, having run
  // nothing. Once the job runs, the terminal's Ctrl-C reaches only warden (the job leads its
  // own group): it is passed on, as the job would have seen it; a second Ctrl-C, or TERM/HUP,
  // terminates the group.
  const waitAbort = new AbortController();
  let job: RunningJob | undefined;
  const shutdown = new Shutdown({
    drain: () => (job ? job.signal('SIGINT') : waitAbort.abort()),
    terminate: (sig) => {
      waitAbort.abort();
      if (sig === 'SIGHUP') job?.signal('SIGHUP');
      job?.stop('terminated');
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
      slot = await pool.tryAcquire();
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
      // In line first, then say so: whoever reads the `wait` event knows this run is waiting.
      const acquiring = pool.acquire({ signal: waitAbort.signal, timeoutMs: settings.waitTimeoutMs });
      acquiring.catch(() => undefined);
      inheritedEnv();
      warmSpawn();
      reporter.emit({ event: 'wait', pool: pool.name, live: await liveSlots(pool), maxLive: finite(pool.maxLive), tick: 1 });
      try {
        slot = await acquiring;
      } catch (err) {
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
    if (shutdown.exitCode !== undefined) {
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
    job = launch({
      jobId,
      command,
      // One plain word needs no shell: exec it directly (a shell start saved per one-shot).
      ...(settings.argv.length === 1 && !PLAIN_WORD.test(settings.argv[0]) ? { shell: settings.argv[0] } : { argv: settings.argv }),
      env: withLeaseToken(jobEnv(inheritedEnv(), { jobId, pool: pool.name, slot: slot.index, trigger, attempt: 1 }), slot),
      slot,
      tick: 1,
      attempt: 1,
      timeoutMs: settings.jobTimeoutMs,
      killAfterMs: settings.killAfterMs,
      output: { kind: 'inherit' },
      stdin: 'inherit',
    });
    if (job.pid !== null) {
      slot.describe({ pid: job.pid, owner: process.pid, command, jobId, startedAt: new Date().toISOString() });
      reporter.emit({ event: 'spawn', jobId, jobPid: job.pid, command, slot: slot.index, tick: 1, attempt: 1, delayMs: 0, ...(slot.token !== undefined ? { token: slot.token } : {}) });
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
