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

// Waiters queue by ticket: an abstract name holding the time they started waiting (the
// system-wide monotonic clock) and the highest slot they may take. A waiter woken by a freed
// slot lets an older waiter that may take that slot go first, for a few ms at most, so a
// stopped or stuck waiter can delay the line but never stall it.
const DEFER_BUDGET_MS = 250;
const DEFER_STEP_MS = 2;
// Renewing the ticket costs a bind: done only once it is this far behind the line's head.
const TICKET_STALE_NS = 50_000_000n;

interface Ticket {
  at: bigint;
  close(): void;
}

function takeTicket(prefix: string, cap: number, at = process.hrtime.bigint()): Promise<Ticket | undefined> {
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

interface Waiter {
  /** When it began to wait (the system-wide monotonic clock). */
  at: bigint;
  resolve(slot: Slot): void;
  reject(err: unknown): void;
  settled(): boolean;
}

export class SocketPool extends BasePool {
  readonly backend = 'socket' as const;
  private readonly prefix: string;
  private readonly line: Waiter[] = [];
  private readonly watchers = new Map<number, net.Socket>();
  private readonly deferredSince = new Map<number, number>();
  private ticket: Promise<Ticket | undefined> | undefined;
  private watching = false;

  constructor(options: PoolOptions) {
    super(options, 'socket');
    this.prefix = poolPrefix(options.stateDir, options.name);
  }

  // Computed once: a name per bind or connect would hash the pool's prefix every time.
  private address(slot: number): string {
    return pad(this.prefix + slot);
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
    if (!this.line.length) {
      // A newcomer does not jump the line: with older waiters about, it waits its turn.
      const ticket = await this.takeTicket();
      if (!this.line.length && (!ticket || !olderWaiter(this.prefix, 0, ticket.at))) {
        const first = await this.tryAcquire();
        if (first) {
          if (!this.line.length) this.stopWatching();
          return first;
        }
      }
    }
    return abortable<Slot>(options, (resolve, reject, settled) => {
      const waiter: Waiter = { at: process.hrtime.bigint(), resolve, reject, settled };
      this.line.push(waiter);
      this.startWatching();
      return () => {
        const at = this.line.indexOf(waiter);
        if (at !== -1) this.line.splice(at, 1);
        if (!this.line.length) this.stopWatching();
      };
    });
  }

  private async takeTicket(): Promise<Ticket | undefined> {
    this.ticket ??= takeTicket(this.prefix, this.maxLive);
    return this.ticket;
  }

  /** Our ticket must tell when our first waiter began to wait, not when the line did. */
  private refreshTicket(ticket: Ticket | undefined): void {
    const head = this.line[0];
    if (!ticket || !head || head.at - ticket.at < TICKET_STALE_NS) return;
    ticket.close();
    this.ticket = takeTicket(this.prefix, this.maxLive, head.at);
  }

  // Every waiter of this process shares one line, one ticket and one connection per slot: the
  // holder never accepts, and the kernel resets the connection the moment the slot's last
  // descriptor closes. That wake-up is the whole wait: no polling.
  private startWatching(): void {
    if (this.watching) return;
    this.watching = true;
    this.waits.add(this.stopLine);
    for (let i = 0; i < this.maxLive; i++) this.rewatch(i);
  }

  private readonly stopLine = (): void => {
    this.line.length = 0;
    this.stopWatching();
  };

  private stopWatching(): void {
    this.watching = false;
    this.waits.delete(this.stopLine);
    for (const sock of this.watchers.values()) sock.destroy();
    this.watchers.clear();
    this.deferredSince.clear();
    const ticket = this.ticket;
    this.ticket = undefined;
    void ticket?.then((t) => t?.close());
  }

  private watch(i: number): void {
    if (!this.watching) return;
    const sock = net.connect({ path: this.address(i) });
    let failure: string | undefined;
    this.watchers.set(i, sock);
    sock.on('connect', () => this.deferredSince.delete(i));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      failure = err.code;
    });
    sock.once('close', () => {
      if (this.watchers.get(i) !== sock) return;
      this.watchers.delete(i);
      if (!this.watching) return;
      void this.onFree(i, failure);
    });
  }

  /** Slot i looks free: take it for the first waiter, unless an older waiter elsewhere is due. */
  private async onFree(i: number, failure: string | undefined): Promise<void> {
    const ticket = await this.ticket;
    if (ticket && olderWaiter(this.prefix, i, ticket.at)) {
      const since = this.deferredSince.get(i) ?? performance.now();
      this.deferredSince.set(i, since);
      if (performance.now() - since < DEFER_BUDGET_MS) {
        setTimeout(() => this.rewatch(i), DEFER_STEP_MS);
        return;
      }
    }
    let slot: Slot | undefined;
    try {
      slot = await this.bind(i);
    } catch (err) {
      for (const w of this.line.splice(0)) w.reject(err);
      this.stopWatching();
      return;
    }
    if (slot) {
      const waiter = this.line.find((w) => !w.settled());
      this.refreshTicket(ticket);
      // Ours now: watched again only once our job is done with it (slotForgotten), not
      // through a connection to ourselves that the hand-off to the job would reset at once.
      if (waiter) return waiter.resolve(slot);
      slot.release();
    }
    // Held by someone else (or just released): it wakes us when it frees.
    if (this.watching && !this.watchers.has(i)) setTimeout(() => this.rewatch(i), !slot && failure === 'EAGAIN' ? RETRY_BUSY_MS : 0);
  }

  protected override slotForgotten(index: number): void {
    this.rewatch(index);
  }

  private rewatch(i: number): void {
    if (this.watching && !this.watchers.has(i) && !this.ours.has(i)) this.watch(i);
  }

  protected async heldSlots(indexes: number[]): Promise<Set<number>> {
    const held = await Promise.all(indexes.map((i) => isHeld(this.address(i))));
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
      server.listen({ path: this.address(index), backlog: 64 }, () => {
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
