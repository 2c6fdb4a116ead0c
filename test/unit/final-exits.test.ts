// Which exit is a job's last, read from the event stream: retries count as one job.
import { describe, expect, it } from 'vitest';
import type { Event, ExitRecord, Stamped } from '../../src/events.js';
import { FinalExits } from '../../src/notify/final-exits.js';
import type { FinalExit } from '../../src/notify/final-exits.js';
import { exitRecord } from '../helpers/records.js';

const at = (e: Event): Stamped => ({ ts: '2026-01-01T00:00:00.000Z', pid: 1, ...e });
const exit = (jobId: string, outcome: ExitRecord['outcome'], attempt = 1, tick = 1, command = './job'): Stamped =>
  at({ event: 'exit', ...exitRecord({ jobId, command, exitCode: outcome === 'ok' ? 0 : 1, durationMs: 5, outcome, attempt, tick }) });
const retry = (jobId: string, attempt: number): Stamped => at({ event: 'retry', jobId, attempt, delayMs: 10 });
const spawn = (jobId: string, attempt: number): Stamped => at({ event: 'spawn', jobId, jobPid: 11, command: './job', slot: 0, tick: 1, attempt, delayMs: 0 });
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function tracker(): { exits: FinalExits; finals: FinalExit[]; skips: Stamped[] } {
  const finals: FinalExit[] = [];
  const skips: Stamped[] = [];
  const exits = new FinalExits({ final: (x) => finals.push(x), skipped: (s) => skips.push(at(s)) });
  return { exits, finals, skips };
}

describe('FinalExits', () => {
  it('a success is final at once; a failure once the turn that logged it is over', async () => {
    const { exits, finals } = tracker();
    exits.hear(exit('1.1', 'ok'));
    expect(finals.map((f) => f.record.jobId)).toEqual(['1.1']);
    exits.hear(exit('1.2', 'failed'));
    expect(finals).toHaveLength(1);
    await turn();
    expect(finals.map((f) => [f.record.jobId, f.stopping])).toEqual([['1.1', 'none'], ['1.2', 'none']]);
  });

  it('a failure followed by a retry in the same turn is not final; the last attempt is', async () => {
    const { exits, finals } = tracker();
    exits.hear(exit('1.1', 'failed', 1));
    exits.hear(retry('1.1', 2));
    await turn();
    expect(finals).toHaveLength(0);
    exits.hear(spawn('1.1', 2));
    exits.hear(exit('1.1', 'timeout', 2));
    await turn();
    expect(finals.map((f) => [f.record.attempt, f.record.outcome])).toEqual([[2, 'timeout']]);
  });

  it('a retry that succeeds ends the job as a success', async () => {
    const { exits, finals } = tracker();
    exits.hear(exit('1.1', 'failed', 1));
    exits.hear(retry('1.1', 2));
    await turn();
    exits.hear(spawn('1.1', 2));
    exits.hear(exit('1.1', 'ok', 2));
    expect(finals.map((f) => f.record.outcome)).toEqual(['ok']);
  });

  it('a stopping warden cancels retries not yet started: their failures become final', async () => {
    const { exits, finals } = tracker();
    exits.hear(exit('1.1', 'failed', 1));
    exits.hear(retry('1.1', 2));
    await turn();
    exits.onSignal('SIGINT');
    expect(finals.map((f) => [f.record.jobId, f.stopping])).toEqual([['1.1', 'draining']]);
    exits.onSignal('SIGINT');
    expect(exits.stopping).toBe('terminating');
  });

  it('a retry that admission skips ends the job; a trigger skipped outright is reported as such', async () => {
    const { exits, finals, skips } = tracker();
    exits.hear(exit('2.1', 'failed', 1, 2, './a'));
    exits.hear(retry('2.1', 2));
    await turn();
    exits.hear(at({ event: 'skip', reason: 'pool-full', tick: 2, pool: 'p', command: './a' }));
    expect(finals.map((f) => f.record.jobId)).toEqual(['2.1']);
    exits.hear(at({ event: 'skip', reason: 'pool-full', tick: 3, pool: 'p', command: './a' }));
    exits.hear(at({ event: 'skip', reason: 'overrun', tick: 4, pool: 'p' }));
    expect(skips.map((s) => s.event === 'skip' && s.tick)).toEqual([3]);
  });
});
