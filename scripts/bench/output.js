// Scenario 5: a job that writes a lot of output, under warden against on its own.
import fs from 'node:fs';
import path from 'node:path';
import { fmt, median, memorySampler, sh, tmpDir, warden, wardenHas } from './lib.js';

export const id = 'output';
export const title = 'Output';

const LINE = 'warden bench output line %09.0f: the quick brown fox jumps over the lazy dog.';
const LINE_BYTES = 81;
const FULL = { mb: 200, rounds: 3 };
const QUICK = { mb: 20, rounds: 1 };

const job = (mb) => `seq -f '${LINE}' 1 ${Math.round((mb * 1_000_000) / LINE_BYTES)}`;

export function method(quick) {
  const p = quick ? QUICK : FULL;
  return (
    `A job that writes ${p.mb} MB to stdout in ${LINE_BYTES}-byte lines (\`${job(p.mb)}\`: formatting lines is part of the job, ` +
    'as in a real program; a bare `head -c` of `/dev/zero` is a memory copy that merely reading it through a pipe more than doubles). ' +
    'Wall time from spawn to exit of `warden run -- sh -c JOB` (the job writes to warden\'s own stdout), ' +
    '`warden once --job JOB` with the default display (warden reads the output and prefixes each line with the job id), ' +
    'both with warden\'s stdout on /dev/null, and `warden once --job JOB --output DIR`, ' +
    'against `sh -c \'JOB > /dev/null\'`. Warden\'s RSS is sampled every 20 ms (peak of VmRSS and VmHWM). ' +
    `${p.rounds} round(s), each running every variant in turn; median.`
  );
}

export async function run_(ctx) {
  const p = { ...(ctx.quick ? QUICK : FULL) };
  if (ctx.rounds) p.rounds = ctx.rounds;
  const cmd = job(p.mb);
  const expectedBytes = Math.round((p.mb * 1_000_000) / LINE_BYTES) * LINE_BYTES;
  const notes = [];
  const dir = tmpDir('output');
  const stateDir = path.join(dir, 'state');

  const viaWarden = async (name, args, outDir) => {
    const stderr = path.join(dir, `${name}.stderr`);
    const handle = warden(args, { stdout: '/dev/null', stderr });
    const sampler = memorySampler(handle.pid, 20);
    const r = await handle.done;
    const { peakKb } = sampler.stop();
    if (r.code !== 0) addNote(notes, `${name} exited with ${r.code ?? r.signal}: ${lastLine(stderr)}`);
    if (outDir) {
      const files = fs.readdirSync(outDir);
      const bytes = files.reduce((sum, f) => sum + fs.statSync(path.join(outDir, f)).size, 0);
      if (bytes < expectedBytes) addNote(notes, `${name}: --output holds ${bytes} bytes, the job wrote ${expectedBytes}`);
      fs.rmSync(outDir, { recursive: true, force: true });
    }
    return { ms: r.ms, peakKb };
  };

  const variants = {
    direct: async () => ({ ms: (await sh(`${cmd} > /dev/null`)).ms }),
    pipe: async () => ({ ms: (await sh(`${cmd} | cat > /dev/null`)).ms }),
    run: wardenHas('run')
      ? () => viaWarden('warden run', ['run', '--pool', 'o', '--state-dir', stateDir, '--', 'sh', '-c', cmd])
      : undefined,
    once: wardenHas('once')
      ? () => viaWarden('warden once', ['once', '--job', cmd, '--max-live', '1', '--pool', 'o', '--state-dir', stateDir])
      : undefined,
    onceOutput: wardenHas('once')
      ? () => {
          const out = path.join(dir, 'out');
          fs.mkdirSync(out, { recursive: true });
          return viaWarden('warden once --output', ['once', '--job', cmd, '--max-live', '1', '--pool', 'o', '--state-dir', stateDir, '--output', out], out);
        }
      : undefined,
  };

  const ms = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const peak = Object.fromEntries(Object.keys(variants).map((k) => [k, 0]));
  for (let r = 0; r < p.rounds; r++) {
    for (const [name, fn] of Object.entries(variants)) {
      if (!fn) continue;
      const result = await fn();
      ms[name].push(result.ms);
      peak[name] = Math.max(peak[name], result.peakKb ?? 0);
    }
    ctx.log(`  ${id} round ${r + 1}/${p.rounds}: ${Object.entries(ms).map(([k, v]) => `${k} ${fmt.s(v[v.length - 1])}`).join(', ')}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });

  const direct = median(ms.direct);
  addNote(notes, `the same job piped through \`cat > /dev/null\` (the floor for any reader of its output) took ${fmt.s(median(ms.pipe))}`);
  const labels = {
    run: '`run` (display)',
    once: '`once` (display)',
    onceOutput: '`once --output DIR`',
  };
  const rows = [];
  for (const [name, label] of Object.entries(labels)) {
    const have = Boolean(variants[name]);
    const t = median(ms[name]);
    const ratio = t / direct;
    rows.push({
      scenario: id,
      measure: `${p.mb} MB of output, ${label}: wall time`,
      cells: { warden: have ? fmt.s(t) : 'n/a', direct: fmt.s(direct) },
      ratio: fmt.ratioOf(ratio, '/dev/null'),
      goal: '≤ 1.5x the job > /dev/null',
      met: have && Number.isFinite(ratio) ? ratio <= 1.5 : null,
      notes: rows.length === 0 ? notes : [],
    });
  }
  const peaks = Object.keys(labels).filter((k) => variants[k]).map((k) => peak[k]);
  const worst = peaks.length ? Math.max(...peaks) : NaN;
  rows.push({
    scenario: id,
    measure: `${p.mb} MB of output: warden's peak RSS (run / once / once --output)`,
    cells: { warden: peaks.length ? Object.keys(labels).filter((k) => variants[k]).map((k) => fmt.mb(peak[k])).join(' / ') : 'n/a' },
    ratio: '—',
    goal: 'RSS < 150 MB',
    met: Number.isFinite(worst) && worst > 0 ? worst < 150 * 1024 : null,
    notes: [],
  });
  ctx.log(`  ${id}: direct ${fmt.s(direct)}, ${Object.keys(labels).map((k) => `${k} ${fmt.s(median(ms[k]))} peak ${fmt.mb(peak[k])}`).join(', ')}`);
  return rows;
}
export { run_ as run };

function addNote(notes, note) {
  if (!notes.includes(note)) notes.push(note);
}

function lastLine(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
  } catch {
    return '';
  }
}
