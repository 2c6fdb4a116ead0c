// Scenario 2: the cost of one `warden run -- true` against other one-shot wrappers.
import fs from 'node:fs';
import path from 'node:path';
import { codeCacheNote, NODE, benchEnv, fmt, median, run, tmpDir, toolCells, warden, wardenHas, which } from './lib.js';

export const id = 'one-shot';
export const title = 'One-shot overhead';

const FULL_ROUNDS = 21;
const QUICK_ROUNDS = 5;

export function method(quick) {
  const rounds = quick ? QUICK_ROUNDS : FULL_ROUNDS;
  return (
    'Wall time of one short-lived wrapper around `true`, from spawn to exit: ' +
    '`warden run --pool b --state-dir DIR -- true` against `node -e 0` (the floor for any Node CLI), ' +
    '`sem --fg --id b true` (GNU parallel\'s semaphore) and `flock -n FILE true`. ' +
    `${rounds} rounds, each running every tool once in turn (after one unmeasured warm-up round); median.`
  );
}

export async function run_(ctx) {
  const rounds = ctx.rounds ? Math.max(3, ctx.rounds * 5) : ctx.quick ? QUICK_ROUNDS : FULL_ROUNDS;
  const dir = tmpDir('one-shot');
  const stateDir = path.join(dir, 'state');
  const lock = path.join(dir, 'lock');
  const semEnv = benchEnv({ PARALLEL_HOME: path.join(dir, 'parallel'), TMPDIR: dir });
  const notes = [];

  const check = (name) => (r) => {
    if (r.code !== 0) {
      const msg = `${name} exited with ${r.code ?? r.signal}`;
      if (!notes.includes(msg)) notes.push(msg);
    }
    return r.ms;
  };
  const tools = {
    warden: wardenHas('run')
      ? () => warden(['run', '--pool', 'b', '--state-dir', stateDir, '--', 'true']).done.then(check('warden run'))
      : undefined,
    node: () => run(NODE, ['-e', '0']).then(check('node -e 0')),
    sem: which('sem') ? () => run('sem', ['--will-cite', '--fg', '--id', 'b', 'true'], { env: semEnv }).then(check('sem')) : undefined,
    flock: which('flock') ? () => run('flock', ['-n', lock, 'true']).then(check('flock')) : undefined,
  };

  const times = Object.fromEntries(Object.keys(tools).map((k) => [k, []]));
  for (let r = -1; r < rounds; r++) {
    for (const [name, fn] of Object.entries(tools)) {
      if (!fn) continue;
      const ms = await fn();
      if (r >= 0) times[name].push(ms);
    }
  }
  // NODE_EXTRA_CA_CERTS makes every Node process read and parse that file as it starts, before
  // any of its own code runs: where it is set, say what it costs (all figures above include it).
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra && tools.warden) {
    const without = benchEnv();
    delete without.NODE_EXTRA_CA_CERTS;
    const bare = { warden: [], node: [] };
    for (let r = 0; r < Math.min(rounds, 11); r++) {
      bare.warden.push(await warden(['run', '--pool', 'b', '--state-dir', stateDir, '--', 'true'], { env: without }).done.then(check('warden run')));
      bare.node.push(await run(NODE, ['-e', '0'], { env: without }).then(check('node -e 0')));
    }
    notes.push(
      `this machine sets NODE_EXTRA_CA_CERTS (${extra}), which every Node process, warden included, reads and parses as it starts: ` +
        `without it, \`node -e 0\` took ${fmt.ms(median(bare.node))} and \`warden run -- true\` ${fmt.ms(median(bare.warden))} (median of ${bare.node.length})`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
  notes.push(codeCacheNote());

  const { values: med, cells } = toolCells(tools, (name) => median(times[name]), fmt.ms);
  ctx.log(`  ${id}: ${Object.entries(cells).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const vsNode = med.warden / med.node;
  const vsSem = med.warden / med.sem;
  return [
    {
      scenario: id,
      measure: '`run -- true`: median wall time',
      cells,
      ratio: fmt.ratioOf(vsNode, 'node -e 0'),
      goal: '≤ 1.5x `node -e 0`',
      met: Number.isFinite(vsNode) ? vsNode <= 1.5 : null,
      notes,
    },
    {
      scenario: id,
      measure: '`run -- true`: median wall time',
      cells,
      ratio: fmt.ratioOf(vsSem, 'sem'),
      goal: 'faster than `sem --fg`',
      met: Number.isFinite(vsSem) ? vsSem < 1 : null,
      notes: [],
    },
  ];
}
export { run_ as run };
