// The keeper's work against Redis: renew the leases of this host's live jobs at a third of the
// shortest lease, put them back after the server lost its data, and release each lease whose
// socket freed (retried until it is gone or would have lapsed by itself). A lease the server no
// longer has, or that could not be renewed within its time, is handed to `lost`.
import { randomBytes } from 'node:crypto';
import { connect, texts, UnreachableError } from './client.js';
import type { Connection } from './client.js';
import type { Grant, LeaseCause } from './keeper-protocol.js';
import type { KeptLease } from './kept-lease.js';
import { leaseSocketHeld } from './lease-socket.js';
import { freeChannel, poolKeys, REASSERT, RELEASE, RENEW } from './scripts.js';
import type { RedisTarget } from './target.js';

const MIN_TICK_MS = 50;
const LATE_RELEASE_MS = 1000;
// A lease whose length the keeper never learnt (freed before its grant arrived): SPEC's default.
const DEFAULT_LEASE_MS = 30_000;

export class Renewals {
  /**
   * Leases whose socket freed while the server was away: released once it is back, or
   * forgotten once their lease has lapsed by itself (a server that never returns must not keep
   * the keeper alive for ever).
   */
  private readonly unreleased = new Map<string, { pool: string; until: number }>();
  private redis: Connection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private outage = false;
  private renewing = false;

  constructor(
    target: RedisTarget,
    /** The leases the keeper holds now. */
    private readonly leases: () => KeptLease[],
    private readonly lost: (lease: KeptLease, cause: LeaseCause) => void,
  ) {
    const onOutage = (): void => {
      this.outage = true;
    };
    const onBack = (): void => {
      this.outage = false;
      this.tick();
    };
    // Leases freed before the connection was up (a job that ended while a keeper just started
    // was still connecting) are released the moment it is, not at the next renewal round.
    const onReady = (): void => this.flushUnreleased();
    void connect(target, { failFast: false, name: 'warden-keeper', onOutage, onBack, onReady }).then((redis) => {
      this.redis = redis;
      this.schedule();
    });
  }

  /** Releases still owed; those whose lease has lapsed meanwhile are forgotten. */
  owed(now: number): number {
    for (const [id, u] of this.unreleased) if (now > u.until) this.unreleased.delete(id);
    return this.unreleased.size;
  }

  /** The lease's socket is free: its job and everything that inherited it are gone. */
  freed(lease: KeptLease): void {
    const lapse = lease.grant?.leaseMs ?? DEFAULT_LEASE_MS;
    void this.release(lease.id, lease.pool, lapse);
    // A warden killed just after asking may have its request still on the way to the server,
    // behind our release: a second release a moment later catches that grant or place in line.
    setTimeout(() => void this.release(lease.id, lease.pool, lapse), LATE_RELEASE_MS);
  }

  /** Renew at a third of the shortest lease held. */
  schedule(): void {
    if (this.timer) return;
    const grants = this.leases().flatMap((l) => (l.grant && !l.lost ? [l.grant.leaseMs] : []));
    if (!grants.length && !this.unreleased.size) return;
    const every = Math.max(MIN_TICK_MS, Math.min(...grants, 3000) / 3);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, every);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.redis?.close();
  }

  private async release(id: string, pool: string, lapseMs: number): Promise<void> {
    try {
      if (!this.redis) throw new UnreachableError('not connected yet');
      await this.redis.script(RELEASE, poolKeys(pool), [id, freeChannel(pool)]);
      this.unreleased.delete(id);
    } catch {
      if (!this.unreleased.has(id)) this.unreleased.set(id, { pool, until: performance.now() + lapseMs });
    }
  }

  private flushUnreleased(): void {
    for (const [id, u] of [...this.unreleased]) void this.release(id, u.pool, 0);
  }

  private tick(): void {
    // One round at a time: a round waiting on a silent server must not be overtaken by another.
    if (this.renewing) return;
    this.renewing = true;
    void this.renewAll().finally(() => {
      this.renewing = false;
      this.schedule();
    });
  }

  private async renewAll(): Promise<void> {
    for (const [id, u] of [...this.unreleased]) await this.release(id, u.pool, 0);
    const now = performance.now();
    const held = this.leases().filter((l) => l.grant && !l.lost);
    if (!this.redis?.ready) {
      // Cut off from the server: a lease not renewed within its time is lost. (Still making the
      // first connection is no outage: the server's answer, once connected, decides.)
      if (this.outage) for (const l of held) if (l.grant && now - l.grant.lastOk > l.grant.leaseMs) this.lost(l, 'unreachable');
      return;
    }
    const groups = new Map<string, KeptLease[]>();
    for (const l of held) {
      const key = `${l.pool}\0${l.grant?.epoch}`;
      groups.set(key, [...(groups.get(key) ?? []), l]);
    }
    for (const group of groups.values()) await this.renew(group);
  }

  private async renew(group: KeptLease[]): Promise<void> {
    const redis = this.redis;
    const first = group[0].grant;
    if (!redis || !first) return;
    const pool = group[0].pool;
    const asked = performance.now();
    let reply;
    try {
      reply = texts(await redis.script(RENEW, poolKeys(pool), [first.epoch, freeChannel(pool), ...group.flatMap((l) => [l.id, l.grant?.leaseMs ?? 0])]));
    } catch (err) {
      const cause = err instanceof UnreachableError ? 'unreachable' : 'evicted';
      for (const l of group) if (l.grant && asked - l.grant.lastOk > l.grant.leaseMs) this.lost(l, cause);
      return;
    }
    if (reply[0] === 'reset') return this.reassert(group);
    const forgotten: KeptLease[] = [];
    group.forEach((l, k) => {
      const g = l.grant;
      if (!g) return;
      const stale = asked - g.lastOk > g.leaseMs;
      // Renewed, even if past its lease by our clock: the server's clock decides.
      if (reply[k] === 'ok') g.lastOk = asked;
      // Gone within its time: no one else drops a lease before it lapses, so the server's data
      // went back to before the grant (restarted from a snapshot, a lagging replica promoted).
      else if (reply[k] === 'gone' && !stale) forgotten.push(l);
      else this.lost(l, 'expired');
    });
    // Put back those whose jobs still run (one that just ended was released by its warden).
    const held = await Promise.all(forgotten.map((l) => leaseSocketHeld(l.address)));
    const back = forgotten.filter((_, k) => held[k]);
    if (back.length) await this.reassert(back);
  }

  /** The server lost its data (restarted empty, or older): put back every lease still within its time. */
  private async reassert(group: KeptLease[]): Promise<void> {
    const redis = this.redis;
    if (!redis) return;
    const asked = performance.now();
    const live = group.filter((l) => l.grant && asked - l.grant.lastOk <= l.grant.leaseMs);
    for (const l of group) if (!live.includes(l)) this.lost(l, 'expired');
    if (!live.length) return;
    const pool = group[0].pool;
    try {
      const args = live.flatMap((l) => {
        const g = l.grant as Grant;
        return [l.id, String(g.slot), g.token, String(g.leaseMs), g.info];
      });
      const epoch = String(await redis.script(REASSERT, poolKeys(pool), [randomBytes(8).toString('hex'), ...args]));
      for (const l of live) if (l.grant) Object.assign(l.grant, { epoch, lastOk: asked });
    } catch {
      // Tried again at the next renewal.
    }
  }
}
