// The retry backoff: doubling from --retry-delay, held to what a timer can wait (a longer
// setTimeout fires after 1 ms in Node, which would turn the longest backoff into none).
import { describe, expect, it } from 'vitest';
import { MAX_DURATION_MS } from '../../src/duration.js';
import { retryBackoffMs } from '../../src/job-runner.js';

describe('retryBackoffMs', () => {
  it('doubles from the first delay', () => {
    expect([1, 2, 3, 4].map((a) => retryBackoffMs(1000, a))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('never exceeds what a timer holds, however many attempts (2 ** 1999 is Infinity)', () => {
    const thirteenDays = 13 * 24 * 3600 * 1000;
    expect(retryBackoffMs(thirteenDays, 1)).toBe(thirteenDays);
    expect(retryBackoffMs(thirteenDays, 2)).toBe(MAX_DURATION_MS);
    expect(retryBackoffMs(1000, 2000)).toBe(MAX_DURATION_MS);
  });
});
