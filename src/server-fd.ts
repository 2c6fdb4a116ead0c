// The descriptor of a listening net.Server. Node keeps it on an internal handle; warden needs it
// to pass a held socket (a slot, a lock, a lease) on to a child process.
import type net from 'node:net';

interface HandleWithFd {
  _handle?: { fd?: number } | null;
}

/** The server's descriptor, or undefined if it has none (not listening). */
export function serverFd(server: net.Server): number | undefined {
  const fd = (server as unknown as HandleWithFd)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
