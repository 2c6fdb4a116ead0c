// The one record of how a job ended (modelled on execa's result: exitCode, signal, durationMs,
// and why warden stopped it), built from what the process did and what warden did to it.
import type { ExitOutcome, ExitRecord } from './events.js';
import { msg } from './messages.js';

/** Why warden stopped a job, if it did. */
export type StopReason = 'timeout' | 'terminated';

export type RecordBase = Pick<ExitRecord, 'jobId' | 'jobPid' | 'command' | 'attempt' | 'tick' | 'slot'>;

/** A timeout wins over whatever the job exited with; a job warden stopped, or that died of a signal, was killed. */
export function outcomeOf(stopReason: StopReason | undefined, exitCode: number | null, signal: string | null): ExitOutcome {
  if (stopReason === 'timeout') return 'timeout';
  if (stopReason === 'terminated' || signal) return 'killed';
  return exitCode === 0 ? 'ok' : 'failed';
}

export interface Ending {
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  tail: string;
  stopReason: StopReason | undefined;
  forced: boolean;
  leftover: boolean;
}

export function exitRecord(base: RecordBase, end: Ending): ExitRecord {
  return {
    ...base,
    exitCode: end.exitCode,
    signal: end.signal,
    durationMs: Math.round(end.durationMs),
    outcome: outcomeOf(end.stopReason, end.exitCode, end.signal),
    tail: end.tail,
    forced: end.forced,
    leftover: end.leftover,
  };
}

/** A job that could not be started is a failed job, with the reason in words. */
export function notStartedRecord(base: RecordBase, durationMs: number, err: Error | undefined): ExitRecord {
  const e = err as NodeJS.ErrnoException | undefined;
  return {
    ...base,
    exitCode: null,
    signal: null,
    durationMs: Math.round(durationMs),
    outcome: 'failed',
    tail: '',
    forced: false,
    leftover: false,
    error: e ? msg.spawnFailure(e.code, e.message) : 'could not start',
  };
}

/** Whether a record counts as a failure: a kill counts unless warden itself asked for it. */
export function isFailure(record: ExitRecord, stoppedByWarden: boolean): boolean {
  return record.outcome === 'failed' || record.outcome === 'timeout' || (record.outcome === 'killed' && !stoppedByWarden);
}
