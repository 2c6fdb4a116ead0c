// --on-failure under what real failures bring: binary output in the tail, and failures coming
// faster than hooks end. Every failed job is accounted for exactly once: hooked, or logged as not.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventsNamed, parseEvents, readText, runWarden, startWarden, testDir, waitFor, writeScript } from './helpers/warden.js';

const errors = (events: Record<string, unknown>[]): string[] => eventsNamed(events, 'error').map((e) => e.message as string);

describe('--on-failure, hostile cases', () => {
  it('a job that printed a NUL byte before failing still gets its hook, the byte shown as U+FFFD', async () => {
    const { dir, env } = testDir('hook-nul');
    const hook = writeScript(dir, 'hook.sh', `printf '%s' "$WARDEN_TAIL" > "${dir}/tail"`);
    const r = await runWarden(['once', '--log', 'json', '--on-failure', hook, '--job', 'printf "bad\\000byte\\n"; exit 4'], { env });
    expect(r.code).toBe(4);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'exit')[0]).toMatchObject({ outcome: 'failed', tail: 'bad\u0000byte' });
    expect(errors(events)).toEqual([]);
    expect(readText(path.join(dir, 'tail'))).toBe('bad\uFFFDbyte');
  });

  it('failures faster than hooks: four run, a hundred wait, the rest are logged as not hooked; each failure once', async () => {
    const { dir, env } = testDir('hook-flood');
    const gate = path.join(dir, 'gate');
    const hook = writeScript(dir, 'hook.sh', `touch "${dir}/hook-$WARDEN_JOB_ID"; while [ ! -e "${gate}" ]; do sleep 0.02; done`);
    const jobs = Array.from({ length: 10 }, () => ['--job', 'exit 1']).flat();
    const w = startWarden(['watch', '--every', '50ms', '--max-live', '10', '--log', 'json', '--on-failure', hook, ...jobs], { env });
    const backlog = (): string[] => errors(w.events()).filter((m) => m.endsWith('failures already wait for their hook'));
    try {
      await waitFor('a failure turned away for the backlog', () => backlog().length > 0, 30_000);
      const hooked = (): string[] => fs.readdirSync(dir).filter((f) => f.startsWith('hook-'));
      // Only the four running hooks have started (the last may not have touched its file yet).
      expect(hooked().length).toBeLessThanOrEqual(4);
      await waitFor('the four running hooks', () => hooked().length === 4);
      expect(backlog()[0]).toMatch(/^--on-failure for job \d+\.\d+ not run: 100 failures already wait for their hook$/);
    } finally {
      fs.writeFileSync(gate, '');
      process.kill(w.pid, 'SIGINT');
    }
    expect((await w.done).code).toBe(130);
    const events = w.events();
    // A job that Ctrl-C (passed on to it) killed did not fail on its own and fires nothing.
    const failed = eventsNamed(events, 'exit').filter((e) => e.outcome === 'failed').map((e) => e.jobId as string);
    const hooked = fs.readdirSync(dir).filter((f) => f.startsWith('hook-')).map((f) => f.slice(5));
    const notRun = errors(events).map((m) => /^--on-failure for job (\S+) not run/.exec(m)?.[1]).filter((id): id is string => id !== undefined);
    expect(new Set(hooked).size).toBe(hooked.length);
    expect([...hooked, ...notRun].sort()).toEqual([...failed].sort());
  }, 60_000);
});
