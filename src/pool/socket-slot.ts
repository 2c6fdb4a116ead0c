// A slot held as a listening abstract socket. While this process has a copy it accepts every
// connection (waiters watching the slot) and keeps it open: closing the slot resets them, which
// is what wakes the waiters, and nothing ever piles up in the socket's accept queue.
import net from 'node:net';
import { HeldSlot } from './held-slot.js';
import type { Slot } from './pool.js';

export class SocketSlot extends HeldSlot {
  private readonly accepted = new Set<net.Socket>();

  constructor(
    pool: string,
    index: number,
    fd: number,
    dir: string,
    maxLive: number,
    private readonly server: net.Server,
    onForget?: (slot: Slot) => void,
  ) {
    super(pool, index, fd, dir, maxLive, onForget);
    // Accepting for waiters is no reason to stay alive (a --detach one-shot exits after the hand-off).
    server.unref();
    server.on('connection', (conn) => {
      conn.unref();
      this.accepted.add(conn);
      conn.on('error', () => undefined);
      conn.on('close', () => this.accepted.delete(conn));
    });
  }

  // After the hand-off the child holds the slot too; our copy goes once the child is done
  // (forget), so until then waiters' connections are still accepted here.
  protected override get keepsCopy(): boolean {
    return true;
  }

  protected closeHere(): void {
    for (const conn of this.accepted) conn.destroy();
    this.accepted.clear();
    this.server.close();
  }
}

/** A listening slot socket inherited as a descriptor (the --detach runner): accept on it again. */
export function adoptSocketSlot(pool: string, index: number, fd: number, dir: string, maxLive: number): Slot {
  const server = net.createServer();
  server.on('error', () => undefined);
  server.listen({ fd, backlog: SLOT_BACKLOG });
  return new SocketSlot(pool, index, fd, dir, maxLive, server);
}

/**
 * The accept queue's bound (the kernel caps it at net.core.somaxconn). Only the waiting
 * processes connect, one connection each, and a holder accepts them: the queue fills only
 * while no warden holds the slot (its job's warden was SIGKILLed) and thousands wait on it.
 */
export const SLOT_BACKLOG = 4096;
