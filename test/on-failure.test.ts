// --on-failure CMD end to end: real jobs fail, time out or are killed, and the hook (a real
// shell command) sees the exit record in its environment, once per job whatever the retries,
// without a pool slot, bounded by its timeout, its own failure logged, never fatal.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { alive, eventsNamed, expectUsageError, parseEvents, readText, runWarden, startWarden, testDir, waitFor, writeScript } from './helpers/warden.js';

type Ev = Record<string, unknown>;
let dir: string;
let env: NodeJS.ProcessEnv;
let hook: string;
beforeEach(() => {
  ({ dir, env } = testDir('warden-hook'));
  // The hook records its WARDEN_* environment as JSON, one file per job.
  hook = writeScript(
    dir,
    'hook.sh',
    `"${process.execPath}" -e 'const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("WARDEN_"))); require("fs").writeFileSync(process.argv[1] + "/hook-" + e.WARDEN_JOB_ID + ".json", JSON.stringify(e))' "${dir}"`,
  );
});

const hookEnv = (jobId: string): Record<string, string> => JSON.parse(readText(path.join(dir, `hook-${jobId}.json`)) || '{}') as Record<string, string>;
const hooked = (): string[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('hook-') && f.endsWith('.json'))
    .map((f) => f.slice(5, -5))
    .sort();
const errors = (events: Ev[]): string[] => eventsNamed(events, 'error').map((e) => e.message as string);

