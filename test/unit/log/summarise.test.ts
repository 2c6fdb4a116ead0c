// The summariser on hand-made event streams: counts, live jobs across processes, the window.
import { describe, expect, it } from 'vitest';
import { DurationStats } from '../../../src/log/duration-stats.js';
import { parseLine } from '../../../src/log/parse-event.js';
import type { LogEvent } from '../../../src/log/parse-event.js';
import { Summariser } from '../../../src/log/summarise.js';
import { summarySections } from '../../../src/log/summary-text.js';
import { TimelineCollector } from '../../../src/log/timeline-data.js';

const T0 = Date.parse('2026-12-02T01:00:00Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

function ev(fields: Record<string, unknown>): LogEvent {
  const parsed = parseLine(JSON.stringify(fields));
  if (!parsed || 'malformed' in parsed) throw new Error(`bad test event ${JSON.stringify(fields)}`);
  return parsed;
}

const start = (s: number, pid: number, pool: string, maxLive: number | null, host?: string) =>
  ev({ ts: at(s), event: 'start', pid, host, pool, maxLive, mode: 'watch', schedule: 'every 1s', backend: 'socket', stateDir: '/s' });
const spawn = (s: number, pid: number, jobId: string, command: string, slot: number, attempt = 1, host?: string, delayMs = 0) =>
  ev({ ts: at(s), event: 'spawn', pid, host, jobId, command, slot, attempt, jobPid: 100, delayMs });
const exit = (s: number, pid: number, jobId: string, command: string, slot: number, durationS: number, outcome = 'ok', attempt = 1, host?: string) =>
  ev({ ts: at(s), event: 'exit', pid, host, jobId, command, slot, attempt, outcome, durationMs: durationS * 1000, exitCode: outcome === 'ok' ? 0 : 1, signal: null, tail: 'last line' });

function summarise(events: LogEvent[], since = -Infinity, until = Infinity, collector?: TimelineCollector) {
  const s = new Summariser({ since, until }, collector);
  for (const e of events) s.add(e);
  return s.finish();
}

describe('Summariser', () => {
  const events = [
    start(0, 1, 'mail', 2),
    start(0, 2, 'mail', 2),
    ev({ ts: at(1), event: 'check', pid: 1, tick: 1, outcome: 'fired', durationMs: 20 }),
    spawn(1, 1, '1.1', 'a', 0),
    spawn(2, 2, '1.1', 'b', 1),
    ev({ ts: at(2.5), event: 'wait', pid: 1, pool: 'mail', live: 2, maxLive: 2, tick: 2 }),
    ev({ ts: at(3), event: 'skip', pid: 2, reason: 'pool-full', tick: 2, pool: 'mail' }),
    exit(4, 1, '1.1', 'a', 0, 3, 'failed'),
    ev({ ts: at(4), event: 'retry', pid: 1, jobId: '1.1', attempt: 2, delayMs: 100 }),
    spawn(5, 1, '1.1', 'a', 0, 2),
    exit(6, 2, '1.1', 'b', 1, 4),
    exit(7, 1, '1.1', 'a', 0, 2, 'ok', 2),
    ev({ ts: at(8), event: 'check', pid: 1, tick: 2, outcome: 'idle', durationMs: 10 }),
    ev({ ts: at(9), event: 'check', pid: 1, tick: 3, outcome: 'error', durationMs: 30 }),
    ev({ ts: at(9), event: 'heartbeat', pid: 1 }),
    spawn(10, 2, '2.1', 'b', 0),
  ];

  it('counts runs, outcomes, retries and durations per command, and what never exited', () => {
    const s = summarise(events);
    const a = s.jobs.find((j) => j.command === 'a');
    const b = s.jobs.find((j) => j.command === 'b');
    expect(a).toMatchObject({ runs: 2, outcomes: { failed: 1, ok: 1 }, retries: 1, unfinished: 0, durationMs: { count: 2, p50: 2000, p95: 3000, max: 3000, exact: true } });
    expect(b).toMatchObject({ runs: 1, outcomes: { ok: 1 }, retries: 0, unfinished: 1 });
    expect(s.events).toBe(events.length);
    expect(s.byEvent).toMatchObject({ start: 2, spawn: 4, exit: 3, heartbeat: 1 });
    expect(s.processes).toBe(2);
  });

  it('counts live jobs across the processes of a pool: peak, time at the cap, waits, skips', () => {
    const [pool] = summarise(events).pools;
    // Both live from 2 s to 4 s, and again from 5 s to 6 s: 3 s at the cap of 2.
    expect(pool).toMatchObject({ pool: 'mail', cap: 2, peakLive: 2, fullMs: 3000, jobs: 4, waits: 1, skips: { 'pool-full': 1 } });
  });

  it('counts checks by outcome, per pool and schedule', () => {
    const [check] = summarise(events).checks;
    expect(check).toMatchObject({ pool: 'mail', schedule: 'every 1s', outcomes: { fired: 1, idle: 1, error: 1, timeout: 0 } });
  });

  it('counts only inside the window, with the jobs already live when it opens', () => {
    const s = summarise(events, T0 + 5500, T0 + 9000);
    expect(s.jobs.map((j) => [j.command, j.runs])).toEqual([
      ['b', 1],
      ['a', 1],
    ]);
    // At 5.5 s jobs a (attempt 2) and b are live: the pool is full until b exits at 6 s.
    expect(s.pools[0]).toMatchObject({ peakLive: 2, fullMs: 500, jobs: 0, waits: 0 });
    expect(s.checks[0].outcomes).toMatchObject({ fired: 0, idle: 1, error: 1 });
    expect(s.first).toBe(T0 + 6000);
  });

  it('keeps pools of different hosts apart, and the same pool through Redis together', () => {
    const local = summarise([start(0, 1, 'p', 1, 'h1'), start(0, 1, 'p', 1, 'h2'), spawn(1, 1, '1.1', 'x', 0, 1, 'h1'), spawn(1, 1, '1.1', 'x', 0, 1, 'h2')]);
    expect(local.pools.map((p) => [p.host, p.peakLive])).toEqual([
      ['h1', 1],
      ['h2', 1],
    ]);
    expect(local.hosts).toEqual(['h1', 'h2']);
    const redis = (host: string) => ev({ ts: at(0), event: 'start', pid: 1, host, pool: 'p', maxLive: 2, backend: 'redis' });
    const shared = summarise([redis('h1'), redis('h2'), spawn(1, 1, '1.1', 'x', 0, 1, 'h1'), spawn(1, 1, '1.1', 'x', 1, 1, 'h2')]);
    expect(shared.pools).toHaveLength(1);
    expect(shared.pools[0]).toMatchObject({ host: null, peakLive: 2, cap: 2 });
  });

  it('counts each process once, a pid used again after a stop as a new one', () => {
    const stop = (sec: number, pid: number) => ev({ ts: at(sec), event: 'stop', pid, reason: 'done', liveJobs: 0 });
    const s = summarise([start(0, 7, 'p', 1), stop(1, 7), start(2, 7, 'p', 1), ev({ ts: at(3), event: 'check', pid: 7, tick: 1, outcome: 'idle', durationMs: 1 }), stop(4, 7), start(5, 8, 'p', 1)]);
    expect(s.processes).toBe(3);
  });

  it('lumps pools past a thousand into one row', () => {
    const events: LogEvent[] = [];
    for (let i = 0; i < 1005; i++) events.push(start(0, i, `p${i}`, 1), spawn(1, i, '1.1', 'x', 0));
    const s = summarise(events);
    expect(s.pools).toHaveLength(1001);
    expect(s.pools.find((p) => p.pool === '(other pools)')?.jobs).toBe(5);
  });

  it('takes the largest cap any process gives the pool, unlimited above all', () => {
    expect(summarise([start(0, 1, 'p', 2), start(0, 2, 'p', 5), spawn(1, 1, '1.1', 'x', 0)]).pools[0].cap).toBe(5);
    expect(summarise([start(0, 1, 'p', 2), start(0, 2, 'p', null), spawn(1, 1, '1.1', 'x', 0)]).pools[0].cap).toBeNull();
  });

  it('hands the timeline a bar per job attempt, in its slot row', () => {
    const collector = new TimelineCollector(true);
    summarise(events, -Infinity, Infinity, collector);
    const t = collector.build(T0, T0 + 10_000);
    expect(t.pools).toHaveLength(1);
    expect(t.pools[0].slots).toEqual([0, 1]);
    expect(t.bars.map((b) => [b.command, b.row, b.outcome, b.start - T0, b.end - T0])).toEqual([
      ['a', 0, 'failed', 1000, 4000],
      ['b', 1, 'ok', 2000, 6000],
      ['a', 0, 'ok', 5000, 7000],
      ['b', 0, 'running', 10_000, 10_000],
    ]);
    expect(t.marks.map((m) => m.kind)).toEqual(['wait', 'skip']);
  });
});

describe('a job whose warden died before logging its exit', () => {
  it('ended by the time another job took its slot: unfinished, and no longer live', () => {
    const collector = new TimelineCollector(false);
    const s = summarise([start(0, 1, 'p', 1), spawn(1, 1, '1.1', 'lost', 0), start(5, 2, 'p', 1), spawn(6, 2, '1.1', 'next', 0), exit(7, 2, '1.1', 'next', 0, 1)], -Infinity, Infinity, collector);
    expect(s.jobs.find((j) => j.command === 'lost')).toMatchObject({ runs: 0, unfinished: 1 });
    expect(s.pools[0]).toMatchObject({ peakLive: 1, fullMs: 6000 });
    expect(collector.build(T0, T0 + 7000).bars.map((b) => [b.command, b.outcome, b.end - T0])).toEqual([
      ['lost', 'unknown', 6000],
      ['next', 'ok', 7000],
    ]);
  });
});

describe('the timeline of a pool without a cap', () => {
  it('draws the first 64 slots and counts the rest', () => {
    const collector = new TimelineCollector(false);
    const events = [start(0, 1, 'wide', null)];
    for (let i = 0; i < 70; i++) events.push(spawn(1, 1, `1.${i}`, 'x', i), exit(2, 1, `1.${i}`, 'x', i, 1));
    summarise(events, -Infinity, Infinity, collector);
    const t = collector.build(T0, T0 + 2000);
    expect(t.pools[0]).toMatchObject({ label: 'wide', cap: null, hiddenSlots: 6, hiddenJobs: 6 });
    expect(t.pools[0].slots).toHaveLength(64);
    expect(t.bars).toHaveLength(64);
  });
});

describe('slots held through a --delay', () => {
  it('count as live from the trigger (the spawn less its delay), and show on the timeline', () => {
    const collector = new TimelineCollector(false);
    const s = summarise([start(0, 1, 'p', 2), spawn(1, 1, '1.1', 'now', 0), spawn(9, 1, '1.2', 'later', 1, 1, undefined, 8000), exit(5, 1, '1.1', 'now', 0, 4), exit(12, 1, '1.2', 'later', 1, 3)], -Infinity, Infinity, collector);
    // Both slots held from 1 s (one running, one waiting out its delay) to 5 s.
    expect(s.pools[0]).toMatchObject({ peakLive: 2, fullMs: 4000 });
    expect(collector.build(T0, T0 + 12_000).bars.map((b) => [b.command, b.held === null ? null : b.held - T0])).toEqual([
      ['now', null],
      ['later', 1000],
    ]);
  });

  it('never from before the slot was free: a queued job took it late', () => {
    const collector = new TimelineCollector(false);
    summarise([start(0, 1, 'p', 1), spawn(0, 1, '1.1', 'a', 0), exit(4, 1, '1.1', 'a', 0, 4), spawn(9, 1, '1.2', 'b', 0, 1, undefined, 8000), exit(10, 1, '1.2', 'b', 0, 1)], -Infinity, Infinity, collector);
    expect(collector.build(T0, T0 + 10_000).bars.map((b) => (b.held === null ? null : b.held - T0))).toEqual([null, 4000]);
  });

  it('start at the `delay` event when there is one, counted once, and end at a stop that cancels them', () => {
    const delay = (sec: number, jobId: string) => ev({ ts: at(sec), event: 'delay', pid: 1, jobId, command: 'x', dueAt: at(sec + 8), delayMs: 8000 });
    const s = summarise([start(0, 1, 'p', 2), delay(2, '1.1'), spawn(10, 1, '1.1', 'x', 0, 1, undefined, 8000), exit(11, 1, '1.1', 'x', 0, 1)]);
    expect(s.pools[0]).toMatchObject({ peakLive: 1, fullMs: 0 });
    const cancelled = summarise([start(0, 1, 'p', 1), delay(2, '1.1'), ev({ ts: at(5), event: 'stop', pid: 1, reason: 'SIGINT', liveJobs: 0 }), ev({ ts: at(9), event: 'stop', pid: 2, reason: 'x', liveJobs: 0 })]);
    expect(cancelled.pools[0]).toMatchObject({ peakLive: 1, fullMs: 3000 });
    const dropped = summarise([start(0, 1, 'p', 1), delay(2, '1.1'), ev({ ts: at(4), event: 'skip', pid: 1, reason: 'too-late', tick: 1, pool: 'p', jobId: '1.1', lateMs: 5000 }), ev({ ts: at(9), event: 'stop', pid: 1, reason: 'x', liveJobs: 0 })]);
    expect(dropped.pools[0]).toMatchObject({ peakLive: 1, fullMs: 2000, skips: { 'too-late': 1 } });
  });
});

describe('DurationStats', () => {
  it('is exact for small counts (nearest rank)', () => {
    const d = new DurationStats();
    for (const v of [5, 1, 4, 2, 3]) d.add(v);
    expect(d.summary()).toEqual({ count: 5, p50: 3, p95: 5, max: 5, exact: true });
  });

  it('stays within 1% past the exact range, with the true max', () => {
    const d = new DurationStats();
    for (let i = 1; i <= 100_000; i++) d.add(i);
    const s = d.summary();
    expect(s.exact).toBe(false);
    expect(s.max).toBe(100_000);
    expect(Math.abs((s.p50 ?? 0) - 50_000) / 50_000).toBeLessThan(0.011);
    expect(Math.abs((s.p95 ?? 0) - 95_000) / 95_000).toBeLessThan(0.011);
  });
});

describe('the text summary', () => {
  it('keeps delayed and resumed jobs out of the skips column', () => {
    const summary = summarise([
      start(0, 1, 'mail', 2),
      ev({ ts: at(1), event: 'skip', pid: 1, reason: 'unchanged', tick: 1, pool: 'mail' }),
      ev({ ts: at(1), event: 'delay', pid: 1, jobId: '1.2', command: 'b', dueAt: at(3), delayMs: 2000, pool: 'mail' }),
      ev({ ts: at(2), event: 'resume', pid: 1, jobId: '1.2', command: 'b', dueAt: at(3), lateMs: 0, pool: 'mail' }),
    ]);
    const pools = summarySections({ files: [], window: { since: -Infinity, until: Infinity }, summary, malformed: { count: 0, examples: [] } }).find((t) => t.rows[0][0] === 'pool')?.rows ?? [];
    expect(pools[0]).toEqual(['pool', 'cap', 'peak live', 'at cap', 'jobs', 'waits', 'skips', 'spool and leases']);
    expect(pools[1].slice(6)).toEqual(['unchanged 1', 'delayed 1, resumed 1']);
  });
});
