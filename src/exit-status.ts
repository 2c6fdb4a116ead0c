// What each command exits with, as SPEC's exit table says: pure mappings from what happened
// (signals, a check error, the jobs' records, skips) to one status a shell or crontab reads.
import os from 'node:os';
import type { ExitRecord } from './events.js';
import { EXIT } from './exit.js';

/** What a supervisor's jobs and checks came to, for the exit status. */
export interface Tally {
  ok: number;
  failed: number;
  skipped: number;
  checkErrors: number;
  /** Failures of warden itself (the pool), not of a job. */
  internal: number;
  /** Triggers not run because the pool's server (Redis) could not be reached: a one-shot's 69. */
  unavailable: number;
  /** The last job's record, for `once` with one job: its own exit code. */
  last?: ExitRecord;
}

export const newTally = (): Tally => ({ ok: 0, failed: 0, skipped: 0, checkErrors: 0, internal: 0, unavailable: 0 });

/** The command's own code; 128+n for a signal; 127/126 when it could not be started, as shells do. */
export function exitCodeOf(exitCode: number | null, signal: string | null, error?: string): number {
  if (exitCode !== null) return exitCode;
  if (signal) return 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0);
  if (error?.startsWith('EACCES')) return 126;
  if (error?.startsWith('ENOENT')) return 127;
  return EXIT.failed;
}

/** The exit status of a job that was the only one: 124 after its timeout (as timeout(1)), else its own code. */
export function jobExitCode(record: ExitRecord): number {
  return record.outcome === 'timeout' ? EXIT.timedOut : exitCodeOf(record.exitCode, record.signal, record.error);
}

/**
 * `once`: signal 128+n; warden's own failure 70; the pool's server unreachable 69; check error 3; a failed job 1 (the job's own
 * status when it is the only job); skipped 75.
 */
export function onceExitCode(t: Tally, jobsPerTrigger: number, signalExit: number | undefined): number {
  if (signalExit !== undefined) return signalExit;
  if (t.internal) return EXIT.software;
  if (t.unavailable) return EXIT.unavailable;
  if (t.checkErrors) return EXIT.checkFailed;
  if (t.failed) {
    const last = t.last;
    const single = jobsPerTrigger === 1 && t.ok + t.failed === 1 && last;
    return single ? jobExitCode(last) || EXIT.failed : EXIT.failed;
  }
  if (t.skipped) return EXIT.tempFail;
  return EXIT.ok;
}

/** `watch` and the --detach runner: signal 128+n, else 1 if any job failed. */
export function watchExitCode(t: Tally, signalExit: number | undefined): number {
  return signalExit ?? (t.failed ? EXIT.failed : EXIT.ok);
}

/** `run`: stopped by a signal, warden says so (128+n) whatever the command made of it; else 124 after --timeout, else the command's own code. */
export function runExitCode(record: ExitRecord, signalExit: number | undefined): number {
  return signalExit ?? jobExitCode(record);
}
