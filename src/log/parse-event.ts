// One JSON line of a warden log -> a typed record, or the reason it is not one. Lenient about
// what it does not need (fields added by newer versions, events it does not know), strict
// about what the summary counts on: a known event without its key fields is malformed.

interface Base {
  /** Epoch milliseconds. */
  ts: number;
  pid: number;
  host: string;
}

export type LogEvent = Base &
  (
    | { event: 'start'; pool: string; maxLive: number | null; mode: string; schedule: string | null; backend: string; stateDir: string }
    | { event: 'check'; outcome: string; durationMs: number; command: string | null; pool: string | null }
    | { event: 'spawn'; jobId: string; command: string; slot: number; attempt: number; jobPid: number | null; pool: string | null }
    | {
        event: 'exit';
        jobId: string;
        command: string;
        slot: number;
        attempt: number;
        durationMs: number;
        outcome: string;
        exitCode: number | null;
        signal: string | null;
        tail: string;
        error: string | null;
        pool: string | null;
      }
    | { event: 'skip'; reason: string; pool: string | null; command: string | null }
    | { event: 'wait'; pool: string | null; maxLive: number | null | undefined }
    | { event: 'retry' | 'delay' | 'resume' | 'lease-lost'; jobId: string; pool: string | null }
    | { event: 'stop' | 'error' }
    | { event: 'other'; name: string }
  );

export type Parsed = LogEvent | { malformed: string } | undefined;

type Fields = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A count that may be null (unlimited); undefined when absent or of another type. */
const cap = (v: unknown): number | null | undefined => (v === null ? null : (num(v) ?? undefined));

/** undefined for a blank line (not an event, not an error). */
export function parseLine(line: string): Parsed {
  if (line.length === 0 || line.trim() === '') return undefined;
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return { malformed: 'not JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { malformed: 'not a JSON object' };
  const f = data as Fields;
  if (typeof f.event !== 'string') return { malformed: 'no "event"' };
  const ts = typeof f.ts === 'string' ? Date.parse(f.ts) : NaN;
  if (!Number.isFinite(ts)) return { malformed: 'no valid "ts"' };
  const pid = num(f.pid) ?? 0;
  const base: Base = { ts, pid, host: str(f.host) ?? '' };
  const made = known(f, base);
  return made ?? { malformed: `"${f.event}" without the fields it needs` };
}

function known(f: Fields, base: Base): LogEvent | undefined {
  const name = f.event as string;
  const pool = str(f.pool);
  switch (name) {
    case 'start': {
      const maxLive = cap(f.maxLive);
      if (pool === null || maxLive === undefined) return undefined;
      const schedule = str(f.schedule);
      return { ...base, event: 'start', pool, maxLive, mode: str(f.mode) ?? '', schedule, backend: str(f.backend) ?? '', stateDir: str(f.stateDir) ?? '' };
    }
    case 'check': {
      const outcome = str(f.outcome);
      if (outcome === null) return undefined;
      return { ...base, event: 'check', outcome, durationMs: num(f.durationMs) ?? 0, command: str(f.command), pool };
    }
    case 'spawn': {
      const jobId = str(f.jobId);
      const command = str(f.command);
      const slot = num(f.slot);
      if (jobId === null || command === null || slot === null) return undefined;
      return { ...base, event: 'spawn', jobId, command, slot, attempt: num(f.attempt) ?? 1, jobPid: num(f.jobPid), pool };
    }
    case 'exit': {
      const jobId = str(f.jobId);
      const command = str(f.command);
      const outcome = str(f.outcome);
      const durationMs = num(f.durationMs);
      if (jobId === null || command === null || outcome === null || durationMs === null) return undefined;
      return {
        ...base,
        event: 'exit',
        jobId,
        command,
        slot: num(f.slot) ?? 0,
        attempt: num(f.attempt) ?? 1,
        durationMs: Math.max(0, durationMs),
        outcome,
        exitCode: num(f.exitCode),
        signal: str(f.signal),
        tail: str(f.tail) ?? '',
        error: str(f.error),
        pool,
      };
    }
    case 'skip': {
      const reason = str(f.reason);
      if (reason === null) return undefined;
      return { ...base, event: 'skip', reason, pool, command: str(f.command) };
    }
    case 'wait':
      return { ...base, event: 'wait', pool, maxLive: cap(f.maxLive) };
    case 'retry':
    case 'delay':
    case 'resume':
    case 'lease-lost': {
      const jobId = str(f.jobId);
      if (jobId === null) return undefined;
      return { ...base, event: name, jobId, pool };
    }
    case 'stop':
    case 'error':
      return { ...base, event: name };
    default:
      return { ...base, event: 'other', name };
  }
}
