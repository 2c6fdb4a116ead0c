// Human lines for events, checked without colour.
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import type { Event, ExitRecord, Stamped } from '../../src/events.js';
import { formatPretty } from '../../src/report/pretty.js';
import { exitRecord } from '../helpers/records.js';

const plain = new Chalk({ level: 0 });
const coloured = new Chalk({ level: 1 });
const ANSI = /\x1b\[/;
const at = (e: Event): Stamped => ({ ts: '2025-03-04T12:34:56.789Z', pid: 4242, ...e }) as Stamped;

const exit = (over: Partial<ExitRecord> = {}): Stamped =>
  at({ event: 'exit', ...exitRecord({ jobId: 'j7', jobPid: 321, command: './mail.sh --vip', exitCode: 3, durationMs: 1200, outcome: 'failed', tail: 'connecting\nerror: relay refused', tick: 4, ...over }) });

const events: Stamped[] = [
  at({ event: 'start', mode: 'watch', pool: 'mail', maxLive: 4, schedule: 'every 30s', version: '0.1.0', backend: 'socket', stateDir: '/run/warden' }),
  at({ event: 'start', mode: 'once', pool: 'mail', maxLive: null, schedule: null, version: '0.1.0', backend: 'flock', stateDir: '/tmp/w' }),
  at({ event: 'check', tick: 3, outcome: 'fired', exitCode: 0, signal: null, durationMs: 850, triggers: 2 }),
  at({ event: 'check', tick: 4, outcome: 'idle', exitCode: 1, signal: null, durationMs: 12, triggers: 0 }),
  at({ event: 'check', tick: 5, outcome: 'timeout', exitCode: null, signal: 'SIGTERM', durationMs: 30_000, triggers: 0 }),
  at({ event: 'spawn', jobId: 'j7', jobPid: 321, command: './mail.sh', slot: 2, tick: 3, attempt: 1, delayMs: 0 }),
  at({ event: 'spawn', jobId: 'j8', jobPid: null, command: './mail.sh', slot: 0, tick: 3, attempt: 2, delayMs: 0, item: 'sku-1' }),
  exit({ outcome: 'ok', exitCode: 0, tail: 'sent 12 mails' }),
  at({ event: 'skip', reason: 'pool-full', tick: 6, pool: 'mail', command: './mail.sh' }),
  at({ event: 'wait', pool: 'mail', live: 4, maxLive: 4, tick: 7 }),
  at({ event: 'wait', pool: 'mail', live: 9, maxLive: null, tick: 7 }),
  at({ event: 'retry', jobId: 'j7', attempt: 2, delayMs: 1000 }),
  at({ event: 'stop', reason: 'max-runs', liveJobs: 0 }),
  at({ event: 'error', message: 'cannot write events.log: no space left on device' }),
];

describe('formatPretty', () => {
  it.each(events.map((e) => [`${e.event} ${JSON.stringify(e).slice(40, 90)}`, e]))('writes %s as one plain line', (_n, e) => {
    const line = formatPretty(e as Stamped, plain);
    expect(line).not.toMatch(ANSI);
    expect(line).not.toContain('\n');
    expect(line.startsWith('12:34:56 ')).toBe(true);
    expect(line).toContain((e as Stamped).event);
  });

  it('colours only when the chalk has a level', () => {
    expect(formatPretty(exit(), coloured)).toMatch(ANSI);
    expect(formatPretty(exit(), plain)).not.toMatch(ANSI);
  });

  it('shows a failed exit with job id, outcome, code, duration, command and the tail below', () => {
    const [line, ...tail] = formatPretty(exit(), plain).split('\n');
    expect(line).toContain('j7');
    expect(line).toContain('failed');
    expect(line).toContain('exit 3');
    expect(line).toContain('1.2s');
    expect(line).toContain('./mail.sh --vip');
    expect(tail).toHaveLength(2);
    expect(tail[0]).toMatch(/^\s+.*connecting$/);
    expect(tail[1]).toMatch(/^\s+.*error: relay refused$/);
  });

  it('shows the tail of timed-out and killed jobs too', () => {
    for (const outcome of ['timeout', 'killed'] as const) {
      const text = formatPretty(exit({ outcome, exitCode: null, signal: 'SIGKILL', tail: 'last words' }), plain);
      expect(text).toContain(outcome);
      expect(text).toContain('signal SIGKILL');
      expect(text).toContain('last words');
    }
  });

  it('leaves the tail out of an ok exit', () => {
    const text = formatPretty(exit({ outcome: 'ok', exitCode: 0, tail: 'sent 12 mails' }), plain);
    expect(text).toContain('j7');
    expect(text).toContain('ok');
    expect(text).not.toContain('sent 12 mails');
  });

  it('gives a failed exit without output one line', () => {
    expect(formatPretty(exit({ tail: '' }), plain)).not.toContain('\n');
  });

  it('shows why a job could not start', () => {
    const text = formatPretty(exit({ exitCode: null, jobPid: null, error: 'ENOENT: command or working folder not found', tail: '' }), plain);
    expect(text).toContain('ENOENT: command or working folder not found');
  });

  it('says a job needed SIGKILL and left processes behind, in words', () => {
    const text = formatPretty(exit({ outcome: 'killed', signal: 'SIGKILL', exitCode: null, forced: true, leftover: true, tail: '' }), plain);
    expect(text).toContain('forced with SIGKILL');
    expect(text).toContain('group');
    expect(text).not.toMatch(/\btrue\b/);
  });

  it('names the skip reason and the tick', () => {
    const text = formatPretty(at({ event: 'skip', reason: 'wait-timeout', tick: 12, pool: 'mail' }), plain);
    expect(text).toContain('#12');
    expect(text).toContain('wait-timeout');
  });

  it('shows an unlimited pool as unlimited', () => {
    expect(formatPretty(events[1], plain)).toContain('unlimited');
    expect(formatPretty(events[10], plain)).toContain('9/unlimited');
  });

  it('lists what is still running at a stop', () => {
    const text = formatPretty(
      at({ event: 'stop', reason: 'SIGINT', liveJobs: 2, running: [{ jobId: 'j1', jobPid: 11, command: './a.sh', runningMs: 65_000 }, { jobId: 'j2', jobPid: 12, command: './b.sh', runningMs: 500 }] }),
      plain,
    );
    const [head, ...rest] = text.split('\n');
    expect(head).toContain('2 jobs still running');
    expect(rest).toHaveLength(2);
    expect(rest[0]).toContain('j1');
    expect(rest[0]).toContain('./a.sh');
    expect(rest[1]).toContain('j2');
  });
});
