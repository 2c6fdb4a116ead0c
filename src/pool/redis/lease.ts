// A fleet lease as this process knows it: its id (its key on the server and its socket's name),
// its local socket, the grant once the server gave it, and the job that holds it.
import { randomBytes } from 'node:crypto';
import type { Grant } from './keeper-protocol.js';
import { adoptLeaseSocket, bindLeaseSocket } from './lease-socket.js';
import type { LeaseSocket } from './lease-socket.js';

export interface Lease {
  id: string;
  socket: LeaseSocket;
  grant?: Grant;
  job?: { pid: number; jobId: string; info: string };
  /** Its socket was handed to a job: only the job (and what it started) holds it now. */
  handedOff?: boolean;
}

/** A fresh lease id with its socket bound, before the server ever hears of it. */
export async function newLease(): Promise<Lease> {
  const id = randomBytes(9).toString('base64url');
  return { id, socket: await bindLeaseSocket(id) };
}

/** What another process needs to take a granted lease over with its socket's descriptor. */
export const leaseHandle = (lease: Lease): string => JSON.stringify({ id: lease.id, grant: lease.grant });

/** A lease handed to this process as descriptor `fd`, described by `handle`. */
export function adoptLease(fd: number, handle: string): Lease {
  const { id, grant } = JSON.parse(handle) as { id: string; grant: Grant };
  return { id, socket: adoptLeaseSocket(id, fd), grant };
}
