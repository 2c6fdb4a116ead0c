// Reading log files: lines split across chunks, over-long lines, and what counts as malformed.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseLine } from '../../../src/log/parse-event.js';
import { MAX_LINE, readLines } from '../../../src/log/read-lines.js';

async function lines(chunks: (string | Buffer)[]): Promise<{ lines: [number, string][]; tooLong: number[] }> {
  const out: [number, string][] = [];
  const tooLong: number[] = [];
  for await (const b of readLines(Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))))) {
    b.lines.forEach((l, i) => out.push([b.first + i, l]));
    tooLong.push(...b.tooLong);
  }
  return { lines: out, tooLong };
}

describe('readLines', () => {
  it('joins lines split across chunks and numbers them, a last line without newline too', async () => {
    const r = await lines(['{"a":', '1}\n{"b":2}\n\n{"c"', ':3}']);
    expect(r.lines).toEqual([
      [1, '{"a":1}'],
      [2, '{"b":2}'],
      [3, ''],
      [4, '{"c":3}'],
    ]);
  });

  it('keeps a character split between chunks whole', async () => {
    const bytes = Buffer.from('{"x":"é✓"}\n');
    const r = await lines([bytes.subarray(0, 7), bytes.subarray(7)]);
    expect(r.lines).toEqual([[1, '{"x":"é✓"}']]);
  });

  it('drops a line longer than the limit, keeps counting, and goes on', async () => {
    const long = 'x'.repeat(MAX_LINE + 10);
    const r = await lines([`a\n${long.slice(0, MAX_LINE / 2)}`, long.slice(MAX_LINE / 2), '\nb\n', long, '\nc']);
    expect(r.tooLong).toEqual([2, 4]);
    expect(r.lines.filter(([, l]) => l !== '')).toEqual([
      [1, 'a'],
      [3, 'b'],
      [5, 'c'],
    ]);
  });

  it('reports an over-long last line without a newline', async () => {
    const r = await lines(['ok\n', 'y'.repeat(MAX_LINE + 1)]);
    expect(r.tooLong).toEqual([2]);
  });
});

describe('parseLine', () => {
  const ts = '2026-12-02T01:00:00.000Z';
  it('reads the events warden writes, and the ones newer versions add', () => {
    expect(parseLine(JSON.stringify({ ts, event: 'exit', pid: 5, jobId: '1.1', command: 'x', outcome: 'ok', durationMs: 12, slot: 1, attempt: 2, exitCode: 0, signal: null, tail: '' }))).toMatchObject({
      event: 'exit',
      ts: Date.parse(ts),
      pid: 5,
      host: '',
      slot: 1,
      attempt: 2,
    });
    expect(parseLine(JSON.stringify({ ts, event: 'spawn', pid: 5, host: 'h1', jobId: '1.1', command: 'x', slot: 0, token: 17 }))).toMatchObject({ event: 'spawn', host: 'h1', attempt: 1 });
    expect(parseLine(JSON.stringify({ ts, event: 'skip', pid: 5, reason: 'other-host', tick: 3 }))).toMatchObject({ event: 'skip', outcome: 'other-host' });
    expect(parseLine(JSON.stringify({ ts, event: 'lease-lost', pid: 5, jobId: '2.1', cause: 'expired' }))).toMatchObject({ event: 'lease-lost' });
    expect(parseLine(JSON.stringify({ ts, event: 'lease-lost', pid: 5, pool: 'p', jobId: null, jobPid: null, token: 3, heldMs: 10, cause: 'unreachable' }))).toMatchObject({ event: 'lease-lost', pool: 'p' });
    expect(parseLine(JSON.stringify({ ts, event: 'start', pid: 5, pool: 'p', maxLive: null }))).toMatchObject({ event: 'start', maxLive: null });
    expect(parseLine(JSON.stringify({ ts, event: 'heartbeat', pid: 5 }))).toMatchObject({ event: 'other', name: 'heartbeat' });
  });

  it('passes over blank lines and names what is wrong with the rest', () => {
    expect(parseLine('')).toBeUndefined();
    expect(parseLine('   ')).toBeUndefined();
    expect(parseLine('{"ts":')).toEqual({ malformed: 'not JSON' });
    expect(parseLine('[1,2]')).toEqual({ malformed: 'not a JSON object' });
    expect(parseLine('"text"')).toEqual({ malformed: 'not a JSON object' });
    expect(parseLine(JSON.stringify({ ts }))).toEqual({ malformed: 'no "event"' });
    expect(parseLine(JSON.stringify({ ts: 'yesterday', event: 'stop' }))).toEqual({ malformed: 'no valid "ts"' });
    expect(parseLine(JSON.stringify({ ts, event: 'exit', jobId: '1.1', command: 'x', outcome: 'ok' }))).toEqual({ malformed: '"exit" without the fields it needs' });
    expect(parseLine(JSON.stringify({ ts, event: 'start', pool: 'p', maxLive: 'three' }))).toEqual({ malformed: '"start" without the fields it needs' });
  });

  it('takes a line with a carriage return (a log copied through Windows)', () => {
    expect(parseLine(`${JSON.stringify({ ts, event: 'stop', pid: 1 })}\r`)).toMatchObject({ event: 'stop' });
  });
});
