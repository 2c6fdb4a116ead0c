// The spool of a fleet pool, in Redis, where every host can resume a delayed job whose host died. An
// entry's claim is a lease lock (redis-locks.ts) that the waiting warden holds and then hands to
// the job. Starting is two steps that a SIGKILL may split: the entry is marked as starting on
// this host (only while the claim is held and the entry is still there), with a marker file on
// this host that the job's shell removes as its first act. Whoever next finds the entry starting
// with its claim free, on this host, can tell from the marker whether the command ever ran:
// marker gone, it ran (the entry is done); marker there, it never did (it is resumed). Another
// host leaves such an entry to this one.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Connection } from '../pool/redis/client.js';
import { texts } from '../pool/redis/client.js';
import type { KeyLock } from '../locks/key-lock.js';
import { parseEntry as parseSpoolEntry } from '../spool/spool.js';
import type { NewEntry, Spool, SpoolEntry } from '../spool/spool.js';
import { shellQuote } from '../shell-quote.js';
import { privateDir, publishNew, readPrivate, removeFile } from '../state-files.js';
import { leaseKeyLocks } from './redis-locks.js';
import type { LeaseLocks } from './redis-locks.js';
import { DROP, ORPHANS, REWRITE, WRITE_CLAIMED } from './scripts.js';
import type { TriggerKeys } from './scripts.js';

/** Where an entry is being started: the host (its id) and the marker the job's shell removes. */
export interface Starting {
  host: string;
  marker: string;
}

/**
 * `serverDueAt`: the due time by the server's clock, so that a host whose clock is off neither
 * starts a job early nor drops it as too late; `dueAt` is read back in the reading host's terms.
 */
export type FleetEntry = SpoolEntry & { starting?: Starting; serverDueAt?: number };

const ID = /^[A-Za-z0-9-]+$/;
let serial = 0;

export class RedisSpool implements Spool {
  private readonly claims;
  private readonly markers: string;
  private hostId: string | undefined;
  /** The leases of the claims this process took: a claim that lapsed to another host is no longer ours. */
  private readonly mine = new Map<string, string>();

  /** `dir`: this host's durable folder, for its id and the start markers. */
  constructor(
    private readonly redis: Connection,
    private readonly keys: TriggerKeys,
    locks: LeaseLocks,
    private readonly pool: string,
    private readonly dir: string,
    /** Makes `dir` when it is missing, before this host's id or a marker is written there. */
    private readonly prepare: () => void = () => undefined,
  ) {
    this.claims = leaseKeyLocks(locks, 'spool', false);
    this.markers = path.join(dir, 'starts');
  }

  async create(fields: NewEntry): Promise<{ entry: SpoolEntry; claim: KeyLock }> {
    for (;;) {
      const id = `${Date.now().toString(36)}-${process.pid.toString(36)}-${(++serial).toString(36)}-${randomBytes(3).toString('hex')}`;
      const claim = await this.claims.lock(id);
      if (!claim) continue;
      this.mine.set(id, claim.lease);
      const entry: FleetEntry = { id, ...fields, owner: process.pid, serverDueAt: (await this.serverOffset()) + fields.dueAt };
      try {
        if (Number(await this.redis.command(['HSETNX', this.keys.spool, id, JSON.stringify(entry)])) === 1) return { entry, claim };
      } catch (err) {
        claim.release();
        throw err;
      }
      claim.release();
    }
  }

  async list(): Promise<FleetEntry[]> {
    return this.local(parseAll(texts(await this.redis.command(['HGETALL', this.keys.spool])), this.pool));
  }

  /** How far the server's clock is ahead of this host's, in ms. */
  private async serverOffset(): Promise<number> {
    const [s, us] = texts(await this.redis.command(['TIME']));
    return Number(s) * 1000 + Math.floor(Number(us) / 1000) - Date.now();
  }

  /** Entries with their due times in this host's clock. */
  private async local(entries: FleetEntry[]): Promise<FleetEntry[]> {
    if (!entries.some((e) => e.serverDueAt !== undefined)) return entries;
    const offset = await this.serverOffset();
    return entries.map((e) => (typeof e.serverDueAt === 'number' && Number.isFinite(e.serverDueAt) ? { ...e, dueAt: e.serverDueAt - offset } : e)).sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Entries no live process holds, less those being started on another host (theirs to settle). */
  async orphans(): Promise<FleetEntry[]> {
    const all = await this.local(parseAll(texts(await this.redis.script(ORPHANS, [this.keys.spool, this.keys.expiry, this.keys.owners], [])), this.pool));
    const me = this.host();
    return all.filter((e) => !e.starting || e.starting.host === me);
  }

  async damaged(): Promise<string[]> {
    const flat = texts(await this.redis.command(['HGETALL', this.keys.spool]));
    const out: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) if (!parseEntry(flat[i + 1], flat[i], this.pool)) out.push(flat[i]);
    return out;
  }

