// --ping URL end to end against a real local HTTP server that each test starts: what is sent
// for once, run and watch runs, the body on failure, retries, and servers that refuse, fail,
// or never answer (a failed ping is logged, never fatal, and warden still exits).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { selfSigned } from './helpers/self-signed.js';
import { eventsNamed, expectUsageError, parseEvents, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

type Ev = Record<string, unknown>;
interface Ping {
  path: string;
  rid: string | null;
  body: string;
  method: string;
  auth: string | undefined;
}

let dir: string;
let env: NodeJS.ProcessEnv;
let servers: http.Server[] = [];
beforeEach(() => {
  ({ dir, env } = testDir('warden-ping'));
});
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

interface ServerOptions {
  host?: string;
  tls?: { key: string; cert: string };
  /** Where a 3xx answer sends the client. */
  location?: string;
}

/** A ping server: `answer` decides each request's status (undefined: never answer). */
async function pingServer(answer: (p: Ping, n: number) => number | undefined = () => 200, options: ServerOptions = {}): Promise<{ url: string; pings: Ping[] }> {
  const pings: Ping[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const p: Ping = { path: u.pathname, rid: u.searchParams.get('rid'), body, method: req.method ?? '', auth: req.headers.authorization };
      pings.push(p);
      const status = answer(p, pings.length);
      if (status !== undefined) res.writeHead(status, status >= 300 && status < 400 && options.location ? { location: options.location } : {}).end(status === 200 ? 'OK' : 'no');
    });
  };
  const server = options.tls ? https.createServer(options.tls, listener) : http.createServer(listener);
  servers.push(server);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(0, host, r));
  const shown = host.includes(':') ? `[${host}]` : host;
  return { url: `${options.tls ? 'https' : 'http'}://${shown}:${(server.address() as AddressInfo).port}/ping/abc`, pings };
}

const errors = (events: Ev[]): string[] => eventsNamed(events, 'error').map((e) => e.message as string);

