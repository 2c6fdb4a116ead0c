// Slots as Linux abstract-namespace sockets: slot i is held while some process has the socket
// bound to its name open. The kernel frees the name when the last descriptor closes, on any
// death, so there is nothing stale to clean and no PID to trust.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fnv64 } from '../hash.js';
import { BasePool, HeldSlot } from './slot.js';
import { abortable, scanOrder } from './wait.js';
import type { AcquireOptions, PoolOptions, Slot } from './pool.js';

// sizeof(sun_path). Node 20 binds the whole padded buffer, Node 22 the exact length: padding
// every name to the full size makes both agree on one address.
const SUN_PATH = 108;
const RETRY_BUSY_MS = 5;

interface HandleWithFd {
  _handle?: { fd?: number } | null;
}

/**
 * The name every address of a pool starts with: uid and state dir are in it since abstract
 * names have no permissions; long pool names are hashed so that any suffix still fits.
 */
export function poolPrefix(stateDir: string, pool: string): string {
  const scope = fnv64(stateDir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().uid;
  const name = `warden:${uid}:${scope}:${pool}:`;
  if (Buffer.byteLength(name) + LONGEST_SUFFIX < SUN_PATH) return name;
  const digest = fnv64(pool) + fnv64(pool, 1);
  return `warden:${uid}:${scope}:#${digest}:`;
}

// "w:<cap>:<16 hex>:<pid>" of a waiter's ticket, the longest suffix a name gets.
const LONGEST_SUFFIX = 40;
const pad = (name: string): string => ('\0' + name).padEnd(SUN_PATH, '\0');

export function slotAddress(stateDir: string, pool: string, slot: number): string {
  return pad(poolPrefix(stateDir, pool) + slot);
}

// Waiters queue by ticket: an abstract name holding the time they started waiting (the
// system-wide monotonic clock) and the highest slot they may take. A waiter woken by a freed
// slot lets an older waiter that may take that slot go first, for a few ms at most, so a
// stopped or stuck waiter can delay the line but never stall it.
const DEFER_BUDGET_MS = 250;
const DEFER_STEP_MS = 2;

interface Ticket {
  at: bigint;
  close(): void;
}

function takeTicket(prefix: string, cap: number): Promise<Ticket | undefined> {
  const at = process.hrtime.bigint();
  const server = net.createServer((conn) => conn.destroy());
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    const capText = Number.isFinite(cap) ? String(cap) : 'u';
    server.listen({ path: pad(`${prefix}w:${capText}:${at.toString(16).padStart(16, '0')}:${process.pid}`) }, () =>
      resolve({ at, close: () => server.close() }),
    );
  });
}

/** Whether a waiter older than `at` is in line for `slot`. */
function olderWaiter(prefix: string, slot: number, at: bigint): boolean {
  let table: string;
  try {
    table = fs.readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return false;
  }
  const marker = `@${prefix}w:`;
  for (let i = table.indexOf(marker); i !== -1; i = table.indexOf(marker, i + 1)) {
    const [cap, ticket] = table.slice(i + marker.length, i + marker.length + 40).split(':');
    if ((cap === 'u' || Number(cap) > slot) && BigInt(`0x${ticket}`) < at) return true;
  }
  return false;
}

export class SocketPool extends BasePool {
  readonly backend = 'socket' as const;
  private readonly stateDir: string;

  constructor(options: PoolOptions) {
    super(options, 'socket');
    this.stateDir = options.stateDir;
  }

  async tryAcquire(): Promise<Slot | undefined> {
    const { maxLive } = this;
    if (!Number.isFinite(maxLive)) {
      // Unlimited: scan upwards; restart low now and then so indexes stay small.
      for (let i = this.hint > 4096 ? 0 : this.hint; ; i++) {
        if (this.ours.has(i)) continue;
        const slot = await this.bind(i);
        if (slot) return slot;
      }
    }
    for (const i of scanOrder(this.hint, maxLive)) {
      if (this.ours.has(i)) continue;
      const slot = await this.bind(i);
      if (slot) return slot;
    }
    return undefined;
  }

