// `warden log` end to end: the summary of a real `watch` run with known outcomes must match the
// counts in its log exactly; files of several processes merge; bad input is refused.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, eventsNamed, expectUsageError, parseEvents, readText, runWarden, startWarden, testDir, waitFor, writeScript } from './helpers/warden.js';

import type { PoolSummary } from '../src/log/pool-tracker.js';
import type { Malformed } from '../src/log/report.js';
import type { CheckSummary, JobSummary } from '../src/log/summary-types.js';

type Ev = Record<string, unknown>;
/** What `warden log --json` prints. */
interface Json {
  files: string[];
  since: string | null;
  until: string | null;
  first: string | null;
  last: string | null;
  events: number;
  processes: number;
  malformed: Malformed;
  jobs: JobSummary[];
  pools: PoolSummary[];
  checks: CheckSummary[];
}

const JOBS = { ok: 'sleep 0.4', failed: 'sleep 0.2; exit 3', timeout: 'sleep 10', extra: 'true' };

/** A watch whose check cycles fired, idle, error by tick, with jobs that succeed, fail, time out, and a pool that fills. */
async function realRun(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const log = path.join(dir, 'run.jsonl');
  const check = writeScript(dir, 'check.sh', 'case $((WARDEN_TICK % 3)) in 1) exit 0;; 2) exit 1;; *) exit 2;; esac');
  const r = await runWarden(
    ['watch', '--every', '300ms', '--max-runs', '7', '--check', check, '--check-timeout', '2s',
      ...Object.values(JOBS).flatMap((j) => ['--job', j]),
      '--max-live', '2', '--max-queue', '1', '--overflow', 'skip', '--job-timeout', '800ms', '--kill-after', '200ms',
      '--retries', '1', '--retry-delay', '100ms', '--log', 'json', '--log-file', log],
    { env },
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(1);
  return log;
}

/** Nearest-rank quantile, as the summary computes it for small counts. */
function quantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length, Math.max(1, Math.ceil(q * v.length))) - 1];
}

/** One real run for the tests of this file (it takes a few seconds). */
let shared: Promise<{ dir: string; file: string }> | undefined;
function sharedRun(): Promise<{ dir: string; file: string }> {
  shared ??= (async () => {
    const { dir, env } = testDir('log');
    return { dir, file: await realRun(dir, env) };
  })();
  return shared;
}

async function log(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runWarden(['log', ...args], { env });
}

