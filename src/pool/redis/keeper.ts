// The host's keeper (a hidden `warden __keeper`): it renews the fleet leases of this host's jobs
// for as long as the kernel says their local sockets are held, whether or not the warden that
// started them is still alive, and releases each one the moment its socket frees. A host that
// dies or is cut off stops renewing, and its leases lapse after --lease by the server's clock.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import type { Event } from '../../events.js';
import { groupAlive, signalGroup, terminateGroup } from '../../process-group.js';
import { connect, texts, UnreachableError } from './client.js';
import type { Connection } from './client.js';
import { lineReader } from './keeper-protocol.js';
import type { FromKeeper, Grant, KeeperConfig, LeaseCause, LeaseLostPolicy, ToKeeper } from './keeper-protocol.js';
import { watchLeaseSocket } from './lease-socket.js';
import { freeChannel, poolKeys, REASSERT, RELEASE, RENEW } from './scripts.js';

// With nothing to keep and no warden connected for this long, the keeper exits.
const IDLE_MS = 10_000;
const MIN_TICK_MS = 50;
const LATE_RELEASE_MS = 1000;
// A lease whose length the keeper never learnt (freed before its grant arrived): SPEC's default.
const DEFAULT_LEASE_MS = 30_000;

interface Lease {
  id: string;
  pool: string;
  policy: LeaseLostPolicy;
  killAfterMs: number;
  logFile?: string;
  owner: number;
  conn: net.Socket;
  stopWatch: () => void;
  grant?: Grant & { lastOk: number };
  job?: { pid: number; jobId: string };
  lost: boolean;
}

export async function keeperCommand(): Promise<number> {
  const config = JSON.parse(await readStdin()) as KeeperConfig;
  const server = await listen(config.socketPath);
  if (!server) return 0;
  const ino = fs.statSync(config.socketPath).ino;
  const keeper = new Keeper(config, server);
  await keeper.done;
  try {
    if (fs.statSync(config.socketPath).ino === ino) fs.unlinkSync(config.socketPath);
  } catch {
    // Gone already.
  }
  return 0;
}

class Keeper {
  readonly done: Promise<void>;
  private finish: () => void = () => undefined;
  private readonly leases = new Map<string, Lease>();
  /**
   * Leases whose socket freed while the server was away: released once it is back, or
   * forgotten once their lease has lapsed by itself (a server that never returns must not keep
   * the keeper alive for ever).
   */
  private readonly unreleased = new Map<string, { pool: string; until: number }>();
  private readonly conns = new Set<net.Socket>();
  private redis: Connection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private idleSince = performance.now();
  private outage = false;
  private renewing = false;

  constructor(
    config: KeeperConfig,
    private readonly server: net.Server,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    server.on('connection', (conn) => this.accept(conn));
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
    void connect(config.target, { failFast: false, name: 'warden-keeper', onOutage, onBack, onReady }).then((redis) => {
      this.redis = redis;
      this.schedule();
    });
    const idle = setInterval(() => {
      const now = performance.now();
      for (const [id, u] of this.unreleased) if (now > u.until) this.unreleased.delete(id);
      if (this.leases.size || this.conns.size || this.unreleased.size) this.idleSince = now;
      else if (performance.now() - this.idleSince > IDLE_MS) {
        clearInterval(idle);
        this.stop();
      }
    }, 500);
  }

  private stop(): void {
    this.server.close();
    if (this.timer) clearTimeout(this.timer);
    void this.redis?.close().finally(() => this.finish());
    if (!this.redis) this.finish();
  }

  private accept(conn: net.Socket): void {
    this.conns.add(conn);
    conn.on('error', () => undefined);
    conn.on('close', () => this.conns.delete(conn));
    conn.on('data', lineReader((m) => this.onMessage(conn, m as ToKeeper)));
  }

  private onMessage(conn: net.Socket, m: ToKeeper): void {
    if (m.op === 'watch') {
      if (this.leases.has(m.id)) return;
      const lease: Lease = { id: m.id, pool: m.pool, policy: m.policy, killAfterMs: m.killAfterMs, logFile: m.logFile, owner: m.owner, conn, lost: false, stopWatch: () => undefined };
      this.leases.set(m.id, lease);
      lease.stopWatch = watchLeaseSocket(m.address, () => this.freed(lease));
      return;
    }
    const lease = this.leases.get(m.id);
    if (!lease) return;
    if (m.op === 'granted') {
      const now = performance.now();
      lease.grant = { pool: m.pool, slot: m.slot, token: m.token, epoch: m.epoch, leaseMs: m.leaseMs, info: m.info, grantedAt: m.grantedAt, lastOk: now };
      this.schedule();
    } else if (m.op === 'job') {
      lease.job = { pid: m.pid, jobId: m.jobId };
      if (lease.grant) lease.grant.info = m.info;
    }
  }

