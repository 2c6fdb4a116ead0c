// `warden once`: one tick for cron. Check, admit and run the jobs as `watch` would, wait for
// them, and exit with a code a crontab can act on.
import type { Settings } from '../settings.js';
import { Supervisor } from '../supervisor.js';
import { EXIT, SIGNAL_EXIT } from '../exit.js';
import { handleSignals, startEvent, openReporter, openSettingsPool } from './common.js';
import { Detacher } from './detach.js';
import { exitCodeOf } from './run.js';

export async function onceCommand(settings: Settings): Promise<number> {
  const reporter = await openReporter(settings, settings.log, 1);
  const pool = openSettingsPool(settings);
  const detacher = settings.detach ? new Detacher(settings) : undefined;
  const supervisor = new Supervisor(settings, pool, reporter, detacher && ((request, slot) => detacher.add(request, slot)));
  reporter.emit(startEvent('once', pool, settings));
  const undoSignals = handleSignals((sig) => supervisor.onSignal(sig, SIGNAL_EXIT[sig]));
  try {
    await supervisor.tick(1, false);
    await detacher?.settled();
    supervisor.endScheduling();
    await supervisor.done();
  } finally {
    undoSignals();
    pool.close();
  }
  if (supervisor.signalExit === undefined) reporter.emit({ event: 'stop', reason: 'done', liveJobs: 0 });
  reporter.close();
  return onceExitCode(supervisor, settings.jobs.length);
}

/** Signal 128+n; check error 3; a failed job 1 (its own code when it is the only job); skipped 75. */
function onceExitCode(supervisor: Supervisor, jobsPerTrigger: number): number {
  const t = supervisor.tally;
  if (supervisor.signalExit !== undefined) return supervisor.signalExit;
  if (t.checkErrors) return EXIT.checkFailed;
  if (t.failed) {
    const last = t.last;
    const single = jobsPerTrigger === 1 && t.ok + t.failed === 1 && last;
    return single ? exitCodeOf(last.exitCode, last.signal, last.error) || EXIT.failed : EXIT.failed;
  }
  if (t.skipped) return EXIT.tempFail;
  return EXIT.ok;
}
