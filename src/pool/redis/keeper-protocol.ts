// What a warden process and its host's keeper say to each other: JSON lines over a unix
// socket in the (private) state dir.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { RedisTarget } from './target.js';

import type { LeaseCause } from '../../events.js';

export type { LeaseCause };
export type LeaseLostPolicy = 'warn' | 'kill';

export interface Grant {
  pool: string;
  slot: number;
  token: string;
  epoch: string;
  leaseMs: number;
  /** The holder record, put back as it was if the server loses its data. */
  info: string;
  /** When it was granted (ms, this host's clock): a keeper may hear of it later, busy starting. */
  grantedAt: number;
}

export type ToKeeper =
  /** Watch this lease's socket (before it is asked for): release the lease when it frees. */
  | { op: 'watch'; id: string; address: string; pool: string; policy: LeaseLostPolicy; killAfterMs: number; logFile?: string; owner: number }
  | ({ op: 'granted'; id: string } & Grant)
  /** A job holds the lease now: its group is what `--on-lease-lost kill` ends. */
  | { op: 'job'; id: string; pid: number; jobId: string; info: string };

export type FromKeeper = { op: 'lost'; id: string; token: string; jobId: string | null; jobPid: number | null; heldMs: number; cause: LeaseCause };

/** What the keeper is told on its standard input (never its arguments: `ps` shows those). */
export interface KeeperConfig {
  target: RedisTarget;
  socketPath: string;
}

/**
 * What wardens and keepers say to each other changes with warden's versions: a warden never
 * talks to a keeper of another protocol (left running by a long-lived warden of an older
 * version), it starts its own.
 */
const PROTOCOL = 'keeper-2';

/**
 * One keeper per protocol, state dir, server, credentials and network namespace: lease sockets are
 * abstract names, which only processes of the same network namespace see (containers sharing a
 * state dir each get their own keeper). The password is part of the name (as a one-way hash): a
 * keeper started with a mistyped one must not keep the leases of a warden that has the right one.
 */
export const keeperSocketPath = (stateDir: string, target: RedisTarget): string => {
  const key = createHash('sha256').update([PROTOCOL, target.shown, target.username ?? '', target.password ?? '', networkNamespace()].join('\0')).digest('hex');
  return path.join(stateDir, `keeper-${key.slice(0, 12)}.sock`);
};

function networkNamespace(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/net');
  } catch {
    return '';
  }
}

/** Split a stream of JSON lines; calls `onLine` with each parsed object. */
export function lineReader(onLine: (value: unknown) => void): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) !== -1) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        onLine(JSON.parse(line));
      } catch {
        // Not ours to understand: ignored.
      }
    }
  };
}
