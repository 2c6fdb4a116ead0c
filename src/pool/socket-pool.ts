// Slots as Linux abstract-namespace sockets: slot i is held while some process has the socket
// bound to its name open. The kernel frees the name when the last descriptor closes, on any
// death, so there is nothing stale to clean and no PID to trust.
import net from 'node:net';
import { poolIdentity } from './identity.js';
import { PoolNames, boundAbstractNames, pad } from './names.js';
import { BasePool } from './slot.js';
import { bindSlot, isHeld } from './socket-slot.js';
import { Line } from './socket-line.js';
import type { Ticket } from './socket-line.js';
import { abortable, scanOrder } from './wait.js';
import { PoolError } from './pool.js';
import type { AcquireOptions, PoolOptions, Slot, SlotTaker, Taken } from './pool.js';
import { TakenSlot } from './held-slot.js';
import { flockMark, flockSlotsHeld, flockUsed } from './mixed-backends.js';
import { FalseWakes } from './false-wakes.js';
import { warmReset } from './warm-reset.js';
import { msg } from '../messages.js';

// A waiter that found a slot's queue full (thousands of waiters on a slot no warden holds) asks
// again after this long, doubling up to the maximum: rare by design, and never a busy loop.
const BUSY_RETRY_MS = 20;
const BUSY_RETRY_MAX_MS = 1000;
// While deferring to an older waiter, look again this often.
const DEFER_STEP_MS = 2;
// A ready job watches at most this many slots itself (one connection each).
const ARM_MAX = 64;

interface Waiter {
  /** When it began to wait (the system-wide monotonic clock). */
  at: bigint;
  taker?: SlotTaker;
  resolve(slot: Slot): void;
  claim(): (slot: Slot) => void;
  reject(err: unknown): void;
  settled(): boolean;
}

export class SocketPool extends BasePool {
  readonly backend = 'socket' as const;
  /** Undefined only when looking at a state dir that has no identity yet: nothing is held. */
  private readonly names: PoolNames | undefined;
  private readonly line: Waiter[] = [];
  private readonly queue: Line | undefined;
  private readonly watchers = new Map<number, net.Socket>();
  private readonly busyDelay = new Map<number, number>();
  private readonly falseWakes = new FalseWakes();
  private ticket: Promise<Ticket | undefined> | undefined;
  private watching = false;

  constructor(options: PoolOptions) {
    super(options, 'socket');
    const secret = poolIdentity(options.stateDir, !options.inspectOnly);
    this.names = secret === undefined ? undefined : new PoolNames(secret, options.stateDir, options.name);
    this.queue = this.names && new Line(this.names.ticketPrefix, this.dir);
  }

  private address(slot: number): string {
    return pad(this.known().slot(slot));
  }

  othersWaiting(): boolean {
    return this.queue?.occupied() ?? false;
  }

  private known(): PoolNames {
    if (!this.names) throw new Error('pool opened only to look');
    return this.names;
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
    const queue = this.queue as Line;
    if (!this.line.length) {
      // A newcomer does not jump the line: with older waiters about, it waits its turn.
      const ticket = await this.takeTicket();
      if (!this.line.length && (!ticket || !queue.due(0, ticket))) {
        const first = await this.tryAcquire();
        if (first) {
          if (!this.line.length) this.stopWatching();
          return first;
        }
      }
    }
    return abortable<Slot>(options, (resolve, reject, settled, claim) => {
      const waiter: Waiter = { at: process.hrtime.bigint(), taker: options.taker, resolve, reject, settled, claim };
      this.line.push(waiter);
      this.startWatching();
      void this.arm(waiter);
      return () => {
        const at = this.line.indexOf(waiter);
        if (at !== -1) this.line.splice(at, 1);
        if (!this.line.length) this.lineEmptied();
      };
    });
  }

  /**
   * Our ticket goes at once: a next acquire of this process takes a new one, dated from when it
   * begins to wait, and so queues behind processes that waited before it. The watchers and the
   * ticket's socket are torn down once the served waiter's job has started (~0.5 ms of the
   * hand-off), and only if nobody of ours is waiting again by then.
   */
  private lineEmptied(): void {
    const ticket = this.ticket;
    this.ticket = undefined;
    setImmediate(() => {
      void ticket?.then((t) => t?.close());
      if (!this.line.length) this.stopWatching();
    });
  }