  /** The lease's socket is free: its job and everything that inherited it are gone. */
  private freed(lease: Lease): void {
    this.leases.delete(lease.id);
    const lapse = lease.grant?.leaseMs ?? DEFAULT_LEASE_MS;
    void this.release(lease.id, lease.pool, lapse);
    // A warden killed just after asking may have its request still on the way to the server,
    // behind our release: a second release a moment later catches that grant or place in line.
    setTimeout(() => void this.release(lease.id, lease.pool, lapse), LATE_RELEASE_MS);
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

  /** Renew at a third of the shortest lease held. */
  private schedule(): void {
    if (this.timer) return;
    const grants = [...this.leases.values()].flatMap((l) => (l.grant && !l.lost ? [l.grant.leaseMs] : []));
    if (!grants.length && !this.unreleased.size) return;
    const every = Math.max(MIN_TICK_MS, Math.min(...grants, 3000) / 3);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, every);
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
    const held = [...this.leases.values()].filter((l) => l.grant && !l.lost);
    if (!this.redis?.ready) {
      // Cut off from the server: a lease not renewed within its time is lost. (Still making the
      // first connection is no outage: the server's answer, once connected, decides.)
      if (this.outage) for (const l of held) if (l.grant && now - l.grant.lastOk > l.grant.leaseMs) this.lost(l, 'unreachable');
      return;
    }
    const groups = new Map<string, Lease[]>();
    for (const l of held) {
      const key = `${l.pool}\0${l.grant?.epoch}`;
      groups.set(key, [...(groups.get(key) ?? []), l]);
    }
    for (const group of groups.values()) await this.renew(group);
  }

  private async renew(group: Lease[]): Promise<void> {
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
    group.forEach((l, k) => {
      const g = l.grant;
      if (!g) return;
      const stale = asked - g.lastOk > g.leaseMs;
      if (reply[k] === 'ok' && !stale) g.lastOk = asked;
      else if (reply[k] === 'ok') {
        // Past its lease by our clock but not by the server's: the server decides.
        g.lastOk = asked;
      } else this.lost(l, reply[k] === 'gone' && !stale ? 'evicted' : 'expired');
    });
  }

  /** The server lost its data (restarted empty): put back every lease still within its time. */
  private async reassert(group: Lease[]): Promise<void> {
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

  private lost(lease: Lease, cause: LeaseCause): void {
    if (lease.lost || !lease.grant) return;
    lease.lost = true;
    const message: FromKeeper = {
      op: 'lost',
      id: lease.id,
      token: lease.grant.token,
      jobId: lease.job?.jobId ?? null,
      jobPid: lease.job?.pid ?? null,
      heldMs: Date.now() - lease.grant.grantedAt,
      cause,
    };
    if (!lease.conn.destroyed) lease.conn.write(JSON.stringify(message) + '\n');
    else if (lease.logFile) appendEvent(lease.logFile, lease.owner, lease.pool, message);
    if (lease.policy === 'kill' && lease.job && this.leases.has(lease.id)) {
      const pgid = lease.job.pid;
      terminateGroup(pgid);
      setTimeout(() => {
        if (this.leases.has(lease.id) && groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
      }, lease.killAfterMs).unref();
    }
  }
}

/** With its warden gone, the keeper logs a lost lease into the warden's log file itself. */
function appendEvent(file: string, pid: number, pool: string, m: FromKeeper): void {
  // The same fields and types as the warden's own lease-lost event.
  const event: Event = { event: 'lease-lost', pool, jobId: m.jobId, jobPid: m.jobPid, token: Number(m.token), heldMs: m.heldMs, cause: m.cause };
  const line = JSON.stringify({ ts: new Date().toISOString(), ...event, pid });
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW);
    try {
      fs.writeSync(fd, line + '\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Nowhere to say it.
  }
}

/** Bind the keeper's socket; undefined when a live keeper already has it. */
async function listen(socketPath: string): Promise<net.Server | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const server = net.createServer();
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(socketPath, () => resolve(undefined));
    });
    if (!error) return server;
    if (error.code !== 'EADDRINUSE' || (await answers(socketPath))) return undefined;
    // A keeper that died left its socket file: take the name over.
    fs.rmSync(socketPath, { force: true });
  }
  return undefined;
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => (text += c));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}
