// Folds a time-ordered stream of log events into the summary: per job command, per pool, per
// check. Memory is bounded by the number of commands, pools and jobs live at once, never by
// the length of the log. Events outside the window still update what is live (a job spawned
// before --since is live inside it); only events inside it are counted.
import type { LogEvent } from './parse-event.js';
import { PoolTracker, poolKey } from './pool-tracker.js';
import type { Window } from './pool-tracker.js';
import { MAX_COMMANDS, MAX_POOLS, OTHER_COMMANDS, OTHER_POOLS } from './summary-types.js';
import type { Listener, Summary } from './summary-types.js';
import { CheckAcc, JobAcc, bump } from './tallies.js';
import { DelayHolds } from './delay-holds.js';

interface Proc {
  pool: PoolTracker;
  /** The schedule of a watch, else the mode (`once`): what tells checks of one pool apart. */
  schedule: string | null;
}

interface Open {
  pool: PoolTracker;
  held: number | null;
  start: number;
  slot: number;
  command: string;
  jobId: string;
  attempt: number;
  pid: number;
  host: string;
}

export class Summariser {
  private readonly procs = new Map<string, Proc>();
  private readonly pools = new Map<string, PoolTracker>();
  private readonly jobs = new Map<string, JobAcc>();
  private readonly checks = new Map<string, CheckAcc>();
  private readonly open = new Map<string, Open>();
  /** The open job in each pool's slot: a new job in that slot proves the old one ended. */
  private readonly occupant = new Map<PoolTracker, Map<number, string>>();
  /** Slots held through a --delay, where `delay` events show them. */
  private readonly holding = new DelayHolds();
  private readonly byEvent = new Map<string, number>();
  private readonly hosts = new Set<string>();
  /** Processes seen in the window and not yet stopped: entries go at `stop`, so a log of a
   * million cron one-shots keeps only the few running at once. */
  private readonly current = new Set<string>();
  private processes = 0;
  private first: number | null = null;
  private last: number | null = null;
  private lastSeen = -Infinity;
  private counted = 0;

  constructor(private readonly window: Window, private readonly listener?: Listener) {}

  add(e: LogEvent): void {
    if (e.ts > this.lastSeen) this.lastSeen = e.ts;
    const inside = e.ts >= this.window.since && e.ts <= this.window.until;
    const procKey = `${e.host}\0${e.pid}`;
    if (e.event === 'start') {
      const pool = this.pool(e.pool ?? '', e.host, e.stateDir, e.backend);
      pool.declareCap(e.maxLive ?? null, e.ts);
      this.procs.set(procKey, { pool, schedule: e.schedule ?? (e.mode || null) });
      // A new process (a pid used again after one that died without a stop).
      this.current.delete(procKey);
    }
    const proc = this.procs.get(procKey);
    const named = e.pool;
    const pool = proc && (named === null || named === proc.pool.name) ? proc.pool : this.pool(named ?? '(unknown)', e.host, '', '');
    this.track(e, procKey, pool, inside);
    if (inside) {
      this.counted++;
      this.first = Math.min(this.first ?? e.ts, e.ts);
      this.last = Math.max(this.last ?? e.ts, e.ts);
      this.hosts.add(e.host);
      if (!this.current.has(procKey)) {
        this.current.add(procKey);
        this.processes++;
      }
      bump(this.byEvent, e.name);
      this.count(e, pool, proc);
    }
    if (e.event === 'stop') {
      this.procs.delete(procKey);
      this.current.delete(procKey);
    }
  }

  /** What is live whether or not the event is in the window. */
  private track(e: LogEvent, procKey: string, pool: PoolTracker, inside: boolean): void {
    if (e.event === 'delay') this.holding.begin(procKey, e.jobId, pool, e.ts);
    else if (e.event === 'spawn') {
      const key = `${procKey}\0${e.jobId}\0${e.attempt}`;
      if (this.open.has(key)) return;
      const held = e.attempt === 1 ? this.release(procKey, e, pool) : null;
      this.open.set(key, { pool, held, start: e.ts, slot: e.slot, command: e.command, jobId: e.jobId, attempt: e.attempt, pid: e.pid, host: e.host });
      this.occupy(pool, e.slot, key, held ?? e.ts);
      pool.run(1, e.ts);
      if (inside) pool.jobs++;
    } else if (e.event === 'exit') {
      const key = `${procKey}\0${e.jobId}\0${e.attempt}`;
      const open = this.open.get(key);
      if (open) {
        this.open.delete(key);
        open.pool.run(-1, e.ts);
        open.pool.advance(e.ts);
      }
      (open?.pool ?? pool).freed(e.slot, e.ts);
      const start = open?.start ?? e.ts - e.durationMs;
      const held = open?.held ?? null;
      if (this.listener && e.ts >= this.window.since && (held ?? start) <= this.window.until) {
        this.listener.job({
          pool: open?.pool ?? pool,
          slot: e.slot,
          held,
          start,
          end: e.ts,
          outcome: e.outcome,
          command: e.command,
          jobId: e.jobId,
          attempt: e.attempt,
          pid: e.pid,
          host: e.host,
          exitCode: e.exitCode,
          signal: e.signal,
          tail: e.tail,
        });
      }
    } else if (e.event === 'skip' && e.jobId !== '') this.holding.end(procKey, e.jobId, e.ts);
    else if (e.event === 'stop') this.holding.endProcess(procKey, e.ts);
    pool.advance(e.ts);
  }