describe('--ping', () => {
  it('once: URL/start, then the bare URL on success, one run id for both', async () => {
    const { url, pings } = await pingServer();
    const r = await runWarden(['once', '--ping', url, '--job', 'echo hi'], { env });
    expect(r.code).toBe(0);
    expect(pings.map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc']);
    expect(pings[0].rid).toMatch(/^[0-9a-f-]{36}$/);
    expect(pings[1].rid).toBe(pings[0].rid);
    expect(pings[1].body).toBe('');
  });

  it('once: URL/<exit code> on failure, with the failed job\'s output tail as the body', async () => {
    const { url, pings } = await pingServer();
    const r = await runWarden(['once', '--ping', url, '--job', 'echo one; echo bad >&2; exit 3'], { env });
    expect(r.code).toBe(3);
    expect(pings.map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc/3']);
    expect(pings[1].body).toBe('job 1.1 "echo one; echo bad >&2; exit 3": exited with 3\none\nbad');
    // A check error is exit 3 as well, with the check's stderr as the body.
    const c = await runWarden(['once', '--ping', url, '--check', 'echo broken >&2; exit 2', '--job', 'true'], { env });
    expect(c.code).toBe(3);
    expect(pings.slice(2).map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc/3']);
    expect(pings[3].body).toBe('check failed (exit 2)\nbroken');
  });

  it('run: start, then the command\'s own exit code', async () => {
    const { url, pings } = await pingServer();
    const r = await runWarden(['run', '--ping', url, '--', 'sh', '-c', 'exit 5'], { env });
    expect(r.code).toBe(5);
    expect(pings.map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc/5']);
    const ok = await runWarden(['run', '--ping', `${url}/`, '--', 'true'], { env });
    expect(ok.code).toBe(0);
    // The bare URL is the URL as given.
    expect(pings.slice(2).map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc/']);
  });

  it('watch: each fired tick is a run of its own; idle ticks send nothing, a check error sends /fail', async () => {
    const { url, pings } = await pingServer();
    // By the check's own count (a tick may be skipped on a busy machine): the 1st and 3rd fire
    // (their number goes to the jobs), the 2nd is idle, the 4th errs, later ones are idle.
    const check = `n=$(( $(cat "${dir}/checks" 2>/dev/null || echo 0) + 1 )); echo $n > "${dir}/checks"; case $n in 1|3) echo $n;; 4) echo oops >&2; exit 2;; *) exit 1;; esac`;
    const job = 'echo c$WARDEN_CHECK_OUTPUT; exit $((WARDEN_CHECK_OUTPUT == 3 ? 7 : 0))';
    // A check slower than the interval (a loaded machine) must not time out: that is a ping too.
    const w = startWarden(['watch', '--every', '100ms', '--check-timeout', '10s', '--log', 'json', '--ping', url, '--check', check, '--job', job, '--job', 'true'], { env });
    await waitFor('five pings', () => pings.length >= 5);
    await waitFor('a later idle check', () => Number(readText(`${dir}/checks`)) >= 6);
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(errors(parseEvents(r.stdout))).toEqual([]);
    expect(pings.length, JSON.stringify(pings.map((p) => [p.path, p.rid, p.body]))).toBe(5);
    const byRun = new Map<string | null, string[]>();
    for (const p of pings) byRun.set(p.rid, [...(byRun.get(p.rid) ?? []), p.path]);
    const runs = [...byRun.entries()].filter(([rid]) => rid !== null).map(([, paths]) => paths);
    expect(runs).toHaveLength(2);
    expect(runs).toContainEqual(['/ping/abc/start', '/ping/abc']);
    // Two jobs in the tick: no single code speaks for the run.
    expect(runs).toContainEqual(['/ping/abc/start', '/ping/abc/fail']);
    const failed = eventsNamed(parseEvents(r.stdout), 'exit').find((e) => e.exitCode === 7);
    expect(pings.find((p) => p.path.endsWith('/fail') && p.rid !== null)?.body).toBe(`job ${String(failed?.jobId)} "${job}": exited with 7\nc3`);
    expect(byRun.get(null)).toEqual(['/ping/abc/fail']);
    expect(pings.find((p) => p.rid === null)?.body).toBe('check failed (exit 2)\noops');
  });

  it('watch with retries: one run, ended by the last attempt; a single failed job pings its own code', async () => {
    const { url, pings } = await pingServer();
    const r = await runWarden(['watch', '--every', '1h', '--max-runs', '1', '--retries', '1', '--retry-delay', '50ms', '--ping', url, '--job', 'exit 4'], { env });
    expect(r.code).toBe(1);
    expect(pings.map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc/4']);
  });

  it('retries a server error, gives up at once on a refusal; both logged, neither fatal', async () => {
    const flaky = await pingServer((_p, n) => (n === 1 ? 503 : 200));
    const r = await runWarden(['once', '--log', 'json', '--ping', flaky.url, '--job', 'true'], { env });
    expect(r.code).toBe(0);
    expect(flaky.pings.map((p) => p.path)).toEqual(['/ping/abc/start', '/ping/abc/start', '/ping/abc']);
    expect(errors(parseEvents(r.stdout))).toEqual([]);

    const refusing = await pingServer(() => 404);
    const n = await runWarden(['once', '--log', 'json', '--ping', refusing.url, '--job', 'true'], { env });
    expect(n.code).toBe(0);
    expect(refusing.pings).toHaveLength(2);
    expect(errors(parseEvents(n.stdout))).toEqual([
      `--ping: ${refusing.url}/start?rid=${refusing.pings[0].rid} failed after 1 attempt: the server answered HTTP 404`,
      `--ping: ${refusing.url}?rid=${refusing.pings[0].rid} failed after 1 attempt: the server answered HTTP 404`,
    ]);
  });

  it('a server that never answers: each ping times out three times, is logged, and warden exits with the job\'s code', async () => {
    const silent = await pingServer(() => undefined);
    // The job ends once the start ping has given up: warden's wait for the end ping, bounded by
    // the time both pings may take, then holds the end ping alone (the start ping alone took all
    // but some 20 ms of that bound while the job ran, and a loaded machine's timers lost it).
    const log = `${dir}/events.jsonl`;
    const job = `until grep -q '/start?rid=.*failed after' "${log}" 2>/dev/null; do sleep 0.02; done`;
    const r = await runWarden(['once', '--log', 'json', '--log-file', log, '--ping', silent.url, '--ping-timeout', '300ms', '--job', job], { env });
    expect(r.code).toBe(0);
    const messages = errors(parseEvents(r.stdout));
    expect(messages).toEqual([
      expect.stringMatching(/^--ping: \S+\/ping\/abc\/start\?rid=\S+ failed after 3 attempts: no answer within 300ms$/),
      expect.stringMatching(/^--ping: \S+\/ping\/abc\?rid=\S+ failed after 3 attempts: no answer within 300ms$/),
    ]);
    // Three attempts each at most (on a loaded machine an attempt may time out before its
    // request is even through).
    const paths = silent.pings.map((p) => p.path);
    expect(paths.filter((p) => p === '/ping/abc/start').length).toBeLessThanOrEqual(3);
    expect(paths.filter((p) => p === '/ping/abc').length).toBeLessThanOrEqual(3);
    expect(paths.every((p) => p === '/ping/abc/start' || p === '/ping/abc')).toBe(true);
  });

  it('a second signal while the last pings wait stops waiting for them', async () => {
    const silent = await pingServer(() => undefined);
    const w = startWarden(['watch', '--every', '1h', '--log', 'json', '--ping', silent.url, '--ping-timeout', '20s', '--job', `touch "${dir}/ran"; sleep 30`], { env });
    await waitFor('the job and the start ping', () => fs.existsSync(`${dir}/ran`) && silent.pings.length === 1);
    process.kill(w.pid, 'SIGTERM');
    await waitFor('stopping', () => eventsNamed(w.events(), 'exit').length === 1);
    process.kill(w.pid, 'SIGTERM');
    const r = await w.done;
    expect(r.code).toBe(143);
    expect(errors(parseEvents(r.stdout)).every((m) => m.endsWith('abandoned: warden was stopping'))).toBe(true);
  });

  it('one SIGTERM and a server that never answers: no retry after it, the exit waits for one ping timeout', async () => {
    const silent = await pingServer(() => undefined);
    const w = startWarden(['watch', '--every', '1h', '--log', 'json', '--ping', silent.url, '--ping-timeout', '3s', '--kill-after', '200ms', '--job', `touch "${dir}/ran"; sleep 30`], { env });
    await waitFor('the job and the start ping', () => fs.existsSync(`${dir}/ran`) && silent.pings.length === 1);
    process.kill(w.pid, 'SIGTERM');
    const r = await w.done;
    expect(r.code).toBe(143);
    // Before, the start ping was tried three times and the run's end three more (33 s with the
    // default 5 s timeout), past the grace docker or systemd give before SIGKILL.
    expect(silent.pings.filter((p) => p.path === '/ping/abc/start')).toHaveLength(1);
    const messages = errors(parseEvents(r.stdout));
    expect(messages.length).toBeGreaterThan(0);
    for (const m of messages) expect(m).toMatch(/^--ping: \S+ (failed after 1 attempt|not sent): /);
  });

  it('watch: many pings retrying at once against a failing server, no listener-leak warning', async () => {
    const failing = await pingServer(() => 503);
    const w = startWarden(['watch', '--every', '50ms', '--log', 'json', '--ping', failing.url, '--job', 'true'], { env });
    // Each run's start ping is tried three times, 0.5 s and 1 s apart: a dozen runs overlap.
    await waitFor('a dozen runs pinging', () => new Set(failing.pings.map((p) => p.rid)).size >= 12);
    process.kill(w.pid, 'SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(r.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('credentials in the URL travel as Basic authorization', async () => {
    const { url, pings } = await pingServer();
    const r = await runWarden(['once', '--ping', url.replace('http://', 'http://hc:s%3Acret@'), '--job', 'true'], { env });
    expect(r.code).toBe(0);
    expect(pings.map((p) => p.auth)).toEqual([`Basic ${Buffer.from('hc:s:cret').toString('base64')}`, `Basic ${Buffer.from('hc:s:cret').toString('base64')}`]);
  });

  it('https: a server whose certificate the machine trusts gets its pings; an untrusted one is logged, never fatal', async () => {
    const tls = selfSigned(dir);
    const { url, pings } = await pingServer(() => 200, { tls });
    expect(url).toMatch(/^https:/);
    // Node's own store of trusted CAs, which NODE_EXTRA_CA_CERTS adds to.
    const trusted = await runWarden(['once', '--log', 'json', '--ping', url, '--job', 'exit 3'], { env: { ...env, NODE_EXTRA_CA_CERTS: tls.certFile } });
    expect(trusted.code).toBe(3);
    expect(errors(parseEvents(trusted.stdout))).toEqual([]);
    expect(pings.map((p) => [p.method, p.path])).toEqual([['POST', '/ping/abc/start'], ['POST', '/ping/abc/3']]);
    const untrusted = await runWarden(['once', '--log', 'json', '--ping', url, '--job', 'true'], { env });
    expect(untrusted.code).toBe(0);
    expect(errors(parseEvents(untrusted.stdout))).toEqual([
      expect.stringMatching(/^--ping: https:\/\/127\.0\.0\.1:\d+\/ping\/abc\/start\?rid=\S+ failed after 3 attempts: DEPTH_ZERO_SELF_SIGNED_CERT$/),
      expect.stringMatching(/^--ping: https:\/\/127\.0\.0\.1:\d+\/ping\/abc\?rid=\S+ failed after 3 attempts: DEPTH_ZERO_SELF_SIGNED_CERT$/),
    ]);
    expect(pings).toHaveLength(2);
  });

  it('a redirect is followed with the body, but never from https to plain http', async () => {
    const target = await pingServer();
    const moving = await pingServer((p) => (p.path.startsWith('/ping/abc') ? 308 : 200), { location: `${target.url}/moved` });
    const r = await runWarden(['once', '--log', 'json', '--ping', moving.url, '--job', 'echo out; exit 4'], { env });
    expect(r.code).toBe(4);
    expect(errors(parseEvents(r.stdout))).toEqual([]);
    expect(target.pings.map((p) => [p.method, p.path, p.body])).toEqual([
      ['POST', '/ping/abc/moved', ''],
      ['POST', '/ping/abc/moved', 'job 1.1 "echo out; exit 4": exited with 4\nout'],
    ]);

    const tls = selfSigned(dir);
    const downgrading = await pingServer(() => 301, { tls, location: target.url });
    const d = await runWarden(['once', '--log', 'json', '--ping', downgrading.url, '--job', 'true'], { env: { ...env, NODE_EXTRA_CA_CERTS: tls.certFile } });
    expect(d.code).toBe(0);
    expect(target.pings).toHaveLength(2);
    expect(errors(parseEvents(d.stdout))[0]).toMatch(/^--ping: https:\S+\/start\?rid=\S+ failed after 3 attempts: redirected from https to plain http \(not followed: the body and credentials would travel in clear\)$/);
  });

  it('an IPv6 literal with a port, and credentials in it', async () => {
    const { url, pings } = await pingServer(() => 200, { host: '::1' });
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+\/ping\/abc$/);
    const r = await runWarden(['once', '--log', 'json', '--ping', url.replace('http://', 'http://hc:pw@'), '--job', 'true'], { env });
    expect(r.code).toBe(0);
    expect(errors(parseEvents(r.stdout))).toEqual([]);
    expect(pings.map((p) => [p.path, p.auth])).toEqual([
      ['/ping/abc/start', `Basic ${Buffer.from('hc:pw').toString('base64')}`],
      ['/ping/abc', `Basic ${Buffer.from('hc:pw').toString('base64')}`],
    ]);
  });

  it('an unreachable server: logged without the password in the URL', async () => {
    const closed = await pingServer();
    const port = new URL(closed.url).port;
    servers.pop()?.close();
    const r = await runWarden(['once', '--log', 'json', '--ping', `http://user:secret@127.0.0.1:${port}/x`, '--job', 'true'], { env });
    expect(r.code).toBe(0);
    const messages = errors(parseEvents(r.stdout));
    expect(messages[0]).toMatch(/^--ping: http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/x\/start\?rid=\S+ failed after 3 attempts: ECONNREFUSED$/);
    expect(r.stdout + r.stderr).not.toContain('secret');
  });

  it('bad values: exit 2 with one line, nothing started', async () => {
    for (const [args, pattern] of [
      [['--ping', 'ftp://example.com/x'], /--ping: "ftp:\/\/example.com\/x" is not an http\(s\) URL/],
      [['--ping', 'hc-ping.com/abc'], /--ping: "hc-ping.com\/abc" is not an http\(s\) URL/],
      [['--ping', 'http://x/', '--ping-timeout', 'soon'], /--ping-timeout: "soon" is not a duration/],
      [['--ping', 'http://x/', '--detach', '--log-file', `${dir}/l`], /--ping cannot be used with --detach/],
      // It crashed warden at the first ping (an unhandled URIError).
      [['--ping', 'http://hc%zz:secret@127.0.0.1/x'], /^warden: --ping: the user name or password has a malformed %-escape \(write % as %25\)$/],
    ] as const) {
      const r = await runWarden(['once', ...args, '--job', `touch "${dir}/ran"`], { env });
      expectUsageError(r, pattern);
      expect(r.stderr).not.toContain('secret');
    }
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });
});
