// One pool as the log shows it: slots held over time (peak, time at the cap), waits, skips.
// Held means running (spawned, not yet exited) or kept through a --delay before the spawn.
// A delay's hold is often known only at the spawn, after later events: changes wait in a
// heap for as long as the longest delay seen, then apply in time order.
import { TimeHeap } from './time-heap.js';

export interface PoolSummary {
  pool: string;
  /** The host, for a local pool; null for a pool shared through Redis. */
  host: string | null;
  backend: string;
  /** The largest cap any process gave the pool; null is unlimited. */
  cap: number | null;
  jobs: number;
  /** The most slots held at once: jobs running, and jobs waiting out a --delay. */
  peakLive: number;
  /** Time with every slot held (at or over the cap), inside the window. */
  fullMs: number;
  waits: number;
  skips: Record<string, number>;
  delayed: number;
  resumed: number;
  leaseLost: number;
}

export interface Window {
  since: number;
  until: number;
}

interface Change {
  t: number;
  running: number;
  delayed: number;
  /** A process declared this cap (undefined: no cap change). */
  cap?: number | null;
}

/** Local pools are per host and state dir; a Redis pool is one across hosts. */
export function poolKey(name: string, host: string, stateDir: string, backend: string): string {
  return backend === 'redis' ? `redis\0${name}` : `${host}\0${stateDir}\0${name}`;
}

export class PoolTracker {
  /** undefined until a process of the pool says; null is unlimited. */
  cap: number | null | undefined;
  peakLive = 0;
  jobs = 0;
  waits = 0;
  delayed = 0;
  resumed = 0;
  leaseLost = 0;
  readonly skips = new Map<string, number>();
  private running = 0;
  private holding = 0;
  private readonly pending = new TimeHeap<Change>();
  private horizon = 0;
  private applied = -Infinity;
  private entered = false;
  private fullSince: number | undefined;
  private fullMs = 0;
  /** When each slot was last let go: a delayed job cannot have held it before. */
  private readonly freedAt = new Map<number, number>();

  constructor(
    readonly name: string,
    readonly host: string,
    readonly backend: string,
    private readonly window: Window,
  ) {}

  /** Caps differ between processes: the cap is the largest (SPEC), unlimited above all. */
  declareCap(cap: number | null, t: number): void {
    this.schedule({ t, running: 0, delayed: 0, cap });
  }

  /** A job started (+1) or ended (-1). */
  run(delta: number, t: number): void {
    this.schedule({ t, running: delta, delayed: 0 });
  }

  /** A slot taken (+1) or let go (-1) for a job waiting out its delay. */
  hold(delta: number, t: number, delayMs = 0): void {
    this.horizon = Math.max(this.horizon, delayMs);
    this.schedule({ t, running: 0, delayed: delta });
  }

  freed(slot: number, t: number): void {
    this.freedAt.set(slot, t);
  }

  /** The earliest a job that started in `slot` at `start` can have held it, given its delay. */
  heldSince(slot: number, start: number, delayMs: number): number {
    return Math.min(start, Math.max(start - delayMs, this.freedAt.get(slot) ?? -Infinity));
  }

  /** Apply what can no longer be preceded by a change still to come. */
  advance(now: number): void {
    for (let c = this.pending.peek(); c && c.t <= now - this.horizon; c = this.pending.peek()) this.apply(this.pending.pop() as Change);
  }

  skip(reason: string): void {
    this.skips.set(reason, (this.skips.get(reason) ?? 0) + 1);
  }

  /** Held slots. A delay's hold is dated from its trigger, which is early for a queued job: it never counts above the cap. */
  private get live(): number {
    const room = typeof this.cap === 'number' ? Math.max(0, this.cap - this.running) : Infinity;
    return this.running + Math.min(this.holding, room);
  }

  summary(end: number): PoolSummary {
    this.advance(Infinity);
    if (!this.entered && end >= this.window.since) this.peakLive = Math.max(this.peakLive, this.live);
    this.closeFull(end);
    this.openFull(end);
    return {
      pool: this.name,
      host: this.backend === 'redis' ? null : this.host,
      backend: this.backend,
      cap: this.cap ?? null,
      jobs: this.jobs,
      peakLive: this.peakLive,
      fullMs: this.fullMs,
      waits: this.waits,
      skips: Object.fromEntries([...this.skips].sort((a, b) => b[1] - a[1])),
      delayed: this.delayed,
      resumed: this.resumed,
      leaseLost: this.leaseLost,
    };
  }

  private schedule(c: Change): void {
    // Older than what was already applied (a longer delay than any before): apply it now.
    if (c.t < this.applied) c.t = this.applied;
    this.pending.push(c);
  }

  private apply(c: Change): void {
    this.applied = c.t;
    const { since, until } = this.window;
    // The window opens with the slots already held counting toward its peak.
    if (!this.entered && c.t >= since) {
      this.entered = true;
      if (c.t <= until) this.peakLive = Math.max(this.peakLive, this.live);
    }
    this.closeFull(c.t);
    this.running = Math.max(0, this.running + c.running);
    this.holding = Math.max(0, this.holding + c.delayed);
    if (c.cap !== undefined && this.cap !== null) this.cap = c.cap === null ? null : Math.max(c.cap, this.cap ?? 0);
    if (c.t >= since && c.t <= until) this.peakLive = Math.max(this.peakLive, this.live);
    this.openFull(c.t);
  }

  private openFull(t: number): void {
    const full = typeof this.cap === 'number' && this.live >= this.cap;
    this.fullSince = full ? t : undefined;
  }

  private closeFull(t: number): void {
    if (this.fullSince === undefined) return;
    const from = Math.max(this.fullSince, this.window.since);
    const to = Math.min(t, this.window.until);
    if (to > from) this.fullMs += to - from;
    this.fullSince = undefined;
  }
}
