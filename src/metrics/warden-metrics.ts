// The Prometheus metrics of a `watch`: counters and histograms fed by the event stream, gauges
// read when scraped. prom-client is loaded only with --metrics (this module is imported lazily).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckOutcome, ExitOutcome, SkipReason, Stamped } from '../events.js';

/** What only the supervisor and the pool know, read at each scrape. */
export interface MetricsProbe {
  /** Triggers waiting in this process's queue. */
  queued(): number;
  /** Slots of the pool held by every process using it. */
  poolLive(): Promise<number>;
}

// Jobs run from milliseconds to hours; checks from milliseconds to their timeout.
const JOB_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
const CHECK_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// Labels known in advance start at zero, so a rate() over them works from the first scrape.
const EXIT_OUTCOMES: ExitOutcome[] = ['ok', 'failed', 'timeout', 'killed'];
const CHECK_OUTCOMES: CheckOutcome[] = ['fired', 'idle', 'error', 'timeout'];
const SKIP_REASONS: SkipReason[] = ['pool-full', 'queue-full', 'overrun', 'wait-timeout', 'unchanged', 'duplicate', 'too-late'];

export class WardenMetrics {
  readonly registry = new Registry();
  private readonly live = new Set<string>();
  private readonly started: Counter;
  private readonly finished: Counter<'outcome'>;
  private readonly waits: Counter;
  private readonly skips: Counter<'reason'>;
  private readonly checks: Counter<'outcome'>;
  private readonly retries: Counter;
  private readonly leaseLosses: Counter;
  private readonly jobSeconds: Histogram<'outcome'>;
  private readonly checkSeconds: Histogram<'outcome'>;

  /** Set once the supervisor and the pool exist; until then a scrape reads zeros. */
  probe: MetricsProbe = { queued: () => 0, poolLive: () => Promise.resolve(0) };

  constructor(pool: string, maxLive: number) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pool });
    collectDefaultMetrics({ register: this.registry });
    this.started = new Counter({ name: 'warden_jobs_started_total', help: 'Jobs started (each attempt counts)', registers });
    this.finished = new Counter({ name: 'warden_jobs_finished_total', help: 'Jobs ended, by outcome (ok, failed, timeout, killed)', labelNames: ['outcome'], registers });
    this.waits = new Counter({ name: 'warden_waits_total', help: 'Triggers that waited for a free slot', registers });
    this.skips = new Counter({ name: 'warden_skips_total', help: 'Triggers or ticks dropped, by reason', labelNames: ['reason'], registers });
    this.checks = new Counter({ name: 'warden_checks_total', help: 'Checks run, by outcome (fired, idle, error, timeout)', labelNames: ['outcome'], registers });
    this.retries = new Counter({ name: 'warden_retries_total', help: 'Failed jobs started again', registers });
    this.leaseLosses = new Counter({ name: 'warden_lease_losses_total', help: 'Slots whose Redis lease was lost while their job ran', registers });
    this.jobSeconds = new Histogram({ name: 'warden_job_duration_seconds', help: 'How long jobs ran, by outcome', labelNames: ['outcome'], buckets: JOB_BUCKETS, registers });
    this.checkSeconds = new Histogram({ name: 'warden_check_duration_seconds', help: 'How long checks ran, by outcome', labelNames: ['outcome'], buckets: CHECK_BUCKETS, registers });
    for (const outcome of EXIT_OUTCOMES) this.finished.inc({ outcome }, 0);
    for (const outcome of CHECK_OUTCOMES) this.checks.inc({ outcome }, 0);
    for (const reason of SKIP_REASONS) this.skips.inc({ reason }, 0);
    const live = this.live;
    const probe = (): MetricsProbe => this.probe;
    new Gauge({ name: 'warden_live_jobs', help: "This process's jobs alive now", registers, collect() { this.set(live.size); } });
    new Gauge({ name: 'warden_max_live', help: 'The cap of live jobs in the pool (+Inf: unlimited)', registers, collect() { this.set(maxLive); } });
    new Gauge({ name: 'warden_queue_length', help: "Triggers waiting in this process's queue for a slot", registers, collect() { this.set(probe().queued()); } });
    new Gauge({ name: 'warden_pool_live_slots', help: 'Slots of the pool held now, by every process using it', registers, async collect() { this.set(await probe().poolLive()); } });
  }

  readonly hear = (e: Stamped): void => {
    // Read as a plain name: `lease-lost` comes from Redis pools, which not every build has.
    const name: string = e.event;
    if (name === 'lease-lost') this.leaseLosses.inc();
    switch (e.event) {
      case 'spawn':
        this.started.inc();
        this.live.add(e.jobId);
        break;
      case 'exit':
        this.live.delete(e.jobId);
        this.finished.inc({ outcome: e.outcome });
        this.jobSeconds.observe({ outcome: e.outcome }, e.durationMs / 1000);
        break;
      case 'check':
        this.checks.inc({ outcome: e.outcome });
        this.checkSeconds.observe({ outcome: e.outcome }, e.durationMs / 1000);
        break;
      case 'wait':
        this.waits.inc();
        break;
      case 'skip':
        this.skips.inc({ reason: e.reason });
        break;
      case 'retry':
        this.retries.inc();
        break;
      default:
        break;
    }
  };
}
