// Shared helpers for the benchmark: spawning measured processes in their own process groups,
// reading /proc, statistics, and cleaning up everything the bench started.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WARDEN_BIN = path.join(ROOT, 'bin', 'warden.js');
export const NODE = process.execPath;

/** Every process the bench starts carries this tag in its environment, so clean-up finds it. */
export const TAG = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
const TAG_ENTRY = `WARDEN_BENCH_TAG=${TAG}`;

const groups = new Set();
let scratch;

/** One temp dir for the whole run; each scenario takes sub-folders of it. */
export function tmpRoot() {
  scratch ??= fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
  return scratch;
}

export function tmpDir(name) {
  const dir = path.join(tmpRoot(), `${name}-${crypto.randomBytes(3).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function benchEnv(extra = {}) {
  const env = { ...process.env, WARDEN_BENCH_TAG: TAG, ...extra };
  // The bench decides every warden setting on the command line.
  for (const key of Object.keys(env)) if (key.startsWith('WARDEN_') && key !== 'WARDEN_BENCH_TAG') delete env[key];
  delete env.FORCE_COLOR;
  env.NO_COLOR = '1';
  return env;
}

/**
 * Start a process as the leader of its own process group. `stdout`/`stderr` are 'ignore',
 * 'pipe', or a file path (opened for writing). Resolves on the process's exit with its wall time.
 */
export function start(cmd, args, options = {}) {
  const { env = benchEnv(), cwd = ROOT, stdout = 'ignore', stderr = 'ignore', stdin = 'ignore', timeoutMs = 120_000 } = options;
  const fds = [];
  const open = (s) => {
    if (s === 'ignore' || s === 'pipe' || s === 'inherit') return s;
    const fd = fs.openSync(s, 'w');
    fds.push(fd);
    return fd;
  };
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { env, cwd, detached: true, stdio: [stdin, open(stdout), open(stderr)] });
  for (const fd of fds) fs.closeSync(fd);
  if (child.pid) groups.add(child.pid);
  const done = new Promise((resolve) => {
    let timer;
    const finish = (result) => {
      clearTimeout(timer);
      resolve(result);
    };
    child.once('error', (err) => finish({ code: null, signal: null, ms: elapsedMs(t0), error: err }));
    child.once('exit', (code, signal) => {
      const ms = elapsedMs(t0);
      // The leader is gone; kill whatever it left in its group.
      killGroup(child.pid, 'SIGKILL');
      groups.delete(child.pid);
      finish({ code, signal, ms });
    });
    timer = setTimeout(() => {
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
  });
  return { child, pid: child.pid, t0, done };
}

/** Run to completion; returns {code, signal, ms}. */
export async function run(cmd, args, options = {}) {
  return start(cmd, args, options).done;
}

export function sh(script, options = {}) {
  return run('/bin/sh', ['-c', script], options);
}

let profileDir;
/** `--profile DIR`: every warden process writes a V8 CPU profile there (see profile-summary.js). */
export function setProfileDir(dir) {
  profileDir = dir;
  fs.mkdirSync(dir, { recursive: true });
}

export function warden(args, options = {}) {
  const node = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '250'] : [];
  return start(NODE, [...node, WARDEN_BIN, ...args], options);
}

export function elapsedMs(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function killGroup(pid, signal) {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Kill every process group the bench started, then anything else that carries its tag. */
export function cleanup() {
  for (const pid of groups) killGroup(pid, 'SIGKILL');
  groups.clear();
  killTagged();
}

/** SIGKILL every process that carries this run's tag (jobs orphaned by a wrapper). */
export function killTagged() {
  for (const pid of taggedPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

export function removeScratch() {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** Processes (not us) whose environment carries this run's tag: jobs that escaped their group. */
export function taggedPids() {
  const found = [];
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (environ.split('\0').includes(TAG_ENTRY)) found.push(pid);
    } catch {
      // Exited or not ours.
    }
  }
  return found;
}

// /proc readers ----------------------------------------------------------------------------

export const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** {rssKb, hwmKb} from /proc/PID/status, or undefined once the process is gone. */
export function memory(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU seconds (utime+stime) the process itself used, from /proc/PID/stat. */
export function cpuSeconds(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Sample a process's memory every `everyMs` until stopped; keeps the peak. */
export function memorySampler(pid, everyMs = 20) {
  let peakKb = 0;
  let last;
  const sample = () => {
    const m = memory(pid);
    if (!m) return;
    last = m;
    peakKb = Math.max(peakKb, m.rssKb || 0, m.hwmKb || 0);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    sample,
    stop() {
      clearInterval(timer);
      return { peakKb, last };
    },
  };
}

// Statistics --------------------------------------------------------------------------------

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs, p) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const rank = Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length)));
  return v[rank - 1];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until `test()` is truthy, checking every `everyMs`; false on timeout. */
export async function until(test, { timeoutMs = 10_000, everyMs = 2 } = {}) {
  const t0 = process.hrtime.bigint();
  for (;;) {
    if (test()) return true;
    if (elapsedMs(t0) > timeoutMs) return false;
    await sleep(everyMs);
  }
}

// Programs ------------------------------------------------------------------------------------

const whichCache = new Map();
/** A program on PATH, or undefined. WARDEN_BENCH_WITHOUT=a,b pretends those are not installed. */
export function which(name) {
  if (!whichCache.has(name)) {
    let found;
    const without = (process.env.WARDEN_BENCH_WITHOUT ?? '').split(',').map((s) => s.trim());
    if (without.includes(name)) {
      whichCache.set(name, undefined);
      return undefined;
    }
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      const file = path.join(dir || '.', name);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) {
          found = file;
          break;
        }
      } catch {
        // Not here.
      }
    }
    whichCache.set(name, found);
  }
  return whichCache.get(name);
}

export const INSTALL_HINT = 'apt-get install parallel task-spooler util-linux';

/** Does the built warden have this command? (`warden CMD --help` exits 0.) */
const wardenCache = new Map();
export function wardenHas(command) {
  if (!wardenCache.has(command)) {
    const r = spawnSync(NODE, [WARDEN_BIN, command, '--help'], { encoding: 'utf8', env: benchEnv(), timeout: 20_000 });
    wardenCache.set(command, r.status === 0 && /--/.test(`${r.stdout}${r.stderr}`));
  }
  return wardenCache.get(command);
}

/** JSON-lines events from files (warden's stdout and stderr), ignoring lines that are not events. */
export function readEvents(...files) {
  let text = '';
  for (const file of files) {
    try {
      text += fs.readFileSync(file, 'utf8') + '\n';
    } catch {
      // Not written.
    }
  }
  const events = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line);
      if (e && typeof e.event === 'string') events.push(e);
    } catch {
      // Job output or a torn line.
    }
  }
  return events;
}

/** The cell of a tool that did not run: 'absent' when it is not installed, 'n/a' for warden (this build lacks the command). */
export function missingCell(name) {
  return name === 'warden' ? 'n/a' : 'absent';
}

/**
 * Per tool (name → runner, undefined when the tool is missing): its figure, `figure(name)`, and
 * its table cell, `format(figure)`, or missingCell(name). Returns { values, cells }.
 */
export function toolCells(tools, figure, format) {
  const values = {};
  const cells = {};
  for (const [name, fn] of Object.entries(tools)) {
    if (!fn) {
      cells[name] = missingCell(name);
      continue;
    }
    values[name] = figure(name);
    cells[name] = format(values[name]);
  }
  return { values, cells };
}

/** Format helpers for table cells. */
export const fmt = {
  ms: (x) => (Number.isFinite(x) ? (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`) : '—'),
  s: (x) => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : '—'),
  rate: (x) => (Number.isFinite(x) ? `${Math.round(x)} jobs/s` : '—'),
  mb: (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MB` : '—'),
  ratio: (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '—'),
  ratioOf: (x, what) => (Number.isFinite(x) ? `${x.toFixed(2)}x of ${what}` : '—'),
  pct: (x) => (Number.isFinite(x) ? `${x.toFixed(2)}%` : '—'),
};

/** Whether warden ran from its code cache (README, Development), for the notes of start-up figures. */
export function codeCacheNote() {
  const dir = `/tmp/warden-${process.getuid?.() ?? ''}`;
  let caches = [];
  try {
    caches = fs.readdirSync(dir).filter((n) => /^code-[0-9a-f]{32}\.v8$/.test(n));
  } catch {
    // No default state dir.
  }
  return caches.length
    ? `warden ran from its code cache (${dir}, made by the warm-up); without it a one-shot compiles ~14 ms more`
    : `warden ran without its code cache (no default state dir ${dir}: the first run that uses it makes it)`;
}
