// Durations as users type them for --every, --delay, --kill-after and the rest.
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['3m', 180_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m5s', 65_000],
    ['2d', 172_800_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['0', 0],
    ['0s', 0],
    ['0ms', 0],
    ['1ms', 1],
    ['  30s  ', 30_000],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    '   ',
    '5',
    '-5s',
    '+5s',
    '5x',
    's',
    'ms',
    '1m30',
    '1.s',
    '1e3s',
    '0x10s',
    'NaNs',
    'NaN',
    'Infinity',
    'Infinitys',
    'abc',
    '5 s',
    '30s!',
  ])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('does not misread a duration written with a space inside', () => {
    // Rejecting is fine; reading only the first part is not.
    expect([undefined, 5_400_000]).toContain(parseDuration('1h 30m'));
  });

  it('returns whole milliseconds', () => {
    expect(parseDuration('1.5ms')).toSatisfy(Number.isInteger);
    expect(parseDuration('0.001s')).toBe(1);
  });

  it('accepts the longest duration a timer can wait (24 days)', () => {
    expect(parseDuration('24d')).toBe(24 * 86_400_000);
  });

  it.each(['25d', '1000h', '99999999999999999999h'])(
    'rejects %j, longer than a timer can wait (2^31-1 ms, about 24.8 days)',
    (text) => {
      // A longer value would make --every, --delay or --job-timeout fire after 1 ms.
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it('always returns a safe integer or undefined', () => {
    for (const text of [`${'9'.repeat(400)}ms`, '1e308s', `${'9'.repeat(30)}d`, '123456789012345678901234567890ms']) {
      const ms = parseDuration(text);
      expect(ms === undefined || Number.isSafeInteger(ms)).toBe(true);
    }
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1200, '1.2s'],
    [10_000, '10s'],
    [42_000, '42s'],
    [60_000, '1m00s'],
    [185_000, '3m05s'],
    [3_599_000, '59m59s'],
    [3_600_000, '1h00m'],
    [3_720_000, '1h02m'],
    [90_000_000, '25h00m'],
  ])('shows %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('reads back what it writes, to the unit shown', () => {
    for (const ms of [850, 3_720_000, 185_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
