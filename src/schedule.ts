// Ticks from --every or --cron. Interval ticks sit on a fixed grid of a monotonic clock, so a
// late timer never shifts the ones after it; every grid point is reported, missed ones too.
import { Cron } from 'croner';
import { formatDuration } from './duration.js';
import type { Schedule } from './settings.js';

export interface Ticker {
  /** Milliseconds until the next tick, for the status line. */
  nextInMs(): number;
  stop(): void;
}

/** Calls onTick(n) for tick 1, 2, 3...; `late` is true for grid points that were already past. */
export function startTicker(schedule: Schedule, onTick: (tick: number, late: boolean) => void): Ticker {
  return schedule.kind === 'every' ? everyTicker(schedule.ms, onTick) : cronTicker(schedule.expr, onTick);
}

/** Every rule of a cron expression, checked before anything starts; the message when it breaks one. */
export function cronProblem(expr: string): string | undefined {
  try {
    new Cron(expr, { paused: true });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function describeSchedule(schedule: Schedule | undefined): string | null {
  if (!schedule) return null;
  return schedule.kind === 'every' ? `every ${formatDuration(schedule.ms)}` : `cron '${schedule.expr}'`;
}

/** The time between the next two cron runs: the default check timeout for a cron schedule. */
export function cronIntervalMs(expr: string): number | undefined {
  const runs = new Cron(expr, { paused: true }).nextRuns(2);
  return runs.length === 2 ? runs[1].getTime() - runs[0].getTime() : undefined;
}

function everyTicker(intervalMs: number, onTick: (tick: number, late: boolean) => void): Ticker {
  const origin = performance.now();
  let next = 0; // grid index of the next tick to report
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fire = (): void => {
    if (stopped) return;
    const due = Math.floor((performance.now() - origin) / intervalMs);
    while (next <= due && !stopped) {
      const index = next++;
      onTick(index + 1, index < due);
    }
    if (!stopped) arm();
  };
  const arm = (): void => {
    timer = setTimeout(fire, Math.max(0, origin + next * intervalMs - performance.now()));
  };
  arm();
  return {
    nextInMs: () => Math.max(0, origin + next * intervalMs - performance.now()),
    stop(): void {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function cronTicker(expr: string, onTick: (tick: number, late: boolean) => void): Ticker {
  let tick = 0;
  const job = new Cron(expr, { protect: false }, () => onTick(++tick, false));
  return {
    nextInMs: () => job.msToNext() ?? 0,
    stop: () => job.stop(),
  };
}
