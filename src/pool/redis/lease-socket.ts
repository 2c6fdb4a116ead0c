// The local half of a fleet lease: an abstract socket bound under a name only its lease knows.
// It is handed to the job as a local slot is, so the kernel tells the host's keeper the moment
// the job and everything that inherited it are gone: the keeper then releases the lease in
// Redis at once instead of letting it lapse.
import fs from 'node:fs';
import net from 'node:net';
import { handleFd } from '../../handle-fd.js';

// sizeof(sun_path): every Node version then binds the same address (see the socket pool).
const SUN_PATH = 108;

export const leaseAddress = (id: string): string => ('\0' + `warden-lease:${id}`).padEnd(SUN_PATH, '\0');

export interface LeaseSocket {
  readonly address: string;
  readonly fd: number;
  /** Stop holding it here: the job (if it was handed the descriptor) holds it alone. */
  close(): void;
}

/** The socket of a lease handed to this process as descriptor `fd` (a detached job's runner). */
export function adoptLeaseSocket(id: string, fd: number): LeaseSocket {
  return {
    address: leaseAddress(id),
    fd,
    close: () => {
      try {
        fs.closeSync(fd);
      } catch {
        // Closed already.
      }
    },
  };
}

/** Bind the lease's socket. Connections (the keeper's watch) are let go on close, so they re-dial. */
export function bindLeaseSocket(id: string): Promise<LeaseSocket> {
  const address = leaseAddress(id);
  return new Promise((resolve, reject) => {
    const accepted = new Set<net.Socket>();
    const server = net.createServer((conn) => {
      accepted.add(conn);
      conn.on('error', () => undefined);
      conn.on('close', () => accepted.delete(conn));
    });
    server.once('error', reject);
    server.listen({ path: address, backlog: 8 }, () => {
      const fd = handleFd(server);
      if (fd === undefined) {
        server.close();
        reject(new Error('lease socket has no descriptor'));
        return;
      }
      let closed = false;
      resolve({
        address,
        fd,
        close: () => {
          if (closed) return;
          closed = true;
          // Stop accepting first, then drop what we accepted: a watcher that re-dials lands in
          // the backlog of the copy the job holds, and is reset when that copy closes.
          server.close();
          for (const conn of accepted) conn.destroy();
          accepted.clear();
        },
      });
    });
  });
}

/**
 * Call `onFree` once the socket at `address` is bound by no one. A connection to it is never
 * accepted by a job, so it stays open until the last holder's descriptor closes.
 */
export function watchLeaseSocket(address: string, onFree: () => void): () => void {
  let stopped = false;
  let sock: net.Socket | undefined;
  const dial = (): void => {
    if (stopped) return;
    let connected = false;
    let code: string | undefined;
    const s = net.connect({ path: address });
    sock = s;
    s.on('connect', () => (connected = true));
    s.on('error', (err: NodeJS.ErrnoException) => (code = err.code));
    s.on('close', () => {
      if (stopped || sock !== s) return;
      // Refused: no one holds the name. Anything else (the holder let our connection go, or
      // the backlog reset it as the last descriptor closed): dial again to find out which.
      if (!connected && code !== 'EAGAIN') {
        stopped = true;
        onFree();
      } else setTimeout(dial, connected ? 0 : 5);
    });
  };
  dial();
  return () => {
    stopped = true;
    sock?.destroy();
  };
}

/** Whether some process still holds the socket at `address` (a connection is refused once none does). */
export function leaseSocketHeld(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: address });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}
