// Every event warden emits, as one discriminated union: components emit, reporters render.

export type Mode = 'watch' | 'once' | 'run' | 'runner';
export type CheckOutcome = 'fired' | 'idle' | 'error' | 'timeout';
export type ExitOutcome = 'ok' | 'failed' | 'timeout' | 'killed';
export type SkipReason = 'pool-full' | 'queue-full' | 'overrun' | 'wait-timeout' | 'unchanged' | 'duplicate' | 'too-late' | 'other-host';
export type LeaseCause = 'expired' | 'evicted' | 'unreachable';

/** How a job ended; modelled on execa's result (exitCode, signal, durationMs, timedOut). */
export interface ExitRecord {
  jobId: string;
  jobPid: number | null;
  command: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  outcome: ExitOutcome;
  tail: string;
  attempt: number;
  tick: number;
  slot: number;
  /** SIGKILL was needed after the grace. */
  forced: boolean;
  /** Processes of the job's group were still alive when it exited (they keep the slot). */
  leftover: boolean;
  /** Why the job could not be started, when it could not. */
  error?: string;
}

export type Event =
  | { event: 'start'; mode: Mode; pool: string; maxLive: number | null; schedule: string | null; version: string; backend: string; stateDir: string }
  | { event: 'check'; tick: number; outcome: CheckOutcome; exitCode: number | null; signal: string | null; durationMs: number; triggers: number; stderr?: string; changed?: boolean; items?: string[]; tickAt?: string }
  | { event: 'spawn'; jobId: string; jobPid: number | null; command: string; slot: number; tick: number; attempt: number; delayMs: number; item?: string; token?: number }
  | ({ event: 'exit' } & ExitRecord)
  | { event: 'skip'; reason: SkipReason; tick: number; pool: string; command?: string; item?: string; jobId?: string; lateMs?: number; tickAt?: string }
  | { event: 'wait'; pool: string; live: number; maxLive: number | null; tick: number }
  | { event: 'retry'; jobId: string; attempt: number; delayMs: number }
  | { event: 'delay'; jobId: string; command: string; dueAt: string; delayMs: number; spoolId?: string; item?: string }
  | { event: 'resume'; jobId: string; command: string; dueAt: string; lateMs: number; spoolId: string; item?: string }
  | { event: 'stop'; reason: string; liveJobs: number; cancelled?: number; running?: { jobId: string; jobPid: number | null; command: string; runningMs: number }[] }
  | { event: 'lease-lost'; pool: string; jobId: string | null; jobPid: number | null; token: number; heldMs: number; cause: LeaseCause }
  | { event: 'error'; message: string };

export type Stamped = Event & { ts: string; pid: number };

export type Emit = (event: Event) => void;

export function stamp(event: Event): Stamped {
  return { ts: new Date().toISOString(), ...event, pid: process.pid };
}
