// A lease as the host's keeper keeps it: what the warden told it (pool, policy, log file, the
// grant and the job), the warden's connection to tell back, and whether it was lost.
import type net from 'node:net';
import type { Grant, LeaseLostPolicy } from './keeper-protocol.js';

export interface KeptLease {
  id: string;
  /** Its socket's address: held while its job (and what the job started) runs. */
  address: string;
  pool: string;
  policy: LeaseLostPolicy;
  killAfterMs: number;
  logFile?: string;
  /** The warden that asked for it (it may be gone). */
  owner: number;
  conn: net.Socket;
  stopWatch: () => void;
  /** `lastOk`: when the server last confirmed it (this host's monotonic clock). */
  grant?: Grant & { lastOk: number };
  job?: { pid: number; jobId: string };
  lost: boolean;
}
