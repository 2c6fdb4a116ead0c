// One JSON line of a warden log -> a typed record, or the reason it is not one. Lenient about
// what it does not need (fields added by newer versions, events it does not know), strict
// about what the summary counts on: a known event without its key fields is malformed.

export type EventName = 'start' | 'check' | 'spawn' | 'exit' | 'skip' | 'wait' | 'retry' | 'delay' | 'resume' | 'lease-lost' | 'stop' | 'error' | 'other';

/**
 * Flat on purpose: every event has every field (null, '' or 0 where it does not apply), so the
 * million records of a big log share one shape and the code that reads them stays monomorphic
 * (a record per event kind, built by spreading, made the summary three times slower).
 */
export interface LogEvent {
  event: EventName;
  /** The event's own name: differs from `event` only for `other`. */
  name: string;
  /** Epoch milliseconds. */
  ts: number;
  pid: number;
  host: string;
  pool: string | null;
  jobId: string;
  command: string;
  slot: number;
  attempt: number;
  durationMs: number;
  /** spawn: the job's --delay (its slot was held that long before); delay, retry: the wait. */
  delayMs: number;
  /** exit: ok/failed/timeout/killed; check: fired/idle/error/timeout; skip: its reason. */
  outcome: string;
  exitCode: number | null;
  signal: string | null;
  tail: string;
  /** start and wait: the cap (null: unlimited; undefined: not given). */
  maxLive: number | null | undefined;
  mode: string;
  schedule: string | null;
  backend: string;
  stateDir: string;
}

export type Parsed = LogEvent | { malformed: string } | undefined;

type Fields = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A count that may be null (unlimited); undefined when absent or of another type. */
const cap = (v: unknown): number | null | undefined => (v === null ? null : (num(v) ?? undefined));

const KNOWN = new Set<string>(['start', 'check', 'spawn', 'exit', 'skip', 'wait', 'retry', 'delay', 'resume', 'lease-lost', 'stop', 'error']);

/** What each known event must carry to be counted. */
function complete(e: LogEvent, f: Fields): boolean {
  switch (e.event) {
    case 'start':
      return e.pool !== null && e.maxLive !== undefined;
    case 'check':
    case 'skip':
      return e.outcome !== '';
    case 'spawn':
      return e.jobId !== '' && typeof f.command === 'string' && num(f.slot) !== null;
    case 'exit':
      return e.jobId !== '' && typeof f.command === 'string' && e.outcome !== '' && num(f.durationMs) !== null;
    case 'retry':
    case 'delay':
    case 'resume':
      return e.jobId !== '';
    default:
      return true;
  }
}

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
  const name = f.event;
  if (typeof name !== 'string') return { malformed: 'no "event"' };
  const ts = typeof f.ts === 'string' ? Date.parse(f.ts) : NaN;
  if (!Number.isFinite(ts)) return { malformed: 'no valid "ts"' };
  const event = (KNOWN.has(name) ? name : 'other') as EventName;
  const e: LogEvent = {
    event,
    name,
    ts,
    pid: num(f.pid) ?? 0,
    host: str(f.host) ?? '',
    pool: str(f.pool),
    jobId: str(f.jobId) ?? '',
    command: str(f.command) ?? '',
    slot: num(f.slot) ?? 0,
    attempt: num(f.attempt) ?? 1,
    durationMs: Math.max(0, num(f.durationMs) ?? 0),
    delayMs: Math.max(0, num(f.delayMs) ?? 0),
    outcome: str(event === 'skip' ? f.reason : f.outcome) ?? '',
    exitCode: num(f.exitCode),
    signal: str(f.signal),
    tail: str(f.tail) ?? '',
    maxLive: cap(f.maxLive),
    mode: str(f.mode) ?? '',
    schedule: str(f.schedule),
    backend: str(f.backend) ?? '',
    stateDir: str(f.stateDir) ?? '',
  };
  return complete(e, f) ? e : { malformed: `"${name}" without the fields it needs` };
}
