// One HTTP(S) POST whose answer is its status alone, over node:http and node:https. Node's global
// fetch costs a process ~120 ms to load its client (undici) before the first request; these
// modules cost a few. Redirects follow what fetch did: 301/302/303 turn a POST into a GET without
// its body, 307/308 repeat it, at most 20 hops, the authorization dropped on leaving the origin;
// unlike fetch, https never falls back to http (the body and credentials would go in clear).
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';

export const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Sent only with a body: a redirect that turns the POST into a GET drops them (as fetch does). */
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-location'];

export interface PostRequest {
  /** Without credentials: they go in `headers` as an authorization. */
  url: URL;
  body: string;
  headers: Record<string, string>;
  /** One deadline for the whole exchange up to the answer's status, redirects included. */
  timeoutMs: number;
  signal: AbortSignal;
}

export type RedirectRefusal = 'not-http' | 'to-http' | 'credentials' | 'bad-location' | 'too-many';

export type PostResult =
  | { kind: 'answered'; status: number }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  /** The server closed the connection before any answer. */
  | { kind: 'closed' }
  | { kind: 'redirect-refused'; why: RedirectRefusal }
  /** A network, TLS or protocol error, by its code (ECONNREFUSED, CERT_HAS_EXPIRED, HPE_HEADER_OVERFLOW). */
  | { kind: 'failed'; code: string };

interface Hop {
  url: URL;
  method: string;
  body: string | undefined;
  headers: Record<string, string>;
  redirects: number;
}

/** Never rejects: every way the exchange can end is a result. Leaves no socket behind. */
export function post(request: PostRequest): Promise<PostResult> {
  return new Promise((resolve) => {
    // The caller's signal may be shared by every request in flight; each takes its listener off
    // when it ends, so many at once is no leak, and Node must not warn of one past 10.
    const { signal } = request;
    setMaxListeners(0, signal);
    let current: http.ClientRequest | undefined;
    let done = false;
    const finish = (result: PostResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      current?.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), request.timeoutMs);
    if (signal.aborted) return finish({ kind: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });

    const onAnswer = (hop: Hop, res: http.IncomingMessage): void => {
      // Only the status counts: the body is never read, so one that never ends holds nothing.
      res.on('error', () => undefined);
      res.destroy();
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (!REDIRECT_STATUSES.has(status) || location === undefined) return finish({ kind: 'answered', status });
      const next = redirect(hop, status, location);
      if ('why' in next) return finish({ kind: 'redirect-refused', why: next.why });
      if (!done) send(next);
    };
    const send = (hop: Hop): void => {
      const client = hop.url.protocol === 'https:' ? https : http;
      const headers = hop.body === undefined ? hop.headers : { ...hop.headers, 'content-length': String(Buffer.byteLength(hop.body)) };
      let req: http.ClientRequest;
      try {
        // agent: false, a connection of its own closed after the answer: Node 20's global agent
        // keeps sockets alive, and one idle in its pool would hold the process up.
        req = client.request(hop.url, { method: hop.method, headers, agent: false }, (res) => onAnswer(hop, res));
      } catch (err) {
        // What Node refuses before sending anything (a header it cannot put on the wire).
        return finish(failure(err));
      }
      current = req;
      // A hop left behind for a redirect has no say any more.
      req.on('error', (err) => current === req && finish(failure(err)));
      req.end(hop.body);
    };
    send({ url: request.url, method: 'POST', body: request.body, headers: request.headers, redirects: 0 });
  });
}

function redirect(hop: Hop, status: number, location: string): Hop | { why: RedirectRefusal } {
  if (hop.redirects >= MAX_REDIRECTS) return { why: 'too-many' };
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    return { why: 'bad-location' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { why: 'not-http' };
  if (hop.url.protocol === 'https:' && url.protocol === 'http:') return { why: 'to-http' };
  if (url.username || url.password) return { why: 'credentials' };
  const headers = { ...hop.headers };
  if (url.origin !== hop.url.origin) delete headers.authorization;
  const toGet = (status === 303 && hop.method !== 'GET' && hop.method !== 'HEAD') || ((status === 301 || status === 302) && hop.method === 'POST');
  if (!toGet) return { url, method: hop.method, body: hop.body, headers, redirects: hop.redirects + 1 };
  for (const name of BODY_HEADERS) delete headers[name];
  return { url, method: 'GET', body: undefined, headers, redirects: hop.redirects + 1 };
}

function failure(err: unknown): PostResult {
  const e = err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
  // Node's words for a connection closed before the status line; a reset comes as "read ECONNRESET".
  if (e.code === 'ECONNRESET' && e.syscall === undefined) return { kind: 'closed' };
  return { kind: 'failed', code: e.code ?? e.errors?.[0]?.code ?? e.message };
}
