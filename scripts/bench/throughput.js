// Scenario 1: N jobs that do nothing, through a pool of cap 8, in one process.
import fs from 'node:fs';
import path from 'node:path';
import { NODE, ROOT, benchEnv, fmt, median, readEvents, run, sh, tmpDir, toolCells, warden, wardenHas, which } from './lib.js';

const CAP = 8;

export const id = 'throughput';
export const title = 'Throughput';

export function method(quick) {
  const n = quick ? QUICK_JOBS : FULL_JOBS;
  return (
    `${n} jobs that run \`true\` through \`/bin/sh -c\`, at most ${CAP} at a time, in one process: ` +
    `\`warden once --each-line --check 'seq ${n}' --job true --max-live ${CAP} --max-queue unlimited --overflow wait --output DIR --log json\`; ` +
    `\`seq ${n} | xargs -P ${CAP} -n 1 sh -c true\`; \`seq ${n} | parallel -j ${CAP} true\`; ` +
    `\`tsp -S ${CAP}\` then one \`tsp -n sh -c true\` per job and a last \`tsp -N ${CAP}\` job waited with \`tsp -w\` (the client start per job is part of tsp's cost); ` +
    `and a plain Node loop (\`child_process.spawn(cmd, {shell: true, stdio: 'ignore'})\`, ${CAP} at a time). ` +
    'Each round runs every tool once, in turn; the figure is the median of the rounds, in jobs per second of wall time including process start-up.'
  );
}

const FULL_JOBS = 2000;
const QUICK_JOBS = 150;

export async function run_(ctx) {
  const n = ctx.quick ? QUICK_JOBS : FULL_JOBS;
  const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
  const notes = [];

  const tools = {
    warden: wardenHas('once') ? async () => wardenOnce(n, notes) : undefined,
    node: async () => timed(run(NODE, [path.join(ROOT, 'scripts', 'bench', 'node-loop.js'), String(n), String(CAP), 'true'])),
    xargs: which('xargs') ? async () => timed(sh(`seq ${n} | xargs -P ${CAP} -n 1 sh -c true`)) : undefined,
    parallel: which('parallel') ? async () => parallel(n) : undefined,
    tsp: which('tsp') ? async () => tsp(n) : undefined,
  };

  const times = Object.fromEntries(Object.keys(tools).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(tools)) {
      if (!fn) continue;
      const ms = await fn();
      times[name].push(ms);
      ctx.log(`  ${id} round ${r + 1}/${rounds}: ${name} ${fmt.s(ms)}`);
    }
  }

  const { values: rate, cells } = toolCells(tools, (name) => n / (median(times[name]) / 1000), fmt.rate);
  const vsNode = rate.warden / rate.node;
  const vsParallel = rate.warden / rate.parallel;
  return [
    {
      scenario: id,
      measure: `${n} \`true\` jobs, cap ${CAP}: jobs/s`,
      cells,
      ratio: fmt.ratioOf(vsNode, 'Node loop'),
      goal: '≥ 0.8x Node loop',
      met: Number.isFinite(vsNode) ? vsNode >= 0.8 : null,
      notes,
    },
    {
      scenario: id,
      measure: `${n} \`true\` jobs, cap ${CAP}: jobs/s`,
      cells,
      ratio: fmt.ratioOf(vsParallel, 'parallel'),
      goal: '≥ 2x GNU parallel',
      met: Number.isFinite(vsParallel) ? vsParallel >= 2 : null,
      notes: [],
    },
  ];
}
export { run_ as run };

async function timed(resultPromise) {
  const r = await resultPromise;
  if (r.code !== 0) throw new Error(`a throughput run failed with ${r.code ?? r.signal}`);
  return r.ms;
}

async function wardenOnce(n, notes) {
  const dir = tmpDir('throughput-warden');
  const log = path.join(dir, 'events.jsonl');
  const output = path.join(dir, 'out');
  fs.mkdirSync(output);
  const { done } = warden(
    [
      'once', '--each-line', '--check', `seq ${n}`, '--job', 'true',
      '--max-live', String(CAP), '--max-queue', 'unlimited', '--overflow', 'wait',
      '--pool', 'throughput', '--state-dir', path.join(dir, 'state'), '--output', output, '--log', 'json',
    ],
    { stdout: log, stderr: path.join(dir, 'stderr') },
  );
  const r = await done;
  const exits = readEvents(log, path.join(dir, 'stderr')).filter((e) => e.event === 'exit').length;
  if (r.code !== 0) {
    notes.push(`warden once exited with ${r.code ?? r.signal}: ${fs.readFileSync(path.join(dir, 'stderr'), 'utf8').trim().split('\n').pop()}`);
  } else if (exits !== n && !notes.some((s) => s.startsWith('warden logged'))) {
    notes.push(`warden logged ${exits} exit events for ${n} jobs`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return r.ms;
}

async function parallel(n) {
  const dir = tmpDir('throughput-parallel');
  const r = await sh(`seq ${n} | parallel --will-cite -j ${CAP} true`, { env: benchEnv({ PARALLEL_HOME: dir, TMPDIR: dir }) });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`parallel failed with ${r.code ?? r.signal}`);
  return r.ms;
}

async function tsp(n) {
  const dir = tmpDir('throughput-tsp');
  const env = benchEnv({ TS_SOCKET: path.join(dir, 'tsp.sock'), TMPDIR: dir, TS_MAXFINISHED: String(n + 10) });
  // The server starts with the first client; -N CAP on the last job makes it wait for every slot.
  const script = `tsp -S ${CAP} && i=0; while [ $i -lt ${n} ]; do tsp -n sh -c true >/dev/null; i=$((i+1)); done; tsp -n -N ${CAP} true >/dev/null && tsp -w`;
  const r = await sh(script, { env });
  await sh('tsp -K', { env });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`tsp failed with ${r.code ?? r.signal}`);
  return r.ms;
}
