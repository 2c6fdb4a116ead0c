// Scenario 3: how long a freed slot of a cap-1 pool stays empty when another process waits for it.
//
// A chain of wrapper processes shares one slot. Process k's job writes a start stamp, sleeps,
// and writes an end stamp as its last act. As soon as job k has started, the bench starts
// process k+1, which finds the slot taken and waits. The hand-off is the time from job k's end
// stamp to job k+1's start stamp (`date +%s%N`: realtime, fine within one machine), so it
// includes the holder's exit, the waiter noticing, taking the slot and starting its job.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, benchEnv, codeCacheNote, cpuSeconds, fmt, median, missingCell, percentile, readEvents, sleep, start, tmpDir, until, warden, wardenHas, which } from './lib.js';

export const id = 'hand-off';
export const title = 'Slot hand-off';

const FULL = { rounds: 3, gaps: 10, holdMs: 300, probes: 500, cpuWindowMs: 5000 };
const QUICK = { rounds: 1, gaps: 4, holdMs: 250, probes: 500, cpuWindowMs: 1000 };

export function method(quick) {
  const p = quick ? QUICK : FULL;
  return (
    'A pool of cap 1 shared by a chain of wrapper processes: while process k runs its job (`date +%s%N > start; ' +
    `sleep ${p.holdMs / 1000}; date +%s%N > end\`), process k+1 is started and has to wait for the slot. ` +
    'The hand-off is job k\'s end stamp to job k+1\'s start stamp: the holder\'s exit, the waiter noticing it, taking the ' +
    'slot and starting its job (a `sh` and a `date` exec are part of every figure: the flock column shows that floor). ' +
    '`warden run --max-live 1 --overflow wait -- sh -c JOB` against `sem --fg --id h -j 1 --quote sh -c JOB` and `flock LOCK sh -c JOB` ' +
    '(blocking flock: the kernel wakes the waiter, the floor). ' +
    `${p.rounds} round(s) of ${p.gaps} hand-offs per tool, in turn. A warden sample counts only when the waiter logged its ` +
    '`wait` event before the holder\'s job ended (it really waited). p99 is nearest-rank, so with few samples it is the maximum. ' +
    `The waiter's CPU: a slot held by a job has ${p.probes} \`status\` probes (the status command's own code, in-process), ` +
    `then a \`warden run\` waits for it; its utime+stime over ${p.cpuWindowMs / 1000} s of waiting, from /proc/PID/stat.`
  );
}

export async function run_(ctx) {
  const p = { ...(ctx.quick ? QUICK : FULL) };
  if (ctx.rounds) p.rounds = ctx.rounds;
  const notes = [];
  const tools = {
    warden: wardenHas('run') ? wardenWrapper : undefined,
    sem: which('sem') ? semWrapper : undefined,
    flock: which('flock') ? flockWrapper : undefined,
  };
  const gaps = Object.fromEntries(Object.keys(tools).map((k) => [k, []]));
  const discarded = Object.fromEntries(Object.keys(tools).map((k) => [k, 0]));
  for (let r = 0; r < p.rounds; r++) {
    for (const [name, wrapper] of Object.entries(tools)) {
      if (!wrapper) continue;
      const result = await chain(wrapper, p, notes);
      gaps[name].push(...result.gaps);
      discarded[name] += result.discarded;
      ctx.log(`  ${id} round ${r + 1}/${p.rounds}: ${name} ${result.gaps.map((g) => g.toFixed(1)).join(' ')} ms`);
    }
  }

  const cellsMedian = {};
  const cellsP99 = {};
  for (const [name, wrapper] of Object.entries(tools)) {
    if (!wrapper) {
      cellsMedian[name] = cellsP99[name] = missingCell(name);
      continue;
    }
    cellsMedian[name] = fmt.ms(median(gaps[name]));
    cellsP99[name] = fmt.ms(percentile(gaps[name], 99));
    if (discarded[name]) notes.push(`${name}: ${discarded[name]} sample(s) left out because the waiter was not yet waiting`);
  }
  if (tools.warden) {
    const cpu = await waiterCpu(p);
    notes.push(
      cpu ? `the waiting \`run\` used ${cpu.cpuMs.toFixed(0)} ms of CPU in ${(cpu.windowMs / 1000).toFixed(1)} s (${((100 * cpu.cpuMs) / cpu.windowMs).toFixed(2)}% of a core), behind a slot that had ${p.probes} status probes` : 'the waiting run\'s CPU could not be measured',
    );
  }
  if (tools.warden) notes.push(codeCacheNote());
  const wMed = median(gaps.warden);
  const wP99 = percentile(gaps.warden, 99);
  const n = gaps.warden.length;
  return [
    {
      scenario: id,
      measure: `cap 1, holder exit → waiter's job start: median (n=${n})`,
      cells: cellsMedian,
      ratio: fmt.ratioOf(wMed / median(gaps.sem), 'sem'),
      goal: 'median ≤ 5 ms',
      met: Number.isFinite(wMed) ? wMed <= 5 : null,
      notes,
    },
    {
      scenario: id,
      measure: `cap 1, holder exit → waiter's job start: p99 (n=${n})`,
      cells: cellsP99,
      ratio: fmt.ratioOf(wP99 / percentile(gaps.sem, 99), 'sem'),
      goal: 'p99 ≤ 15 ms',
      met: Number.isFinite(wP99) ? wP99 <= 15 : null,
      notes: [],
    },
  ];
}
export { run_ as run };

