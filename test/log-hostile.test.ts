// `warden log` fed what a hostile or unlucky user has: control characters in a log from another
// host, a gzip cut short or misnamed, a page sent to a pipe. Exit codes and output as a user sees them.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BIN, readText, runWarden, testDir } from './helpers/warden.js';

const T0 = Date.parse('2026-12-01T08:00:00Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

/** A small log of one watch: `jobs` jobs of `command` in pool `pool`, each failing. */
function logText(command: string, pool: string, host: string, jobs = 3): string {
  const lines = [{ ts: at(0), event: 'start', pid: 7, host, mode: 'watch', pool, maxLive: 2, schedule: 'every 1s', version: '0.1.0', backend: 'socket', stateDir: '/s' }];
  for (let i = 1; i <= jobs; i++) {
    lines.push({ ts: at(i * 1000), event: 'check', pid: 7, host, tick: i, outcome: 'fired', exitCode: 0, durationMs: 3, command } as never);
    lines.push({ ts: at(i * 1000 + 5), event: 'spawn', pid: 7, host, jobId: `${i}.1`, jobPid: 100 + i, command, slot: 0, tick: i, attempt: 1 } as never);
    lines.push({ ts: at(i * 1000 + 500), event: 'exit', pid: 7, host, jobId: `${i}.1`, jobPid: 100 + i, command, slot: 0, tick: i, attempt: 1, exitCode: 1, signal: null, durationMs: 495, outcome: 'failed', tail: 'x' } as never);
  }
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

describe('warden log shows what is in a log, never lets it drive the terminal', () => {
  it('control characters and bidi overrides in commands, pools and hosts are printed as \\xNN or \\uNNNN, in the summary and the timeline', async () => {
    const { dir } = testDir('log-escapes');
    const file = path.join(dir, 'other-host.jsonl');
    // Set the window title, clear the screen, write the clipboard (OSC 52), a C1 CSI.
    const command = 'echo \u001b]0;pwned\u0007\u001b[2J\u001b]52;c;ZXZpbA==\u0007 \u009b31m \u202egnp.exe';
    fs.writeFileSync(file, logText(command, 'p\u001b[5m', 'h\u001b[8m'));
    const r = await runWarden(['log', '--timeline', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(r.stdout).toContain('echo \\x1b]0;pwned\\x07\\x1b[2J');
    expect(r.stdout).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    expect(r.stdout).toContain('pool p\\x1b[5m (cap 2)');
    // The figures are still those of the log.
    expect(r.stdout).toMatch(/^echo \\x1b.* {2,}3 +0 +3 /m);
  });
});

describe('a clock stepped back in the middle of a log (NTP after a suspend)', () => {
  it('the heading spans from the earliest event, and the timeline draws the jobs after the step', async () => {
    const { dir } = testDir('log-clock-step');
    const file = path.join(dir, 'stepped.jsonl');
    const line = (ms: number, e: Record<string, unknown>): string => JSON.stringify({ ts: at(ms), pid: 7, ...e });
    const job = (ms: number, id: string, durationMs: number): string[] => [
      line(ms, { event: 'spawn', jobId: id, jobPid: 9, command: 'backup', slot: 0, tick: 1, attempt: 1 }),
      line(ms + durationMs, { event: 'exit', jobId: id, jobPid: 9, command: 'backup', slot: 0, tick: 1, attempt: 1, exitCode: 0, signal: null, durationMs, outcome: 'ok', tail: '' }),
    ];
    const lines = [
      line(3_600_000, { event: 'start', mode: 'watch', pool: 'p', maxLive: 1, schedule: 'every 1m', version: '0.1.0', backend: 'socket', stateDir: '/s' }),
      ...job(3_600_100, '1.1', 1000),
      // The clock goes back an hour: the next jobs are logged with earlier times.
      ...job(60_000, '2.1', 600_000),
      ...job(900_000, '3.1', 600_000),
    ];
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await runWarden(['log', '--timeline', '--width', '80', file], { env: { TZ: 'UTC' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^7 events from 1 process, \S+ 08:01:00 to \S+ 09:00:01 \(59m01s\)$/m);
    const drawn = r.stdout.split('\n').find((l) => l.includes('slot 0')) ?? '';
    expect([...drawn].filter((c) => c === '█').length).toBeGreaterThan(20);
  });
});

describe('the smallest logs', () => {
  it('one event is "1 event"; a job that began and ended in the same millisecond is drawn', async () => {
    const { dir } = testDir('log-tiny');
    const one = path.join(dir, 'one.jsonl');
    fs.writeFileSync(one, `${JSON.stringify({ ts: at(0), pid: 7, event: 'skip', reason: 'pool-full', tick: 1, pool: 'p' })}\n`);
    const r = await runWarden(['log', one]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1 event from 1 process, /);
    const instant = path.join(dir, 'instant.jsonl');
    const job = { pid: 7, jobId: '1.1', jobPid: 9, command: 'x', slot: 0, tick: 1, attempt: 1 };
    fs.writeFileSync(instant, `${JSON.stringify({ ts: at(0), event: 'spawn', ...job })}\n${JSON.stringify({ ts: at(0), event: 'exit', ...job, exitCode: 0, signal: null, durationMs: 0, outcome: 'ok', tail: '' })}\n`);
    const drawn = await runWarden(['log', '--timeline', instant]);
    expect(drawn.code).toBe(0);
    expect(drawn.stdout).toMatch(/^2 events from 1 process, /);
    expect(drawn.stdout).toMatch(/slot 0 │█ +│/);
  });
});

describe('one file named twice', () => {
  it('by the same name, another name or a link, it is read once: no figure doubles', async () => {
    const { dir } = testDir('log-twice');
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, logText('./report.sh', 'p', 'h', 5));
    fs.symlinkSync(file, path.join(dir, 'link.jsonl'));
    const read = async (...files: string[]): Promise<{ events: number; files: string[]; jobs: { runs: number }[] }> =>
      JSON.parse((await runWarden(['log', '--json', ...files])).stdout) as { events: number; files: string[]; jobs: { runs: number }[] };
    const once = await read(file);
    expect(once.events).toBe(16);
    const twice = await read(file, `${dir}/./run.jsonl`, path.join(dir, 'link.jsonl'));
    expect(twice.events).toBe(16);
    expect(twice.jobs[0].runs).toBe(5);
    expect(twice.files).toEqual([file]);
  });
});

describe('compressed logs', () => {
  const { dir } = testDir('log-gzip');
  const text = logText('./report.sh', 'p', 'h', 40);
  const gz = zlib.gzipSync(Buffer.from(text));
  const json = async (file: string): Promise<{ code: number | null; events: number; malformed: { count: number; examples: { reason: string }[] }; stderr: string }> => {
    const r = await runWarden(['log', '--json', file]);
    const s = r.stdout ? (JSON.parse(r.stdout) as { events: number; malformed: { count: number; examples: { reason: string }[] } }) : { events: -1, malformed: { count: -1, examples: [] } };
    return { code: r.code, stderr: r.stderr, ...s };
  };

  it('a gzip cut short (a copy still being written): what it holds is summarised, the cut reported, exit 0', async () => {
    const file = path.join(dir, 'cut.jsonl.gz');
    fs.writeFileSync(file, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const r = await json(file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.events).toBeGreaterThan(0);
    expect(r.events).toBeLessThan(121);
    expect(r.malformed.count).toBe(1);
    expect(r.malformed.examples[0].reason).toBe('unreadable from here: unexpected end of file');
  });

  it('gzip is known by its bytes, not its name: a rotated .1 that is compressed, a .gz that is not', async () => {
    const rotated = path.join(dir, 'app.jsonl.1');
    fs.writeFileSync(rotated, gz);
    expect(await json(rotated)).toMatchObject({ code: 0, events: 121, malformed: { count: 0 } });
    const misnamed = path.join(dir, 'plain.jsonl.gz');
    fs.writeFileSync(misnamed, text);
    expect(await json(misnamed)).toMatchObject({ code: 0, events: 121, malformed: { count: 0 } });
    const twice = path.join(dir, 'two-members.gz');
    fs.writeFileSync(twice, Buffer.concat([gz, gz]));
    expect(await json(twice)).toMatchObject({ code: 0, events: 242 });
  });
});

describe('--html into a pipe', () => {
  /** warden log with stdout a pipe read by this test. */
  function logToPipe(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [BIN, 'log', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  it('a link to the standard output (/dev/stdout, >(cmd)) gets the page; the link stays a link', async () => {
    const { dir } = testDir('log-html-pipe');
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, logText('true', 'p', 'h'));
    const out = path.join(dir, 'stdout');
    fs.symlinkSync('/proc/self/fd/1', out);
    const r = await logToPipe(['--html', out, file]);
    expect(r.stderr, r.stderr).toBe(`wrote ${out} (3 jobs on the timeline)\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/<!doctype html>[^]*<\/html>\n$/);
    expect(fs.lstatSync(out).isSymbolicLink()).toBe(true);
  });

  it("a link another user planted to someone's output is replaced by the page, never written through", async () => {
    const { dir } = testDir('log-html-planted');
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, logText('true', 'p', 'h'));
    const page = path.join(dir, 'page.html');
    fs.symlinkSync('/proc/self/fd/1', page);
    fs.lchownSync(page, 4242, 4242);
    const r = await logToPipe(['--html', page, file]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('<html');
    expect(fs.lstatSync(page).isFile()).toBe(true);
    expect(readText(page)).toMatch(/^<!doctype html>/);
  });
});
