// The fleet pool's Lua scripts, run on a real redis-server: grants and the cap, tokens, the
// first-come-first-served line, expiry by the server's clock, renewal, and putting leases back
// after the server lost its data.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, texts } from '../../src/pool/redis/client.js';
import type { Connection } from '../../src/pool/redis/client.js';
import { ACQUIRE, freeChannel, poolKeys, REASSERT, RELEASE, RENEW, SNAPSHOT } from '../../src/pool/redis/scripts.js';
import { parseRedisUrl } from '../../src/pool/redis/target.js';
import type { RedisTarget } from '../../src/pool/redis/target.js';
import { useRedis } from '../helpers/redis.js';

const server = useRedis();
let redis: Connection;
let pool = 'p';
let n = 0;

beforeAll(async () => {
  redis = await connect(parseRedisUrl(server.url) as RedisTarget, { failFast: true });
});
afterAll(async () => {
  await redis?.close();
});
beforeEach(() => {
  pool = `p${++n}`;
});

const keys = (): string[] => poolKeys(pool);
type Granted = { granted: true; slot: number; token: number; epoch: string } | { granted: false; live: number; ahead: number };

async function acquire(id: string, cap: number, opts: { wait?: boolean; leaseMs?: number } = {}): Promise<Granted> {
  const r = texts(await redis.script(ACQUIRE, keys(), [id, cap, opts.leaseMs ?? 30_000, opts.wait ? 1 : 0, opts.leaseMs ?? 30_000, JSON.stringify({ id }), freeChannel(pool), 'e1']));
  return r[0] === '1' ? { granted: true, slot: Number(r[1]), token: Number(r[2]), epoch: r[3] } : { granted: false, live: Number(r[1]), ahead: Number(r[2]) };
}
const release = async (id: string): Promise<number> => Number(await redis.script(RELEASE, keys(), [id, freeChannel(pool)]));
const renew = async (epoch: string, ...pairs: (string | number)[]): Promise<string[]> => texts(await redis.script(RENEW, keys(), [epoch, freeChannel(pool), ...pairs]));
const serverMs = async (): Promise<number> => {
  const [s, us] = texts(await redis.command(['TIME']));
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

describe('acquire and release', () => {
  it('grants up to the cap, lowest free slot first, and refuses beyond it', async () => {
    const a = await acquire('a', 2);
    const b = await acquire('b', 2);
    expect(a).toMatchObject({ granted: true, slot: 0 });
    expect(b).toMatchObject({ granted: true, slot: 1 });
    expect(await acquire('c', 2)).toEqual({ granted: false, live: 2, ahead: 0 });
    expect(await release('a')).toBe(1);
    expect(await acquire('c', 2)).toMatchObject({ granted: true, slot: 0 });
    expect(await release('a')).toBe(0);
  });

  it('gives every grant a larger token, also after the counter is lost', async () => {
    const tokens: number[] = [];
    for (const id of ['a', 'b', 'c']) {
      const g = await acquire(id, 5);
      if (g.granted) tokens.push(g.token);
    }
    expect(tokens).toHaveLength(3);
    expect(tokens[1]).toBe(tokens[0] + 1);
    expect(tokens[2]).toBe(tokens[1] + 1);
    // Seeded from the server's clock: a lost counter starts again above the old tokens.
    await redis.command(['DEL', keys()[6]]);
    const again = await acquire('d', 5);
    expect(again.granted && again.token).toBeGreaterThan(tokens[2]);
  });

  it('asking again with a granted lease id returns the same grant (a lost reply is harmless)', async () => {
    const first = await acquire('a', 1);
    const second = await acquire('a', 1);
    expect(second).toEqual(first);
  });

  it('admits a process with a smaller cap only while the pool is below that cap', async () => {
    await acquire('a', 3);
    await acquire('b', 3);
    expect((await acquire('c', 2)).granted).toBe(false);
    expect(await acquire('c', 3)).toMatchObject({ granted: true, slot: 2 });
  });

  it('unlimited (-1) grants every request', async () => {
    for (let i = 0; i < 20; i++) expect((await acquire(`u${i}`, -1)).granted).toBe(true);
  });
});

describe('the line', () => {
  it('serves waiters first come, first served, and a newcomer does not overtake them', async () => {
    await acquire('holder', 1);
    expect(await acquire('w1', 1, { wait: true })).toMatchObject({ granted: false, ahead: 0 });
    expect(await acquire('w2', 1, { wait: true })).toMatchObject({ granted: false, ahead: 1 });
    await release('holder');
    // w2 and a newcomer ask first; only w1 may take the slot.
    expect((await acquire('w2', 1, { wait: true })).granted).toBe(false);
    expect((await acquire('newcomer', 1)).granted).toBe(false);
    expect((await acquire('w1', 1, { wait: true })).granted).toBe(true);
    await release('w1');
    expect((await acquire('w2', 1, { wait: true })).granted).toBe(true);
  });

  it('a waiter that gives up leaves the line', async () => {
    await acquire('holder', 1);
    await acquire('w1', 1, { wait: true });
    await acquire('w2', 1, { wait: true });
    await release('w1');
    await release('holder');
    expect((await acquire('w2', 1, { wait: true })).granted).toBe(true);
  });

  it('a release is published on the pool channel', async () => {
    const got: string[] = [];
    const unsubscribe = await redis.subscribe(freeChannel(pool), () => got.push('free'));
    try {
      // The subscription connects in the background and calls once when it listens.
      const deadline = Date.now() + 5000;
      while (!got.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toHaveLength(1);
      await acquire('a', 1);
      await acquire('w', 1, { wait: true });
      expect(got).toHaveLength(1);
      await release('a');
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toHaveLength(2);
      // Leaving the line wakes the others too (the head may have moved).
      await release('w');
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toHaveLength(3);
    } finally {
      await unsubscribe();
    }
  });
});

describe('expiry by the server clock', () => {
  it('a lease not renewed lapses once the server passes its expiry, and not before', async () => {
    const a = await acquire('a', 1, { leaseMs: 300 });
    expect(a.granted).toBe(true);
    const lapsesAt = (await serverMs()) + 300;
    expect((await acquire('b', 1)).granted).toBe(false);
    while ((await serverMs()) <= lapsesAt) await new Promise((r) => setTimeout(r, 20));
    expect((await acquire('b', 1)).granted).toBe(true);
  });

  it('renewal keeps a lease; a lapsed one is reported expired, a dropped one gone', async () => {
    const a = await acquire('a', 2, { leaseMs: 300 });
    if (!a.granted) throw new Error('not granted');
    await acquire('b', 2, { leaseMs: 300 });
    const until = (await serverMs()) + 450;
    // a is renewed along the way; b is not.
    while ((await serverMs()) <= until) {
      expect(await renew(a.epoch, 'a', 300)).toEqual(['ok']);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await renew(a.epoch, 'a', 300, 'b', 300, 'nobody', 300)).toEqual(['ok', 'expired', 'gone']);
  });

  it('waiters that stop asking lapse too, so the line moves on', async () => {
    await acquire('holder', 1);
    await acquire('ghost', 1, { wait: true, leaseMs: 200 });
    await acquire('w', 1, { wait: true });
    await release('holder');
    const until = (await serverMs()) + 200;
    while ((await serverMs()) <= until) await new Promise((r) => setTimeout(r, 20));
    expect((await acquire('w', 1, { wait: true })).granted).toBe(true);
  });
});

describe('a server that lost its data', () => {
  it('renewal says reset, and leases are put back with their tokens, the counter raised past them', async () => {
    const a = await acquire('a', 2);
    const b = await acquire('b', 2);
    if (!a.granted || !b.granted) throw new Error('not granted');
    for (const k of keys()) await redis.command(['DEL', k]);
    expect((await renew(a.epoch, 'a', 30_000))[0]).toBe('reset');
    // Meanwhile a newcomer took slot 0.
    const c = await acquire('c', 2);
    expect(c).toMatchObject({ granted: true, slot: 0 });
    const epoch = String(await redis.script(REASSERT, keys(), ['e2', 'a', '0', String(a.token), '30000', '{}', 'b', '1', String(b.token), '30000', '{}']));
    expect(epoch).toBe(c.granted ? c.epoch : '');
    const snap = (await redis.script(SNAPSHOT, keys(), [])) as unknown[];
    // a moved to a free index; the pool now counts three and admits no one at cap 2.
    expect(texts(snap[1] as never).filter((_, i) => i % 2 === 1).sort()).toEqual(['a', 'b', 'c']);
    expect((await acquire('d', 2)).granted).toBe(false);
    const next = await acquire('e', 5);
    expect(next.granted && next.token).toBeGreaterThan(b.token);
  });
});
