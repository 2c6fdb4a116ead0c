// A pool shared by every host whose --redis reaches the same database: slots are leases kept by
// Lua scripts on the server (expiry by the server's clock, a fencing token per grant, waiters
// served by ticket across hosts and woken by a published release). Each lease also has a local
// socket handed to its job, which the host's keeper watches: the lease lives as long as the job.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import type { Emit } from '../../events.js';
import { msg } from '../../messages.js';
import { abortable } from '../wait.js';
import type { AcquireOptions, HolderInfo, Pool, Slot, SlotState } from '../pool.js';
import { connect, texts, UnreachableError } from './client.js';
import type { Connection } from './client.js';
import { KeeperLink } from './keeper-link.js';
import type { FromKeeper, Grant, LeaseLostPolicy } from './keeper-protocol.js';
import { bindLeaseSocket, leaseAddress } from './lease-socket.js';
import type { LeaseSocket } from './lease-socket.js';
import { readFleet } from './fleet-view.js';
import type { FleetView, HolderRecord } from './fleet-view.js';
import { ACQUIRE, DESCRIBE, freeChannel, poolKeys, RELEASE } from './scripts.js';
import type { RedisTarget } from './target.js';

export { readFleet } from './fleet-view.js';
export type { FleetEntry, FleetView } from './fleet-view.js';

export interface RedisPoolOptions {
  name: string;
  maxLive: number;
  stateDir: string;
  target: RedisTarget;
  leaseMs: number;
  onLeaseLost: LeaseLostPolicy;
  killAfterMs: number;
  logFile?: string;
  /** `once` and `run`: a server that cannot be reached at the start is an error (exit 69). */
  failFast: boolean;
  emit: Emit;
  /** The warden script that starts the host's keeper, when not this process's own. */
  keeperBin?: string;
}

interface Lease {
  id: string;
  socket: LeaseSocket;
  grant?: Grant;
  job?: { pid: number; jobId: string; info: string };
  /** Its socket was handed to a job: only the job (and what it started) holds it now. */
  handedOff?: boolean;
}

// A waiter asks again this often even without a wake-up (a lost message, a host cut off and
// back); it also keeps its place in the queue alive.
const POLL_MAX_MS = 1000;

export async function openRedisPool(options: RedisPoolOptions): Promise<RedisPool> {
  const { target, emit } = options;
  let pool: RedisPool | undefined;
  const redis = await connect(target, {
    failFast: options.failFast,
    name: 'warden',
    onOutage: (err) => emit({ event: 'error', message: msg.redisUnreachable(target.shown, err.message) }),
    // Waiters ask again at once, not at their next poll; holder records wait for the server.
    onReady: () => {
      pool?.wakeAll();
      pool?.flushDescriptions();
    },
  });
  // Only once the server answered: a one-shot that exits 69 starts no keeper.
  const link = await KeeperLink.open(options.stateDir, target, options.keeperBin);
  pool = new RedisPool(options, redis, link);
  return pool;
}

