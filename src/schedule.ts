// Ticks from --every or --cron. Interval ticks sit on a fixed grid of a monotonic clock, so a
// late timer never shifts the ones after it; every grid point is reported, missed ones too.
// Cron ticks follow the wall clock of a zone (--tz, CRON_TZ, else local) and keep Vixie cron's
// promise across DST: a time the spring-forward skips runs once, a time the fall-back repeats
// runs once.
import { Cron } from 'croner';
import { formatDuration } from './duration.js';
import type { Schedule } from './settings.js';

export interface Ticker {
  /** Milliseconds until the next tick, for the status line. */
  nextInMs(): number;
  stop(): void;
}

/** Wall-clock time and timers; tests pass a fake one to walk a schedule over DST changes. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Calls onTick(n, late, at) for tick 1, 2, 3...; `late` is true for grid points that were already
 * past; `at` is the tick's scheduled wall-clock time (ms), which names it across hosts.
 * `alignToEpoch` puts an interval's grid on multiples of it since the epoch, so that processes
 * started at different moments (on different hosts) tick at the same instants.
 */
export function startTicker(schedule: Schedule, onTick: OnTick, clock: Clock = realClock, options: { alignToEpoch?: boolean } = {}): Ticker {
  return schedule.kind === 'every'
    ? everyTicker(schedule.ms, onTick, monotonic, options.alignToEpoch ?? false)
    : cronTicker(new CronSchedule(schedule.expr, schedule.tz), onTick, clock);
}

type OnTick = (tick: number, late: boolean, at: number) => void;

/** The scheduled time of the tick under way now (for `once`): the latest grid point or cron time. */
export function currentTickAt(schedule: Schedule, now = Date.now()): number {
  if (schedule.kind === 'every') return now - (now % schedule.ms);
  const [last] = new Cron(schedule.expr, { paused: true, timezone: schedule.tz }).previousRuns(1, new Date(now + 1));
  return last ? last.getTime() : now;
}

/** Every rule of a cron expression, checked before anything starts; the message when it breaks one. */
export function cronProblem(expr: string, tz?: string): string | undefined {
  try {
    new Cron(expr, { paused: true, timezone: tz });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function describeSchedule(schedule: Schedule | undefined): string | null {
  if (!schedule) return null;
  if (schedule.kind === 'every') return `every ${formatDuration(schedule.ms)}`;
  return `cron '${schedule.expr}'${schedule.tz ? ` ${schedule.tz}` : ''}`;
}

/** The time between the next two cron runs: the default check timeout for a cron schedule. */
export function cronIntervalMs(expr: string, tz?: string): number | undefined {
  const schedule = new CronSchedule(expr, tz);
  const first = schedule.next(Date.now());
  const second = first === undefined ? undefined : schedule.next(first);
  return first !== undefined && second !== undefined ? second - first : undefined;
}

/**
 * The runs of a cron expression in a zone, one after another. croner moves a time that the
 * spring-forward skips to the same minute of the next hour (02:30 -> 03:30), which can land on
 * a run that exists anyway: such a run is taken once. It also lets an hourly field run again
 * in the repeated hour of the fall-back; like Vixie cron, a job at a fixed time (neither
 * minute nor hour a wildcard) runs once there.
 */
export class CronSchedule {
  private readonly cron: Cron;
  private readonly fixedTime: boolean;
  private readonly wall: Intl.DateTimeFormat;

  constructor(expr: string, readonly tz?: string) {
    this.cron = new Cron(expr, { paused: true, timezone: tz });
    const fields = expr.trim().split(/\s+/);
    const [minute, hour] = fields.length === 6 ? fields.slice(1, 3) : fields.slice(0, 2);
    this.fixedTime = !minute.startsWith('*') && !hour.startsWith('*');
    this.wall = new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  /** The first run strictly after `after` (epoch ms), or undefined when there is none. */
  next(after: number): number | undefined {
    const previousWall = this.wall.format(after);
    let from = after;
    for (let guard = 0; guard < 1000; guard++) {
      const run = this.cron.nextRun(new Date(from))?.getTime();
      if (run === undefined) return undefined;
      if (run <= after) {
        from = Math.max(from, run) + 1000;
        continue;
      }
      // The fall-back's second pass through a fixed wall time already run.
      if (this.fixedTime && this.wall.format(run) === previousWall && run - after <= 2 * 3600_000) {
        from = run;
        continue;
      }
      return run;
    }
    return undefined;
  }
}

// The interval grid runs on the monotonic clock: a wall-clock step must not shift it.
const monotonic: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The grid points due by `elapsedMs` from the next one not yet reported: each becomes a tick
 * (numbered from 1), late when a later point is already due too. Returns the next index.
 */
export function dueTicks(elapsedMs: number, intervalMs: number, next: number): { ticks: { tick: number; late: boolean }[]; next: number } {
  const due = Math.floor(elapsedMs / intervalMs);
  const ticks: { tick: number; late: boolean }[] = [];
  for (let index = next; index <= due; index++) ticks.push({ tick: index + 1, late: index < due });
  return { ticks, next: Math.max(next, due + 1) };
}

export function everyTicker(intervalMs: number, onTick: OnTick, clock: Clock = monotonic, alignToEpoch = false): Ticker {
  const wall = Date.now();
  // Aligned, the first tick is the grid point just past (it runs at once, as unaligned ones do).
  const behind = alignToEpoch ? wall % intervalMs : 0;
  const origin = clock.now() - behind;
  const wallOrigin = wall - behind;
  let next = 0; // grid index of the next tick to report
  let timer: unknown;
  let stopped = false;
  const fire = (): void => {
    if (stopped) return;
    const due = dueTicks(clock.now() - origin, intervalMs, next);
    for (const t of due.ticks) {
      if (stopped) break;
      next = t.tick;
      onTick(t.tick, t.late, wallOrigin + (t.tick - 1) * intervalMs);
    }
    if (!stopped) arm();
  };
  const arm = (): void => {
    timer = clock.setTimeout(fire, Math.max(0, origin + next * intervalMs - clock.now()));
  };
  arm();
  return {
    nextInMs: () => Math.max(0, origin + next * intervalMs - clock.now()),
    stop(): void {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
    },
  };
}

// Long timers are capped so that a wall clock set forward or back is noticed within the cap.
const MAX_TIMER_MS = 60_000;

function cronTicker(schedule: CronSchedule, onTick: OnTick, clock: Clock): Ticker {
  let tick = 0;
  let stopped = false;
  let handle: unknown;
  let due = schedule.next(clock.now());
  const arm = (): void => {
    if (stopped || due === undefined) return;
    handle = clock.setTimeout(fire, Math.min(MAX_TIMER_MS, Math.max(0, due - clock.now())));
  };
  const fire = (): void => {
    if (stopped || due === undefined) return;
    const now = clock.now();
    // A timer may wake a little early: only a run whose time has come is a tick.
    if (now >= due) {
      // Runs that passed while the process slept (a suspended laptop) are not caught up.
      let next = schedule.next(due);
      while (next !== undefined && next <= now) next = schedule.next(next);
      const at = due;
      due = next;
      onTick(++tick, false, at);
    }
    arm();
  };
  arm();
  return {
    nextInMs: () => (due === undefined ? 0 : Math.max(0, due - clock.now())),
    stop(): void {
      stopped = true;
      if (handle !== undefined) clock.clearTimeout(handle);
    },
  };
}
