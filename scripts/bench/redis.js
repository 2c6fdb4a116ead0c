// Scenario: pools across hosts on Redis (a local redis-server on a unix socket), next to the local
// kernel pool and GNU sem: acquire+release in-process, a one-shot `run`, the hand-off between
// processes, and how soon a SIGKILLed warden's job gives its slot back once it exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chain, flockWrapper, semWrapper, wardenWrapperWith } from './handoff.js';
import { ROOT, TAG, WARDEN_BIN, benchEnv, fmt, median, percentile, run, sleep, start, tmpDir, until, warden, wardenHas, which } from './lib.js';

export const id = 'redis';
export const title = 'Pools across hosts (Redis)';

// A waiter must be up and waiting before the holder's job ends: a `run --redis` takes longer to
// start than a local one (it loads the client and connects), hence the longer hold.
const FULL = { loops: 300, rounds: 11, chainRounds: 3, gaps: 10, holdMs: 1000, releases: 10, coldReleases: 5 };
const QUICK = { loops: 50, rounds: 3, chainRounds: 1, gaps: 4, holdMs: 800, releases: 3, coldReleases: 2 };

export function method(quick) {
  const p = quick ? QUICK : FULL;
  return (
    'A redis-server (Debian package) on a unix socket in a temp dir, no persistence. ' +
    `Acquire+release: ${p.loops} \`tryAcquire()\` + \`release()\` of a free slot in one process (the fleet pool: an ACQUIRE script, ` +
    'a lease socket registered with the keeper, a RELEASE script; the local pool: a bind and a close); median. ' +
    `One-shot: \`warden run --redis unix://SOCK -- true\`, \`warden run -- true\` and \`sem --fg true\`, ${p.rounds} rounds in turn; median. ` +
    'Hand-off: the chain of the hand-off scenario (cap 1, job k\'s end stamp to job k+1\'s start stamp) with `--redis`, next to the local ' +
    `pool, sem and flock; ${p.chainRounds} round(s) of ${p.gaps}. ` +
    `Release after SIGKILL: a \`warden run --redis\` is SIGKILLed while its job runs; the job ends (its last act writes a stamp); the time from that stamp to the ` +
    `pool's release message, received by a subscriber in the bench process; ${p.releases} runs after a warm-up run that starts the host's keeper, median and maximum; ` +
    `then ${p.coldReleases} runs each on a fresh state dir (a host's first run: its keeper just started).`
  );
}

