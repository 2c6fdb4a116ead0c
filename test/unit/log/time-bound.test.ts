// --since / --until values: ISO times (local unless zoned), now, durations ago; the rest refused.
import { describe, expect, it } from 'vitest';
import { parseTimeBound } from '../../../src/log/time-bound.js';

const now = Date.parse('2026-12-02T12:00:00Z');

describe('parseTimeBound', () => {
  it.each([
    ['2h', now - 7_200_000],
    ['90s', now - 90_000],
    ['1d12h', now - 129_600_000],
    ['400d', now - 400 * 86_400_000],
    ['now', now],
    ['2026-12-01T10:30:00Z', Date.parse('2026-12-01T10:30:00Z')],
    ['2026-12-01 10:30Z', Date.parse('2026-12-01T10:30:00Z')],
    ['2026-12-01T10:30:00.250+02:00', Date.parse('2026-12-01T08:30:00.250Z')],
    ['2026-12-01T10:30-0130', Date.parse('2026-12-01T12:00:00Z')],
    ['2026-12-01T10:30+05', Date.parse('2026-12-01T05:30:00Z')],
    ['2026-12-01T10:30:05', new Date(2026, 11, 1, 10, 30, 5).getTime()],
    ['2026-12-01', new Date(2026, 11, 1).getTime()],
  ])('%s', (text, expected) => {
    expect(parseTimeBound(text, now)).toBe(expected);
  });

  it.each(['', 'yesterday', '2h ago', '-2h', '2026-13-01', '2026-02-30', '2026-12-01T25:00', '12/01/2026', '1700000000', '2026-12-01T10', '2026-12-01T10:30+99:99', '2026-12-01T10:30-24:00', '2026-12-01T10:30+0560'])('refuses %j', (text) => {
    expect(parseTimeBound(text, now)).toBeUndefined();
  });
});
