// watch --metrics end to end: scrape the real HTTP endpoint while warden runs and check every
// counter against the JSON log written meanwhile; bad addresses and busy ports exit 2.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { eventsNamed, expectUsageError, parseEvents, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;
let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  ({ dir, env } = testDir('warden-metrics'));
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function request(port: number, urlPath: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Samples of the text format: `name{labels}` (labels sorted, pool left out) -> value. */
async function scrape(port: number): Promise<Map<string, number>> {
  const res = await request(port, '/metrics');
  expect(res.status).toBe(200);
  expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    const m = /^(warden_\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '')
      .split(',')
      .filter((l) => l && !l.startsWith('pool='))
      .sort()
      .join(',');
    expect(m[2]).toContain('pool="default"');
    samples.set(labels ? `${m[1]}{${labels}}` : m[1], Number(m[3]));
  }
  return samples;
}

const count = (events: Ev[], name: string, field?: string, value?: string): number =>
  eventsNamed(events, name).filter((e) => field === undefined || e[field] === value).length;

describe('watch --metrics', () => {
  it('a scrape mid-run matches the log event for event: every counter, gauge and histogram', async () => {
    const port = await freePort();
    const log = path.join(dir, 'log.jsonl');
    // Behaviours go by how many checks and jobs ran before (not by tick: ticks get skipped).
    // Checks: the 3rd errs, the 4th is idle. Jobs (one slot): the 1st times out while later
    // triggers wait and ticks are skipped, the 2nd is killed, the 3rd fails.
    const nth = (name: string): string => `n=$(( $(cat "${dir}/${name}" 2>/dev/null || echo 0) + 1 )); echo $n > "${dir}/${name}"`;
    const check = `${nth('checks')}; [ $n -ne 3 ] || exit 2; [ $n -ne 4 ] || exit 1; exit 0`;
    const job = `${nth('jobs')}; case $n in 1) sleep 5;; 2) kill -KILL $$;; 3) exit 3;; esac`;
    const w = startWarden(['watch', '--every', '200ms', '--max-live', '1', '--job-timeout', '500ms', '--kill-after', '100ms',
      '--metrics', `127.0.0.1:${port}`, '--log-file', log, '--check', check, '--job', job], { env });
    await waitFor('every kind of event in the log', () => {
      const events = parseEvents(readText(log));
      return ['timeout', 'killed', 'failed', 'ok'].every((o) => count(events, 'exit', 'outcome', o) > 0) &&
        ['error', 'idle'].every((o) => count(events, 'check', 'outcome', o) > 0) &&
        count(events, 'skip', 'reason', 'overrun') > 0 && count(events, 'wait') > 0;
    });
    // A scrape that no event came during: the log before it is the state it shows.
    let events: Ev[] = [];
    let m = new Map<string, number>();
    await waitFor('a scrape between two events', async () => {
      events = parseEvents(readText(log));
      m = await scrape(port);
      return parseEvents(readText(log)).length === events.length;
    });
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);

    expect(m.get('warden_jobs_started_total')).toBe(count(events, 'spawn'));
    for (const outcome of ['ok', 'failed', 'timeout', 'killed']) {
      expect(m.get(`warden_jobs_finished_total{outcome="${outcome}"}`), outcome).toBe(count(events, 'exit', 'outcome', outcome));
      const exits = eventsNamed(events, 'exit').filter((e) => e.outcome === outcome);
      expect(m.get(`warden_job_duration_seconds_count{outcome="${outcome}"}`) ?? 0).toBe(exits.length);
      expect(m.get(`warden_job_duration_seconds_sum{outcome="${outcome}"}`) ?? 0).toBeCloseTo(exits.reduce((t, e) => t + (e.durationMs as number), 0) / 1000, 6);
    }
    for (const outcome of ['fired', 'idle', 'error', 'timeout']) {
      expect(m.get(`warden_checks_total{outcome="${outcome}"}`), outcome).toBe(count(events, 'check', 'outcome', outcome));
      const checks = eventsNamed(events, 'check').filter((e) => e.outcome === outcome);
      expect(m.get(`warden_check_duration_seconds_count{outcome="${outcome}"}`) ?? 0).toBe(checks.length);
      expect(m.get(`warden_check_duration_seconds_sum{outcome="${outcome}"}`) ?? 0).toBeCloseTo(checks.reduce((t, e) => t + (e.durationMs as number), 0) / 1000, 6);
    }
    for (const reason of ['pool-full', 'queue-full', 'overrun', 'wait-timeout']) {
      expect(m.get(`warden_skips_total{reason="${reason}"}`), reason).toBe(count(events, 'skip', 'reason', reason));
    }
    expect(m.get('warden_waits_total')).toBe(count(events, 'wait'));
    expect(m.get('warden_retries_total')).toBe(count(events, 'retry'));
    expect(m.get('warden_lease_losses_total')).toBe(count(events, 'lease-lost'));
    expect(m.get('warden_live_jobs')).toBe(count(events, 'spawn') - count(events, 'exit'));
    expect(m.get('warden_max_live')).toBe(1);
    expect(m.get('warden_pool_live_slots')).toBeLessThanOrEqual(1);
    expect(m.get('warden_queue_length')).toBeLessThanOrEqual(1);
  });

  it('scraped again and again while jobs churn: each counter lies between the log before and after the scrape', async () => {
    const port = await freePort();
    const log = path.join(dir, 'log.jsonl');
    const w = startWarden(['watch', '--every', '40ms', '--max-live', '2', '--metrics', String(port), '--log-file', log, '--job', 'exit $((WARDEN_TICK % 3 == 0))'], { env });
    await waitFor('the server', () => request(port, '/metrics').then((r) => r.status === 200, () => false));
    // Scrape until the churn has shown both outcomes, at least eight times.
    for (let i = 0; i < 8 || count(parseEvents(readText(log)), 'exit', 'outcome', 'failed') === 0; i++) {
      const before = parseEvents(readText(log));
      const m = await scrape(port);
      const after = parseEvents(readText(log));
      const within = (metric: number | undefined, name: string, field?: string, value?: string): void => {
        expect(metric ?? 0).toBeGreaterThanOrEqual(count(before, name, field, value));
        expect(metric ?? 0).toBeLessThanOrEqual(count(after, name, field, value));
      };
      within(m.get('warden_jobs_started_total'), 'spawn');
      within(m.get('warden_jobs_finished_total{outcome="ok"}'), 'exit', 'outcome', 'ok');
      within(m.get('warden_jobs_finished_total{outcome="failed"}'), 'exit', 'outcome', 'failed');
      within(m.get('warden_skips_total{reason="overrun"}'), 'skip', 'reason', 'overrun');
      within(m.get('warden_waits_total'), 'wait');
    }
    // Only /metrics is served, and only to GET and HEAD.
    expect((await request(port, '/')).status).toBe(404);
    expect((await request(port, '/metrics', 'HEAD')).status).toBe(200);
    expect((await request(port, '/metrics', 'POST')).status).toBe(405);
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    // Closed with warden.
    await expect(request(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('queue and live gauges: one job holds the only slot, the triggers of three more ticks queue', async () => {
    const port = await freePort();
    const gate = path.join(dir, 'gate');
    const w = startWarden(['watch', '--every', '100ms', '--max-runs', '4', '--max-live', '1', '--max-queue', 'unlimited', '--log', 'json', '--metrics', String(port),
      '--job', `while [ ! -e "${gate}" ]; do sleep 0.02; done`], { env });
    const m = await waitFor('three queued', async () => {
      const s = await scrape(port).catch(() => undefined);
      return s?.get('warden_queue_length') === 3 && s;
    }, 40_000);
    expect(m.get('warden_live_jobs')).toBe(1);
    expect(m.get('warden_pool_live_slots')).toBe(1);
    expect(m.get('warden_jobs_started_total')).toBe(1);
    fs.writeFileSync(gate, '');
    expect((await w.done).code).toBe(0);
    expect(eventsNamed(w.events(), 'exit')).toHaveLength(4);
  });

  it('a busy port: exit 2 with one line naming it, nothing started', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const r = await runWarden(['watch', '--every', '100ms', '--metrics', `127.0.0.1:${port}`, '--log-file', `${dir}/log`, '--job', `touch "${dir}/ran"`], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`warden: --metrics: cannot listen on 127.0.0.1:${port}: the port is in use by another process; choose another with --metrics HOST:PORT\n`);
      expect(r.stdout).toBe('');
      expect(fs.existsSync(`${dir}/ran`)).toBe(false);
      expect(fs.existsSync(`${dir}/log`)).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('bad addresses: exit 2 with one line and the accepted form; only watch takes it', async () => {
    for (const [value, pattern] of [
      ['abc', /--metrics: "abc" is not a listen address; use a port \(9464\) or HOST:PORT/],
      ['0', /--metrics: "0" is not a listen address/],
      ['127.0.0.1:99999', /--metrics: "127.0.0.1:99999" is not a listen address/],
      ['192.0.2.1:9464', /--metrics: cannot listen on 192\.0\.2\.1:9464: no such address on this machine/],
    ] as const) {
      const r = await runWarden(['watch', '--every', '100ms', '--metrics', value, '--job', `touch "${dir}/ran"`], { env });
      expectUsageError(r, pattern, value);
    }
    const once = await runWarden(['once', '--metrics', '9464', '--job', `touch "${dir}/ran"`], { env });
    expect(once.code).toBe(2);
    expect(once.stderr).toMatch(/unknown option '--metrics'/);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });
});
