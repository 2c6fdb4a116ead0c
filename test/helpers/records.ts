// The shape SPEC.md promises for each exit record, checked field by field; and a whole record
// for unit tests.
import type { ExitRecord } from '../../src/events.js';
import type { LogEvent } from './events.js';

const OUTCOMES = new Set(['ok', 'failed', 'timeout', 'killed']);

/**
 * Why: "every exit is logged once, with job id, pid, command, exit code or signal, duration,
 * and the last lines of its output": returns what is wrong with an exit event (empty when fine).
 */
export function exitRecordProblems(e: LogEvent): string[] {
  const out: string[] = [];
  const bad = (field: string, why: string): void => {
    out.push(`${field} ${why} in ${JSON.stringify(e).slice(0, 300)}`);
  };
  if (e.event !== 'exit') bad('event', 'is not "exit"');
  if (typeof e.ts !== 'string' || Number.isNaN(Date.parse(e.ts))) bad('ts', 'is not an ISO time');
  if (!Number.isInteger(e.pid)) bad('pid', 'is not an integer');
  if (typeof e.jobId !== 'string' || e.jobId === '') bad('jobId', 'is missing');
  if (!(e.jobPid === null || (Number.isInteger(e.jobPid) && Number(e.jobPid) > 0))) bad('jobPid', 'is not a pid or null');
  if (typeof e.command !== 'string' || e.command === '') bad('command', 'is missing');
  if (!(e.exitCode === null || Number.isInteger(e.exitCode))) bad('exitCode', 'is not an integer or null');
  if (!(e.signal === null || (typeof e.signal === 'string' && /^SIG[A-Z0-9]+$/.test(e.signal)))) bad('signal', 'is not a signal name or null');
  if (e.jobPid !== null && (e.exitCode === null) === (e.signal === null)) bad('exitCode/signal', 'are not exactly one of the two');
  if (typeof e.durationMs !== 'number' || e.durationMs < 0) bad('durationMs', 'is not a non-negative number');
  if (typeof e.outcome !== 'string' || !OUTCOMES.has(e.outcome)) bad('outcome', 'is not ok/failed/timeout/killed');
  if (typeof e.tail !== 'string') bad('tail', 'is not a string');
  if (e.outcome === 'ok' && e.exitCode !== 0) bad('outcome', 'is ok without exit code 0');
  return out;
}

/** Why: one call to check every exit record of a log. */
export function allExitRecordProblems(events: LogEvent[]): string[] {
  return events.filter((e) => e.event === 'exit').flatMap(exitRecordProblems);
}

/** Why: a unit test names only the fields its case is about; the rest of the record is filled. */
export function exitRecord(over: Partial<ExitRecord> = {}): ExitRecord {
  return { jobId: '1.1', jobPid: 10, command: 'x', exitCode: 0, signal: null, durationMs: 1, outcome: 'ok', tail: '', attempt: 1, tick: 1, slot: 0, forced: false, leftover: false, ...over };
}