describe('--on-failure', () => {
  it('runs once per failed, timed-out or killed job with its exit record, never for a success', async () => {
    const r = await runWarden(
      ['watch', '--every', '100ms', '--max-runs', '1', '--log', 'json', '--job-timeout', '500ms', '--kill-after', '200ms', '--on-failure', hook,
        '--job', 'echo fine', '--job', 'echo first; echo boom >&2; exit 3', '--job', 'sleep 30', '--job', 'kill -KILL $$', '--job', `${dir}/missing`],
      { env },
    );
    expect(r.code).toBe(1);
    expect(hooked()).toEqual(['1.2', '1.3', '1.4', '1.5']);
    expect(hookEnv('1.2')).toMatchObject({ WARDEN_OUTCOME: 'failed', WARDEN_EXIT_CODE: '3', WARDEN_SIGNAL: '', WARDEN_JOB_ID: '1.2', WARDEN_COMMAND: 'echo first; echo boom >&2; exit 3', WARDEN_TAIL: 'first\nboom', WARDEN_ATTEMPT: '1', WARDEN_POOL: 'default' });
    expect(hookEnv('1.3')).toMatchObject({ WARDEN_OUTCOME: 'timeout', WARDEN_EXIT_CODE: '', WARDEN_SIGNAL: 'SIGTERM' });
    expect(hookEnv('1.4')).toMatchObject({ WARDEN_OUTCOME: 'killed', WARDEN_SIGNAL: 'SIGKILL' });
    expect(hookEnv('1.5')).toMatchObject({ WARDEN_OUTCOME: 'failed', WARDEN_EXIT_CODE: '127' });
    // Each exit record matches what the log says.
    for (const exit of eventsNamed(parseEvents(r.stdout), 'exit').filter((e) => e.outcome !== 'ok')) {
      expect(hookEnv(exit.jobId as string).WARDEN_TAIL).toBe(exit.tail);
    }
    expect(errors(parseEvents(r.stdout))).toEqual([]);
  });

  it('counts retries as one: fires only after the last attempt fails, never when a retry succeeds', async () => {
    const flaky = `n=$(cat "${dir}/n-$WARDEN_JOB_ID" 2>/dev/null || echo 0); echo $((n+1)) > "${dir}/n-$WARDEN_JOB_ID"; [ $n -ge 1 ]`;
    const r = await runWarden(['once', '--log', 'json', '--retries', '2', '--retry-delay', '50ms', '--on-failure', hook, '--job', 'echo no; exit 2', '--job', flaky], { env });
    expect(r.code).toBe(1);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'exit').filter((e) => e.jobId === '1.1')).toHaveLength(3);
    expect(eventsNamed(events, 'exit').filter((e) => e.jobId === '1.2').map((e) => e.outcome)).toEqual(['failed', 'ok']);
    expect(hooked()).toEqual(['1.1']);
    expect(hookEnv('1.1')).toMatchObject({ WARDEN_ATTEMPT: '3', WARDEN_EXIT_CODE: '2' });
  });

  it('takes no pool slot: jobs keep starting in the only slot while a hook runs', async () => {
    const gate = path.join(dir, 'gate');
    const slow = `touch "${dir}/hook-started-$WARDEN_JOB_ID"; while [ ! -e "${gate}" ]; do sleep 0.02; done`;
    const w = startWarden(['watch', '--every', '100ms', '--max-live', '1', '--log', 'json', '--on-failure', slow, '--job', 'exit $((WARDEN_TICK == 1))'], { env });
    await waitFor('the hook of job 1.1 running', () => fs.existsSync(`${dir}/hook-started-1.1`));
    const before = eventsNamed(w.events(), 'exit').length;
    await waitFor('two more jobs through the only slot', () => eventsNamed(w.events(), 'exit').filter((e) => e.outcome === 'ok').length >= 2 && eventsNamed(w.events(), 'exit').length >= before + 2);
    expect(fs.existsSync(gate)).toBe(false);
    fs.writeFileSync(gate, '');
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
  });

  it('its own failure, timeout or absence is an error event; the supervisor goes on', async () => {
    const trapped = `trap '' TERM; echo $$ > "${dir}/hook-pid"; echo going slow; sleep 30`;
    const hook = `case $WARDEN_JOB_ID in 1.1) echo nope; exit 5;; 1.2) ${trapped};; *) /nonexistent/hook;; esac`;
    const r = await runWarden(['once', '--max-live', '3', '--log', 'json', '--on-failure-timeout', '300ms', '--kill-after', '200ms', '--on-failure', hook, '--job', 'exit 1', '--job', 'exit 1', '--job', 'exit 1'], { env });
    expect(r.code).toBe(1);
    const events = parseEvents(r.stdout);
    expect(eventsNamed(events, 'exit')).toHaveLength(3);
    const messages = errors(events);
    expect(messages).toContain('--on-failure for job 1.1 exited with 5: nope');
    expect(messages).toContain('--on-failure for job 1.2 timed out after 300ms and was terminated: going slow');
    expect(messages.some((m) => /^--on-failure for job 1\.3 exited with 127: .*nonexistent/.test(m))).toBe(true);
    // The stubborn hook (TERM ignored) was killed with its group, not left behind.
    expect(alive(Number(readText(`${dir}/hook-pid`)))).toBe(false);
    expect(eventsNamed(events, 'stop')).toHaveLength(1);
  });

  it('warden waits for a running hook before it exits', async () => {
    const r = await runWarden(['once', '--on-failure', `sleep 0.5; touch "${dir}/hook-done"`, '--job', 'exit 4'], { env });
    expect(r.code).toBe(4);
    expect(fs.existsSync(`${dir}/hook-done`)).toBe(true);
  });

  it('SIGTERM ends a running hook with its whole group; nothing outlives warden', async () => {
    const w = startWarden(['watch', '--every', '1h', '--kill-after', '300ms', '--on-failure', `sleep 30 & echo $! > "${dir}/grandchild"; echo $$ > "${dir}/hook-pid"; wait`, '--job', 'exit 1'], { env });
    await waitFor('the hook running', () => readText(`${dir}/grandchild`).trim() !== '' && readText(`${dir}/hook-pid`).trim() !== '');
    process.kill(w.pid, 'SIGTERM');
    expect((await w.done).code).toBe(143);
    expect(alive(Number(readText(`${dir}/hook-pid`)))).toBe(false);
    expect(alive(Number(readText(`${dir}/grandchild`)))).toBe(false);
  });

  it('warden run: the command failing fires the hook; a Ctrl-C that stopped it does not', async () => {
    // run leaves the output to the terminal: there is no tail to pass on.
    const r = await runWarden(['run', '--on-failure', hook, '--', 'sh', '-c', 'echo out; exit 6'], { env });
    expect(r.code).toBe(6);
    const id = hooked()[0];
    expect(id).toMatch(/^run-\d+$/);
    expect(hookEnv(id)).toMatchObject({ WARDEN_OUTCOME: 'failed', WARDEN_EXIT_CODE: '6', WARDEN_COMMAND: "sh -c 'echo out; exit 6'" });

    fs.rmSync(path.join(dir, `hook-${id}.json`));
    const w = startWarden(['run', '--on-failure', hook, '--', 'sh', '-c', `touch "${dir}/running"; sleep 30`], { env });
    await waitFor('the command running', () => fs.existsSync(`${dir}/running`));
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    expect(hooked()).toEqual([]);
  });

  it('with --detach the runner fires it after the job it reaps', async () => {
    const log = path.join(dir, 'log.jsonl');
    const r = await runWarden(['once', '--detach', '--log-file', log, '--on-failure', hook, '--job', 'exit 9'], { env });
    expect(r.code).toBe(0);
    await waitFor('the hook', () => hookEnv('1.1').WARDEN_EXIT_CODE === '9');
    expect(eventsNamed(parseEvents(readText(log)), 'exit')[0]).toMatchObject({ jobId: '1.1', exitCode: 9 });
  });

  it('bad values: exit 2 with one line, nothing started', async () => {
    for (const [args, pattern] of [
      [['--on-failure', ''], /--on-failure: must not be empty/],
      [['--on-failure', 'x', '--on-failure-timeout', '0'], /--on-failure-timeout: "0" must be a duration above zero/],
    ] as const) {
      const r = await runWarden(['once', ...args, '--job', `touch "${dir}/ran"`], { env });
      expectUsageError(r, pattern);
    }
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });
});
