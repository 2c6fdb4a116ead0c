// Scenario 6: `warden log` over a generated log of a million events: wall time and peak RSS.
import fs from 'node:fs';
import path from 'node:path';
import { fmt, median, memorySampler, tmpDir, warden, wardenHas } from './lib.js';

export const id = 'log';
export const title = 'Log summary';

const FULL = { events: 1_000_000, rounds: 3 };
const QUICK = { events: 100_000, rounds: 1 };
const POOLS = ['mail', 'reports', 'thumbs', 'backup'];
const COMMANDS = 40;

export function method(quick) {
  const p = quick ? QUICK : FULL;
  return (
    `A generated JSON-lines log of ${p.events.toLocaleString('en')} events as \`--log-file\` writes them ` +
    `(${POOLS.length} pools, ${COMMANDS} job commands, 6 watch processes on 3 hosts: checks, spawns, exits with a tail, retries, waits, skips, ` +
    'and one malformed line in 10,000). Wall time and peak RSS (VmRSS/VmHWM every 20 ms) of `warden log FILE` (the text summary), ' +
    'and of `warden log --timeline FILE`, which also keeps every job of the window for the drawing. ' +
    `${p.rounds} round(s); median time, highest peak.`
  );
}

/** Writes the log; returns its size in bytes. Deterministic (a fixed seed), so rounds compare. */
function generate(file, events) {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const fd = fs.openSync(file, 'w');
  let chunk = [];
  let written = 0;
  let bytes = 0;
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  let t = t0;
  const put = (e) => {
    chunk.push(JSON.stringify(e));
    written++;
    if (written % 10_000 === 0) chunk.push('{"ts": "2026-11-01T00:00:00Z", "event": "exit", "trunc');
    if (chunk.length >= 5000) flush();
  };
  const flush = () => {
    const text = chunk.join('\n') + '\n';
    bytes += Buffer.byteLength(text);
    fs.writeSync(fd, text);
    chunk = [];
  };
  const procs = [];
  for (let i = 0; i < 6; i++) {
    const proc = { pid: 1000 + i, host: `host-${i % 3}`, pool: POOLS[i % POOLS.length], live: [], tick: 0 };
    procs.push(proc);
    put({ ts: new Date(t).toISOString(), event: 'start', pid: proc.pid, host: proc.host, mode: 'watch', pool: proc.pool, maxLive: 4, schedule: 'every 2s', version: '0.1.0', backend: 'socket', stateDir: '/run/warden' });
  }
  while (written < events) {
    t += Math.floor(random() * 400);
    const proc = procs[Math.floor(random() * procs.length)];
    const ts = new Date(t).toISOString();
    const base = { ts, pid: proc.pid, host: proc.host };
    // Finish a job that is due, else tick: check, and maybe spawn or wait or skip.
    const due = proc.live.findIndex((j) => j.end <= t);
    if (due >= 0) {
      const [job] = proc.live.splice(due, 1);
      const r = random();
      const outcome = r < 0.9 ? 'ok' : r < 0.96 ? 'failed' : r < 0.99 ? 'timeout' : 'killed';
      put({ ...base, event: 'exit', jobId: job.jobId, jobPid: job.jobPid, command: job.command, exitCode: outcome === 'ok' ? 0 : 1, signal: null, durationMs: t - job.start, outcome, tail: `sent ${Math.floor(random() * 500)} mails\ndone`, attempt: job.attempt, tick: job.tick, slot: job.slot, forced: false, leftover: false });
      if (outcome === 'failed' && job.attempt === 1) put({ ...base, event: 'retry', jobId: job.jobId, attempt: 2, delayMs: 1000 });
      continue;
    }
    const tick = ++proc.tick;
    const c = random();
    const outcome = c < 0.6 ? 'fired' : c < 0.97 ? 'idle' : 'error';
    put({ ...base, event: 'check', tick, outcome, exitCode: outcome === 'fired' ? 0 : outcome === 'idle' ? 1 : 2, signal: null, durationMs: Math.floor(random() * 300), triggers: outcome === 'fired' ? 1 : 0 });
    if (outcome !== 'fired') continue;
    if (proc.live.length >= 4) {
      put(random() < 0.5 ? { ...base, event: 'wait', pool: proc.pool, live: 4, maxLive: 4, tick } : { ...base, event: 'skip', reason: 'pool-full', tick, pool: proc.pool });
      continue;
    }
    const used = new Set(proc.live.map((j) => j.slot));
    const slot = [0, 1, 2, 3].find((s) => !used.has(s));
    const job = { jobId: `${tick}.1`, jobPid: 20_000 + (written % 30_000), command: `./job-${Math.floor(random() * COMMANDS)}.sh --batch`, slot, tick, attempt: 1, start: t, end: t + Math.floor(random() ** 2 * 20_000) };
    proc.live.push(job);
    put({ ...base, event: 'spawn', jobId: job.jobId, jobPid: job.jobPid, command: job.command, slot, tick, attempt: 1, delayMs: 0 });
  }
  flush();
  fs.closeSync(fd);
  return bytes;
}