export async function run_(ctx) {
  const p = { ...(ctx.quick ? QUICK : FULL) };
  const notes = [];
  if (!which('redis-server')) {
    return [{ scenario: id, measure: 'all', cells: { warden: 'absent' }, ratio: '—', goal: '—', met: null, notes: ['redis-server is not installed (apt-get install redis-server)'] }];
  }
  const server = await startServer();
  const url = `unix://${server.socket}`;
  try {
    const acquire = await acquireRelease(url, p.loops);
    ctx.log(`  ${id} acquire+release: redis ${fmt.ms(acquire.redis)}, local ${fmt.ms(acquire.local)}`);

    const oneShot = await oneShots(url, p.rounds, notes);
    ctx.log(`  ${id} one-shot: redis ${fmt.ms(oneShot.redis)}, local ${fmt.ms(oneShot.local)}, sem ${fmt.ms(oneShot.sem)}`);

    const tools = {
      warden: wardenHas('run') ? wardenWrapperWith(['--redis', url]) : undefined,
      local: wardenHas('run') ? wardenWrapperWith([]) : undefined,
      sem: which('sem') ? semWrapper : undefined,
      flock: which('flock') ? flockWrapper : undefined,
    };
    const gaps = Object.fromEntries(Object.keys(tools).map((k) => [k, []]));
    for (let r = 0; r < p.chainRounds; r++) {
      for (const [name, wrapper] of Object.entries(tools)) {
        if (!wrapper) continue;
        const result = await chain(wrapper, p, notes);
        gaps[name].push(...result.gaps);
        ctx.log(`  ${id} hand-off round ${r + 1}/${p.chainRounds}: ${name} ${result.gaps.map((g) => g.toFixed(1)).join(' ')} ms`);
      }
    }

    const released = await releaseAfterKill(url, p.releases, notes, false);
    ctx.log(`  ${id} release after SIGKILL: ${released.map((g) => g.toFixed(1)).join(' ')} ms`);
    const cold = await releaseAfterKill(url, p.coldReleases, notes, true);
    ctx.log(`  ${id} release after SIGKILL, keeper just started: ${cold.map((g) => g.toFixed(1)).join(' ')} ms`);

    const cell = (xs, f) => (xs.length ? fmt.ms(f(xs)) : 'absent');
    const handOffMed = median(gaps.warden);
    const releaseMed = median(released);
    return [
      {
        scenario: id,
        measure: `acquire+release of a free slot, in-process: median (n=${p.loops})`,
        cells: { warden: fmt.ms(acquire.redis), local: fmt.ms(acquire.local), sem: 'n/a' },
        ratio: fmt.ratioOf(acquire.redis / acquire.local, 'local pool'),
        goal: '—',
        met: null,
        notes: [],
      },
      {
        scenario: id,
        measure: '`run -- true` (one-shot, acquire+release included): median wall time',
        cells: { warden: fmt.ms(oneShot.redis), local: fmt.ms(oneShot.local), sem: which('sem') ? fmt.ms(oneShot.sem) : 'absent' },
        ratio: fmt.ratioOf(oneShot.redis / oneShot.sem, 'sem'),
        goal: '—',
        met: null,
        notes: [],
      },
      {
        scenario: id,
        measure: `cap 1 hand-off, holder exit → waiter's job start: median (n=${gaps.warden.length})`,
        cells: Object.fromEntries(Object.keys(tools).map((k) => [k, cell(gaps[k], median)])),
        ratio: fmt.ratioOf(handOffMed / median(gaps.sem), 'sem'),
        goal: 'median ≤ 10 ms',
        met: Number.isFinite(handOffMed) ? handOffMed <= 10 : null,
        notes,
      },
      {
        scenario: id,
        measure: `cap 1 hand-off: p99 (n=${gaps.warden.length})`,
        cells: Object.fromEntries(Object.keys(tools).map((k) => [k, cell(gaps[k], (xs) => percentile(xs, 99))])),
        ratio: fmt.ratioOf(percentile(gaps.warden, 99) / percentile(gaps.sem, 99), 'sem'),
        goal: '—',
        met: null,
        notes: [],
      },
      {
        scenario: id,
        measure: `SIGKILLed warden, its job exits → fleet slot released: median / max (n=${released.length})`,
        cells: { warden: released.length ? `${fmt.ms(releaseMed)} / ${fmt.ms(Math.max(...released))}` : '—' },
        ratio: '—',
        goal: '≤ 100 ms',
        met: released.length ? Math.max(...released) <= 100 : null,
        notes: [],
      },
      {
        scenario: id,
        measure: `the same on a host's first run (its keeper just started, still connecting): median / max (n=${cold.length})`,
        cells: { warden: cold.length ? `${fmt.ms(median(cold))} / ${fmt.ms(Math.max(...cold))}` : '—' },
        ratio: '—',
        goal: '—',
        met: null,
        notes: [],
      },
    ];
  } finally {
    server.stop();
  }
}
export { run_ as run };

