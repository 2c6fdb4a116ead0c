// Admission: slot, else queue, else the overflow policy; against an in-memory pool.
import { describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission.js';
import type { AdmissionOptions, Request } from '../../src/admission.js';
import type { Event } from '../../src/events.js';
import type { AcquireOptions, HolderInfo, Pool, Slot, SlotState } from '../../src/pool/pool.js';
import { abortable } from '../../src/pool/wait.js';

/** A counting semaphore in memory: waiters are served in order as slots are released. */
class FakePool implements Pool {
  readonly name = 'mail';
  readonly backend = 'flock' as const;
  private readonly free: number[];
  private readonly waiters: ((slot: Slot) => boolean)[] = [];
  closed = false;

  constructor(readonly maxLive: number) {
    this.free = Array.from({ length: maxLive }, (_, i) => i);
  }

  get held(): number {
    return this.maxLive - this.free.length;
  }

  async tryAcquire(): Promise<Slot | undefined> {
    const index = this.free.shift();
    return index === undefined ? undefined : this.slot(index);
  }

  acquire(options: AcquireOptions = {}): Promise<Slot> {
    return abortable<Slot>(options, (resolve, _reject, settled) => {
      const index = this.free.shift();
      if (index !== undefined) {
        resolve(this.slot(index));
        return () => undefined;
      }
      const waiter = (slot: Slot): boolean => {
        if (settled()) return false;
        resolve(slot);
        return true;
      };
      this.waiters.push(waiter);
      return () => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
      };
    });
  }

  async inspect(upTo: number): Promise<SlotState[]> {
    return Array.from({ length: Math.min(upTo, this.maxLive) }, (_, slot) => ({ slot, held: !this.free.includes(slot) }));
  }

  close(): void {
    this.closed = true;
  }

  private slot(index: number): Slot {
    let done = false;
    const pool = this;
    return {
      index,
      fd: 100 + index,
      describe(_info: Omit<HolderInfo, 'slot' | 'maxLive'>): void {},
      forget(): void {},
      release(): void {
        if (done) return;
        done = true;
        pool.give(index);
      },
      // The child holds the slot now; the test ends the "child" by calling release().
      handOff(): void {},
    };
  }

  private give(index: number): void {
    for (const waiter of this.waiters.splice(0)) {
      if (waiter(this.slot(index))) return;
    }
    this.free.push(index);
    this.free.sort((a, b) => a - b);
  }
}

interface Req extends Request {
  name: string;
}

const req = (name: string, tick = 1): Req => ({ name, tick, command: `./${name}.sh` });
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
};

function setup(options: Partial<AdmissionOptions<Req>> & { maxLive?: number } = {}) {
  const pool = new FakePool(options.maxLive ?? 1);
  const events: Event[] = [];
  const admitted: { name: string; slot: Slot }[] = [];
  const replaceOldest = vi.fn(() => false);
  const admission = new Admission<Req>({
    pool,
    maxQueue: 0,
    overflow: 'skip',
    emit: (e) => events.push(e),
    admit: (r, slot) => {
      admitted.push({ name: r.name, slot });
      slot.handOff();
    },
    replaceOldest,
    ...options,
  });
  const names = (): string[] => admitted.map((a) => a.name);
  /** The job `name` ends: its slot frees. */
  const finish = async (name: string): Promise<void> => {
    const job = admitted.find((a) => a.name === name);
    if (!job) throw new Error(`${name} was not admitted`);
    job.slot.release();
    await flush();
  };
  return { pool, events, admitted, names, finish, admission, replaceOldest };
}

/** Track a promise's state without awaiting it. */
const track = <T>(p: Promise<T>) => {
  const state: { done: boolean; value?: T } = { done: false };
  void p.then((value) => Object.assign(state, { done: true, value }));
  return state;
};

describe('Admission: a free slot', () => {
  it('starts the request at once', async () => {
    const t = setup({ maxLive: 2 });
    expect(await t.admission.submit(req('a'))).toBe('started');
    expect(await t.admission.submit(req('b'))).toBe('started');
    expect(t.names()).toEqual(['a', 'b']);
    expect(t.admitted.map((a) => a.slot.index)).toEqual([0, 1]);
    expect(t.events).toEqual([]);
    expect(t.admission.queued).toBe(0);
  });
});

