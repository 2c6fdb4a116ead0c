// A pool shared by every host whose --redis reaches the same database: slots are leases kept by
// Lua scripts on the server (expiry by the server's clock, a fencing token per grant, waiters
// served by ticket across hosts and woken by a published release). Each lease also has a local
// socket handed to its job, which the host's keeper watches: the lease lives as long as the job.
import type { Emit } from '../../events.js';
import { UnavailableError } from '../../exit.js';
import { msg } from '../../messages.js';
import type { AcquireOptions, HolderInfo, Pool, Slot, SlotState } from '../pool.js';
import { connect, UnreachableError } from './client.js';
import type { Connection } from './client.js';
import { readFleet } from './fleet-view.js';
import type { FleetView } from './fleet-view.js';
import { KeeperChannel } from './keeper-channel.js';
import { KeeperLink } from './keeper-link.js';
import type { FromKeeper, LeaseLostPolicy } from './keeper-protocol.js';
import { adoptLease, newLease } from './lease.js';
import { waitForLease } from './lease-waiter.js';
import type { Lease } from './lease.js';
import { RedisSlot } from './redis-slot.js';
import { ServerLeases } from './server-leases.js';
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

// A waiter asks again at least this often (see lease-waiter.ts).
const POLL_MAX_MS = 1000;
const PLACE_MIN_MS = 2000;

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
  private readonly server: ServerLeases;
  private readonly keeper: KeeperChannel;
  private readonly wakers = new Set<() => void>();
  private readonly leases = new Map<string, Lease>();
  private spare: Promise<Lease> | undefined;
  private unsubscribe: Promise<() => Promise<void>> | undefined;
  private readonly pollMs: number;
  private closed = false;

  constructor(
    private readonly options: RedisPoolOptions,
    private readonly redis: Connection,
    link: KeeperLink,
  ) {
    this.name = options.name;
    this.maxLive = options.maxLive;
    this.pollMs = Math.min(POLL_MAX_MS, options.leaseMs / 3);
    // A few polls missed: a waiter that is stopped (Ctrl-Z) or cut off loses its place within
    // seconds, not after a whole lease, and those behind it move up.
    this.server = new ServerLeases(redis, options.name, options.maxLive, options.leaseMs, Math.max(PLACE_MIN_MS, 3 * this.pollMs));
    this.keeper = new KeeperChannel(link, { ...options, pool: options.name }, () => this.leases.values(), (m) => this.onLost(m));
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
      // A one-shot does not wait out an outage: without a server there is no lease to give (69).
      if (this.options.failFast) {
        this.spare = Promise.resolve(lease);
        throw new UnavailableError(msg.redisUnavailable(this.options.target.shown, err.message));
      }
    }
    // Not granted: the prepared lease serves the next attempt.
    if (!slot) this.spare = Promise.resolve(lease);
    return slot;
  }

  acquire(options: AcquireOptions = {}): Promise<Slot> {
    this.subscribe();
    return waitForLease(
      { wakers: this.wakers, pollMs: this.pollMs, prepare: () => this.prepare(), ask: (lease) => this.ask(lease, true), abandon: (lease) => this.abandon(lease) },
      options,
    );
  }

  adopt(fd: number, handle: string): Slot {
    const lease = adoptLease(fd, handle);
    this.leases.set(lease.id, lease);
    if (this.keeper.alive) this.keeper.watch(lease);
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
    for (const lease of this.leases.values()) if (lease.handedOff) this.server.releaseIfFree(lease);
    this.unsubscribeNow();
    this.keeper.close();
    // The connection goes once the releases under way have had their answer (or their deadline).
    void Promise.allSettled([spare, this.server.settled()]).then(() => this.redis.close());
  }

  wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  flushDescriptions(): void {
    this.server.flush();
  }

  /** A job (or a delay) holds the lease now: the server's record and the keeper learn of it. */
  describeLease(lease: Lease, h: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    const info = this.server.record(h);
    if (lease.grant) lease.grant.info = info;
    this.server.describe(lease.id, info);
    // Only a job's own group is ever signalled for a lost lease, never this process's.
    if (h.pid !== process.pid) {
      lease.job = { pid: h.pid, jobId: h.jobId, info };
      this.keeper.job(lease);
    }
  }

  releaseLease(lease: Lease): void {
    this.abandon(lease);
  }

  /** The job is done with the lease: released now if its socket is free, else by the keeper as it frees. */
  forgetLease(lease: Lease): void {
    this.leases.delete(lease.id);
    this.server.forget(lease.id);
    this.server.releaseIfFree(lease);
  }

  handedOff(lease: Lease): void {
    lease.handedOff = true;
    lease.socket.close();
  }

  /** Kept from the first wait until the pool closes: a waiter must not miss a release. */
  private subscribe(): void {
    this.unsubscribe ??= this.redis.subscribe(this.server.channel, () => this.wakeAll());
  }

  private unsubscribeNow(): void {
    const un = this.unsubscribe;
    this.unsubscribe = undefined;
    void un?.then((fn) => fn());
  }

  /** A fresh lease, whose socket the keeper watches before Redis ever hears of it. */
  private async prepare(): Promise<Lease> {
    const lease = await newLease();
    this.leases.set(lease.id, lease);
    await this.keeper.ensure();
    this.keeper.watch(lease);
    return lease;
  }

  private async ask(lease: Lease, wait: boolean): Promise<Slot | undefined> {
    const grant = await this.server.ask(lease, wait);
    if (!grant) return undefined;
    lease.grant = grant;
    this.keeper.granted(lease);
    return new RedisSlot(this, lease);
  }

  private abandon(lease: Lease): void {
    this.leases.delete(lease.id);
    this.server.forget(lease.id);
    lease.socket.close();
    void this.server.release(lease.id);
  }

  private onLost(m: FromKeeper): void {
    this.options.emit({ event: 'lease-lost', pool: this.name, jobId: m.jobId, jobPid: m.jobPid, token: Number(m.token), heldMs: m.heldMs, cause: m.cause });
  }
}
