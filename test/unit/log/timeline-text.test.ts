// The terminal timeline: fits the width, a row per slot, outcomes told apart without colour.
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import type { Timeline, TimelineBar } from '../../../src/log/timeline-data.js';
import { timelineText } from '../../../src/log/timeline-text.js';

const T0 = new Date(2026, 11, 2, 1, 0, 0).getTime();

function bar(row: number, startS: number, endS: number, outcome: string): TimelineBar {
  return { pool: 0, row, held: null, start: T0 + startS * 1000, end: T0 + endS * 1000, outcome, command: 'x', jobId: '1.1', attempt: 1, pid: 1, host: '', exitCode: 0, signal: null, tail: '' };
}

const timeline: Timeline = {
  from: T0,
  to: T0 + 60_000,
  pools: [{ label: 'mail', cap: 3, slots: [0, 1, 2], hiddenSlots: 0, hiddenJobs: 0 }],
  bars: [bar(0, 0, 20, 'ok'), bar(0, 30, 31, 'failed'), bar(1, 10, 50, 'timeout'), bar(2, 40, 60, 'killed'), bar(0, 30.2, 30.4, 'ok')],
  marks: [
    { pool: 0, ts: T0 + 15_000, kind: 'wait', reason: 'pool full' },
    { pool: 0, ts: T0 + 45_000, kind: 'skip', reason: 'pool-full' },
  ],
};

describe('timelineText', () => {
  const plain = new Chalk({ level: 0 });

  it.each([20, 24, 40, 80, 132])('fits %i columns', (width) => {
    const text = timelineText(timeline, width, plain);
    for (const line of text.trimEnd().split('\n')) expect([...line].length).toBeLessThanOrEqual(width);
  });

  it('draws a row per slot, marks waits and skips, and a time axis', () => {
    const lines = timelineText(timeline, 80, plain).split('\n');
    expect(lines[0]).toBe('pool mail (cap 3)');
    const row = (label: string) => lines.find((l) => l.trimStart().startsWith(label)) ?? '';
    const cells = (label: string) => row(label).slice(row(label).indexOf('│') + 1, row(label).lastIndexOf('│'));
    const plot = cells('slot 0').length;
    expect(plot).toBe(80 - 10 - 2);
    // Slot 0: ok for the first third, then a failure that an ok job in the same cell does not hide.
    expect(cells('slot 0').slice(0, Math.floor(plot / 3) - 1)).toMatch(/^█+$/);
    expect(cells('slot 0')).toContain('▓');
    expect(cells('slot 1')).toMatch(/^ +▒+ +$/);
    expect(cells('slot 2')).toMatch(/^ +░+$/);
    expect(cells('waits').trim()).toBe('w');
    expect(cells('skips').trim()).toBe('x');
    expect(lines.find((l) => l.includes('└'))).toMatch(/┬/);
    expect(lines.join('\n')).toContain('01:00:00');
    expect(lines.join('\n')).toMatch(/█ ok {2}▓ failed {2}▒ timeout {2}░ killed/);
    expect(lines.join('\n')).not.toContain('\u001b[');
  });

  it('colours by outcome when colour is on', () => {
    const text = timelineText(timeline, 80, new Chalk({ level: 1 }));
    expect(text).toContain('\u001b[32m█');
    expect(text).toContain('\u001b[31m▓');
  });
});
