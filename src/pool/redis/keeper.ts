// The host's keeper (a hidden `warden __keeper`): it renews the fleet leases of this host's jobs
// for as long as the kernel says their local sockets are held, whether or not the warden that
// started them is still alive, and releases each one the moment its socket frees. A host that
// dies or is cut off stops renewing, and its leases lapse after --lease by the server's clock.
import fs from 'node:fs';
import net from 'node:net';
import { lineReader } from './keeper-protocol.js';
import type { KeeperConfig, ToKeeper } from './keeper-protocol.js';
import { Renewals } from './keeper-renewal.js';
import type { KeptLease } from './kept-lease.js';
import { reportLost } from './lease-lost.js';
import { leaseSocketHeld, watchLeaseSocket } from './lease-socket.js';

// With nothing to keep and no warden connected for this long, the keeper exits.
const IDLE_MS = 10_000;

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
  private readonly leases = new Map<string, KeptLease>();
  private readonly conns = new Set<net.Socket>();
  private readonly renewals: Renewals;
  private idleSince = performance.now();

  constructor(
    config: KeeperConfig,
    private readonly server: net.Server,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    server.on('connection', (conn) => this.accept(conn));
    this.renewals = new Renewals(
      config.target,
      () => [...this.leases.values()],
      // A lease whose job has just ended (its warden released it a moment before we noticed) is
      // done, not lost.
      (lease, cause) => void leaseSocketHeld(lease.address).then((held) => held && reportLost(lease, cause, () => this.leases.has(lease.id))),
    );
    const idle = setInterval(() => {
      const now = performance.now();
      if (this.leases.size || this.conns.size || this.renewals.owed(now)) this.idleSince = now;
      else if (now - this.idleSince > IDLE_MS) {
        clearInterval(idle);
        this.stop();
      }
    }, 500);
  }

  private stop(): void {
    this.server.close();
    void this.renewals.close().finally(() => this.finish());
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
      const lease: KeptLease = { id: m.id, address: m.address, pool: m.pool, policy: m.policy, killAfterMs: m.killAfterMs, logFile: m.logFile, owner: m.owner, conn, lost: false, stopWatch: () => undefined };
      this.leases.set(m.id, lease);
      lease.stopWatch = watchLeaseSocket(m.address, () => {
        this.leases.delete(lease.id);
        this.renewals.freed(lease);
      });
      return;
    }
    const lease = this.leases.get(m.id);
    if (!lease) return;
    if (m.op === 'granted') {
      lease.grant = { pool: m.pool, slot: m.slot, token: m.token, epoch: m.epoch, leaseMs: m.leaseMs, info: m.info, grantedAt: m.grantedAt, lastOk: performance.now() };
      this.renewals.schedule();
    } else if (m.op === 'job') {
      lease.job = { pid: m.pid, jobId: m.jobId };
      if (lease.grant) lease.grant.info = m.info;
    }
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
