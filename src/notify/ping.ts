// --ping URL: healthchecks-style pings over node:http(s) (http-request.ts). A run (a `once` or `run`
// invocation, a fired tick under `watch`) sends URL/start when it starts, then URL on success
// or URL/<exit code> (URL/fail where no one code says it) with the failures' output tails as
// the body. Each ping is bounded by a timeout and retried; a failed ping is an `error` event.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Event, ExitRecord, Mode, Stamped } from '../events.js';
import type { Signal } from '../exit.js';
import { VERSION } from '../exit.js';
import { msg } from '../messages.js';
import type { Reporter } from '../report/reporter.js';
import { FinalExits } from './final-exits.js';
import type { FinalExit } from './final-exits.js';
import { MAX_REDIRECTS, post } from './http-request.js';
import type { PostResult } from './http-request.js';

export const PING_ATTEMPTS = 3;
const RETRY_BASE_MS = 500;
/** Healthchecks keeps 100 KB of a body; the tails of a few jobs fit well under this. */
const MAX_BODY_BYTES = 16 * 1024;
const ENDED_KEPT = 1024;

export interface PingOptions {
  url: string;
  timeoutMs: number;
  mode: Mode;
  jobsPerTrigger: number;
}

interface Run {
  /** Healthchecks pairs a start with its end by this id, so overlapping runs stay apart. */
  rid: string;
  expected: number;
  settled: number;
  failures: string[];
  codes: (number | null)[];
  /** Pings of one run go out in order: its end never overtakes its start. */
  chain: Promise<void>;
}

export class Pinger {
  private readonly exits = new FinalExits({ final: (exit) => this.final(exit), skipped: (skip) => this.skipped(skip) });
  /** Jobs resumed from the spool: their runs began in another process. */
  private readonly foreign = new Set<string>();
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  /** watch: the open runs by tick; once and run: the one run, under tick 0. */
  private readonly runs = new Map<number, Run>();
  /**
   * The last ticks whose run has ended: an event that comes late (a `wait` is logged after its
   * queueing) never opens a run again. Bounded: a watch runs for weeks.
   */
  private readonly ended = new Set<number>();
  private finishing = false;
  /** A signal stopped warden: once its jobs are done, pings get one attempt and one timeout. */
  private signalled = false;

  constructor(
    private readonly options: PingOptions,
    private readonly reporter: Reporter,
  ) {
    // Every request (see http-request.ts) and retry pause in flight listens on it, and each takes
    // its listener off when done: many at once is no leak.
    setMaxListeners(0, this.abort.signal);
  }

  /** Stopped by a signal, with the jobs done (a Ctrl-C's drain may take hours: retries go on in it). */
  private get lastCall(): boolean {
    return this.signalled && this.finishing;
  }

  private get watching(): boolean {
    return this.options.mode === 'watch';
  }

  readonly hear = (e: Stamped): void => {
    this.exits.hear(e);
    switch (e.event) {
      case 'start':
        if (!this.watching) this.open(0, Infinity);
        break;
      case 'check':
        if (e.outcome === 'error' || e.outcome === 'timeout') {
          const text = msg.pingCheckFailed(e.outcome, e.exitCode, e.stderr ?? '');
          if (this.watching) this.send(undefined, 'fail', text);
          else this.runs.get(0)?.failures.push(text);
        } else if (this.watching && e.outcome === 'fired' && e.triggers > 0) this.open(e.tick, e.triggers * this.options.jobsPerTrigger);
        break;
      case 'resume':
        this.foreign.add(e.jobId);
        break;
      case 'spawn':
        // Without --check no event marks the tick firing: its first job does.
        if (this.watching && !this.foreign.has(e.jobId) && !this.runs.has(e.tick) && !this.ended.has(e.tick)) this.open(e.tick, this.options.jobsPerTrigger);
        break;
      default:
        break;
    }
  };

  onSignal(signal: Signal): void {
    this.exits.onSignal(signal);
    // A signal while the last pings go out: stop waiting for them.
    if (this.finishing) this.abort.abort();
    this.signalled = true;
  }

  /** End what is open (once/run: with warden's exit code), then wait for the pings, bounded. */
  async finish(exitCode: number): Promise<void> {
    this.finishing = true;
    await new Promise((resolve) => setImmediate(resolve));
    for (const [tick, run] of this.runs) {
      this.runs.delete(tick);
      if (this.watching) {
        run.failures.push(msg.pingUnfinished());
        this.end(run, null);
      } else this.end(run, exitCode);
    }
    const all = Promise.allSettled([...this.inflight]);
    // A run's end waits for its start: two pings, each with all its attempts and pauses. Told to
    // stop (SIGTERM from docker or systemd, which kill a little later), one timeout: a hung
    // server must not hold the exit for half a minute.
    const full = 2 * (PING_ATTEMPTS * this.options.timeoutMs + RETRY_BASE_MS * (2 ** (PING_ATTEMPTS - 1) - 1));
    const bound = this.signalled ? this.options.timeoutMs : full;
    await Promise.race([all, sleep(bound, undefined, { ref: false })]);
    this.abort.abort();
    await all;
  }