  private takeTicket(): Promise<Ticket | undefined> {
    this.ticket ??= (this.queue as Line).take(this.maxLive);
    return this.ticket;
  }

  /** Our ticket must tell when our first waiter began to wait, not when the line did. */
  private refreshTicket(ticket: Ticket | undefined): void {
    const head = this.head();
    if (!ticket || !head || !(this.queue as Line).stale(ticket, head.at)) return;
    ticket.close();
    this.ticket = (this.queue as Line).take(this.maxLive, head.at);
  }

  // Every waiter of this process shares one line, one ticket and one connection per slot: the
  // slot's holder accepts it and keeps it, and the kernel resets it the moment the slot's last
  // descriptor closes. That wake-up is the whole wait: no polling.
  private startWatching(): void {
    if (this.watching) return;
    this.watching = true;
    warmReset();
    // The look at the line (Line.due) that a wake-up makes first: its first run costs most.
    boundAbstractNames();
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
    this.busyDelay.clear();
    this.queue?.forgetDeferral();
    const ticket = this.ticket;
    this.ticket = undefined;
    void ticket?.then((t) => t?.close());
  }

  private watch(i: number): void {
    if (!this.watching) return;
    const sock = net.connect({ path: this.address(i) });
    let failure: string | undefined;
    this.watchers.set(i, sock);
    sock.on('connect', () => {
      this.busyDelay.delete(i);
      this.queue?.forgetDeferral(i);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      failure = err.code;
    });
    const ended = (): void => {
      if (this.watchers.get(i) !== sock) return;
      this.watchers.delete(i);
      sock.destroy();
      if (!this.watching) return;
      if (failure === 'EAGAIN') this.onBusy(i);
      // A slot that frees resets our connection (ECONNRESET); one that ends cleanly was
      // accepted and dropped by a holder that is still there.
      else void this.onFree(i, failure === undefined);
    };
    // The holder closing its end (EOF) is the wake-up: act on it, not a tick later on 'close'.
    sock.once('end', ended);
    sock.once('close', ended);
  }

  /** Slot i's queue is full: it is held, by a holder that accepts nothing. Ask again later. */
  private onBusy(i: number): void {
    const delay = Math.min(BUSY_RETRY_MAX_MS, (this.busyDelay.get(i) ?? BUSY_RETRY_MS / 2) * 2);
    this.busyDelay.set(i, delay);
    setTimeout(() => {
      if (boundAbstractNames()?.has(this.known().slot(i)) === false) void this.onFree(i);
      else this.rewatch(i);
    }, delay);
  }

  /**
   * Slot i looks free: take it for the first waiter, unless an older waiter elsewhere is due.
   * `dropped`: the wake was our connection dropped by its holder, not the slot freeing.
   */
  private async onFree(i: number, dropped = false): Promise<void> {
    const first = this.head();
    // Nobody waits, or our ready job watches the slots itself.
    if (!first || first.taker?.armed) return;
    const ticket = await this.ticket;
    if (ticket && this.queue?.due(i, ticket)) {
      setTimeout(() => this.rewatch(i), DEFER_STEP_MS);
      return;
    }
    // Nobody of ours waits any more (a timeout, an abort while we looked): take nothing.
    const waiter = this.head();
    if (!waiter || waiter.taker?.armed) return;
    // Its ready job, asked to watch, is not up yet: it is told nothing now, the slot is ours to take.
    waiter.taker?.forgoArm();
    let slot: Slot | undefined;
    try {
      slot = await this.takeFor(waiter, i);
    } catch (err) {
      for (const w of this.line.splice(0)) w.reject(err);
      this.stopWatching();
      return;
    }
    if (slot) {
      this.falseWakes.forget(i);
      const served = this.head();
      this.refreshTicket(ticket);
      // Ours now: watched again only once our job is done with it (slotForgotten), not
      // through a connection to ourselves.
      if (served) return served.resolve(slot);
      slot.release();
    }
    // Held by someone else (or just released): it wakes us when it frees; a holder that only
    // drops our connection does not make us spin.
    const pauseMs = dropped ? this.falseWakes.pauseFor(i) : 0;
    if (pauseMs) setTimeout(() => this.rewatch(i), pauseMs);
    else this.rewatch(i);
    // A ready job that was to watch but was not up is asked again.
    void this.arm(waiter);
  }

