// What --quiet keeps: only what is wrong, as `chronic` would.
import { describe, expect, it } from 'vitest';
import type { Event, ExitRecord } from '../../src/events.js';
import { isWrong } from '../../src/report/reporter.js';
import { exitRecord } from '../helpers/records.js';

const exit = (outcome: ExitRecord['outcome']): Event => ({ event: 'exit', ...exitRecord({ jobId: 'j1', command: './mail.sh', exitCode: outcome === 'ok' ? 0 : 1, durationMs: 5, outcome }) });
const check = (outcome: 'fired' | 'idle' | 'error' | 'timeout'): Event => ({
  event: 'check',
  tick: 1,
  outcome,
  exitCode: null,
  signal: null,
  durationMs: 1,
  triggers: outcome === 'fired' ? 1 : 0,
});

describe('isWrong', () => {
  it.each<[string, Event, boolean]>([
    ['start', { event: 'start', mode: 'watch', pool: 'p', maxLive: 2, schedule: 'every 30s', version: '0.1.0', backend: 'socket', stateDir: '/s' }, false],
    ['a fired check', check('fired'), false],
    ['an idle check', check('idle'), false],
    ['a check error', check('error'), true],
    ['a check timeout', check('timeout'), true],
    ['spawn', { event: 'spawn', jobId: 'j1', jobPid: 1, command: 'x', slot: 0, tick: 1, attempt: 1, delayMs: 0 }, false],
    ['an ok exit', exit('ok'), false],
    ['a failed exit', exit('failed'), true],
    ['a timed-out exit', exit('timeout'), true],
    ['a killed exit', exit('killed'), true],
    ['a pool-full skip', { event: 'skip', reason: 'pool-full', tick: 1, pool: 'p' }, true],
    ['a queue-full skip', { event: 'skip', reason: 'queue-full', tick: 1, pool: 'p' }, true],
    ['an overrun skip', { event: 'skip', reason: 'overrun', tick: 1, pool: 'p' }, true],
    ['a wait-timeout skip', { event: 'skip', reason: 'wait-timeout', tick: 1, pool: 'p' }, true],
    ['wait', { event: 'wait', pool: 'p', live: 1, maxLive: 1, tick: 1 }, false],
    ['stop', { event: 'stop', reason: 'max-runs', liveJobs: 0 }, false],
    ['error', { event: 'error', message: 'cannot write log' }, true],
  ])('%s -> %s', (_name, event, wrong) => {
    expect(isWrong(event)).toBe(wrong);
  });
});