  /** A job whose warden died before logging its exit ended by the time its slot was taken again. */
  private occupy(pool: PoolTracker, slot: number, key: string, t: number): void {
    let slots = this.occupant.get(pool);
    if (!slots) this.occupant.set(pool, (slots = new Map()));
    const before = slots.get(slot);
    slots.set(slot, key);
    const gone = before === undefined ? undefined : this.open.get(before);
    if (!gone || before === key || pool.backend === 'redis') return;
    this.open.delete(before as string);
    gone.pool.run(-1, t);
    this.job(gone.command).unfinished++;
    this.listener?.job({ ...gone, end: Math.max(gone.start, t), outcome: 'unknown', exitCode: null, signal: null, tail: '' });
  }

  /** The slot a first attempt held through its delay: from its `delay` event, else dated back by its delayMs. */
  private release(procKey: string, e: LogEvent, pool: PoolTracker): number | null {
    const known = this.holding.end(procKey, e.jobId, e.ts);
    if (known !== undefined) return known;
    if (e.delayMs <= 0) return null;
    // From the trigger, unless the slot was busy until later (the job was queued for it).
    const since = pool.heldSince(e.slot, e.ts, e.delayMs);
    pool.hold(1, since, e.delayMs);
    pool.hold(-1, e.ts);
    return since;
  }

  private count(e: LogEvent, pool: PoolTracker, proc: Proc | undefined): void {
    switch (e.event) {
      case 'exit': {
        const job = this.job(e.command);
        job.runs++;
        if (e.attempt > 1) job.retries++;
        bump(job.outcomes, e.outcome);
        job.durations.add(e.durationMs);
        return;
      }
      case 'check': {
        const key = `${pool.name}\0${pool.host}\0${proc?.schedule ?? ''}\0${e.command}`;
        let check = this.checks.get(key);
        if (!check) this.checks.set(key, (check = new CheckAcc(pool, proc?.schedule ?? null, e.command || null)));
        bump(check.outcomes, e.outcome);
        check.durations.add(e.durationMs);
        return;
      }
      case 'skip':
        pool.skip(e.outcome);
        this.listener?.mark({ pool, ts: e.ts, kind: 'skip', reason: e.outcome });
        return;
      case 'wait':
        pool.waits++;
        if (e.maxLive !== undefined) pool.declareCap(e.maxLive, e.ts);
        this.listener?.mark({ pool, ts: e.ts, kind: 'wait', reason: 'pool full' });
        return;
      case 'delay':
        pool.delayed++;
        return;
      case 'resume':
        pool.resumed++;
        return;
      case 'lease-lost':
        pool.leaseLost++;
        return;
      default:
        return;
    }
  }

  private pool(name: string, host: string, stateDir: string, backend: string): PoolTracker {
    const key = poolKey(name, host, stateDir, backend);
    let pool = this.pools.get(key);
    if (!pool) {
      if (this.pools.size >= MAX_POOLS && name !== OTHER_POOLS) return this.pool(OTHER_POOLS, '', '', '');
      this.pools.set(key, (pool = new PoolTracker(name, host, backend, this.window)));
    }
    return pool;
  }

  private job(command: string): JobAcc {
    let job = this.jobs.get(command);
    if (!job) {
      if (this.jobs.size >= MAX_COMMANDS) return this.job(OTHER_COMMANDS);
      this.jobs.set(command, (job = new JobAcc()));
    }
    return job;
  }

  finish(): Summary {
    const end = Math.min(this.window.until, Number.isFinite(this.lastSeen) ? this.lastSeen : 0);
    for (const o of this.open.values()) {
      if (o.start > this.window.until) continue;
      this.job(o.command).unfinished++;
      this.listener?.job({ ...o, end: Math.max(o.start, end), outcome: 'running', exitCode: null, signal: null, tail: '' });
    }
    this.holding.endAll(end);
    const usedPools = [...this.pools.values()].filter((p) => p.jobs || p.waits || p.skips.size || p.peakLive || p.delayed || p.resumed || p.leaseLost || [...this.checks.values()].some((c) => c.pool === p));
    return {
      first: this.first,
      last: this.last,
      events: this.counted,
      byEvent: Object.fromEntries(this.byEvent),
      processes: this.processes,
      hosts: [...this.hosts].filter((h) => h !== '').sort(),
      jobs: [...this.jobs].map(([command, j]) => ({
        command,
        runs: j.runs,
        outcomes: Object.fromEntries(j.outcomes),
        unfinished: j.unfinished,
        retries: j.retries,
        durationMs: j.durations.summary(),
      })),
      pools: usedPools.map((p) => p.summary(end)),
      checks: [...this.checks.values()].map((c) => ({
        pool: c.pool.name,
        host: c.pool.host,
        schedule: c.schedule,
        command: c.command,
        outcomes: Object.fromEntries(c.outcomes),
        durationMs: c.durations.summary(),
      })),
    };
  }
}
