// Scenario 4: one `warden watch` holding many live jobs: memory, idle CPU, and tick drift.
import fs from 'node:fs';
import path from 'node:path';
import { cpuSeconds, elapsedMs, fmt, killGroup, killTagged, memory, readEvents, sleep, taggedPids, tmpDir, until, warden, wardenHas } from './lib.js';

export const id = 'footprint';
export const title = 'Footprint at scale';

const FULL = { jobs: 1000, intervalMs: 20, idleMs: 5000 };
const QUICK = { jobs: 100, intervalMs: 20, idleMs: 1500 };

export function method(quick) {
  const p = quick ? QUICK : FULL;
  return (
    `\`warden watch --every ${p.intervalMs}ms --job 'sleep 60' --max-live ${p.jobs} --max-queue 0 --overflow skip --log json\`, ` +
    `with no check, so every tick fires: the first ${p.jobs} ticks start one job each, later ticks find the pool full and log a skip. ` +
    `Once ${p.jobs} jobs are live: warden's own RSS and peak RSS (VmRSS, VmHWM in /proc/PID/status), and its CPU ` +
    `(utime+stime from /proc/PID/stat, not its children's) over ${p.idleMs / 1000} s. ` +
    'Tick drift: over the whole run, the time between the first and the last tick (its `check` event, or with no check its `spawn` or `skip`) divided by the interval, minus the ' +
    'number of ticks logged in between; 0 means no tick was lost or late in total. Then SIGTERM, and everything left is killed.'
  );
}

