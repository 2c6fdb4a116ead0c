// The waiting mechanics shared by the pool backends.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PoolTimeoutError } from '../../src/pool/pool.js';
import { abortable, scanOrder } from '../../src/pool/wait.js';

describe('scanOrder', () => {
  it('visits every slot once, starting at `from`', () => {
    expect([...scanOrder(0, 4)]).toEqual([0, 1, 2, 3]);
    expect([...scanOrder(3, 5)]).toEqual([3, 4, 0, 1, 2]);
  });

  it('wraps a start beyond the size', () => {
    expect([...scanOrder(7, 5)]).toEqual([2, 3, 4, 0, 1]);
    expect([...scanOrder(5, 5)]).toEqual([0, 1, 2, 3, 4]);
  });

  it('handles one slot and no slots', () => {
    expect([...scanOrder(9, 1)]).toEqual([0]);
    expect([...scanOrder(3, 0)]).toEqual([]);
  });
});

describe('abortable', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  // A wait that the test ends by hand.
  const manual = <T>() => {
    const ctl = {
      resolve: (_: T): void => undefined,
      reject: (_: unknown): void => undefined,
      settled: (): boolean => false,
      cleanup: vi.fn(),
    };
    const start = (resolve: (v: T) => void, reject: (e: unknown) => void, settled: () => boolean): (() => void) => {
      Object.assign(ctl, { resolve, reject, settled });
      return ctl.cleanup;
    };
    return { ctl, start };
  };

  it('resolves with the value and cleans up once', async () => {
    const { ctl, start } = manual<number>();
    const p = abortable({ timeoutMs: 1000 }, start);
    expect(ctl.settled()).toBe(false);
    ctl.resolve(7);
    ctl.resolve(8);
    ctl.reject(new Error('late'));
    await expect(p).resolves.toBe(7);
    expect(ctl.settled()).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(ctl.cleanup).toHaveBeenCalledTimes(1);
  });

  it('passes on a rejection and cleans up once', async () => {
    const { ctl, start } = manual<number>();
    const p = abortable({}, start);
    const err = new Error('backend failed');
    ctl.reject(err);
    await expect(p).rejects.toBe(err);
    expect(ctl.cleanup).toHaveBeenCalledTimes(1);
  });

  it('rejects with PoolTimeoutError after timeoutMs, and not before', async () => {
    const { ctl, start } = manual<number>();
    const p = abortable({ timeoutMs: 500 }, start);
    const outcome = p.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(499);
    expect(ctl.settled()).toBe(false);
    expect(ctl.cleanup).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const e = await outcome;
    expect(e).toBeInstanceOf(PoolTimeoutError);
    expect((e as Error).name).toBe('PoolTimeoutError');
    ctl.resolve(1);
    expect(ctl.cleanup).toHaveBeenCalledTimes(1);
  });

  it('rejects with the reason of the abort and cleans up once', async () => {
    const { ctl, start } = manual<number>();
    const ac = new AbortController();
    const p = abortable({ signal: ac.signal, timeoutMs: 1000 }, start);
    const reason = new Error('shutting down');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    await vi.advanceTimersByTimeAsync(5000);
    ctl.resolve(1);
    expect(ctl.cleanup).toHaveBeenCalledTimes(1);
  });

  it('rejects at once for a signal aborted before the wait, cleaning up once', async () => {
    const { ctl, start } = manual<number>();
    const ac = new AbortController();
    const reason = new Error('already');
    ac.abort(reason);
    await expect(abortable({ signal: ac.signal }, start)).rejects.toBe(reason);
    expect(ctl.cleanup).toHaveBeenCalledTimes(1);
  });

  it('cleans up once when the wait ends inside start', async () => {
    const cleanup = vi.fn();
    const p = abortable<string>({ timeoutMs: 100 }, (resolve) => {
      resolve('now');
      return cleanup;
    });
    await expect(p).resolves.toBe('now');
    await vi.advanceTimersByTimeAsync(1000);
    expect(cleanup).toHaveBeenCalledTimes(1);
  });

  it('ignores an abort after the wait has resolved', async () => {
    const { ctl, start } = manual<number>();
    const ac = new AbortController();
    const p = abortable({ signal: ac.signal }, start);
    ctl.resolve(3);
    ac.abort(new Error('late'));
    await expect(p).resolves.toBe(3);
    expect(ctl.cleanup).toHaveBeenCalledTimes(1);
  });

  it('waits for ever without a timeout', async () => {
    const { ctl, start } = manual<number>();
    const p = abortable({}, start);
    await vi.advanceTimersByTimeAsync(24 * 3_600_000);
    expect(ctl.settled()).toBe(false);
    ctl.resolve(1);
    await expect(p).resolves.toBe(1);
  });
});
