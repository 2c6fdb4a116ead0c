// Shared waiting mechanics for pool backends: timeouts and abort signals around a wait loop.
import { PoolTimeoutError } from './pool.js';
import type { AcquireOptions } from './pool.js';
import { ranPart } from '../code-parts.js';

/** `claim()` ends the wait (no timeout or abort can end it from then on) and returns how to deliver its value later. */
type Start<T> = (resolve: (value: T) => void, reject: (err: unknown) => void, settled: () => boolean, claim: () => (value: T) => void) => () => void;

/** Run a wait that ends by resolve, reject, timeout or abort; `start` returns its own clean-up. */
export function abortable<T>(options: AcquireOptions, start: Start<T>): Promise<T> {
  ranPart('wait');
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let cleanup: (() => void) | undefined;
    const finish = (): void => {
      done = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      cleanup?.();
    };
    const onAbort = (): void => {
      if (done) return;
      finish();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    cleanup = start(
      (value) => {
        if (done) return;
        finish();
        resolve(value);
      },
      (err) => {
        if (done) return;
        finish();
        reject(err);
      },
      () => done,
      () => {
        finish();
        return resolve;
      },
    );
    if (done) return cleanup();
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (done) return;
        finish();
        reject(new PoolTimeoutError());
      }, options.timeoutMs);
    }
  });
}

/** Slot indexes 0..size-1 starting at `from`, so consecutive acquires do not rescan held slots. */
export function* scanOrder(from: number, size: number): Generator<number> {
  const start = size > 0 ? from % size : 0;
  for (let k = 0; k < size; k++) yield (start + k) % size;
}