  /**
   * Bind slot i for `waiter` here; or, if it has a ready job, in that job's process, which then
   * becomes the job (ready-job.ts). That waiter is served by the take itself, once the job's
   * program runs: nothing is left to hand out.
   */
  private async takeFor(waiter: Waiter | undefined, i: number): Promise<Slot | undefined> {
    const taker = waiter?.taker;
    if (!waiter || !taker?.ready) return this.bind(i);
    const keep = (): boolean => {
      if (waiter.settled()) return false;
      if (flockSlotsHeld(this.dir)) throw new PoolError(msg.mixedBackends('flock'));
      return true;
    };
    const result = await taker.take(i, this.address(i), keep, this.takenFor(waiter));
    // The helper is gone (or never answered): bind here, unless nobody still waits.
    if (result === 'unavailable') return waiter.settled() ? undefined : this.bind(i);
    return undefined;
  }

  /** What the pool records when `waiter`'s ready job took a slot. */
  private takenFor(waiter: Waiter): Taken {
    return (i) => {
      const slot = new TakenSlot(i, -1, this.dir, this.maxLive, this.forgetSlot);
      this.hint = i + 1;
      this.ours.set(i, slot);
      // Its job starts: no timeout or abort may end the wait from now on (one that came first
      // finds the job running: see run.ts).
      const deliver = waiter.settled() ? undefined : waiter.claim();
      return { slot, serve: () => deliver?.(slot) };
    };
  }

  /**
   * First in line here and in the pool's line, a waiter's ready job watches the slots itself and
   * takes the first that frees, with no wake-up of ours in between (not for a pool a flock
   * process has used, whose slots only we can look at, nor for caps beyond ARM_MAX).
   */
  private async arm(waiter: Waiter): Promise<void> {
    const taker = waiter.taker;
    if (!taker || this.maxLive > ARM_MAX || this.line[0] !== waiter) return;
    const ticket = await this.ticket;
    if (!ticket || waiter.settled() || !(this.queue as Line).first(ticket) || flockUsed(this.dir)) return;
    taker.arm({
      flockMark: flockMark(this.dir),
      addresses: Array.from({ length: this.maxLive }, (_, i) => this.address(i)),
      taken: this.takenFor(waiter),
      // Ours would only wake this process (and take a core from the hand-off) for nothing. Until
      // the ready job is up and watches, they stay: a slot that frees meanwhile is taken here.
      watching: () => {
        for (const sock of this.watchers.values()) sock.destroy();
        this.watchers.clear();
      },
      // Served: our ticket goes at once, or younger waiters would defer to it meanwhile.
      took: () => void this.ticket?.then((t) => t?.close()),
      // It stopped by itself (a slot a flock process may share, warden stopped): we watch again.
      unarmed: () => {
        for (let i = 0; i < this.maxLive; i++) this.rewatch(i);
      },
    });
  }

  protected override slotForgotten(index: number): void {
    this.rewatch(index);
  }

  /** The first waiter of ours still waiting. */
  private head(): Waiter | undefined {
    return this.line.find((w) => !w.settled());
  }

  private rewatch(i: number): void {
    if (this.watching && !this.watchers.has(i) && !this.ours.has(i) && !this.head()?.taker?.armed) this.watch(i);
  }

  // Read from the kernel's table of bound names: a probe never connects, so it never leaves
  // anything in a slot's queue.
  protected async heldSlots(indexes: number[]): Promise<Set<number>> {
    const names = this.names;
    if (!names) return new Set();
    const bound = boundAbstractNames();
    if (bound) return new Set(indexes.filter((i) => bound.has(names.slot(i))));
    const held = await Promise.all(indexes.map((i) => isHeld(this.address(i))));
    return new Set(indexes.filter((_, k) => held[k]));
  }

  private async bind(index: number): Promise<Slot | undefined> {
    const slot = await bindSlot(this.address(index), index, this.dir, this.maxLive, this.forgetSlot);
    if (!slot) return undefined;
    this.hint = index + 1;
    this.ours.set(index, slot);
    return slot;
  }
}