  async read(id: string): Promise<FleetEntry | undefined> {
    if (!ID.test(id)) return undefined;
    const text = await this.redis.command(['HGET', this.keys.spool, id]);
    const entry = typeof text === 'string' ? parseEntry(text, id, this.pool) : undefined;
    return entry ? (await this.local([entry]))[0] : undefined;
  }

  async remove(id: string): Promise<boolean> {
    if (!ID.test(id)) return false;
    return Number(await this.redis.command(['HDEL', this.keys.spool, id])) === 1;
  }

  /** `status --drop`: refused while its job runs. */
  async drop(id: string): Promise<{ outcome: 'dropped' | 'started' | 'gone'; entry?: FleetEntry }> {
    if (!ID.test(id)) return { outcome: 'gone' };
    const [outcome, text] = texts(await this.redis.script(DROP, [this.keys.spool, this.keys.expiry, this.keys.owners], [id]));
    const entry = text ? parseEntry(text, id, this.pool) : undefined;
    return { outcome: outcome === 'dropped' || outcome === 'started' ? outcome : 'gone', ...(entry ? { entry } : {}) };
  }

  async tryClaim(id: string): Promise<KeyLock | undefined> {
    const claim = await this.claims.lock(id);
    if (!claim) return undefined;
    this.mine.set(id, claim.lease);
    try {
      const entry = await this.read(id);
      if (!entry?.starting) return claim;
      // Its start was cut short (a SIGKILL): settle it, here only.
      if (entry.starting.host !== this.host()) {
        claim.release();
        return undefined;
      }
      if (removeFile(entry.starting.marker)) {
        // The marker was there: the command never ran. It is resumed as it was.
        const { starting: _, ...rest } = entry;
        await this.redis.script(WRITE_CLAIMED, [this.keys.spool, this.keys.expiry, this.keys.owners], [id, JSON.stringify(rest), this.mine.get(id) ?? '']);
        return claim;
      }
      // The job's shell removed it: the job ran.
      await this.remove(id);
      claim.release();
      return undefined;
    } catch (err) {
      claim.release();
      throw err;
    }
  }

  async isClaimed(id: string): Promise<boolean> {
    return this.claims.isLocked(id);
  }

  async startLine(id: string, claimLease?: string): Promise<string | undefined> {
    const entry = await this.read(id);
    if (!entry) return undefined;
    this.prepare();
    const marker = path.join(privateDir(this.markers), id);
    // The marker first: an entry marked starting always has one, until the job's shell removes it.
    removeFile(marker);
    if (!(await publishNew(marker, `${id}\n`))) throw new Error(`${marker} exists`);
    const starting: Starting = { host: this.host(), marker };
    const { starting: _, ...rest } = entry;
    const marked = Number(await this.redis.script(WRITE_CLAIMED, [this.keys.spool, this.keys.expiry, this.keys.owners], [id, JSON.stringify({ ...rest, starting }), claimLease ?? this.mine.get(id) ?? '']));
    if (marked !== 1) {
      // Dropped meanwhile, or the claim lapsed (this host was cut off): not started here.
      removeFile(marker);
      return undefined;
    }
    return `command -p rm -- ${shellQuote(marker)} 2>/dev/null || exit 125`;
  }

  async finished(id: string, started: boolean): Promise<void> {
    this.mine.delete(id);
    const entry = await this.read(id);
    const marker = entry?.starting?.marker;
    if (!entry) return;
    if (!started || !marker || !removeFile(marker)) {
      // It ran, or could not start at all (that was its run, a failed one).
      await this.remove(id);
      return;
    }
    // Its shell never removed the marker: the command did not run, and the entry stays.
    const { starting: _, ...rest } = entry;
    await this.redis.script(REWRITE, [this.keys.spool], [id, JSON.stringify(rest)]);
  }

  /** This host's id: made once, kept in its durable folder. */
  private host(): string {
    if (this.hostId) return this.hostId;
    this.prepare();
    const file = path.join(privateDir(this.dir), 'host-id');
    let id = readPrivate(file)?.trim();
    if (!id) {
      fs.writeFileSync(`${file}.${process.pid}`, randomBytes(12).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      try {
        fs.linkSync(`${file}.${process.pid}`, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        fs.rmSync(`${file}.${process.pid}`, { force: true });
      }
      id = readPrivate(file)?.trim();
    }
    if (!id) throw new Error(`${file} holds no host id`);
    this.hostId = id;
    return id;
  }
}

function parseAll(flat: string[], pool: string): FleetEntry[] {
  const out: FleetEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const entry = parseEntry(flat[i + 1], flat[i], pool);
    if (entry) out.push(entry);
  }
  return out.sort((a, b) => a.dueAt - b.dueAt);
}

function parseEntry(text: string, id: string, pool: string): FleetEntry | undefined {
  const entry = parseSpoolEntry(text, id) as FleetEntry | undefined;
  return entry?.pool === pool ? entry : undefined;
}