export async function run_(ctx) {
  const p = { ...(ctx.quick ? QUICK : FULL) };
  if (ctx.rounds) p.rounds = ctx.rounds;
  if (!wardenHas('log')) {
    return [{ scenario: id, measure: `summary of ${p.events.toLocaleString('en')} events`, cells: { warden: 'n/a' }, ratio: '—', goal: '—', met: null, notes: ['this build has no `warden log`'] }];
  }
  const dir = tmpDir('log');
  const file = path.join(dir, 'events.jsonl');
  const bytes = generate(file, p.events);
  ctx.log(`  ${id}: generated ${fmt.mb(bytes / 1024)} of log`);
  const notes = [];
  const measure = async (args) => {
    const stderr = path.join(dir, 'stderr');
    const handle = warden(['log', ...args, file], { stdout: '/dev/null', stderr, timeoutMs: 300_000 });
    const sampler = memorySampler(handle.pid, 20);
    const r = await handle.done;
    const { peakKb } = sampler.stop();
    if (r.code !== 0) notes.push(`warden log ${args.join(' ')} exited with ${r.code ?? r.signal}: ${fs.readFileSync(stderr, 'utf8').trim().split('\n').pop()}`);
    return { ms: r.ms, peakKb };
  };
  const runs = { summary: [], timeline: [] };
  for (let r = 0; r < p.rounds; r++) {
    runs.summary.push(await measure([]));
    runs.timeline.push(await measure(['--timeline', '--width', '120']));
    ctx.log(`  ${id} round ${r + 1}/${p.rounds}: summary ${fmt.s(runs.summary[r].ms)} ${fmt.mb(runs.summary[r].peakKb)}, timeline ${fmt.s(runs.timeline[r].ms)} ${fmt.mb(runs.timeline[r].peakKb)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const size = `${p.events.toLocaleString('en')} events (${fmt.mb(bytes / 1024)})`;
  const row = (label, list, goalS, goalMb) => {
    const ms = median(list.map((x) => x.ms));
    const peak = Math.max(...list.map((x) => x.peakKb));
    // The goals are set for a million events; the quick run's log is a tenth of it.
    const scale = p.events / 1_000_000;
    return {
      scenario: id,
      measure: `${label} of ${size}: wall time / peak RSS`,
      cells: { warden: `${fmt.s(ms)} / ${fmt.mb(peak)}` },
      ratio: '—',
      goal: `≤ ${goalS * scale} s and < ${goalMb} MB`,
      met: Number.isFinite(ms) && peak > 0 ? ms <= goalS * scale * 1000 && peak < goalMb * 1024 : null,
      notes: [],
    };
  };
  const rows = [row('`warden log FILE`', runs.summary, 10, 150), row('`warden log --timeline FILE`', runs.timeline, 15, 400)];
  rows[0].notes = notes;
  return rows;
}
export { run_ as run };
