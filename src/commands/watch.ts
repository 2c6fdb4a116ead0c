// `warden watch`: the long-running supervisor. Ticks come from the schedule whatever the jobs
// are doing; the supervisor does the rest. Exits on --max-runs or a signal, after draining.
import { formatDuration } from '../duration.js';
import { msg } from '../messages.js';
import { cronIntervalMs, cronProblem, describeSchedule, startTicker } from '../schedule.js';
import type { Schedule, Settings } from '../settings.js';
import { Supervisor } from '../supervisor.js';
import { EXIT, UsageError } from '../exit.js';
import { watchExitCode } from '../exit-status.js';
import { liveSlots } from '../pool/live-slots.js';
import type { RunningMetrics } from '../metrics/start-metrics.js';
import { attachNotifiers } from '../notify/notifiers.js';
import { handleSignals } from '../shutdown.js';
import { startEvent, openReporter, openCommandPool } from './common.js';

export async function watchCommand(settings: Settings): Promise<number> {
  const schedule = settings.schedule;
  if (!schedule) return EXIT.usage;
  if (schedule.kind === 'cron') {
    const problem = cronProblem(schedule.expr, schedule.tz);
    if (problem !== undefined) throw new UsageError(msg.notCron('--cron', schedule.expr, problem));
  }
  const checkTimeoutMs = settings.checkTimeoutMs ?? (schedule.kind === 'every' ? schedule.ms : cronIntervalMs(schedule.expr, schedule.tz));
  // Listening comes first: a busy port is a usage error with nothing started.
  const served = settings.metrics && (await (await import('../metrics/start-metrics.js')).startMetrics(settings.metrics, settings.pool, settings.maxLive));
  try {
    return await supervise({ ...settings, checkTimeoutMs }, schedule, served || undefined);
  } finally {
    if (served) await served.server.close();
  }
}

async function supervise(settings: Settings, schedule: Schedule, served: RunningMetrics | undefined): Promise<number> {
  const reporter = await openReporter(settings, settings.log, 1);
  const pool = await openCommandPool(settings, reporter);
  const supervisor = new Supervisor(settings, pool, reporter);
  if (served) {
    served.metrics.probe = { queued: () => supervisor.queued, poolLive: () => liveSlots(pool) };
    reporter.listen(served.metrics.hear);
  }

  const election = settings.redis ? (await import('../pool/redis/election.js')).settingsElection(settings, pool) : undefined;
  if (election) supervisor.election = election;

  const notifiers = await attachNotifiers(settings, reporter, 'watch');
  const undoSignals = handleSignals((sig) => {
    supervisor.onSignal(sig);
    notifiers.onSignal(sig);
  });
  reporter.emit(startEvent('watch', pool, settings, describeSchedule(schedule)));
  const ticker = startTicker(
    schedule,
    (tick, late, at) => {
      const last = settings.maxRuns !== undefined && tick >= settings.maxRuns;
      if (last) ticker.stop();
      void supervisor.tick(tick, late, at).finally(() => last && supervisor.endScheduling());
    },
    undefined,
    // Elected ticks need the same instants on every host.
    { alignToEpoch: election !== undefined },
  );
  supervisor.stopTicks = () => ticker.stop();
  // A signal that came before the ticker existed has stopped scheduling already.
  if (supervisor.signalExit !== undefined) ticker.stop();
  const status = setInterval(() => reporter.status(`next check in ${formatDuration(ticker.nextInMs())} · ${supervisor.describe()}`), 1000);
  status.unref();
  let code: number;
  try {
    await supervisor.done();
    code = watchExitCode(supervisor.tally, supervisor.signalExit);
    await notifiers.finish(code);
  } finally {
    clearInterval(status);
    undoSignals();
    pool.close();
  }
  if (supervisor.signalExit === undefined) reporter.emit({ event: 'stop', reason: 'max-runs', liveJobs: 0 });
  reporter.close();
  return code;
}
