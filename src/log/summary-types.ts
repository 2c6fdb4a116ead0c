// The shapes the summariser hands to the renderers (text, JSON, timelines).
import type { DurationSummary } from './duration-stats.js';
import type { PoolSummary, PoolTracker } from './pool-tracker.js';

/** Distinct commands tracked one by one; the rest share a row (a log of generated commands). */
export const MAX_COMMANDS = 1000;
export const OTHER_COMMANDS = '(other commands)';
/** Likewise for pools (a log cannot make the summary grow without bound). */
export const MAX_POOLS = 1000;
export const OTHER_POOLS = '(other pools)';

export interface JobSummary {
  command: string;
  runs: number;
  outcomes: Record<string, number>;
  /** Spawned and never seen to exit (still running when the log ends, or its warden died). */
  unfinished: number;
  /** Runs that were a retry (attempt 2 and up). */
  retries: number;
  durationMs: DurationSummary;
}

export interface CheckSummary {
  pool: string;
  host: string;
  schedule: string | null;
  command: string | null;
  outcomes: Record<string, number>;
  durationMs: DurationSummary;
}

export interface Summary {
  first: number | null;
  last: number | null;
  events: number;
  byEvent: Record<string, number>;
  processes: number;
  hosts: string[];
  jobs: JobSummary[];
  pools: PoolSummary[];
  checks: CheckSummary[];
}

/** What the timeline needs of each job: handed over as the job ends (or at the end of the log). */
/** What the log tells of one run of a job: the summariser's span and the timeline's bar. */
export interface JobRun {
  /** Since when its slot was held for a --delay before the start (null: no delay). */
  held: number | null;
  start: number;
  end: number;
  outcome: string;
  command: string;
  jobId: string;
  attempt: number;
  pid: number;
  host: string;
  exitCode: number | null;
  signal: string | null;
  tail: string;
}

export interface JobSpan extends JobRun {
  pool: PoolTracker;
  slot: number;
}

export interface Mark {
  pool: PoolTracker;
  ts: number;
  kind: 'wait' | 'skip';
  reason: string;
}

export interface Listener {
  job(span: JobSpan): void;
  mark(mark: Mark): void;
}