  private open(tick: number, expected: number): void {
    const run: Run = { rid: randomUUID(), expected, settled: 0, failures: [], codes: [], chain: Promise.resolve() };
    this.runs.set(tick, run);
    this.send(run, 'start');
  }

  private skipped(skip: Extract<Event, { event: 'skip' }>): void {
    // A spooled job dropped as too late belongs to a run of the process that spooled it.
    if (skip.reason === 'too-late') return;
    // --on-change and --unique doing their job is no failure.
    const benign = skip.reason === 'unchanged' || skip.reason === 'duplicate';
    this.settle(skip.tick, benign ? undefined : msg.pingSkipped(skip.reason, skip.command ?? ''), null);
  }

  private final({ record }: FinalExit): void {
    if (this.foreign.delete(record.jobId)) return;
    this.settle(this.watching ? record.tick : 0, record.outcome === 'ok' ? undefined : describeFailure(record), record.exitCode);
  }

  private settle(tick: number, failure: string | undefined, code: number | null): void {
    const key = this.watching ? tick : 0;
    if (this.watching && !this.runs.has(key) && !this.ended.has(key)) this.open(key, this.options.jobsPerTrigger);
    const run = this.runs.get(key);
    if (!run) return;
    run.settled++;
    if (failure !== undefined) {
      run.failures.push(failure);
      run.codes.push(code);
    }
    if (this.watching && run.settled >= run.expected) {
      this.runs.delete(key);
      this.ended.add(key);
      if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.values().next().value ?? key);
      this.end(run, null);
    }
  }

  /** once/run: warden's exit code says it all; watch: a single failed job's own code, else fail. */
  private end(run: Run, exitCode: number | null): void {
    const body = run.failures.length ? lastBytes(run.failures.join('\n'), MAX_BODY_BYTES) : undefined;
    if (exitCode !== null) return this.send(run, exitCode === 0 ? '' : String(exitCode & 255), body);
    if (!run.failures.length) return this.send(run, '');
    const only = run.expected === 1 && run.codes.length === 1 ? run.codes[0] : null;
    this.send(run, only !== null && only > 0 && only < 256 ? String(only) : 'fail', body);
  }

  private send(run: Run | undefined, suffix: string, body?: string): void {
    const url = new URL(this.options.url);
    if (suffix) url.pathname = `${url.pathname.replace(/\/$/, '')}/${suffix}`;
    if (run) url.searchParams.set('rid', run.rid);
    // Whatever deliver throws is logged: a ping never takes warden down.
    const task = (run?.chain ?? Promise.resolve())
      .then(() => this.deliver(url, body))
      .catch((err: unknown) => this.reporter.emit({ event: 'error', message: msg.pingNotSent(redact(url), err instanceof Error ? err.message : String(err)) }));
    if (run) run.chain = task;
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  private async deliver(url: URL, body: string | undefined): Promise<void> {
    // Credentials in the URL travel as a Basic authorization, never in the request line.
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'user-agent': `warden/${VERSION}`, accept: '*/*' };
    const target = new URL(url);
    if (target.username || target.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
      target.username = '';
      target.password = '';
    }
    let why = '';
    let made = 0;
    while (made < (this.lastCall ? 1 : PING_ATTEMPTS) && !this.abort.signal.aborted) {
      made++;
      const res = await post({ url: target, body: body ?? '', headers, timeoutMs: this.options.timeoutMs, signal: this.abort.signal });
      if (res.kind === 'answered') {
        if (res.status >= 200 && res.status < 300) return;
        why = msg.pingStatus(res.status);
        // A refusal that a retry cannot change (a wrong URL, a bad check id): say so at once.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } else why = this.abort.signal.aborted ? msg.pingAbandoned() : describePostFailure(res, this.options.timeoutMs);
      if (made < PING_ATTEMPTS && !this.lastCall) await sleep(RETRY_BASE_MS * 2 ** (made - 1), undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
    if (this.abort.signal.aborted) why = msg.pingAbandoned();
    this.reporter.emit({ event: 'error', message: made ? msg.pingFailed(redact(url), made, why) : msg.pingNotSent(redact(url), why) });
  }
}

function describeFailure(r: ExitRecord): string {
  return `${msg.pingJobFailed(r.jobId, r.command, r.outcome, r.exitCode, r.signal, r.error)}${r.tail ? `\n${r.tail}` : ''}`;
}

function describePostFailure(res: Exclude<PostResult, { kind: 'answered' }>, timeoutMs: number): string {
  switch (res.kind) {
    case 'timeout':
      return msg.pingNoAnswer(timeoutMs);
    case 'aborted':
      return msg.pingAbandoned();
    case 'closed':
      return msg.pingClosed();
    case 'redirect-refused':
      return msg.pingRedirectRefused(res.why, MAX_REDIRECTS);
    case 'failed':
      return res.code;
  }
}

/** The URL as it may be shown: never a password. */
function redact(url: URL): string {
  const shown = new URL(url);
  if (shown.password) shown.password = '***';
  return shown.href;
}

function lastBytes(text: string, max: number): string {
  const buf = Buffer.from(text);
  return buf.length <= max ? text : buf.subarray(buf.length - max).toString('utf8').replace(/^\uFFFD/, '');
}