describe('the summary of a real watch run', () => {
  let dir: string;
  let file: string;
  let events: Ev[];
  let summary: Json;

  beforeAll(async () => {
    ({ dir, file } = await sharedRun());
    events = parseEvents(readText(file));
    const r = await log(['--json', file]);
    expect(r.code).toBe(0);
    summary = JSON.parse(r.stdout) as Json;
  }, 60_000);

  it('had the outcomes it was built for', () => {
    const outcomes = new Set(eventsNamed(events, 'exit').map((e) => e.outcome));
    expect([...outcomes].sort()).toEqual(['failed', 'ok', 'timeout']);
    expect(eventsNamed(events, 'skip').length).toBeGreaterThan(0);
    expect(new Set(eventsNamed(events, 'check').map((e) => e.outcome))).toEqual(new Set(['fired', 'idle', 'error']));
  });

  it('counts every job command exactly as the log does', () => {
    const exits = eventsNamed(events, 'exit');
    const commands = [...new Set(exits.map((e) => e.command as string))];
    expect(summary.jobs.map((j) => j.command).sort()).toEqual(commands.sort());
    for (const command of commands) {
      const mine = exits.filter((e) => e.command === command);
      const job = summary.jobs.find((j) => j.command === command);
      const outcomes: Record<string, number> = {};
      for (const e of mine) outcomes[e.outcome as string] = (outcomes[e.outcome as string] ?? 0) + 1;
      const durations = mine.map((e) => e.durationMs as number);
      expect(job).toEqual({
        command,
        runs: mine.length,
        outcomes,
        unfinished: 0,
        retries: mine.filter((e) => (e.attempt as number) > 1).length,
        durationMs: { count: mine.length, p50: quantile(durations, 0.5), p95: quantile(durations, 0.95), max: Math.max(...durations), exact: true },
      });
    }
    expect(summary.jobs.find((j) => j.command === JOBS.failed)?.retries).toBeGreaterThan(0);
  });

  it('counts the pool exactly: peak live against the cap, time at the cap, skips by reason', () => {
    let live = 0;
    let peak = 0;
    let fullMs = 0;
    let fullSince = 0;
    for (const e of events) {
      const t = Date.parse(e.ts as string);
      if (e.event !== 'spawn' && e.event !== 'exit') continue;
      if (live >= 2) fullMs += t - fullSince;
      live += e.event === 'spawn' ? 1 : -1;
      peak = Math.max(peak, live);
      fullSince = t;
    }
    const skips: Record<string, number> = {};
    for (const e of eventsNamed(events, 'skip')) skips[e.reason as string] = (skips[e.reason as string] ?? 0) + 1;
    expect(summary.pools).toHaveLength(1);
    expect(summary.pools[0]).toMatchObject({ pool: 'default', cap: 2, peakLive: peak, jobs: eventsNamed(events, 'spawn').length, waits: eventsNamed(events, 'wait').length, skips });
    expect(peak).toBe(2);
    expect(summary.pools[0].fullMs).toBe(fullMs);
    expect(fullMs).toBeGreaterThan(0);
  });

  it('counts checks by outcome, and every event', () => {
    const checks = eventsNamed(events, 'check');
    const count = (o: string) => checks.filter((c) => c.outcome === o).length;
    expect(summary.checks).toHaveLength(1);
    expect(summary.checks[0].outcomes).toEqual({ fired: count('fired'), idle: count('idle'), error: count('error'), timeout: count('timeout') });
    expect(summary.events).toBe(events.length);
    expect(summary.malformed).toEqual({ count: 0, examples: [] });
    expect(summary.first).toBe(events[0].ts);
    expect(summary.last).toBe(events[events.length - 1].ts);
  });

  it('prints the same figures as text', async () => {
    const r = await log([file]);
    expect(r.code).toBe(0);
    const row = (start: string): string[] => (r.stdout.split('\n').find((l) => l.startsWith(`${start}  `)) ?? '').split(/\s{2,}/);
    const failed = summary.jobs.find((j) => j.command === JOBS.failed) as JobSummary;
    // job, runs, ok, failed, timeout, killed, unfinished, retries, p50, p95, max
    // The figures the JSON summary gave (checked against the log above): a loaded machine can
    // turn a failing run into a timeout, so the outcomes are not fixed in advance.
    const n = (outcome: string): string => String(failed.outcomes[outcome] ?? 0);
    expect(row(JOBS.failed).slice(0, 8)).toEqual([JOBS.failed, String(failed.runs), n('ok'), n('failed'), n('timeout'), n('killed'), String(failed.unfinished), String(failed.retries)]);
    const pool = row('default');
    // The peak is whatever the run reached (the JSON test checks it against the events).
    expect(pool.slice(0, 3)).toEqual(['default', '2', String(summary.pools[0].peakLive)]);
    expect(r.stdout).toContain(`${events.length} events from 1 process`);
  });

  it('narrows to --since/--until, counting only what happened inside', async () => {
    const exits = eventsNamed(events, 'exit');
    const since = exits[1].ts as string;
    const until = exits[exits.length - 2].ts as string;
    const r = await log(['--json', '--since', since, '--until', until, file]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Json;
    const inside = events.filter((e) => e.ts! >= since && e.ts! <= until);
    expect(s.events).toBe(inside.length);
    expect(s.jobs.reduce((n, j) => n + j.runs, 0)).toBe(eventsNamed(inside, 'exit').length);
    expect(s.since).toBe(since);
  });

  it('reads the same log gzipped, from standard input, and twice over as two files', async () => {
    const gz = path.join(dir, 'run.jsonl.1.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(file)));
    const fromGz = JSON.parse((await log(['--json', gz])).stdout) as Json;
    expect(fromGz.jobs).toEqual(summary.jobs);
    const fromStdin = JSON.parse(execFileSync('sh', ['-c', `"${process.execPath}" "${BIN}" log --json - < "${file}"`], { encoding: 'utf8' })) as Json;
    expect(fromStdin.pools).toEqual(summary.pools);
    const twice = JSON.parse((await log(['--json', file, gz])).stdout) as Json;
    expect(twice.events).toBe(2 * summary.events);
  });

  it('counts malformed lines and says where, and goes on', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    const lines = readText(file).trimEnd().split('\n');
    lines.splice(2, 0, 'not json at all', '{"ts":"2026-12-02T01:00:00Z","event":"exit"}', '{"event":"spawn"');
    fs.writeFileSync(bad, `${lines.join('\n')}\n\u0000\u0001garbage\n`);
    const r = await log(['--json', bad]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Json;
    expect(s.malformed.count).toBe(4);
    expect(s.malformed.examples[0]).toEqual({ file: bad, line: 3, reason: 'not JSON' });
    expect(s.malformed.examples[1]).toEqual({ file: bad, line: 4, reason: '"exit" without the fields it needs' });
    expect(s.jobs).toEqual(summary.jobs);
    const text = await log([bad]);
    expect(text.stdout).toContain(`4 malformed lines skipped (${bad}:3 not JSON; ${bad}:4 "exit" without the fields it needs;`);
  });
});

describe('the timeline of a real run', () => {
  let file: string;
  beforeAll(async () => {
    ({ file } = await sharedRun());
  }, 60_000);

  it('draws a row per slot, bars by outcome, skips and the axis, in 80 columns when not on a terminal', async () => {
    const r = await log(['--timeline', file]);
    expect(r.code).toBe(0);
    const drawing = r.stdout.slice(r.stdout.indexOf('pool default (cap 2)'));
    const lines = drawing.trimEnd().split('\n');
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines.filter((l) => /^ +slot [01] │.*│$/.test(l))).toHaveLength(2);
    const bars = lines.filter((l) => l.includes(' slot ')).join('');
    expect(bars).toContain('█');
    expect(bars).toContain('▓');
    expect(bars).toContain('▒');
    expect(lines.some((l) => /^ +skips │ *x/.test(l))).toBe(true);
    expect(lines.some((l) => /└─*┬/.test(l))).toBe(true);
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('takes --width, colours with FORCE_COLOR and never with NO_COLOR', async () => {
    const wide = await log(['--timeline', '--width', '120', file]);
    expect(Math.max(...wide.stdout.split('\n').filter((l) => l.includes('│')).map((l) => [...l].length))).toBe(120);
    const coloured = await log(['--timeline', file], { FORCE_COLOR: '1', NO_COLOR: '' });
    expect(coloured.stdout).toMatch(/\u001b\[32m█/);
    const plain = await log(['--timeline', file], { FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(plain.stdout).not.toContain('\u001b[');
  });
});

describe('a pool whose slots are held through --delay', () => {
  it('counts the delay as time at the cap, and draws it before each job', async () => {
    const { dir, env } = testDir('log-delay');
    const file = path.join(dir, 'delay.jsonl');
    const run = await runWarden(['watch', '--every', '200ms', '--max-runs', '6', '--job', 'sleep 0.2', '--delay', '500ms', '--max-live', '1', '--overflow', 'skip', '--log', 'json', '--log-file', file], { env });
    expect(run.code).toBe(0);
    const events = parseEvents(readText(file));
    const spawns = eventsNamed(events, 'spawn');
    const exits = eventsNamed(events, 'exit');
    expect(spawns.length).toBeGreaterThan(0);
    expect(eventsNamed(events, 'skip').length).toBeGreaterThan(0);
    // One job at a time, each holding the only slot from its `delay` event (it took the slot then) to its exit.
    const delays = eventsNamed(events, 'delay');
    expect(delays.map((d) => d.jobId)).toEqual(spawns.map((e) => e.jobId));
    const held = exits.reduce((ms, e) => ms + Date.parse(e.ts as string) - Date.parse(delays.find((d) => d.jobId === e.jobId)?.ts as string), 0);
    const s = JSON.parse((await log(['--json', file])).stdout) as Json;
    expect(s.pools[0]).toMatchObject({ cap: 1, peakLive: 1, fullMs: held });
    const drawing = (await log(['--timeline', file])).stdout;
    expect(drawing).toMatch(/slot 0 │ *╌+█/);
    expect(drawing).toContain('╌ held for --delay');
  });
});

describe('several processes', () => {
  it('merges their files by time: one pool, its peak and its waits across processes', async () => {
    const { dir, env } = testDir('log-merge');
    const a = path.join(dir, 'a.jsonl');
    const b = path.join(dir, 'b.jsonl');
    // The first job holds the only slot until the second process has logged that it waits.
    const hold = `touch "${dir}/go"; i=0; until grep -q '"event":"wait"' "${b}" 2>/dev/null || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done`;
    const first = startWarden(['run', '--pool', 'p', '--max-live', '1', '--log-file', a, '--', 'sh', '-c', hold], { env });
    await waitFor('the first job', () => fs.existsSync(path.join(dir, 'go')));
    const second = await runWarden(['run', '--pool', 'p', '--max-live', '1', '--log-file', b, '--', 'true'], { env });
    expect((await first.done).code).toBe(0);
    expect(second.code).toBe(0);
    const r = await log(['--json', b, a]);
    const s = JSON.parse(r.stdout) as Json;
    expect(s.processes).toBe(2);
    expect(s.pools).toHaveLength(1);
    expect(s.pools[0]).toMatchObject({ pool: 'p', cap: 1, peakLive: 1, jobs: 2, waits: 1 });
    expect(s.jobs.map((j) => j.runs)).toEqual([1, 1]);
  });
});

describe('bad input', () => {
  const { dir } = testDir('log-bad');
  const file = path.join(dir, 'x.jsonl');
  fs.writeFileSync(file, '');

  it.each([
    [['--since', 'yesterday', file], /^warden: --since: "yesterday" is not a time; use an ISO time/],
    [['--until', '2026-13-01', file], /^warden: --until: "2026-13-01" is not a time/],
    [['--since', '1h', '--until', '2h', file], /^warden: --since must be earlier than --until$/],
    [['--width', '0', '--timeline', file], /^warden: --width: "0" must be a whole number of 1 or more/],
    [[path.join(dir, 'missing.jsonl')], /^warden: cannot read .*missing\.jsonl: no such file or directory$/],
    [[dir], /^warden: cannot read .*: is a folder$/],
    [[], /^warden: log needs at least one FILE/],
    [['--html', path.join(dir, 'no', 'such', 'page.html'), file], /^warden: --html: cannot write .*page\.html: no such file or directory$/],
  ])('%j: one line, exit 2', async (args, message) => {
    const r = await log(args);
    expectUsageError(r, message);
    expect(r.stdout).toBe('');
  });

  it('refuses to write the page over one of the logs it reads', async () => {
    const r = await log(['--html', file, file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`warden: --html: ${file} is one of the logs being read; name another file for the page\n`);
  });

  it("refuses another user's log it cannot read: one line, exit 2", () => {
    const secret = path.join(dir, 'secret.jsonl');
    fs.writeFileSync(secret, '', { mode: 0o600 });
    fs.chmodSync(dir, 0o755);
    const r = spawnSync('setpriv', ['--reuid=4242', '--regid=4242', '--clear-groups', process.execPath, BIN, 'log', secret], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`warden: cannot read ${secret}: permission denied\n`);
  });

  it('replaces a symlink planted at the page, never writing through it', async () => {
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    const page = path.join(dir, 'page.html');
    fs.symlinkSync(victim, page);
    const r = await log(['--html', page, file]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.lstatSync(page).isFile()).toBe(true);
    expect(fs.readFileSync(page, 'utf8')).toMatch(/^<!doctype html>/);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('summarises an empty file as nothing, exit 0', async () => {
    const r = await log([file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('No events in the file (in the window asked for).\n');
    const drawn = await log(['--timeline', file]);
    expect(drawn.stdout).toBe(r.stdout);
  });
});