function jobScript(dir, k, holdMs) {
  const s = path.join(dir, `start-${k}`);
  const e = path.join(dir, `end-${k}`);
  // Stamps are read only after every process has exited, so no rename is needed.
  return `date +%s%N > ${s}; sleep ${holdMs / 1000}; date +%s%N > ${e}`;
}

const wardenWrapper = wardenWrapperWith([]);

/** `warden run` in the chain, with extra options (the redis scenario adds `--redis URL`). */
export function wardenWrapperWith(extra) {
  return (dir, k, holdMs) => {
    const log = path.join(dir, `log-${k}.jsonl`);
    const handle = warden(
      ['run', '--pool', 'h', '--max-live', '1', '--overflow', 'wait', '--state-dir', path.join(dir, 'state'), ...extra, '--log', 'json', '--', 'sh', '-c', jobScript(dir, k, holdMs)],
      { stdout: log, stderr: `${log}.stderr` },
    );
    return { ...handle, log };
  };
}

export function semWrapper(dir, k, holdMs) {
  const env = benchEnv({ PARALLEL_HOME: path.join(dir, 'parallel'), TMPDIR: dir });
  return start('sem', ['--will-cite', '--fg', '--id', 'h', '-j', '1', '--quote', 'sh', '-c', jobScript(dir, k, holdMs)], { env });
}

export function flockWrapper(dir, k, holdMs) {
  return start('flock', [path.join(dir, 'lock'), 'sh', '-c', jobScript(dir, k, holdMs)]);
}

const readStamp = (file) => {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(text) ? BigInt(text) : undefined;
  } catch {
    return undefined;
  }
};

/** A chain of `p.gaps + 1` wrappers on one cap-1 slot; the hand-off gaps in ms (also used by the redis scenario). */
export async function chain(wrapper, p, notes) {
  const dir = tmpDir('hand-off');
  const procs = [];
  const count = p.gaps + 1;
  for (let k = 0; k < count; k++) {
    procs.push(wrapper(dir, k, p.holdMs));
    // Start the next waiter only once this process holds the slot and its job has written its
    // start stamp: the shell creates the file before `date` runs, and a Node process started in
    // between would land its start-up inside the hand-off being measured.
    const ok = await until(() => readStamp(path.join(dir, `start-${k}`)) !== undefined, { timeoutMs: 30_000 });
    if (!ok) {
      addNote(notes, `a chain stalled: process ${k} never started its job`);
      break;
    }
  }
  const results = await Promise.all(procs.map((h) => h.done));
  const failed = results.filter((r) => r.code !== 0).length;
  if (failed) addNote(notes, `${failed} wrapper process(es) exited non-zero`);

  const gaps = [];
  let discarded = 0;
  // Warden logs a `wait` event when it finds the pool full; if it logged none at all in this
  // chain, it does not log them (any more), and readiness cannot be checked.
  const logs = procs.map((h) => (h.log ? readEvents(h.log, `${h.log}.stderr`) : []));
  const checkable = logs.some((events) => events.some((e) => e.event === 'wait'));
  if (procs[0]?.log && !checkable) addNote(notes, 'warden logged no `wait` event, so whether each waiter was already waiting was not checked');
  for (let k = 0; k + 1 < procs.length; k++) {
    const end = readStamp(path.join(dir, `end-${k}`));
    const next = readStamp(path.join(dir, `start-${k + 1}`));
    if (end === undefined || next === undefined) continue;
    if (checkable) {
      const waited = logs[k + 1].find((e) => e.event === 'wait');
      if (!waited || BigInt(Date.parse(waited.ts)) * 1_000_000n > end) {
        discarded++;
        continue;
      }
    }
    gaps.push(Number(next - end) / 1e6);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { gaps, discarded };
}

/** CPU a waiting `warden run` uses behind a slot that many `status` probes looked at. */
async function waiterCpu(p) {
  const dir = tmpDir('waiter-cpu');
  const state = path.join(dir, 'state');
  const release = path.join(dir, 'release');
  const args = ['run', '--pool', 'c', '--max-live', '1', '--state-dir', state];
  const holder = warden([...args, '--', 'sh', '-c', `touch ${dir}/held; while [ ! -f ${release} ]; do sleep 0.05; done`]);
  const log = path.join(dir, 'waiter.jsonl');
  let waiter;
  try {
    if (!(await until(() => fs.existsSync(`${dir}/held`), { timeoutMs: 30_000 }))) return undefined;
    const { inspectPools } = await import(pathToFileURL(path.join(ROOT, 'dist', 'commands', 'status.js')).href);
    for (let i = 0; i < p.probes; i++) await inspectPools(state, 'c');
    waiter = warden([...args, '--log', 'json', '--', 'true'], { stdout: log, stderr: `${log}.stderr` });
    if (!(await until(() => readEvents(log, `${log}.stderr`).some((e) => e.event === 'wait'), { timeoutMs: 30_000 }))) return undefined;
    const before = cpuSeconds(waiter.pid);
    const t0 = performance.now();
    await sleep(p.cpuWindowMs);
    const after = cpuSeconds(waiter.pid);
    if (before === undefined || after === undefined) return undefined;
    return { cpuMs: (after - before) * 1000, windowMs: performance.now() - t0 };
  } finally {
    fs.writeFileSync(release, '');
    await holder.done;
    if (waiter) await waiter.done;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function addNote(notes, note) {
  if (!notes.includes(note)) notes.push(note);
}
