// A quick smoke test of the bench: one small scenario (`--quick --only one-shot --rounds 1`)
// end to end. Timings on a shared machine are noise, so nothing here judges speed; it checks the
// report's shape (a row per measure with a goal and a verdict, the machine described, written
// where --out says), that each verdict agrees with the figures it stands on, and that nothing
// is left running.
//
// `npm run bench` rebuilds dist/ first. Other test files run warden from dist/ at the same time
// (two workers), and tsc rewrites every file in place, so the bench runs in a copy of the
// package (node_modules linked) where its build cannot tear a file another test is loading.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCENARIOS = ['throughput', 'one-shot', 'hand-off', 'redis', 'footprint', 'output', 'log', 'notify'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-test-'));

/** A copy of the package to build and bench in: sources, scripts, bin, config; node_modules linked. */
function packageCopy(): string {
  const copy = path.join(tmp, 'package');
  fs.mkdirSync(copy);
  for (const entry of ['package.json', 'tsconfig.json', 'bin', 'src', 'scripts']) {
    fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  return copy;
}

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function npmBench(cwd: string, args: string[], timeoutMs: number): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'bench', '--silent', '--', ...args], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Gone.
      }
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Table rows (not the header or the rule) of the first Markdown table in `text`. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  return lines.slice(2).map((l) => l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
}

describe('npm run bench -- --quick --only one-shot', () => {
  const out = path.join(tmp, 'benchmarks.md');
  let result: Result;

  it('finishes and writes the report to --out', async () => {
    result = await npmBench(packageCopy(), ['--quick', '--only', SCENARIOS.join(','), '--rounds', '1', '--out', out], 170_000);
    expect(result.stderr).not.toMatch(/failed:/);
    expect(result.code).toBe(0);
    expect(fs.existsSync(out)).toBe(true);
  }, 180_000);

  it('has a row for every scenario, with a goal and a verdict', () => {
    const doc = fs.readFileSync(out, 'utf8');
    const rows = tableRows(doc.slice(doc.indexOf('## Results')));
    for (const id of SCENARIOS) {
      const mine = rows.filter((r) => r[0] === id);
      expect(mine.length, `rows for ${id}`).toBeGreaterThan(0);
      for (const r of mine) {
        expect(r[r.length - 2], `goal of ${id}`).not.toBe('');
        expect(['yes', '**no**', 'n/a']).toContain(r[r.length - 1]);
      }
    }
  });

  it('gives each ratio the verdict its goal says', () => {
    const doc = fs.readFileSync(out, 'utf8');
    const rows = tableRows(doc.slice(doc.indexOf('## Results')));
    let judged = 0;
    for (const r of rows) {
      const ratio = /^([\d.]+)x/.exec(r[r.length - 3] ?? '')?.[1];
      const goal = /^≤ ([\d.]+)x/.exec(r[r.length - 2] ?? '')?.[1];
      if (ratio === undefined || goal === undefined) continue;
      judged++;
      expect(r[r.length - 1], r.join(' | ')).toBe(Number(ratio) <= Number(goal) ? 'yes' : '**no**');
    }
    expect(judged, 'rows with a ratio and a goal').toBeGreaterThan(0);
  });

  it('prints the same table and describes the machine in the report', () => {
    const printed = tableRows(result.stdout).map((r) => r[0]);
    for (const id of SCENARIOS) expect(printed).toContain(id);
    const doc = fs.readFileSync(out, 'utf8');
    for (const field of ['CPU:', 'Cores:', 'Memory:', 'Node:', 'Kernel:']) expect(doc).toContain(`- ${field}`);
    expect(doc).toContain('quick');
  });

  it('leaves no process of its own running', () => {
    const tag = /bench: tag (\S+)/.exec(result.stderr)?.[1];
    expect(tag).toBeTruthy();
    const leftovers: string[] = [];
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const env = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
        if (env.split('\0').includes(`WARDEN_BENCH_TAG=${tag}`)) leftovers.push(fs.readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' '));
      } catch {
        // Exited, or not ours to read.
      }
    }
    expect(leftovers).toEqual([]);
  });
});
