// What `status --redis` reads: a fleet pool's holders and waiters at one instant of the server's
// clock, and which fleet pools the database has. Reading needs no keeper and no lease.
import { POOL_NAME } from '../../options.js';
import { texts } from './client.js';
import type { Connection, Reply } from './client.js';
import { KEY_NAMES, poolKeys, SNAPSHOT } from './scripts.js';

/** Who holds or waits for a lease, as its host recorded it. */
export interface HolderFacts {
  host: string;
  pid: number;
  owner: number;
  jobId: string | null;
  command: string | null;
  startedAt: string;
}

/** The holder record kept on the server (the facts, and the cap its process was given). */
export interface HolderRecord extends HolderFacts {
  maxLive: number | null;
}

/** What `status` shows of one lease or waiter, fleet-wide. */
export interface FleetEntry extends HolderRecord {
  slot: number | null;
  token: number | null;
  /** Held (since the grant) or waiting (since the host says it began), in ms. */
  ageMs: number | null;
  /** Milliseconds until the lease lapses if its host stops renewing it (server's clock). */
  expiresInMs: number | null;
}

export interface FleetView {
  serverTime: number;
  holders: FleetEntry[];
  waiters: FleetEntry[];
}

/** Read a pool's holders and waiters. */
export async function readFleet(redis: Connection, pool: string): Promise<FleetView> {
  const reply = (await redis.script(SNAPSHOT, poolKeys(pool), [])) as Reply[];
  const now = Number(reply[0]);
  const pairs = (r: Reply): [string, string][] => {
    const t = texts(r);
    return Array.from({ length: t.length / 2 }, (_, k) => [t[2 * k], t[2 * k + 1]]);
  };
  const leases = new Map(pairs(reply[2]));
  const info = new Map(pairs(reply[3]));
  const expiry = new Map(pairs(reply[4]));
  const entry = (id: string): FleetEntry => {
    const [slot, token, grantedAt] = (leases.get(id) ?? '').split(':');
    const i = parseRecord(info.get(id));
    const exp = expiry.get(id);
    return {
      slot: slot ? Number(slot) : null,
      token: token ? Number(token) : null,
      host: i?.host ?? '?',
      pid: i?.pid ?? 0,
      owner: i?.owner ?? 0,
      jobId: i?.jobId ?? null,
      command: i?.command ?? null,
      startedAt: i?.startedAt ?? '',
      maxLive: i?.maxLive ?? null,
      // Holders by the server's clock; waiters by their host's (all there is for them).
      ageMs: grantedAt ? now - Number(grantedAt) : i?.startedAt ? Math.max(0, Date.now() - Date.parse(i.startedAt)) : null,
      expiresInMs: exp === undefined ? null : Number(exp) - now,
    };
  };
  const holders = [...leases.keys()].map(entry).sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0));
  const waiters = texts(reply[5]).map(entry);
  return { serverTime: now, holders, waiters };
}

// Every pool that was ever used has its data generation named (see scripts.ts).
const MARK = KEY_NAMES.indexOf('epoch');

/** The fleet pools of the database, by name: every pool a warden has asked a slot of. */
export async function listFleetPools(redis: Connection): Promise<string[]> {
  const [prefix, suffix] = poolKeys('\n')[MARK].split('\n');
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = (await redis.command(['SCAN', cursor, 'MATCH', `${prefix}*${suffix}`, 'COUNT', '1000'])) as [string, string[]];
    cursor = next;
    for (const key of keys) {
      const name = key.slice(prefix.length, key.length - suffix.length);
      // Keys of names --pool does not accept (a store's own lease pool) are no pool to list.
      if (POOL_NAME.test(name)) names.add(name);
    }
  } while (cursor !== '0');
  return [...names].sort();
}

function parseRecord(text: string | undefined): HolderRecord | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as HolderRecord;
  } catch {
    return undefined;
  }
}
