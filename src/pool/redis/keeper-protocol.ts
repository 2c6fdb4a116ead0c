// What a warden process and its host's keeper say to each other: JSON lines over a unix
// socket in the (private) state dir.
import fs from 'node:fs';
import path from 'node:path';
import { fnv64 } from '../../hash.js';
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
 * One keeper per state dir, server and network namespace: lease sockets are abstract names,
 * which only processes of the same network namespace see (containers sharing a state dir
 * each get their own keeper).
 */
export const keeperSocketPath = (stateDir: string, target: RedisTarget): string =>
  path.join(stateDir, `keeper-${fnv64(`${target.shown}\0${target.username ?? ''}\0${networkNamespace()}`).slice(0, 12)}.sock`);

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
