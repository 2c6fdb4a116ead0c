// A lease the keeper lost: told to its warden (which logs `lease-lost`), or written into the
// warden's log file when the warden is gone; with `--on-lease-lost kill` its job is terminated.
import fs from 'node:fs';
import type { Event } from '../../events.js';
import { groupAlive, signalGroup, terminateGroup } from '../../process-group.js';
import type { FromKeeper, LeaseCause } from './keeper-protocol.js';
import type { KeptLease } from './kept-lease.js';

/** `held`: whether the lease's socket is still held (its job still runs) right now. */
export function reportLost(lease: KeptLease, cause: LeaseCause, held: () => boolean): void {
  if (lease.lost || !lease.grant) return;
  lease.lost = true;
  const message: FromKeeper = {
    op: 'lost',
    id: lease.id,
    token: lease.grant.token,
    jobId: lease.job?.jobId ?? null,
    jobPid: lease.job?.pid ?? null,
    heldMs: Date.now() - lease.grant.grantedAt,
    cause,
  };
  if (!lease.conn.destroyed) lease.conn.write(JSON.stringify(message) + '\n');
  else if (lease.logFile) appendEvent(lease.logFile, lease.owner, lease.pool, message);
  if (lease.policy === 'kill' && lease.job && held()) {
    const pgid = lease.job.pid;
    terminateGroup(pgid);
    setTimeout(() => {
      if (held() && groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
    }, lease.killAfterMs).unref();
  }
}

/** With its warden gone, the keeper logs a lost lease into the warden's log file itself. */
function appendEvent(file: string, pid: number, pool: string, m: FromKeeper): void {
  // The same fields and types as the warden's own lease-lost event.
  const event: Event = { event: 'lease-lost', pool, jobId: m.jobId, jobPid: m.jobPid, token: Number(m.token), heldMs: m.heldMs, cause: m.cause };
  const line = JSON.stringify({ ts: new Date().toISOString(), ...event, pid });
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW);
    try {
      fs.writeSync(fd, line + '\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Nowhere to say it.
  }
}
