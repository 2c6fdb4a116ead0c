// Scenario: what telling people costs. `--ping` on a one-shot (its two pings to a local server
// that answers at once) against the same one-shot without it, and a `--metrics` scrape of a
// running `watch`: its latency, and the CPU it costs warden.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { cpuSeconds, elapsedMs, fmt, killGroup, median, percentile, sleep, tmpDir, warden, wardenHas } from './lib.js';

export const id = 'notify';
export const title = 'Ping and metrics';

const FULL = { rounds: 21, scrapes: 1000 };
const QUICK = { rounds: 5, scrapes: 100 };
/** The pool's jobs the scraped watch keeps running: the gauges read a pool that is in use. */
const LIVE = 4;

export function method(quick) {
  const p = quick ? QUICK : FULL;
  return (
    'Ping: `warden once --job true` with and without `--ping http://127.0.0.1:PORT/x` (a local Node HTTP server that answers 200 at once; ' +
    `two pings per run, /start and the end), ${p.rounds} rounds each running both in turn (after one unmeasured warm-up); median wall time. ` +
    `Metrics: a \`watch --metrics 127.0.0.1:PORT\` with ${LIVE} jobs live in its pool; ${p.scrapes} scrapes of /metrics one after another ` +
    '(after 10 unmeasured), median and p95 time to the whole answer, and warden\'s CPU time (utime+stime, /proc) over them, per scrape.'
  );
}

function pingServer() {
  let pings = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      pings++;
      res.end('OK');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/ping/bench`, pings: () => pings, close: () => new Promise((r) => server.close(r)) }));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One scrape on a fresh connection (as Prometheus makes one per scrape): ms to the whole body, and its size. */
function scrape(port) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ ms: elapsedMs(t0), status: res.statusCode, bytes }));
    });
    req.on('error', reject);
  });
}

async function pingCost(ctx, rounds, notes) {
  const server = await pingServer();
  const stateDir = path.join(tmpDir('notify-ping'), 'state');
  const once = (extra) => warden(['once', '--pool', 'b', '--state-dir', stateDir, '--job', 'true', ...extra]).done;
  const times = { plain: [], ping: [] };
  try {
    for (let r = -1; r < rounds; r++) {
      for (const [name, extra] of [['plain', []], ['ping', ['--ping', server.url]]]) {
        const res = await once(extra);
        if (res.code !== 0 && !notes.includes(`once ${name} exited with ${res.code}`)) notes.push(`once ${name} exited with ${res.code}`);
        if (r >= 0) times[name].push(res.ms);
      }
    }
    const expected = 2 * (rounds + 1);
    if (server.pings() !== expected) notes.push(`the ping server got ${server.pings()} pings, not ${expected}`);
  } finally {
    await server.close();
  }
  const plain = median(times.plain);
  const ping = median(times.ping);
  ctx.log(`  ${id}: once ${fmt.ms(plain)}, with --ping ${fmt.ms(ping)}`);
  return { plain, ping };
}

async function scrapeCost(ctx, scrapes, notes) {
  const dir = tmpDir('notify-metrics');
  const port = await freePort();
  const jobs = Array.from({ length: LIVE }, () => ['--job', 'sleep 600']).flat();
  const w = warden(['watch', '--every', '1h', '--pool', 'm', '--max-live', String(LIVE), '--state-dir', path.join(dir, 'state'), '--metrics', `127.0.0.1:${port}`, ...jobs]);
  try {
    let ready = false;
    for (let i = 0; i < 500 && !ready; i++) {
      const r = await scrape(port).catch(() => undefined);
      ready = r?.status === 200 && (await liveGauge(port)) === LIVE;
      if (!ready) await sleep(20);
    }
    if (!ready) throw new Error(`the watch did not serve /metrics with ${LIVE} live jobs`);
    for (let i = 0; i < 10; i++) await scrape(port);
    const cpu0 = cpuSeconds(w.pid);
    const times = [];
    let bytes = 0;
    for (let i = 0; i < scrapes; i++) {
      const r = await scrape(port);
      if (r.status !== 200 && !notes.includes(`a scrape answered ${r.status}`)) notes.push(`a scrape answered ${r.status}`);
      times.push(r.ms);
      bytes = r.bytes;
    }
    const cpuMs = ((cpuSeconds(w.pid) - cpu0) * 1000) / scrapes;
    const result = { median: median(times), p95: percentile(times, 95), cpuMs, bytes };
    ctx.log(`  ${id}: scrape median ${fmt.ms(result.median)}, p95 ${fmt.ms(result.p95)}, CPU ${fmt.ms(cpuMs)} per scrape, ${bytes} bytes`);
    return result;
  } finally {
    killGroup(w.pid, 'SIGTERM');
    await w.done;
  }
}

async function liveGauge(port) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(Number(/^warden_pool_live_slots\{[^}]*\} (\S+)$/m.exec(body)?.[1])));
    }).on('error', () => resolve(NaN));
  });
}

export async function run_(ctx) {
  const p = ctx.quick ? QUICK : FULL;
  if (!wardenHas('watch')) return [{ scenario: id, measure: 'all', cells: { warden: 'n/a' }, ratio: '—', goal: '—', met: null, notes: [] }];
  const rounds = ctx.rounds ? Math.max(3, ctx.rounds * 5) : p.rounds;
  const notes = [];
  const { plain, ping } = await pingCost(ctx, rounds, notes);
  const s = await scrapeCost(ctx, ctx.rounds ? Math.max(50, ctx.rounds * 100) : p.scrapes, notes);
  const vs = ping / plain;
  return [
    {
      scenario: id,
      measure: '`once --job true --ping URL`: median wall time',
      cells: { warden: `${fmt.ms(ping)} (+${fmt.ms(ping - plain)})` },
      ratio: fmt.ratioOf(vs, 'without --ping'),
      goal: '≤ 1.5x without --ping',
      met: Number.isFinite(vs) ? vs <= 1.5 : null,
      notes,
    },
    {
      scenario: id,
      measure: `\`--metrics\` scrape (${LIVE} jobs live, ${s.bytes} bytes): median / p95`,
      cells: { warden: `${fmt.ms(s.median)} / ${fmt.ms(s.p95)}` },
      ratio: '—',
      goal: 'p95 ≤ 20 ms',
      met: Number.isFinite(s.p95) ? s.p95 <= 20 : null,
      notes: [],
    },
    {
      scenario: id,
      measure: "`--metrics` scrape: warden's CPU per scrape",
      cells: { warden: fmt.ms(s.cpuMs) },
      ratio: '—',
      goal: '≤ 5 ms',
      met: Number.isFinite(s.cpuMs) ? s.cpuMs <= 5 : null,
      notes: [],
    },
  ];
}
export { run_ as run };