  async acquire(options: AcquireOptions = {}): Promise<Slot> {
    if (!Number.isFinite(this.maxLive)) return (await this.tryAcquire()) as Slot;
    const prefix = poolPrefix(this.stateDir, this.name);
    const ticket = await takeTicket(prefix, this.maxLive);
    // A newcomer does not jump the line: with older waiters about, it waits its turn.
    if (!ticket || !olderWaiter(prefix, 0, ticket.at)) {
      const first = await this.tryAcquire();
      if (first) {
        ticket?.close();
        return first;
      }
    }
    return abortable<Slot>(options, (resolve, reject, settled) => {
      // Connect to every slot: the holder never accepts, and the kernel resets the connection
      // the moment the slot's last descriptor closes. That wake-up is the whole wait: no polling.
      const sockets = new Map<number, net.Socket>();
      const stop = (): void => {
        for (const s of sockets.values()) s.destroy();
        sockets.clear();
        ticket?.close();
        this.waits.delete(stop);
      };
      this.waits.add(stop);
      const deferredSince = new Map<number, number>();
      const watch = (i: number): void => {
        if (settled()) return;
        const sock = net.connect({ path: slotAddress(this.stateDir, this.name, i) });
        let failure: string | undefined;
        sockets.set(i, sock);
        sock.on('connect', () => deferredSince.delete(i));
        sock.on('error', (err: NodeJS.ErrnoException) => {
          failure = err.code;
        });
        sock.once('close', () => {
          if (sockets.get(i) !== sock || settled()) return;
          sockets.delete(i);
          if (ticket && olderWaiter(prefix, i, ticket.at)) {
            const since = deferredSince.get(i) ?? performance.now();
            deferredSince.set(i, since);
            if (performance.now() - since < DEFER_BUDGET_MS) {
              setTimeout(() => watch(i), DEFER_STEP_MS);
              return;
            }
          }
          this.bind(i).then(
            (slot) => {
              if (!slot) {
                setTimeout(() => watch(i), failure === 'EAGAIN' ? RETRY_BUSY_MS : 0);
              } else if (settled()) {
                slot.release();
              } else {
                stop();
                resolve(slot);
              }
            },
            (err: unknown) => {
              stop();
              reject(err);
            },
          );
        });
      };
      for (let i = 0; i < this.maxLive; i++) watch(i);
      return stop;
    });
  }

  protected async heldSlots(indexes: number[]): Promise<Set<number>> {
    const held = await Promise.all(indexes.map((i) => isHeld(slotAddress(this.stateDir, this.name, i))));
    return new Set(indexes.filter((_, k) => held[k]));
  }

  private bind(index: number): Promise<Slot | undefined> {
    return new Promise((resolve, reject) => {
      const accepted = new Set<net.Socket>();
      const server = net.createServer((conn) => {
        // A waiter or `status` probing us; keep it so closing the slot resets it (the wake-up).
        accepted.add(conn);
        conn.on('error', () => undefined);
        conn.on('close', () => accepted.delete(conn));
      });
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') resolve(undefined);
        else reject(err);
      });
      server.listen({ path: slotAddress(this.stateDir, this.name, index), backlog: 64 }, () => {
        this.hint = index + 1;
        const fd = (server as unknown as HandleWithFd)._handle?.fd;
        if (typeof fd !== 'number' || fd < 0) {
          server.close();
          reject(new Error('abstract socket has no descriptor'));
          return;
        }
        const slot = new SocketSlot(this, index, fd, this.dir, server, accepted, this.forgetSlot);
        this.ours.set(index, slot);
        resolve(slot);
      });
    });
  }
}

class SocketSlot extends HeldSlot {
  constructor(
    pool: SocketPool,
    index: number,
    fd: number,
    dir: string,
    private readonly server: net.Server,
    private readonly accepted: Set<net.Socket>,
    onForget: (slot: Slot) => void,
  ) {
    super(pool.name, index, fd, dir, pool.maxLive, onForget);
  }

  // Resetting the accepted probes is what wakes the waiters connected to this slot.
  protected closeHere(): void {
    for (const conn of this.accepted) conn.destroy();
    this.accepted.clear();
    this.server.close();
  }
}

function isHeld(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ path: address });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.destroy();
      // EAGAIN: the backlog is full of waiters, which only happens when the slot is held.
      resolve(err.code === 'EAGAIN');
    });
  });
}
