// One pool as the log shows it: live jobs over time (peak, time at the cap), waits, skips.
// Live means spawned and not yet exited, counted across every process of the pool.

export interface PoolSummary {
  pool: string;
  /** The host, for a local pool; null for a pool shared through Redis. */
  host: string | null;
  backend: string;
  /** The largest cap any process gave the pool; null is unlimited. */
  cap: number | null;
  jobs: number;
  peakLive: number;
  /** Time with live jobs at (or over) the cap, inside the window. */
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

/** Local pools are per host and state dir; a Redis pool is one across hosts. */
export function poolKey(name: string, host: string, stateDir: string, backend: string): string {
  return backend === 'redis' ? `redis\0${name}` : `${host}\0${stateDir}\0${name}`;
}

export class PoolTracker {
  /** undefined until a process of the pool says; null is unlimited. */
  cap: number | null | undefined;
  live = 0;
  peakLive = 0;
  jobs = 0;
  waits = 0;
  delayed = 0;
  resumed = 0;
  leaseLost = 0;
  readonly skips = new Map<string, number>();
  private fullSince: number | undefined;
  private fullMs = 0;

  constructor(
    readonly name: string,
    readonly host: string,
    readonly backend: string,
    private readonly window: Window,
  ) {}

  /** Caps differ between processes: the cap is the largest (SPEC), unlimited above all. */
  declareCap(cap: number | null, t: number): void {
    if (this.cap === null) return;
    const next = cap === null ? null : Math.max(cap, this.cap ?? 0);
    if (next === this.cap) return;
    this.closeFull(t);
    this.cap = next;
    this.openFull(t);
  }

  change(delta: number, t: number): void {
    this.closeFull(t);
    this.live = Math.max(0, this.live + delta);
    if (delta > 0 && this.inWindow(t)) this.peakLive = Math.max(this.peakLive, this.live);
    this.openFull(t);
  }

  /** The window opens with the jobs already live counting toward its peak. */
  enterWindow(): void {
    this.peakLive = Math.max(this.peakLive, this.live);
  }

  skip(reason: string): void {
    this.skips.set(reason, (this.skips.get(reason) ?? 0) + 1);
  }

  summary(end: number): PoolSummary {
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

  private inWindow(t: number): boolean {
    return t >= this.window.since && t <= this.window.until;
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
