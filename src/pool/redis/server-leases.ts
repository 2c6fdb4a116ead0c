// One pool's leases as the server keeps them, over this process's connection: ask for a slot,
// record who holds it, release it. Releases under way are tracked so that closing the
// connection waits for them.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { HolderInfo } from '../pool.js';
import { texts } from './client.js';
import type { Connection } from './client.js';
import type { HolderRecord } from './fleet-view.js';
import type { Grant } from './keeper-protocol.js';
import type { Lease } from './lease.js';
import { leaseSocketHeld } from './lease-socket.js';
import { ACQUIRE, DESCRIBE, freeChannel, poolKeys, RELEASE } from './scripts.js';

export class ServerLeases {
  private readonly keys: string[];
  readonly channel: string;
  private readonly host = os.hostname();
  /** Holder records not yet on the server (it was away, or not yet connected: a runner). */
  private readonly undescribed = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly redis: Connection,
    private readonly pool: string,
    private readonly maxLive: number,
    private readonly leaseMs: number,
    /** How long a waiter's place in line lasts unless it asks again (it asks every poll). */
    private readonly placeMs: number,
  ) {
    this.keys = poolKeys(pool);
    this.channel = freeChannel(pool);
  }

  /** The holder record kept on the server: this process until a job holds the lease. */
  record(h?: Omit<HolderInfo, 'slot' | 'maxLive'>): string {
    const record: HolderRecord = {
      host: this.host,
      pid: h?.pid ?? process.pid,
      owner: process.pid,
      jobId: h?.jobId ?? null,
      command: h?.command ?? null,
      startedAt: h?.startedAt ?? new Date().toISOString(),
      maxLive: Number.isFinite(this.maxLive) ? this.maxLive : null,
    };
    return JSON.stringify(record);
  }

  /** Ask for a slot; `wait`: keep (or take) a place in the line when not granted. */
  async ask(lease: Lease, wait: boolean): Promise<Grant | undefined> {
    const cap = Number.isFinite(this.maxLive) ? this.maxLive : -1;
    const info = this.record();
    const reply = texts(await this.redis.script(ACQUIRE, this.keys, [lease.id, cap, this.leaseMs, wait ? 1 : 0, this.placeMs, info, this.channel, randomBytes(8).toString('hex')]));
    if (reply[0] !== '1') return undefined;
    return { pool: this.pool, slot: Number(reply[1]), token: reply[2], epoch: reply[3], leaseMs: this.leaseMs, info, grantedAt: Date.now() };
  }

  describe(id: string, info: string): void {
    this.undescribed.set(id, info);
    this.flush();
  }

  forget(id: string): void {
    this.undescribed.delete(id);
  }

  flush(): void {
    if (!this.redis.ready) return;
    for (const [id, info] of this.undescribed) {
      this.undescribed.delete(id);
      this.redis.script(DESCRIBE, this.keys, [id, info]).catch(() => {
        if (!this.undescribed.has(id)) this.undescribed.set(id, info);
      });
    }
  }

  /** Give up lease (or place in line) `id`. */
  release(id: string): Promise<void> {
    return this.track(this.redis.script(RELEASE, this.keys, [id, this.channel]).then(() => undefined));
  }

  /**
   * A job of ours ended: if nothing else holds its lease's socket (no process it left behind),
   * release the lease at once over our own connection. The keeper would too, but a keeper that
   * has just been started may not be connected yet, and a slot must be free within milliseconds
   * of its job's exit. A second release (the keeper's) changes nothing.
   */
  releaseIfFree(lease: Lease): void {
    void this.track(leaseSocketHeld(lease.socket.address).then((held) => (held ? undefined : this.release(lease.id))));
  }

  /** Once every release under way has had its answer (or its deadline). */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.pending]);
  }

  private track(work: Promise<void>): Promise<void> {
    const done = work.catch(() => undefined);
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
    return done;
  }
}
