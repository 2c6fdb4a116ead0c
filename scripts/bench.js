#!/usr/bin/env node
// `npm run bench`: warden against its peers (xargs, GNU parallel and sem, task-spooler, flock,
// plain Node), scenario by scenario, in alternating rounds. Prints a table and writes it, with
// the machine's description, to docs/benchmarks.md (or --out FILE).
import fs from 'node:fs';
import path from 'node:path';
import * as footprint from './bench/footprint.js';
import * as handoff from './bench/handoff.js';
import * as logSummary from './bench/log-summary.js';
import * as notify from './bench/notify.js';
import { ROOT, TAG, cleanup, fmt, removeScratch, setProfileDir, tmpRoot } from './bench/lib.js';
import * as oneshot from './bench/oneshot.js';
import * as output from './bench/output.js';
import * as redis from './bench/redis.js';
import { machine, markdown, peerVersions, table } from './bench/report.js';
import * as throughput from './bench/throughput.js';

const SCENARIOS = [throughput, oneshot, handoff, redis, footprint, output, logSummary, notify];

const USAGE = `Usage: npm run bench -- [--quick] [--out FILE] [--only ID,ID] [--rounds N] [--strict] [--profile DIR]

  --quick       small scenarios, the whole bench in under a minute (what the test runs)
  --out FILE    write the report here instead of docs/benchmarks.md
  --only IDS    run only these scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}
  --rounds N    rounds per scenario instead of the defaults
  --strict      exit 1 when a goal is missed
  --profile DIR every warden process writes a CPU profile to DIR (slows warden down: figures are
                then not comparable); read one with node scripts/bench/profile-summary.js FILE

Peers that are not installed are shown as absent. On Debian or Ubuntu:
  apt-get install parallel task-spooler util-linux`;

function parseArgs(argv) {
  const opts = { quick: false, out: path.join(ROOT, 'docs', 'benchmarks.md'), only: undefined, rounds: undefined, strict: false, profile: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--strict') opts.strict = true;
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--profile') opts.profile = path.resolve(value());
    else if (a === '--only') opts.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--rounds') {
      opts.rounds = Number(value());
      if (!Number.isInteger(opts.rounds) || opts.rounds < 1) usage('--rounds takes a positive whole number');
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else usage(`unknown option ${a}`);
  }
  if (opts.only) {
    const unknown = opts.only.filter((id) => !SCENARIOS.some((s) => s.id === id));
    if (unknown.length) usage(`unknown scenario ${unknown.join(', ')}`);
  }
  return opts;
}

function usage(message) {
  console.error(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function onSignal(signal, code) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, cleaning up`);
    cleanup();
    removeScratch();
    process.exit(code);
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  onSignal('SIGINT', 130);
  onSignal('SIGTERM', 143);
  onSignal('SIGHUP', 129);
  process.on('exit', () => {
    cleanup();
    removeScratch();
  });

  const startedAt = new Date();
  const t0 = process.hrtime.bigint();
  tmpRoot();
  if (opts.profile) setProfileDir(opts.profile);
  const info = machine();
  const versions = peerVersions();
  const scenarios = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.id));
  const log = (line) => console.error(line);
  log(`bench: ${opts.quick ? 'quick' : 'full'} run on ${info.cpu}, ${info.cores} cores, Node ${process.version}`);
  // Every process the bench starts carries WARDEN_BENCH_TAG=<tag> in its environment.
  log(`bench: tag ${TAG}`);

  const rows = [];
  let crashed = false;
  for (const s of scenarios) {
    const ts = process.hrtime.bigint();
    log(`bench: ${s.id} …`);
    try {
      rows.push(...(await s.run({ quick: opts.quick, rounds: opts.rounds, log })));
    } catch (err) {
      crashed = true;
      log(`bench: ${s.id} failed: ${err instanceof Error ? err.stack : err}`);
      rows.push({ scenario: s.id, measure: 'failed', cells: {}, ratio: '—', goal: '—', met: null, notes: [`the scenario failed: ${err instanceof Error ? err.message : err}`] });
    } finally {
      cleanup();
    }
    log(`bench: ${s.id} done in ${fmt.s(Number(process.hrtime.bigint() - ts) / 1e6)}`);
  }

  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const command = `npm run bench${opts.quick ? ' -- --quick' : ''}`;
  const doc = markdown({ rows, scenarios, quick: opts.quick, startedAt, seconds, info, versions, command });
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, doc);

  console.log(table(rows));
  const notes = rows.flatMap((r) => (r.notes ?? []).map((n) => `  ${r.scenario}: ${n}`));
  if (notes.length) console.log(`\nNotes:\n${notes.join('\n')}`);
  const missed = rows.filter((r) => r.met === false).length;
  console.log(`\n${rows.filter((r) => r.met === true).length} goal(s) met, ${missed} missed, ${rows.filter((r) => r.met === null).length} not measured; ${seconds.toFixed(1)} s; report: ${path.relative(process.cwd(), opts.out) || opts.out}`);
  process.exitCode = crashed || (opts.strict && missed) ? 1 : 0;
}

await main();
