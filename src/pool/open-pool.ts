// Picks the pool backend: abstract sockets where Linux has them, flock files elsewhere.
import { FlockPool } from './flock-pool.js';
import { SocketPool } from './socket-pool.js';
import type { Pool, PoolBackend, PoolOptions } from './pool.js';

export const defaultBackend = (): PoolBackend => (process.platform === 'linux' ? 'socket' : 'flock');

/** Open a pool; throws (with the fs error's code) when the state dir cannot be used. */
export function openPool(options: PoolOptions): Pool {
  return options.backend === 'socket' ? new SocketPool(options) : new FlockPool(options);
}