export class RedisPool implements Pool {
  readonly backend = 'redis' as const;
  readonly name: string;
  readonly maxLive: number;
  private readonly keys: string[];
  private readonly channel: string;
  private readonly host = os.hostname();
  private readonly wakers = new Set<() => void>();
  private readonly leases = new Map<string, Lease>();
  private spare: Promise<Lease> | undefined;
  private unsubscribe: Promise<() => Promise<void>> | undefined;
  private readonly pollMs: number;
  private closed = false;
  private reopening: Promise<void> | undefined;
  private readonly undescribed = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly options: RedisPoolOptions,
    private readonly redis: Connection,
    private link: KeeperLink,
  ) {
    this.name = options.name;
    this.maxLive = options.maxLive;
    this.keys = poolKeys(options.name);
    this.channel = freeChannel(options.name);
    this.pollMs = Math.min(POLL_MAX_MS, options.leaseMs / 3);
    this.attach(link);
  }

  private attach(link: KeeperLink): void {
    this.link = link;
    link.lost = (m) => this.onLost(m);
    // A keeper that died is replaced at once, so the leases of running jobs are renewed on.
    link.gone = () => {
      if (!this.closed) void this.ensureKeeper().catch(() => undefined);
    };
  }

  get connection(): Connection {
    return this.redis;
  }

  async tryAcquire(): Promise<Slot | undefined> {
    const spare = this.spare;
    this.spare = undefined;
    const lease = await (spare ?? this.prepare());
    let slot: Slot | undefined;
    try {
      slot = await this.ask(lease, false);
    } catch (err) {
      if (!(err instanceof UnreachableError)) {
        this.abandon(lease);
        throw err;
      }
    }
    // Not granted: the prepared lease serves the next attempt.
    if (!slot) this.spare = Promise.resolve(lease);
    return slot;
  }

  acquire(options: AcquireOptions = {}): Promise<Slot> {
    this.subscribe();
    return abortable<Slot>(options, (resolve, reject, settled) => {
      let lease: Lease | undefined;
      let granted = false;
      let busy = false;
      let again = false;
      let timer: NodeJS.Timeout | undefined;
      const attempt = async (): Promise<void> => {
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        if (timer) clearTimeout(timer);
        try {
          do {
            again = false;
            lease ??= await this.prepare();
            if (settled()) return;
            const slot = await this.ask(lease, true);
            if (slot) {
              granted = true;
              if (settled()) slot.release();
              else resolve(slot);
              return;
            }
          } while (again && !settled());
        } catch (err) {
          if (!(err instanceof UnreachableError)) return reject(err);
        } finally {
          busy = false;
        }
        if (!settled()) timer = setTimeout(() => void attempt(), this.pollMs);
      };
      this.wakers.add(attempt);
      void attempt();
      return () => {
        this.wakers.delete(attempt);
        if (timer) clearTimeout(timer);
        if (!granted && lease) this.abandon(lease);
      };
    });
  }

  adopt(fd: number, handle: string): Slot {
    const { id, grant } = JSON.parse(handle) as { id: string; grant: Grant };
    const socket: LeaseSocket = { address: leaseAddress(id), fd, close: () => closeQuietly(fd) };
    const lease: Lease = { id, socket, grant };
    this.leases.set(id, lease);
    if (this.link.alive) this.watch(lease);
    return new RedisSlot(this, lease);
  }

  /** The server is away: nothing is known to be held (this is only ever used for display). */
  async inspect(upTo: number): Promise<SlotState[]> {
    let view: FleetView;
    try {
      view = await this.fleet();
    } catch (err) {
      if (err instanceof UnreachableError) return [];
      throw err;
    }
    const top = Math.max(upTo, ...view.holders.map((h) => (h.slot ?? 0) + 1));
    return Array.from({ length: top }, (_, slot) => {
      const h = view.holders.find((e) => e.slot === slot);
      if (!h) return { slot, held: false };
      const holder: HolderInfo = { slot, pid: h.pid, owner: h.owner, command: h.command ?? '', jobId: h.jobId ?? '', startedAt: h.startedAt, maxLive: this.maxLive };
      return { slot, held: true, holder };
    });
  }

  /** Every holder and waiter of the pool, on every host, at one instant of the server. */
  async fleet(): Promise<FleetView> {
    return readFleet(this.redis, this.name);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.wakers) wake();
    const spare = this.spare?.then((l) => this.abandon(l));
    // Leases handed to jobs that have ended (a `run`'s job) are released now, by this process.
    for (const lease of this.leases.values()) if (lease.handedOff) this.releaseIfFree(lease);
    this.unsubscribeNow();
    this.link.close();
    // The connection goes once the releases under way have had their answer (or their deadline).
    void Promise.allSettled([spare, ...this.pending]).then(() => this.redis.close());
  }

  wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Kept from the first wait until the pool closes: a waiter must not miss a release. */
  private subscribe(): void {
    this.unsubscribe ??= this.redis.subscribe(this.channel, () => this.wakeAll());
  }

  private unsubscribeNow(): void {
    const un = this.unsubscribe;
    this.unsubscribe = undefined;
    void un?.then((fn) => fn());
  }

  /** A fresh lease id with its socket, which the keeper watches before Redis ever hears of it. */
  private async prepare(): Promise<Lease> {
    const id = randomBytes(9).toString('base64url');
    const socket = await bindLeaseSocket(id);
    const lease: Lease = { id, socket };
    this.leases.set(id, lease);
    await this.ensureKeeper();
    this.watch(lease);
    return lease;
  }

  private watch(lease: Lease): void {
    const o = this.options;
    this.link.send({ op: 'watch', id: lease.id, address: lease.socket.address, pool: this.name, policy: o.onLeaseLost, killAfterMs: o.killAfterMs, logFile: o.logFile, owner: process.pid });
    if (lease.grant) this.link.send({ op: 'granted', id: lease.id, ...lease.grant });
    if (lease.job) this.link.send({ op: 'job', id: lease.id, ...lease.job });
  }

  /** A keeper that died is started again and told every lease this process still knows. */
  private async ensureKeeper(): Promise<void> {
    if (this.link.alive) return;
    this.reopening ??= KeeperLink.open(this.options.stateDir, this.options.target, this.options.keeperBin).then((link) => {
      this.attach(link);
      for (const lease of this.leases.values()) this.watch(lease);
    });
    try {
      await this.reopening;
    } finally {
      this.reopening = undefined;
    }
  }

  private abandon(lease: Lease): void {
    this.leases.delete(lease.id);
    this.undescribed.delete(lease.id);
    lease.socket.close();
    void this.release(lease.id);
  }

  private info(jobId: string | null = null, command: string | null = null, pid = process.pid, startedAt = new Date().toISOString()): string {
    const info: HolderRecord = { host: this.host, pid, owner: process.pid, jobId, command, startedAt, maxLive: Number.isFinite(this.maxLive) ? this.maxLive : null };
    return JSON.stringify(info);
  }

  private async ask(lease: Lease, wait: boolean): Promise<Slot | undefined> {
    const cap = Number.isFinite(this.maxLive) ? this.maxLive : -1;
    const o = this.options;
    const info = this.info();
    const reply = texts(await this.redis.script(ACQUIRE, this.keys, [lease.id, cap, o.leaseMs, wait ? 1 : 0, o.leaseMs, info, this.channel, randomBytes(8).toString('hex')]));
    if (reply[0] !== '1') return undefined;
    lease.grant = { pool: this.name, slot: Number(reply[1]), token: reply[2], epoch: reply[3], leaseMs: o.leaseMs, info, grantedAt: Date.now() };
    this.link.send({ op: 'granted', id: lease.id, ...lease.grant });
    return new RedisSlot(this, lease);
  }

  /** A job (or a delay) holds the lease now: the server's record and the keeper learn of it. */
  describeLease(lease: Lease, h: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    const info = this.info(h.jobId, h.command, h.pid, h.startedAt);
    if (lease.grant) lease.grant.info = info;
    this.undescribed.set(lease.id, info);
    this.flushDescriptions();
    // Only a job's own group is ever signalled for a lost lease, never this process's.
    if (h.pid !== process.pid) {
      lease.job = { pid: h.pid, jobId: h.jobId, info };
      this.link.send({ op: 'job', id: lease.id, ...lease.job });
    }
  }

  /** Holder records not yet on the server (it was away, or not yet connected: a runner). */
  flushDescriptions(): void {
    if (!this.redis.ready) return;
    for (const [id, info] of this.undescribed) {
      this.undescribed.delete(id);
      this.redis.script(DESCRIBE, this.keys, [id, info]).catch(() => {
        if (!this.undescribed.has(id)) this.undescribed.set(id, info);
      });
    }
  }

  releaseLease(lease: Lease): void {
    this.abandon(lease);
  }

  /** Release over our own connection; `close` waits for it (or its deadline). */
  private release(id: string): Promise<void> {
    return this.track(this.redis.script(RELEASE, this.keys, [id, this.channel]).then(() => undefined));
  }

  /**
   * A job of ours ended: if nothing else holds its lease's socket (no process it left behind),
   * release the lease at once over our own connection. The keeper would too, but a keeper that
   * has just been started may not be connected yet, and a slot must be free within milliseconds
   * of its job's exit. A second release (the keeper's) changes nothing.
   */
  private releaseIfFree(lease: Lease): void {
    void this.track(socketHeld(lease.socket.address).then((held) => (held ? undefined : this.release(lease.id))));
  }

  private track(work: Promise<void>): Promise<void> {
    const done = work.catch(() => undefined);
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
    return done;
  }

  /** The job is done with the lease: released now if its socket is free, else by the keeper as it frees. */
  forgetLease(lease: Lease): void {
    this.leases.delete(lease.id);
    this.undescribed.delete(lease.id);
    this.releaseIfFree(lease);
  }

  handedOff(lease: Lease): void {
    lease.handedOff = true;
    lease.socket.close();
  }

  private onLost(m: FromKeeper): void {
    this.options.emit({ event: 'lease-lost', pool: this.name, jobId: m.jobId, jobPid: m.jobPid, token: Number(m.token), heldMs: m.heldMs, cause: m.cause });
  }
}

class RedisSlot implements Slot {
  readonly pool: string;
  readonly index: number;
  readonly fd: number;
  readonly token: number;
  readonly handle: string;
  private done = false;

  constructor(
    private readonly owner: RedisPool,
    private readonly lease: Lease,
  ) {
    this.pool = owner.name;
    this.index = lease.grant?.slot ?? 0;
    this.token = Number(lease.grant?.token ?? 0);
    this.fd = lease.socket.fd;
    this.handle = JSON.stringify({ id: lease.id, grant: lease.grant });
  }

  describe(info: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    this.owner.describeLease(this.lease, info);
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.owner.releaseLease(this.lease);
  }

  handOff(): void {
    this.owner.handedOff(this.lease);
  }

  forget(): void {
    this.owner.forgetLease(this.lease);
  }
}

/** Whether some process still holds the abstract socket at `address` (a connection is refused once none does). */
function socketHeld(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: address });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Closed already.
  }
}
