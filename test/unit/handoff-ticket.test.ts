// The --detach hand-off ticket: what the one-shot writes is what the runner reads, unlimited
// caps included, and nothing else is rewritten on the way.
import { describe, expect, it } from 'vitest';
import { decodeTicket, encodeTicket } from '../../src/handoff-ticket.js';
import type { Ticket } from '../../src/handoff-ticket.js';
import { resolveSettings } from '../../src/settings.js';
import type { Settings } from '../../src/settings.js';
import { ok } from '../helpers/settings.js';

const settings = (flags: Record<string, string | string[] | boolean>): Settings => ok(resolveSettings('once', { job: ['true'], detach: true, logFile: '/tmp/x.jsonl', ...flags }, {}));

const ticket = (s: Settings, command = 'echo Infinity'): Ticket => ({
  settings: s,
  jobs: [{ slot: 2, fd: 4, request: { tick: 1, jobId: '1.1', command, spec: { run: command, delayMs: 0 }, trigger: '2026-01-01T00:00:00.000Z', checkOutput: 'Infinity', attempt: 1, item: 'Infinity' } }],
});

describe('hand-off ticket', () => {
  it('round-trips settings and jobs exactly', () => {
    const t = ticket(settings({ maxLive: '3', maxQueue: '2', pool: 'mail' }));
    expect(decodeTicket(encodeTicket(t))).toEqual(t);
  });

  it('carries unlimited caps as unlimited', () => {
    const t = ticket(settings({ maxLive: 'unlimited', maxQueue: 'unlimited' }));
    const back = decodeTicket(encodeTicket(t));
    expect(back.settings.maxLive).toBe(Infinity);
    expect(back.settings.maxQueue).toBe(Infinity);
  });

  it('leaves every string "Infinity" a string: a pool name, a command, an item, check output', () => {
    const t = ticket(settings({ pool: 'Infinity' }));
    const back = decodeTicket(encodeTicket(t));
    expect(back.settings.pool).toBe('Infinity');
    expect(back.jobs[0].request).toMatchObject({ command: 'echo Infinity', checkOutput: 'Infinity', item: 'Infinity' });
  });

  it('carries the descriptors of claims and keys, and the order to resume the spool', () => {
    const base = ticket(settings({ maxLive: '3' }));
    const t = { ...base, jobs: [{ ...base.jobs[0], claimFd: 5, uniqueFd: 6, request: { ...base.jobs[0].request, spoolId: 'a-b-1', uniqueKey: 'k' } }], resume: true };
    expect(decodeTicket(encodeTicket(t))).toEqual(t);
    expect(() => decodeTicket(encodeTicket({ ...t, jobs: [{ ...t.jobs[0], claimFd: 1 }] }))).toThrow(/malformed/);
  });

  it('refuses what is not a ticket', () => {
    expect(() => decodeTicket('null')).toThrow(/not a runner ticket/);
    expect(() => decodeTicket('{"settings":{}}')).toThrow(/not a runner ticket/);
    expect(() => decodeTicket('{"settings":{"maxLive":"Infinity","maxQueue":0},"jobs":[]}')).toThrow(/maxLive/);
    expect(() => decodeTicket('{"settings":{"maxLive":1,"maxQueue":0},"jobs":[{"slot":"x"}]}')).toThrow(/malformed/);
    expect(() => decodeTicket('{')).toThrow();
  });
});
