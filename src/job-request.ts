// What travels from a trigger to a job: the request (admitted, delayed, spooled, handed to a
// --detach runner) and the locks it holds besides its slot.
import type { Request } from './admission.js';
import type { KeyLock } from './locks/key-lock.js';
import type { JobSpec } from './settings.js';

export interface JobRequest extends Request {
  jobId: string;
  spec: JobSpec;
  /** ISO time of the trigger. */
  trigger: string;
  checkOutput: string;
  attempt: number;
  /** Its entry in the spool, once it is spooled. */
  spoolId?: string;
  /** A resumed job's due time by this host's clock (a fleet spool keeps it by the server's). */
  dueAt?: number;
  /** With --redis: the fleet lease that holds its spool claim (a --detach runner inherits only the descriptor). */
  claimLease?: string;
  /** Where it runs: where it was accepted (for a job resumed by another process). */
  cwd?: string;
  /** Its --unique key, once it holds it. */
  uniqueKey?: string;
}

/** Locks a request holds besides its slot: its spool claim and its --unique key. */
export interface Holds {
  claim?: KeyLock;
  unique?: KeyLock;
}
