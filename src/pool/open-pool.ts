// Picks the pool backend: abstract sockets where Linux has them, flock files elsewhere.
import { FlockPool } from './flock-pool.js';
import { SocketPool } from './socket-pool.js';
import type { Pool, PoolOptions } from './pool.js';

/** Open a pool; throws (with the fs error's code) when the state dir cannot be used. */
export function openPool(options: PoolOptions): Pool {
  return options.backend === 'socket' ? new SocketPool(options) : new FlockPool(options);
}
