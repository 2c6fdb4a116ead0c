// Running counts of one job command and of one check.
import { DurationStats } from './duration-stats.js';
import type { PoolTracker } from './pool-tracker.js';

export class JobAcc {
  runs = 0;
  unfinished = 0;
  retries = 0;
  readonly outcomes = new Map<string, number>();
  readonly durations = new DurationStats();
}

export class CheckAcc {
  readonly outcomes = new Map<string, number>([['fired', 0], ['idle', 0], ['error', 0], ['timeout', 0]]);
  readonly durations = new DurationStats();
  constructor(readonly pool: PoolTracker, readonly schedule: string | null, readonly command: string | null) {}
}

export const bump = (m: Map<string, number>, key: string): void => void m.set(key, (m.get(key) ?? 0) + 1);
