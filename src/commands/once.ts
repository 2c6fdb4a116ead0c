// `warden once`: one tick for cron. Check, admit and run the jobs as `watch` would, wait for
// them, and exit with a code a crontab can act on.
import { EXIT } from '../exit.js';
import { reportFailure } from '../report/failure.js';
import type { Pool } from '../pool/pool.js';
import type { Settings } from '../settings.js';
import { Supervisor } from '../supervisor.js';
import { onceExitCode } from '../exit-status.js';
import { attachNotifiers } from '../notify/notifiers.js';
import { handleSignals } from '../shutdown.js';
import { startEvent, openReporter, openCommandPool } from './common.js';
import { Detacher } from './detach.js';

export async function onceCommand(settings: Settings): Promise<number> {
  const reporter = await openReporter(settings, settings.log, 1);
  const pool = await openCommandPool(settings, reporter);
  const detacher = settings.detach ? new Detacher(settings, (message) => reportFailure(reporter, message)) : undefined;
  const supervisor = new Supervisor(settings, pool, reporter, detacher && ((request, slot, holds) => detacher.add(request, slot, holds)));
  if (detacher) supervisor.resumeElsewhere = () => detacher.resumeSpooled();
  const notifiers = await attachNotifiers(settings, reporter, 'once');
  // Handlers first: a signal sent as soon as the start event is seen must find them.
  const undoSignals = handleSignals((sig) => {
    supervisor.onSignal(sig);
    notifiers.onSignal(sig);
  });
  reporter.emit(startEvent('once', pool, settings));
  let code: number;
  try {
    await supervisor.tick(1, false, await electTick(settings, pool, supervisor));
    const tookOver = (await detacher?.settled()) ?? true;
    supervisor.endScheduling();
    await supervisor.done();
    code = tookOver ? onceExitCode(supervisor.tally, settings.jobs.length, supervisor.signalExit) : (supervisor.signalExit ?? EXIT.software);
    await notifiers.finish(code);
  } finally {
    undoSignals();
    pool.close();
  }
  if (supervisor.signalExit === undefined) reporter.emit({ event: 'stop', reason: 'done', liveJobs: 0 });
  reporter.close();
  return code;
}

/** With --redis and a schedule, the fleet runs one check per scheduled time: the one under way. */
async function electTick(settings: Settings, pool: Pool, supervisor: Supervisor): Promise<number | undefined> {
  if (!settings.redis || !settings.schedule) return undefined;
  const election = (await import('../pool/redis/election.js')).settingsElection(settings, pool);
  if (!election) return undefined;
  supervisor.election = election;
  return (await import('../schedule.js')).currentTickAt(settings.schedule);
}
