// The ping's HTTP(S) POST (src/notify/http-request.ts) against real local servers: what goes on
// the wire, redirects as fetch followed them, and every way a server can fail it: never
// answering, closing, resetting, flooding headers, an endless body, a certificate not trusted.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REDIRECTS, post } from '../src/notify/http-request.js';
import type { PostRequest } from '../src/notify/http-request.js';
import { selfSigned } from './helpers/self-signed.js';
import type { SelfSigned } from './helpers/self-signed.js';
import { tempDir, waitFor } from './helpers/warden.js';

interface Seen {
  method: string;
  path: string;
  body: string;
  headers: http.IncomingHttpHeaders;
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

interface Served {
  base: string;
  seen: Seen[];
  /** Connections the server still has open. */
  open: () => number;
}

let servers: http.Server[] = [];
let tls: SelfSigned;
beforeAll(() => {
  tls = selfSigned(tempDir('warden-http-request'));
});
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function serve(handler: Handler, options: { secure?: boolean; host?: string } = {}): Promise<Served> {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', body, headers: req.headers };
      seen.push(s);
      handler(req, res, s);
    });
  };
  const server = options.secure ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
  server.on(options.secure ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push(server);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { base: `${options.secure ? 'https' : 'http'}://${shown}:${port}`, seen, open: () => sockets.size };
}

const ok: Handler = (_req, res) => res.writeHead(200).end('OK');
const never = new AbortController().signal;
const request = (url: string, extra: Partial<PostRequest> = {}): PostRequest => ({
  url: new URL(url),
  body: 'the tail',
  headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'warden/test', authorization: 'Basic aGM6cw==' },
  timeoutMs: 5000,
  signal: never,
  ...extra,
});

