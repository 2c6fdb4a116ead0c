// The line of waiting processes of a socket pool, so that they are served first come, first
// served. Each waiting process binds a ticket: an abstract name holding the moment its first
// waiter began to wait (the system-wide monotonic clock) and the highest slot it may take.
// A process that finds a slot free lets an older waiter go first, for a few ms at most.
//
// A waiter that does not take its turn (stopped by Ctrl-Z, starved of CPU) delays the line
// once: after 250 ms the process that deferred to it marks its ticket as passed over (a file
// in the private pool folder) and from then on nobody defers to it again. It still waits and
// takes a free slot when no unpassed older waiter wants it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { boundAbstractNames, pad } from './names.js';
import { createExclusive } from './safe-fs.js';

const DEFER_BUDGET_MS = 250;
// Renewing the ticket costs a bind: done only once it is this far behind the line's head.
const TICKET_STALE_NS = 50_000_000n;
const PASSED = 'passed-';

export interface Ticket {
  at: bigint;
  /** The name's part after the pool's ticket prefix: "<cap>:<time>:<pid>". */
  id: string;
  close(): void;
}

interface Deferral {
  id: string;
  since: number;
}

export class Line {
  /** Per slot: the older ticket we are deferring to, since when. */
  private readonly deferring = new Map<number, Deferral>();

  constructor(
    private readonly prefix: string,
    private readonly dir: string,
  ) {}

  take(cap: number, at = process.hrtime.bigint()): Promise<Ticket | undefined> {
    const id = `${Number.isFinite(cap) ? cap : 'u'}:${at.toString(16).padStart(16, '0')}:${process.pid}`;
    const server = net.createServer((conn) => conn.destroy());
    return new Promise((resolve) => {
      server.once('error', () => resolve(undefined));
      server.listen({ path: pad(this.prefix + id) }, () =>
        resolve({
          at,
          id,
          close: () => {
            server.close();
            fs.rmSync(this.marker(id), { force: true });
          },
        }),
      );
    });
  }

  /** Whether the ticket should be renewed to `headAt`, the time our oldest waiter began. */
  stale(ticket: Ticket, headAt: bigint): boolean {
    return headAt - ticket.at >= TICKET_STALE_NS;
  }

  /** Whether an older waiter that may take `slot` should go first; call again until false. */
  due(slot: number, ticket: Ticket): boolean {
    const bound = boundAbstractNames();
    if (!bound) return false;
    for (;;) {
      const oldest = this.oldestBefore(bound, slot, ticket);
      if (!oldest) {
        this.deferring.delete(slot);
        return false;
      }
      const now = performance.now();
      const current = this.deferring.get(slot);
      if (current?.id !== oldest) {
        this.deferring.set(slot, { id: oldest, since: now });
        return true;
      }
      if (now - current.since < DEFER_BUDGET_MS) return true;
      this.pass(oldest, bound);
    }
  }

  /** Whether some process (ours included) has a ticket in the line. */
  occupied(): boolean {
    const bound = boundAbstractNames();
    return !!bound && [...bound].some((name) => name.startsWith(this.prefix));
  }

  /** Whether no older waiter (not passed over) waits for a slot of ours: the ticket is first in line. */
  first(ticket: Ticket): boolean {
    const bound = boundAbstractNames();
    return !bound || !this.oldestBefore(bound, 0, ticket);
  }

  /** Slot i was taken (whoever we deferred to took its turn), or every slot when we stop waiting. */
  forgetDeferral(slot?: number): void {
    if (slot === undefined) this.deferring.clear();
    else this.deferring.delete(slot);
  }

  private oldestBefore(bound: Set<string>, slot: number, ticket: Ticket): string | undefined {
    let best: { id: string; at: bigint } | undefined;
    for (const name of bound) {
      if (!name.startsWith(this.prefix)) continue;
      const id = name.slice(this.prefix.length);
      const [cap, time] = id.split(':');
      if (id === ticket.id || !time || !(cap === 'u' || Number(cap) > slot)) continue;
      const at = BigInt(`0x${time}`);
      if (at >= ticket.at || (best && best.at <= at) || this.passed(id)) continue;
      best = { id, at };
    }
    return best?.id;
  }

  private marker(id: string): string {
    return path.join(this.dir, PASSED + id.replaceAll(':', '-'));
  }

  private passed(id: string): boolean {
    try {
      fs.lstatSync(this.marker(id));
      return true;
    } catch {
      return false;
    }
  }

  /** Mark a ticket as passed over for good, and sweep the marks of tickets that are gone. */
  private pass(id: string, bound: Set<string>): void {
    try {
      fs.closeSync(createExclusive(this.marker(id)));
    } catch {
      // Marked already (or the folder is gone: then this process alone stops deferring).
    }
    this.deferring.forEach((d, slot) => d.id === id && this.deferring.delete(slot));
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.startsWith(PASSED));
    } catch {
      return;
    }
    const live = new Set([...bound].filter((n) => n.startsWith(this.prefix)).map((n) => PASSED + n.slice(this.prefix.length).replaceAll(':', '-')));
    for (const n of names) if (!live.has(n)) fs.rmSync(path.join(this.dir, n), { force: true });
  }
}
