// Delayed jobs survive their warden: SIGKILL, SIGTERM and a killed --detach runner leave them
// in the spool, and the next `watch` or `once` of the pool runs each exactly once, at its time.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stopWarden, useSpoolScene } from './helpers/spool.js';
import { alive, eventsNamed, parseEvents, readText, runWarden, startWarden, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;

const t = useSpoolScene('spool');
const { runs, spooled, watchUntilDelay } = t;

describe('the spool', () => {
  it('SIGKILL watch during a 3 s delay, then once: the job runs once, at its due time', async () => {
    const { w, delay } = await watchUntilDelay('3s');
    expect(spooled()).toHaveLength(1);
    await stopWarden(w, 'SIGKILL');
    const r = await runWarden(['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(r.code).toBe(0);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'resume')).toMatchObject([{ jobId: delay.jobId, spoolId: delay.spoolId, dueAt: delay.dueAt, lateMs: 0 }]);
    expect(runs()).toHaveLength(1);
    const offMs = runs()[0] - Date.parse(String(delay.dueAt));
    expect(Math.abs(offMs), `ran ${offMs} ms from its due time`).toBeLessThanOrEqual(500);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('two resumers started together run it once', async () => {
    const { w } = await watchUntilDelay('2s');
    await stopWarden(w, 'SIGKILL');
    const args = ['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'];
    const [a, b] = await Promise.all([runWarden(args, { env: t.env }), runWarden(args, { env: t.env })]);
    const resumes = [a, b].flatMap((r) => eventsNamed(parseEvents(r.stdout), 'resume'));
    expect(resumes).toHaveLength(1);
    expect(runs()).toHaveLength(1);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('a resumer SIGKILLed before the job is due, or just after starting it: still exactly one run', async () => {
    const { w } = await watchUntilDelay('2s');
    await stopWarden(w, 'SIGKILL');
    const args = ['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'];
    const early = startWarden(args, { env: t.env });
    await waitFor('the resume', () => eventsNamed(early.events(), 'resume')[0]);
    await stopWarden(early, 'SIGKILL');
    expect(runs()).toEqual([]);
    const late = startWarden(args, { env: t.env });
    await waitFor('the spawn', () => eventsNamed(late.events(), 'spawn')[0]);
    await stopWarden(late, 'SIGKILL');
    await waitFor('the job to run', () => runs().length === 1);
    await runWarden(args, { env: t.env });
    expect(runs()).toHaveLength(1);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('SIGTERM keeps the delayed job for the next warden; a second run finds nothing left', async () => {
    const { w } = await watchUntilDelay('1500ms');
    await stopWarden(w, 'SIGTERM');
    expect(spooled()).toHaveLength(1);
    // Kept, not cancelled: the stop event must not count it as cancelled (warden log would).
    expect(eventsNamed(parseEvents((await w.done).stdout), 'stop')).toMatchObject([{ reason: 'SIGTERM', cancelled: 0 }]);
    expect(runs()).toEqual([]);
    await runWarden(['once', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(runs()).toHaveLength(1);
    await runWarden(['once', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(runs()).toHaveLength(1);
  }, 30_000);

  it('Ctrl-C cancels the delayed job: it leaves the spool and never runs', async () => {
    const { w } = await watchUntilDelay('1500ms');
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(eventsNamed(parseEvents(r.stdout), 'stop')).toMatchObject([{ reason: 'SIGINT', cancelled: 1 }]);
    expect(spooled()).toEqual([]);
    await runWarden(['once', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(runs()).toEqual([]);
  }, 30_000);

  it('a running watch takes up a job its dead peer spooled, at its next tick', async () => {
    const { w } = await watchUntilDelay('1s');
    await stopWarden(w, 'SIGKILL');
    const peer = startWarden(['watch', '--every', '300ms', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    await waitFor('the job to run', () => runs().length === 1);
    await stopWarden(peer, 'SIGTERM');
    expect(eventsNamed(peer.events(), 'resume')).toHaveLength(1);
    expect(runs()).toHaveLength(1);
  }, 30_000);

  it('SIGKILL the --detach runner during the delay: the next once runs the job', async () => {
    const log = path.join(t.dir, 'log.jsonl');
    const r = await runWarden(['once', '--detach', '--log-file', log, '--delay', '2s', '--job', t.job], { env: t.env });
    expect(r.code).toBe(0);
    const logged = (): Ev[] => parseEvents(readText(log));
    const runner = await waitFor('the runner', () => logged().find((e) => e.event === 'start' && e.mode === 'runner'));
    expect(eventsNamed(logged(), 'delay')).toHaveLength(1);
    process.kill(Number(runner.pid), 'SIGKILL');
    await waitFor('the runner to die', () => !alive(Number(runner.pid)));
    expect(spooled()).toHaveLength(1);
    const next = await runWarden(['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(eventsNamed(parseEvents(next.stdout), 'resume')).toHaveLength(1);
    expect(runs()).toHaveLength(1);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('once --detach hands a dead warden\'s spooled job to its runner, and returns at once', async () => {
    const { w } = await watchUntilDelay('2s');
    await stopWarden(w, 'SIGKILL');
    const log = path.join(t.dir, 'log.jsonl');
    const r = await runWarden(['once', '--detach', '--log-file', log, '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(r.code).toBe(0);
    await waitFor('the job to run', () => runs().length === 1);
    await waitFor('its exit', () => parseEvents(readText(log)).some((e) => e.event === 'exit'));
    expect(parseEvents(readText(log)).filter((e) => e.event === 'resume')).toHaveLength(1);
  }, 30_000);

  it('--max-late drops a job resumed too late, and logs it', async () => {
    const { w, delay } = await watchUntilDelay('500ms');
    await stopWarden(w, 'SIGKILL');
    await waitFor('the job to be 1.5 s overdue', () => Date.now() > Date.parse(String(delay.dueAt)) + 1500);
    const r = await runWarden(['once', '--log', 'json', '--max-late', '1s', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    expect(r.code).toBe(0);
    const skips = eventsNamed(parseEvents(r.stdout), 'skip');
    expect(skips).toMatchObject([{ reason: 'too-late', jobId: delay.jobId }]);
    expect(Number(skips[0].lateMs)).toBeGreaterThan(1000);
    expect(runs()).toEqual([]);
    expect(spooled()).toEqual([]);
  }, 30_000);

  it('an overdue job within --max-late runs, logged with how late it was', async () => {
    const { w, delay } = await watchUntilDelay('300ms');
    await stopWarden(w, 'SIGKILL');
    await waitFor('the job to be overdue', () => Date.now() > Date.parse(String(delay.dueAt)) + 300);
    const r = await runWarden(['once', '--log', 'json', '--max-late', '1h', '--check', 'exit 1', '--job', 'true'], { env: t.env });
    const [resume] = eventsNamed(parseEvents(r.stdout), 'resume');
    expect(Number(resume.lateMs)).toBeGreaterThanOrEqual(300);
    expect(runs()).toHaveLength(1);
  }, 30_000);

  it('status lists spooled jobs with their due time, and --drop removes one', async () => {
    const { w, delay } = await watchUntilDelay('1h');
    await stopWarden(w, 'SIGKILL');
    const status = await runWarden(['status', '--json'], { env: t.env });
    const pools = JSON.parse(status.stdout).pools as { spooled: Ev[] }[];
    expect(pools[0].spooled).toMatchObject([{ id: delay.spoolId, jobId: delay.jobId, command: t.job, dueAt: delay.dueAt, held: false }]);
    const text = await runWarden(['status'], { env: t.env });
    expect(text.stdout).toContain(String(delay.spoolId));
    const dropped = await runWarden(['status', '--drop', String(delay.spoolId)], { env: t.env });
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toMatch(/Dropped spooled job/);
    expect(spooled()).toEqual([]);
    const again = await runWarden(['status', '--drop', String(delay.spoolId)], { env: t.env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no spooled job/);
  }, 30_000);
});
