// A slot held as a listening abstract socket. While this process holds it (before the job
// starts, through --delay) it accepts every connection (waiters watching the slot) and keeps it
// open: closing the slot resets them, which is what wakes the waiters. Once the job holds it,
// this process lets go at once, so the kernel wakes the waiters the moment the job's last
// descriptor closes, with no process of ours in between.
import net from 'node:net';
import { handleFd } from '../handle-fd.js';
import { HeldSlot } from './held-slot.js';
import { flockSlotsHeld } from './mixed-backends.js';
import { PoolError } from './pool.js';
import type { Slot } from './pool.js';
import { msg } from '../messages.js';

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

/**
 * Take slot `index` by binding its name here; undefined if someone holds it. Having taken it,
 * looks whether a flock process holds a slot of the pool (mixed-backends.ts) and if so gives it back.
 */
export function bindSlot(address: string, index: number, dir: string, maxLive: number, onForget: (slot: Slot) => void): Promise<SocketSlot | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen({ path: address, backlog: SLOT_BACKLOG }, () => {
      const fd = handleFd(server);
      if (fd === undefined) {
        server.close();
        reject(new Error('abstract socket has no descriptor'));
        return;
      }
      if (flockSlotsHeld(dir)) {
        server.close();
        reject(new PoolError(msg.mixedBackends('flock')));
        return;
      }
      resolve(new SocketSlot(index, fd, dir, maxLive, server, onForget));
    });
  });
}

/** Off the usual /proc: is the name bound? (A holder accepts the probe, so nothing piles up.) */
export function isHeld(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ path: address });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.destroy();
      resolve(err.code === 'EAGAIN');
    });
  });
}
