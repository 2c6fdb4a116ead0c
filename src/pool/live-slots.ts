// How full a pool is right now, as the kernel sees it: for `wait` events and `run`'s messages.
import type { Pool } from './pool.js';

/** Slots of the pool held right now by anyone, up to this process's cap. */
export async function liveSlots(pool: Pool): Promise<number> {
  const states = await pool.inspect(Number.isFinite(pool.maxLive) ? pool.maxLive : 0);
  return states.filter((s) => s.held && s.slot < pool.maxLive).length;
}