describe('post', () => {
  it('sends one POST with the body, its length and the headers given, and answers the status', async () => {
    const s = await serve((_req, res) => res.writeHead(201).end('made'));
    expect(await post(request(`${s.base}/ping/abc?rid=1`))).toEqual({ kind: 'answered', status: 201 });
    expect(s.seen).toHaveLength(1);
    expect(s.seen[0]).toMatchObject({ method: 'POST', path: '/ping/abc?rid=1', body: 'the tail' });
    expect(s.seen[0].headers).toMatchObject({
      'content-type': 'text/plain; charset=utf-8',
      'user-agent': 'warden/test',
      authorization: 'Basic aGM6cw==',
      'content-length': '8',
      connection: 'close',
    });
    // An empty body is still a POST with a length of 0; a body in UTF-8 counts its bytes.
    await post(request(`${s.base}/x`, { body: '' }));
    expect(s.seen[1]).toMatchObject({ method: 'POST', body: '' });
    expect(s.seen[1].headers['content-length']).toBe('0');
    await post(request(`${s.base}/x`, { body: 'é' }));
    expect(s.seen[2].headers['content-length']).toBe('2');
    await waitFor('the server to see every connection closed', () => s.open() === 0);
  });

  it('an error status is an answer, not a failure', async () => {
    const s = await serve((_req, res) => res.writeHead(503).end('busy'));
    expect(await post(request(`${s.base}/x`))).toEqual({ kind: 'answered', status: 503 });
  });

  it('an IPv6 literal with a port', async () => {
    const s = await serve(ok, { host: '::1' });
    expect(s.base).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect(await post(request(`${s.base}/v6`))).toEqual({ kind: 'answered', status: 200 });
    expect(s.seen[0].headers.host).toBe(s.base.replace('http://', ''));
  });

  describe('redirects, as fetch followed them', () => {
    const to = (status: number, location: string): Handler => (req, res) =>
      req.url === '/ok' ? res.writeHead(200).end() : res.writeHead(status, { location }).end('moved');

    it('301, 302 and 303 turn the POST into a GET without its body or content-type', async () => {
      for (const status of [301, 302, 303]) {
        const s = await serve(to(status, '/ok'));
        expect(await post(request(`${s.base}/from`))).toEqual({ kind: 'answered', status: 200 });
        expect(s.seen.map((r) => [r.method, r.path, r.body])).toEqual([['POST', '/from', 'the tail'], ['GET', '/ok', '']]);
        expect(s.seen[1].headers['content-type']).toBeUndefined();
        expect(s.seen[1].headers['content-length']).toBeUndefined();
        // Same origin: the authorization goes along.
        expect(s.seen[1].headers.authorization).toBe('Basic aGM6cw==');
      }
    });

    it('307 and 308 repeat the POST with its body', async () => {
      for (const status of [307, 308]) {
        const s = await serve(to(status, '/ok'));
        expect(await post(request(`${s.base}/from`))).toEqual({ kind: 'answered', status: 200 });
        expect(s.seen.map((r) => [r.method, r.path, r.body, r.headers['content-type']])).toEqual([
          ['POST', '/from', 'the tail', 'text/plain; charset=utf-8'],
          ['POST', '/ok', 'the tail', 'text/plain; charset=utf-8'],
        ]);
      }
    });

    it('another origin does not get the authorization', async () => {
      const other = await serve(ok);
      const s = await serve(to(307, `${other.base}/ok`));
      expect(await post(request(`${s.base}/from`))).toEqual({ kind: 'answered', status: 200 });
      expect(other.seen).toHaveLength(1);
      expect(other.seen[0].headers.authorization).toBeUndefined();
      expect(other.seen[0].body).toBe('the tail');
    });

    it(`at most ${MAX_REDIRECTS} hops`, async () => {
      const s = await serve((_req, res) => res.writeHead(302, { location: '/again' }).end());
      expect(await post(request(`${s.base}/loop`))).toEqual({ kind: 'redirect-refused', why: 'too-many' });
      expect(s.seen).toHaveLength(MAX_REDIRECTS + 1);
      await waitFor('the server to see every connection closed', () => s.open() === 0);
    });

    it('a 3xx without a location is the answer', async () => {
      const s = await serve((_req, res) => res.writeHead(302).end());
      expect(await post(request(`${s.base}/x`))).toEqual({ kind: 'answered', status: 302 });
    });

    it('refuses what fetch refused: another scheme, credentials in the location', async () => {
      const ftp = await serve(to(302, 'ftp://127.0.0.1/x'));
      expect(await post(request(`${ftp.base}/x`))).toEqual({ kind: 'redirect-refused', why: 'not-http' });
      const creds = await serve(to(307, '/ok'));
      const withCreds = await serve(to(307, `${creds.base.replace('http://', 'http://u:p@')}/ok`));
      expect(await post(request(`${withCreds.base}/x`))).toEqual({ kind: 'redirect-refused', why: 'credentials' });
      expect(creds.seen).toHaveLength(0);
      // https to plain http: test/ping.test.ts, where warden trusts the test's certificate.
    });
  });

  describe('servers that fail', () => {
    it('one that never answers: timeout at the deadline, its connection closed', async () => {
      const s = await serve(() => undefined);
      expect(await post(request(`${s.base}/x`, { timeoutMs: 200 }))).toEqual({ kind: 'timeout' });
      await waitFor('the server to see the connection closed', () => s.open() === 0);
    });

    it('one that trickles its headers forever: the deadline holds for the whole answer', async () => {
      let trickle: NodeJS.Timeout | undefined;
      const s = await serve((req) => {
        req.socket.write('HTTP/1.1 200 OK\r\n');
        trickle = setInterval(() => req.socket.writable && req.socket.write('X-More: yes\r\n'), 20);
      });
      try {
        expect(await post(request(`${s.base}/x`, { timeoutMs: 300 }))).toEqual({ kind: 'timeout' });
        await waitFor('the server to see the connection closed', () => s.open() === 0);
      } finally {
        clearInterval(trickle);
      }
    });

    it('one whose body never ends: the status is the answer, the connection closed', async () => {
      const s = await serve((_req, res) => {
        res.writeHead(200);
        res.write('and more');
      });
      expect(await post(request(`${s.base}/x`))).toEqual({ kind: 'answered', status: 200 });
      await waitFor('the server to see the connection closed', () => s.open() === 0);
    });

    it('one that closes before answering, and one that resets', async () => {
      const closing = await serve((req) => req.socket.destroy());
      expect(await post(request(`${closing.base}/x`))).toEqual({ kind: 'closed' });
      const resetting = await serve((req) => req.socket.resetAndDestroy());
      expect(await post(request(`${resetting.base}/x`))).toEqual({ kind: 'failed', code: 'ECONNRESET' });
    });

    it('headers past the limit, and garbage for a status line', async () => {
      const huge = await serve((req) => req.socket.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`));
      expect(await post(request(`${huge.base}/x`))).toEqual({ kind: 'failed', code: 'HPE_HEADER_OVERFLOW' });
      const garbage = await serve((req) => req.socket.end('garbage\r\n\r\n'));
      expect(await post(request(`${garbage.base}/x`))).toEqual({ kind: 'failed', code: 'HPE_INVALID_CONSTANT' });
    });

    it('nothing listening', async () => {
      const s = await serve(ok);
      const closed = s.base;
      servers.pop()?.close();
      await waitFor('the port to close', async () => (await post(request(`${closed}/x`))).kind === 'failed');
      expect(await post(request(`${closed}/x`))).toEqual({ kind: 'failed', code: 'ECONNREFUSED' });
    });

    it('an https server whose certificate is not trusted', async () => {
      const s = await serve(ok, { secure: true });
      expect(await post(request(`${s.base}/x`))).toEqual({ kind: 'failed', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      expect(s.seen).toHaveLength(0);
    });
  });

  describe('told to stop', () => {
    it('aborted mid-request: at once, the connection closed', async () => {
      const s = await serve(() => undefined);
      const stop = new AbortController();
      const pending = post(request(`${s.base}/x`, { signal: stop.signal }));
      await waitFor('the request to arrive', () => s.seen.length === 1);
      stop.abort();
      expect(await pending).toEqual({ kind: 'aborted' });
      await waitFor('the server to see the connection closed', () => s.open() === 0);
    });

    it('many in flight on one signal (a watch whose server hangs): no listener-leak warning', async () => {
      const s = await serve(() => undefined);
      const warnings: string[] = [];
      const onWarning = (w: Error): number => warnings.push(`${w.name}: ${w.message}`);
      process.on('warning', onWarning);
      try {
        const stop = new AbortController();
        const results = await Promise.all(Array.from({ length: 15 }, () => post(request(`${s.base}/x`, { timeoutMs: 300, signal: stop.signal }))));
        expect(results.every((r) => r.kind === 'timeout')).toBe(true);
        // Node emits its warnings on a later tick.
        await new Promise((r) => setImmediate(r));
        expect(warnings).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('aborted before: nothing is sent', async () => {
      const s = await serve(ok);
      expect(await post(request(`${s.base}/x`, { signal: AbortSignal.abort() }))).toEqual({ kind: 'aborted' });
      expect(s.seen).toHaveLength(0);
    });
  });
});
