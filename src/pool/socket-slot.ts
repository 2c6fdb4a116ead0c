// A slot held as a listening abstract socket. While this process holds it (before the job
// starts, through --delay) it accepts every connection (waiters watching the slot) and keeps it
// open: closing the slot resets them, which is what wakes the waiters. Once the job holds it,
// this process lets go at once, so the kernel wakes the waiters the moment the job's last
// descriptor closes, with no process of ours in between.
import net from 'node:net';
import { HeldSlot } from './held-slot.js';
import type { Slot } from './pool.js';

export class SocketSlot extends HeldSlot {
  private readonly accepted = new Set<net.Socket>();

  constructor(
    index: number,
    fd: number,
    dir: string,
    maxLive: number,
    private readonly server: net.Server,
    onForget?: (slot: Slot) => void,
  ) {
    super(index, fd, dir, maxLive, onForget);
    // Accepting for waiters is no reason to stay alive (a --detach one-shot exits after the hand-off).
    server.unref();
    server.on('connection', (conn) => {
      conn.unref();
      this.accepted.add(conn);
      conn.on('error', () => undefined);
      conn.on('close', () => this.accepted.delete(conn));
    });
  }

  protected closeHere(): void {
    for (const conn of this.accepted) conn.destroy();
    this.accepted.clear();
    this.server.close();
  }
}

/** A listening slot socket inherited as a descriptor (the --detach runner): accept on it again. */
export function adoptSocketSlot(index: number, fd: number, dir: string, maxLive: number): Slot {
  const server = net.createServer();
  server.on('error', () => undefined);
  server.listen({ fd, backlog: SLOT_BACKLOG });
  return new SocketSlot(index, fd, dir, maxLive, server);
}

/**
 * The accept queue's bound (the kernel caps it at net.core.somaxconn). Probes never connect
 * (they read /proc/net/unix); a waiting process connects once to each held slot and never
 * again to the same holder. So a job's slot queues one entry per process that waited on it
 * during the job's life, and fills only after thousands: then those look once a second.
 */
export const SLOT_BACKLOG = 4096;