describe('Admission: the queue', () => {
  it('holds up to maxQueue requests while the pool is full', async () => {
    const t = setup({ maxQueue: 2 });
    expect(await t.admission.submit(req('a'))).toBe('started');
    expect(await t.admission.submit(req('b'))).toBe('queued');
    expect(await t.admission.submit(req('c'))).toBe('queued');
    expect(t.admission.queued).toBe(2);
    expect(await t.admission.submit(req('d', 4))).toBe('skipped');
    expect(t.events).toEqual([{ event: 'skip', reason: 'queue-full', tick: 4, pool: 'mail', command: './d.sh', item: undefined }]);
    expect(t.names()).toEqual(['a']);
  });

  it('admits queued requests first come, first served as slots free', async () => {
    const t = setup({ maxLive: 2, maxQueue: 10 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) await t.admission.submit(req(n));
    expect(t.names()).toEqual(['a', 'b']);
    await t.finish('b');
    expect(t.names()).toEqual(['a', 'b', 'c']);
    await t.finish('a');
    await t.finish('c');
    expect(t.names()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.admission.queued).toBe(0);
    expect(t.pool.held).toBe(2);
  });

  it('does not let a new request pass the queue', async () => {
    const t = setup({ maxQueue: 5 });
    await t.admission.submit(req('a'));
    await t.admission.submit(req('b'));
    await t.finish('a');
    expect(t.names()).toEqual(['a', 'b']);
    expect(await t.admission.submit(req('c'))).toBe('queued');
    await t.admission.submit(req('d'));
    await t.finish('b');
    await t.finish('c');
    expect(t.names()).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('Admission: overflow skip', () => {
  it('skips with reason pool-full when there is no queue', async () => {
    const t = setup({ maxQueue: 0, overflow: 'skip' });
    await t.admission.submit(req('a'));
    const r = { ...req('b', 7), item: 'vip' };
    expect(await t.admission.submit(r)).toBe('skipped');
    expect(t.events).toEqual([{ event: 'skip', reason: 'pool-full', tick: 7, pool: 'mail', command: './b.sh', item: 'vip' }]);
    await t.finish('a');
    expect(t.names()).toEqual(['a']);
  });
});

describe('Admission: overflow replace', () => {
  it('terminates the oldest job and starts the new request in its slot', async () => {
    const t = setup({ maxQueue: 0, overflow: 'replace' });
    t.replaceOldest.mockImplementation(() => {
      void t.finish('a');
      return true;
    });
    await t.admission.submit(req('a'));
    expect(await t.admission.submit(req('b'))).toBe('queued');
    expect(t.replaceOldest).toHaveBeenCalledTimes(1);
    await flush();
    expect(t.names()).toEqual(['a', 'b']);
    expect(t.events).toEqual([]);
  });

  it('puts the new request at the front of the queue', async () => {
    const t = setup({ maxQueue: 1, overflow: 'replace' });
    t.replaceOldest.mockReturnValue(true);
    await t.admission.submit(req('a'));
    expect(await t.admission.submit(req('b'))).toBe('queued');
    expect(t.replaceOldest).not.toHaveBeenCalled();
    expect(await t.admission.submit(req('c'))).toBe('queued');
    expect(t.replaceOldest).toHaveBeenCalledTimes(1);
    await t.finish('a');
    expect(t.names()).toEqual(['a', 'c']);
    await t.finish('c');
    expect(t.names()).toEqual(['a', 'c', 'b']);
  });

  it('skips when there is no job of ours to replace', async () => {
    const t = setup({ maxQueue: 0, overflow: 'replace' });
    await t.admission.submit(req('a'));
    expect(await t.admission.submit(req('b', 2))).toBe('skipped');
    expect(t.events).toMatchObject([{ event: 'skip', reason: 'pool-full', tick: 2 }]);
  });

  it('skips with queue-full when the queue is full and nothing can be replaced', async () => {
    const t = setup({ maxQueue: 1, overflow: 'replace' });
    await t.admission.submit(req('a'));
    await t.admission.submit(req('b'));
    expect(await t.admission.submit(req('c', 3))).toBe('skipped');
    expect(t.events).toMatchObject([{ event: 'skip', reason: 'queue-full', tick: 3 }]);
  });
});

describe('Admission: overflow wait', () => {
  it('emits wait with the pool\'s live count and resolves only once the request is admitted', async () => {
    const t = setup({ maxQueue: 0, overflow: 'wait', maxLive: 1 });
    await t.admission.submit(req('a'));
    const b = track(t.admission.submit(req('b', 2)));
    await flush();
    expect(t.events).toEqual([{ event: 'wait', pool: 'mail', live: 1, maxLive: 1, tick: 2 }]);
    expect(b.done).toBe(false);
    expect(t.names()).toEqual(['a']);
    await t.finish('a');
    expect(t.names()).toEqual(['a', 'b']);
    expect(b.done).toBe(true);
    expect(['started', 'queued']).toContain(b.value);
  });

  it('resolves once the request has a place in the queue', async () => {
    const t = setup({ maxQueue: 1, overflow: 'wait' });
    await t.admission.submit(req('a'));
    expect(await t.admission.submit(req('b'))).toBe('queued');
    const c = track(t.admission.submit(req('c')));
    await flush();
    expect(c.done).toBe(false);
    await t.finish('a');
    expect(t.names()).toEqual(['a', 'b']);
    expect(c).toEqual({ done: true, value: 'queued' });
    expect(t.admission.queued).toBe(1);
    await t.finish('b');
    expect(t.names()).toEqual(['a', 'b', 'c']);
  });

  it('reports an unlimited pool as maxLive null', async () => {
    const t = setup({ overflow: 'wait' });
    Object.defineProperty(t.pool, 'maxLive', { value: Infinity });
    await t.admission.submit(req('a'));
    void t.admission.submit(req('b'));
    await flush();
    expect(t.events).toMatchObject([{ event: 'wait', maxLive: null }]);
    t.admission.close();
  });

  it('gives up after waitTimeoutMs with a wait-timeout skip', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const t = setup({ maxQueue: 0, overflow: 'wait', waitTimeoutMs: 500 });
      await t.admission.submit(req('a'));
      const b = track(t.admission.submit(req('b', 9)));
      await vi.advanceTimersByTimeAsync(499);
      expect(b.done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(b).toEqual({ done: true, value: 'skipped' });
      expect(t.events.map((e) => e.event)).toEqual(['wait', 'skip']);
      expect(t.events[1]).toMatchObject({ event: 'skip', reason: 'wait-timeout', tick: 9, pool: 'mail' });
      expect(t.admission.queued).toBe(0);
      // The slot that frees later is not taken for the request that gave up.
      await t.finish('a');
      await vi.advanceTimersByTimeAsync(10);
      expect(t.names()).toEqual(['a']);
      expect(t.pool.held).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not time out a request that was admitted in time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const t = setup({ maxQueue: 0, overflow: 'wait', waitTimeoutMs: 500 });
      await t.admission.submit(req('a'));
      const b = track(t.admission.submit(req('b')));
      await vi.advanceTimersByTimeAsync(100);
      await t.finish('a');
      await vi.advanceTimersByTimeAsync(1000);
      expect(b.done).toBe(true);
      expect(b.value).not.toBe('skipped');
      expect(t.names()).toEqual(['a', 'b']);
      expect(t.events.map((e) => e.event)).toEqual(['wait']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('admits waiting requests in the order they came', async () => {
    const t = setup({ maxQueue: 0, overflow: 'wait' });
    await t.admission.submit(req('a'));
    const waits = ['b', 'c', 'd'].map((n) => track(t.admission.submit(req(n))));
    await flush();
    await t.finish('a');
    await t.finish('b');
    await t.finish('c');
    expect(t.names()).toEqual(['a', 'b', 'c', 'd']);
    expect(waits.every((w) => w.done && w.value !== 'skipped')).toBe(true);
  });
});

describe('Admission: close', () => {
  it('drops queued requests, ends waits, and admits nothing more', async () => {
    const t = setup({ maxQueue: 2, overflow: 'wait' });
    await t.admission.submit(req('a'));
    await t.admission.submit(req('b'));
    await t.admission.submit(req('c'));
    const d = track(t.admission.submit(req('d')));
    await flush();
    expect(d.done).toBe(false);
    expect(t.admission.close()).toBe(3);
    await flush();
    expect(d).toEqual({ done: true, value: 'skipped' });
    expect(t.admission.queued).toBe(0);
    await t.finish('a');
    expect(t.names()).toEqual(['a']);
    expect(t.pool.held).toBe(0);
    expect(await t.admission.submit(req('e'))).toBe('skipped');
    expect(t.names()).toEqual(['a']);
    expect(t.pool.held).toBe(0);
  });

  it('returns 0 with nothing queued', () => {
    expect(setup().admission.close()).toBe(0);
  });
});

describe('Admission: a failing pool', () => {
  it('rejects a submit whose pool fails to even try, admitting and emitting nothing (the supervisor reports it as its own failure)', async () => {
    const t = setup();
    vi.spyOn(t.pool, 'tryAcquire').mockRejectedValueOnce(new Error('spawn perl ENOENT'));
    await expect(t.admission.submit(req('a'))).rejects.toThrow(/perl/);
    expect(t.names()).toEqual([]);
    expect(t.events).toEqual([]);
    // The next request finds the pool working again.
    expect(await t.admission.submit(req('b'))).toBe('started');
  });

  it('reports an error from the pool and keeps waiting for a slot', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const t = setup({ maxQueue: 1 });
      const acquire = t.pool.acquire.bind(t.pool);
      vi.spyOn(t.pool, 'acquire')
        .mockRejectedValueOnce(new Error('state dir removed'))
        .mockImplementation(acquire);
      await t.admission.submit(req('a'));
      expect(await t.admission.submit(req('b'))).toBe('queued');
      await flush();
      expect(t.events).toEqual([{ event: 'error', message: 'pool mail: state dir removed' }]);
      await vi.advanceTimersByTimeAsync(1000);
      await t.finish('a');
      expect(t.names()).toEqual(['a', 'b']);
    } finally {
      vi.useRealTimers();
    }
  });
});