export async function run_(ctx) {
  const p = ctx.quick ? QUICK : FULL;
  const notes = [];
  if (!wardenHas('watch')) {
    return rows(p, {}, notes);
  }
  const dir = tmpDir('footprint');
  const log = path.join(dir, 'events.jsonl');
  const stderr = path.join(dir, 'stderr');
  const handle = warden(
    [
      'watch', '--every', `${p.intervalMs}ms`, '--job', 'sleep 60',
      '--max-live', String(p.jobs), '--max-queue', '0', '--overflow', 'skip',
      '--pool', 'footprint', '--state-dir', path.join(dir, 'state'), '--log', 'json', '--kill-after', '2s',
    ],
    { stdout: log, stderr, timeoutMs: 300_000 },
  );
  let exited = false;
  handle.done.then(() => {
    exited = true;
  });

  const m = {};
  try {
    // Ramp: one job per tick until the pool is full.
    const rampStart = process.hrtime.bigint();
    const spawned = () => countSpawns(log, stderr);
    const full = await until(() => exited || spawned() >= p.jobs, { timeoutMs: p.jobs * p.intervalMs * 4 + 15_000, everyMs: 100 });
    m.rampMs = elapsedMs(rampStart);
    m.spawned = spawned();
    if (exited) throw new Error(`warden watch exited early: ${tail(stderr)}`);
    if (!full) notes.push(`only ${m.spawned} of ${p.jobs} jobs were started after ${fmt.s(m.rampMs)}`);
    await sleep(500);
    m.live = liveSleeps();

    const cpu0 = cpuSeconds(handle.pid);
    const t0 = process.hrtime.bigint();
    const mem0 = memory(handle.pid);
    await sleep(p.idleMs);
    const cpu1 = cpuSeconds(handle.pid);
    const wall = elapsedMs(t0) / 1000;
    const mem1 = memory(handle.pid);
    m.cpuPct = ((cpu1 - cpu0) / wall) * 100;
    m.rssKb = Math.max(mem0?.rssKb ?? NaN, mem1?.rssKb ?? NaN);
    m.hwmKb = mem1?.hwmKb;
    m.live = Math.min(m.live, liveSleeps());
  } catch (err) {
    notes.push(err instanceof Error ? err.message : String(err));
  } finally {
    killGroup(handle.pid, 'SIGTERM');
    const t = process.hrtime.bigint();
    let timer;
    await Promise.race([handle.done, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    m.stopMs = elapsedMs(t);
    if (!exited) notes.push('warden watch did not exit within 10 s of SIGTERM; killed');
    killGroup(handle.pid, 'SIGKILL');
    await sleep(100);
    const left = liveSleeps();
    if (left > 0) notes.push(`${left} job(s) outlived warden's shutdown and were killed by the bench`);
    killTagged();
  }

  const events = readEvents(log, stderr);
  Object.assign(m, drift(events, p.intervalMs));
  const overruns = events.filter((e) => e.event === 'skip' && e.reason === 'overrun').length;
  if (overruns) notes.push(`${overruns} tick(s) were skipped as overrun`);
  if (Number.isFinite(m.live) && m.live < p.jobs) notes.push(`${m.live} jobs were live during the measurement (goal was ${p.jobs})`);
  ctx.log(`  ${id}: ramp ${fmt.s(m.rampMs)}, live ${m.live}, RSS ${fmt.mb(m.rssKb)}, peak ${fmt.mb(m.hwmKb)}, idle CPU ${fmt.pct(m.cpuPct)}, drift ${m.driftTicks?.toFixed(2)} ticks over ${m.ticks} ticks`);
  fs.rmSync(dir, { recursive: true, force: true });
  return rows(p, m, notes);
}
export { run_ as run };

function rows(p, m, notes) {
  const have = Number.isFinite(m.rssKb);
  const live = Number.isFinite(m.live) ? m.live : p.jobs;
  return [
    {
      scenario: id,
      measure: `watch holding ${live} live jobs: RSS (peak)`,
      cells: { warden: have ? `${fmt.mb(m.rssKb)} (${fmt.mb(m.hwmKb)})` : 'n/a' },
      ratio: '—',
      goal: 'RSS ≤ 150 MB',
      met: have ? Math.max(m.rssKb, m.hwmKb || 0) <= 150 * 1024 : null,
      notes,
    },
    {
      scenario: id,
      measure: `watch holding ${live} live jobs, ticking every ${p.intervalMs} ms: CPU`,
      cells: { warden: Number.isFinite(m.cpuPct) ? `${fmt.pct(m.cpuPct)} of a core` : 'n/a' },
      ratio: '—',
      goal: '≤ 2% of a core',
      met: Number.isFinite(m.cpuPct) ? m.cpuPct <= 2 : null,
      notes: [],
    },
    {
      scenario: id,
      measure: `tick drift over ${m.ticks ?? '—'} ticks of ${p.intervalMs} ms`,
      cells: { warden: Number.isFinite(m.driftTicks) ? `${m.driftTicks.toFixed(2)} ticks (last tick ${Math.abs(m.lateMs).toFixed(0)} ms ${m.lateMs < 0 ? 'early' : 'late'})` : 'n/a' },
      ratio: '—',
      goal: 'drift ≤ 1 tick',
      met: Number.isFinite(m.driftTicks) ? Math.abs(m.driftTicks) <= 1 : null,
      notes: [],
    },
  ];
}

/** Elapsed time between the first and last tick, in intervals, against the ticks logged. */
export function drift(events, intervalMs) {
  let ticked = events.filter((e) => e.event === 'check' && Number.isFinite(e.tick));
  // With no --check there are no check events: a tick is its spawn or skip.
  if (ticked.length < 2) ticked = events.filter((e) => (e.event === 'spawn' || e.event === 'skip') && Number.isFinite(e.tick));
  const first = new Map();
  for (const e of ticked) {
    const ts = Date.parse(e.ts);
    if (!Number.isFinite(ts)) continue;
    if (!first.has(e.tick) || first.get(e.tick) > ts) first.set(e.tick, ts);
  }
  if (first.size < 2) return {};
  const ticks = [...first.keys()].sort((a, b) => a - b);
  const t0 = first.get(ticks[0]);
  const t1 = first.get(ticks[ticks.length - 1]);
  const expected = (t1 - t0) / intervalMs;
  const counted = ticks.length - 1;
  return {
    ticks: ticks.length,
    driftTicks: expected - counted,
    lateMs: t1 - t0 - (ticks[ticks.length - 1] - ticks[0]) * intervalMs,
  };
}

let spawnCache = { size: -1, count: 0 };
function countSpawns(...files) {
  let size = 0;
  for (const file of files) {
    try {
      size += fs.statSync(file).size;
    } catch {
      // Not written yet.
    }
  }
  if (size === spawnCache.size) return spawnCache.count;
  const count = readEvents(...files).filter((e) => e.event === 'spawn').length;
  spawnCache = { size, count };
  return count;
}

/** `sleep` processes started by this bench run that are still alive. */
function liveSleeps() {
  let n = 0;
  for (const pid of taggedPids()) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      if (path.basename(cmd[0]) === 'sleep') n++;
    } catch {
      // Gone.
    }
  }
  return n;
}

function tail(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-2).join(' / ');
  } catch {
    return '';
  }
}