async function startServer() {
  const dir = tmpDir('redis');
  const socket = path.join(dir, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const up = () =>
    new Promise((resolve) => {
      const s = net.connect(socket);
      s.once('connect', () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  for (let i = 0; i < 500 && !(await up()); i++) await sleep(10);
  return { socket, stop: () => child.kill('SIGKILL') };
}

async function acquireRelease(url, loops) {
  const { openRedisPool } = await import(path.join(ROOT, 'dist/pool/redis/redis-pool.js'));
  const { SocketPool } = await import(path.join(ROOT, 'dist/pool/socket-pool.js'));
  const { parseRedisUrl } = await import(path.join(ROOT, 'dist/pool/redis/target.js'));
  const stateDir = tmpDir('redis-acquire');
  const emit = () => undefined;
  // The keeper this starts carries the bench's tag, so the bench's clean-up ends it.
  process.env.WARDEN_BENCH_TAG = TAG;
  const redis = await openRedisPool({ name: 'ar', maxLive: 1, stateDir, target: parseRedisUrl(url), leaseMs: 30_000, onLeaseLost: 'warn', killAfterMs: 1000, failFast: true, emit, keeperBin: WARDEN_BIN });
  const local = new SocketPool({ name: 'ar', maxLive: 1, stateDir, backend: 'socket' });
  const time = async (pool) => {
    const xs = [];
    for (let i = -5; i < loops; i++) {
      const t0 = process.hrtime.bigint();
      const slot = await pool.tryAcquire();
      slot?.release();
      if (i >= 0) xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return median(xs);
  };
  try {
    return { redis: await time(redis), local: await time(local) };
  } finally {
    redis.close();
    local.close();
  }
}

async function oneShots(url, rounds, notes) {
  const dir = tmpDir('redis-oneshot');
  const semEnv = benchEnv({ PARALLEL_HOME: path.join(dir, 'parallel'), TMPDIR: dir });
  const check = (name) => (r) => {
    if (r.code !== 0 && !notes.includes(`${name} exited with ${r.code}`)) notes.push(`${name} exited with ${r.code}`);
    return r.ms;
  };
  const tools = {
    redis: () => warden(['run', '--redis', url, '--pool', 'b', '--state-dir', path.join(dir, 'state'), '--', 'true']).done.then(check('warden run --redis')),
    local: () => warden(['run', '--pool', 'b', '--state-dir', path.join(dir, 'state'), '--', 'true']).done.then(check('warden run')),
    sem: which('sem') ? () => run('sem', ['--will-cite', '--fg', '--id', 'b', 'true'], { env: semEnv }).then(check('sem')) : undefined,
  };
  const times = { redis: [], local: [], sem: [] };
  for (let r = -1; r < rounds; r++) {
    for (const [name, fn] of Object.entries(tools)) {
      if (!fn) continue;
      const ms = await fn();
      if (r >= 0) times[name].push(ms);
    }
  }
  return { redis: median(times.redis), local: median(times.local), sem: median(times.sem) };
}

/**
 * `cold`: each run on a fresh state dir, so its keeper has just been started (a host's first
 * run); else one warm-up run first, so that every sample has a keeper that is up, as a host's
 * keeper is whenever a run of the last 10 s left it running.
 */
async function releaseAfterKill(url, count, notes, cold) {
  const { connect } = await import(path.join(ROOT, 'dist/pool/redis/client.js'));
  const { parseRedisUrl } = await import(path.join(ROOT, 'dist/pool/redis/target.js'));
  const dir = tmpDir('redis-release');
  const client = await connect(parseRedisUrl(url), { failFast: true });
  let freedAt = 0n;
  const unsubscribe = await client.subscribe('warden:{rk}:free', () => {
    freedAt = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  });
  const gaps = [];
  try {
    // The subscription connects in the background: a first round-trip makes sure it listens.
    for (let i = 0; i < 200 && freedAt === 0n; i++) {
      await client.command(['PUBLISH', 'warden:{rk}:free', 'probe']);
      await sleep(5);
    }
    const stateDir = (k) => path.join(dir, cold ? `state-${k}` : 'state');
    if (!cold) await warden(['run', '--redis', url, '--pool', 'rk', '--state-dir', stateDir(0), '--', 'true']).done;
    for (let k = 0; k < count; k++) {
      const started = path.join(dir, `started-${k}`);
      const go = path.join(dir, `go-${k}`);
      const ended = path.join(dir, `ended-${k}`);
      const holder = start(process.execPath, [WARDEN_BIN, 'run', '--redis', url, '--pool', 'rk', '--max-live', '1', '--state-dir', stateDir(k), '--', 'sh', '-c', `touch ${started}; while [ ! -e ${go} ]; do sleep 0.005; done; date +%s%N > ${ended}`]);
      if (!(await until(() => fs.existsSync(started), { timeoutMs: 30_000 }))) {
        notes.push('a holder never started its job');
        break;
      }
      holder.child.kill('SIGKILL');
      await holder.done.catch(() => undefined);
      freedAt = 0n;
      fs.writeFileSync(go, '');
      await until(() => freedAt !== 0n && fs.existsSync(ended) && fs.readFileSync(ended, 'utf8').trim() !== '', { timeoutMs: 30_000 });
      const end = BigInt(fs.readFileSync(ended, 'utf8').trim() || '0');
      if (freedAt && end) gaps.push(Number(freedAt - end) / 1e6);
    }
  } finally {
    await unsubscribe();
    await client.close();
  }
  return gaps;
}
