// Tick maths. Cron schedules over the real DST transitions of a zone, with a fake clock driving the very
// ticker `watch` uses: a 02:30 job runs once on the day clocks go forward and once on the day
// they go back, in the named zone (--tz) and in the local zone (TZ).
import { describe, expect, it } from 'vitest';
import { CronSchedule, cronIntervalMs, describeSchedule, dueTicks, everyTicker, startTicker } from '../../src/schedule.js';
import { isTimeZone } from '../../src/zone.js';
import type { Clock } from '../../src/schedule.js';

/** A clock whose time moves only when the test says; timers fire in order as it passes them. */
class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  constructor(public time: number) {}
  now = (): number => this.time;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.ids;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== handle);
  };
  /** Advance to `until`, firing every timer due on the way. */
  runUntil(until: number): void {
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = until;
  }
}

/** Tick instants of the real cron ticker between two instants. */
function ticks(expr: string, tz: string | undefined, from: string, until: string): string[] {
  const clock = new FakeClock(Date.parse(from));
  const seen: string[] = [];
  const ticker = startTicker({ kind: 'cron', expr, tz }, () => seen.push(new Date(clock.now()).toISOString()), clock);
  clock.runUntil(Date.parse(until));
  ticker.stop();
  return seen;
}

const local = (iso: string, tz: string): string => new Date(iso).toLocaleString('sv', { timeZone: tz });

describe('cron across DST (Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00)', () => {
  it('spring forward: a 02:30 job runs once, just after the gap (not skipped)', () => {
    const runs = ticks('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z');
    expect(runs).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(local(runs[0], 'Europe/Berlin')).toBe('2026-03-29 03:30:00');
  });

  it('fall back: a 02:30 job runs once, at the first 02:30', () => {
    const runs = ticks('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z');
    expect(runs).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('fall back: a job at fixed minutes of hour 2 runs once per wall time', () => {
    const runs = ticks('*/20 2 * * *', 'Europe/Berlin', '2026-10-24T22:00:00Z', '2026-10-25T06:00:00Z');
    expect(runs.map((r) => local(r, 'Europe/Berlin').slice(11, 16))).toEqual(['02:00', '02:20', '02:40']);
  });

  it('spring forward: an hourly job never runs twice at one instant', () => {
    const runs = ticks('30 * * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z');
    expect(runs).toEqual(['2026-03-28T23:30:00.000Z', '2026-03-29T00:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-29T02:30:00.000Z']);
  });

  it('fall back: an hourly job runs once per wall time, not again in the repeated hour', () => {
    const runs = ticks('30 * * * *', 'Europe/Berlin', '2026-10-24T23:00:00Z', '2026-10-25T03:00:00Z');
    expect(runs.map((r) => local(r, 'Europe/Berlin').slice(11, 16))).toEqual(['01:30', '02:30', '03:30']);
  });

  it('the local zone (TZ) is used without --tz, and --tz wins over it', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'America/New_York';
      // New York springs forward on 2026-03-08 at 02:00.
      expect(ticks('30 2 * * *', undefined, '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z')).toEqual(['2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z']);
      // ... and falls back on 2026-11-01 at 02:00 to 01:00: 01:30 comes twice, runs once.
      expect(ticks('30 1 * * *', undefined, '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z')).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
      expect(ticks('0 9 * * *', 'Asia/Tokyo', '2026-03-07T12:00:00Z', '2026-03-08T12:00:00Z')).toEqual(['2026-03-08T00:00:00.000Z']);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('a timer that wakes early does not tick before the run is due', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:30Z'));
    let n = 0;
    const ticker = startTicker({ kind: 'cron', expr: '* * * * *', tz: 'UTC' }, () => n++, clock);
    clock.runUntil(Date.parse('2026-01-01T00:00:59.999Z'));
    expect(n).toBe(0);
    clock.runUntil(Date.parse('2026-01-01T00:03:00Z'));
    expect(n).toBe(3);
    ticker.stop();
  });
});

describe('schedule helpers', () => {
  it('knows IANA zones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });

  it('describes a zoned schedule and measures its interval', () => {
    expect(describeSchedule({ kind: 'cron', expr: '*/5 * * * *', tz: 'UTC' })).toBe("cron '*/5 * * * *' UTC");
    expect(cronIntervalMs('*/5 * * * *', 'UTC')).toBe(300_000);
    expect(new CronSchedule('0 0 1 1 *', 'UTC').next(Date.parse('2026-06-01T00:00:00Z'))).toBe(Date.parse('2027-01-01T00:00:00Z'));
  });
});

// Interval ticks: the grid of an --every schedule, on a clock the test moves by hand.
describe('dueTicks', () => {
  it('reports nothing before the next grid point', () => {
    expect(dueTicks(99, 100, 1)).toEqual({ ticks: [], next: 1 });
  });

  it('numbers ticks from 1 at the origin', () => {
    expect(dueTicks(0, 100, 0)).toEqual({ ticks: [{ tick: 1, late: false }], next: 1 });
    expect(dueTicks(100, 100, 1)).toEqual({ ticks: [{ tick: 2, late: false }], next: 2 });
  });

  it('reports every missed grid point, all but the last as late', () => {
    expect(dueTicks(350, 100, 1)).toEqual({
      ticks: [
        { tick: 2, late: true },
        { tick: 3, late: true },
        { tick: 4, late: false },
      ],
      next: 4,
    });
  });

  it('never reports a grid point twice', () => {
    const first = dueTicks(250, 100, 0);
    expect(first.ticks.map((t) => t.tick)).toEqual([1, 2, 3]);
    expect(dueTicks(299, 100, first.next).ticks).toEqual([]);
  });
});

/** A clock whose time moves only when the test says; timers fire in order of their due time. */
class ManualClock implements Clock {
  private t = 1000;
  private ids = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== id);
  }

  /** Move to `to`, firing each timer due by then at its own time, or late at `firedAt`. */
  advance(to: number, firedAt?: number): void {
    for (;;) {
      const next = this.timers.filter((x) => x.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = firedAt ?? next.at;
      next.fn();
    }
    this.t = Math.max(this.t, to);
  }
}

describe('everyTicker', () => {
  it('ticks on the grid of the start time, not drifting with late timers', () => {
    const clock = new ManualClock();
    const seen: [number, boolean, number][] = [];
    const ticker = everyTicker(100, (tick, late) => seen.push([tick, late, clock.now()]), clock);
    clock.advance(1000);
    clock.advance(1100);
    // The next timer fires 40 ms late; the tick after it is still due at 1300.
    clock.advance(1200, 1240);
    clock.advance(1300);
    ticker.stop();
    expect(seen).toEqual([
      [1, false, 1000],
      [2, false, 1100],
      [3, false, 1240],
      [4, false, 1300],
    ]);
  });

  it('reports the grid points a stalled loop missed, as late, then carries on', () => {
    const clock = new ManualClock();
    const seen: [number, boolean][] = [];
    const ticker = everyTicker(100, (tick, late) => seen.push([tick, late]), clock);
    clock.advance(1000);
    clock.advance(1100, 1330);
    expect(ticker.nextInMs()).toBe(70);
    clock.advance(1400);
    ticker.stop();
    expect(seen).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [4, false],
      [5, false],
    ]);
  });

  it('stops at once, also from inside a tick', () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    const ticker = everyTicker(100, (tick) => {
      seen.push(tick);
      if (tick === 2) ticker.stop();
    }, clock);
    clock.advance(1000);
    clock.advance(1500, 1500);
    clock.advance(2000);
    expect(seen).toEqual([1, 2]);
  });
});
