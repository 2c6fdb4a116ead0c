// --on-change state of a fleet pool, in Redis: read, decide, then write only if no one wrote in
// between (compare-and-set in one script); otherwise decide again on what they wrote. Two hosts
// that see the same edge: one writes first, the other then finds the edge recorded and does not
// fire.
import { createHash } from 'node:crypto';
import type { Connection } from '../pool/redis/client.js';
import type { ChangeStore } from '../change/change-store.js';
import { parseState } from '../change/change-store.js';
import { sameState } from '../change/change.js';
import type { ChangeState } from '../change/change.js';
import { COMPARE_AND_SET } from './scripts.js';
import type { TriggerKeys } from './scripts.js';

// Each retry means another process wrote meanwhile; that many in a row is a server gone wrong.
const MAX_ROUNDS = 100;

export class RedisChangeStore implements ChangeStore {
  constructor(
    private readonly redis: Connection,
    private readonly keys: TriggerKeys,
  ) {}

  async transact<T>(key: string, decide: (prev: ChangeState | undefined) => { next: ChangeState | undefined; result: T }): Promise<T> {
    const name = this.keys.change(createHash('sha256').update(key).digest('base64url'));
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const text = await this.redis.command(['GET', name]);
      const seen = typeof text === 'string' ? text : '';
      const prev = seen ? parseState(seen) : undefined;
      const { next, result } = decide(prev);
      if (next === undefined || sameState(next, prev)) return result;
      const record = JSON.stringify({ ...next, at: new Date().toISOString() });
      if (Number(await this.redis.script(COMPARE_AND_SET, [name], [seen, record])) === 1) return result;
    }
    throw new Error('the change state kept changing under this process');
  }
}
