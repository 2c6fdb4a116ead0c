// The descriptor of a listening net.Server or a socket. Node keeps it on an internal handle;
// warden needs it to pass a held socket (a slot, a lock, a lease) on to a child process, and to
// write to a socket without the stream (ready-job.ts).
import type net from 'node:net';

interface HandleWithFd {
  _handle?: { fd?: number } | null;
}

/** The server's (or socket's) descriptor, or undefined if it has none (not listening, closed). */
export function handleFd(handle: net.Server | net.Socket): number | undefined {
  const fd = (handle as unknown as HandleWithFd)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
