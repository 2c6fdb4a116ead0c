// This process's line to its host's keeper for one pool: tells it each lease (to watch its
// socket, its grant, the job holding it), hears back of lost ones, and when the keeper dies
// starts a new one and tells it every lease this process still knows.
import { KeeperLink } from './keeper-link.js';
import type { FromKeeper, LeaseLostPolicy } from './keeper-protocol.js';
import type { Lease } from './lease.js';
import type { RedisTarget } from './target.js';

export interface KeeperChannelOptions {
  pool: string;
  stateDir: string;
  target: RedisTarget;
  onLeaseLost: LeaseLostPolicy;
  killAfterMs: number;
  logFile?: string;
  keeperBin?: string;
}

export class KeeperChannel {
  private reopening: Promise<void> | undefined;
  private closed = false;

  constructor(
    private link: KeeperLink,
    private readonly options: KeeperChannelOptions,
    /** Every lease this process knows, to tell a new keeper. */
    private readonly leases: () => Iterable<Lease>,
    private readonly onLost: (m: FromKeeper) => void,
  ) {
    this.attach(link);
  }

  get alive(): boolean {
    return this.link.alive;
  }

  /** A keeper that died is started again and told every lease this process still knows. */
  async ensure(): Promise<void> {
    if (this.link.alive) return;
    const o = this.options;
    this.reopening ??= KeeperLink.open(o.stateDir, o.target, o.keeperBin).then((link) => {
      this.attach(link);
      for (const lease of this.leases()) this.watch(lease);
    });
    try {
      await this.reopening;
    } finally {
      this.reopening = undefined;
    }
  }

  /** Everything the keeper must know of `lease`: its socket, and its grant and job if any. */
  watch(lease: Lease): void {
    const o = this.options;
    this.link.send({ op: 'watch', id: lease.id, address: lease.socket.address, pool: o.pool, policy: o.onLeaseLost, killAfterMs: o.killAfterMs, logFile: o.logFile, owner: process.pid });
    this.granted(lease);
    this.job(lease);
  }

  granted(lease: Lease): void {
    if (lease.grant) this.link.send({ op: 'granted', id: lease.id, ...lease.grant });
  }

  job(lease: Lease): void {
    if (lease.job) this.link.send({ op: 'job', id: lease.id, ...lease.job });
  }

  close(): void {
    this.closed = true;
    this.link.close();
  }

  private attach(link: KeeperLink): void {
    this.link = link;
    link.lost = (m) => this.onLost(m);
    // A keeper that died is replaced at once, so the leases of running jobs are renewed on.
    link.gone = () => {
      if (!this.closed) void this.ensure().catch(() => undefined);
    };
  }
}
