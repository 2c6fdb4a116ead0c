// `warden log --html`: the page in a real headless chromium. It must load with no console error
// and no network request, draw one bar per job, show a job's details on hover, zoom to a time
// range, and stay usable with ten thousand jobs. Screenshots go to test-artifacts/.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, openPage } from './helpers/browser.js';
import type { Browser } from './helpers/browser.js';
import { eventsNamed, parseEvents, readText, runWarden, testDir, writeScript } from './helpers/warden.js';

const LABEL = 150;
const SLOT0_Y = 30 + 24 + 9;

async function bars(b: Browser): Promise<number> {
  return Number(await b.page.getAttribute('#timeline', 'data-bars'));
}

/** Move along slot 0's row until the tooltip shows a job; its text. */
async function hoverAJob(b: Browser): Promise<string> {
  const box = await b.page.locator('#timeline').boundingBox();
  if (!box) throw new Error('no canvas');
  for (let x = LABEL + 2; x < box.width - 12; x += 3) {
    await b.page.mouse.move(box.x + x, box.y + SLOT0_Y);
    if (await b.page.isVisible('#tip')) return (await b.page.textContent('#tip')) ?? '';
  }
  throw new Error('no job under the mouse along slot 0');
}

describe('the page of a real watch run', () => {
  let b: Browser;
  let exits: Record<string, unknown>[];

  beforeAll(async () => {
    const { dir, env } = testDir('log-html');
    const file = path.join(dir, 'run.jsonl');
    const check = writeScript(dir, 'check.sh', 'case $((WARDEN_TICK % 3)) in 1) exit 0;; 2) exit 1;; *) exit 2;; esac');
    const run = await runWarden(
      ['watch', '--every', '300ms', '--max-runs', '7', '--check', check, '--job', 'sleep 0.4', '--job', 'sleep 0.2; echo "<b>bad</b>" >&2; exit 3 # </script><img src=x onerror=alert(1)>', '--job', 'sleep 10', '--job', 'true',
        '--max-live', '2', '--max-queue', '1', '--overflow', 'skip', '--job-timeout', '800ms', '--kill-after', '200ms', '--retries', '1', '--retry-delay', '100ms', '--log', 'json', '--log-file', file],
      { env },
    );
    expect(run.code).toBe(1);
    exits = eventsNamed(parseEvents(readText(file)), 'exit');
    const page = path.join(dir, 'page.html');
    const r = await runWarden(['log', '--html', page, file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`wrote ${page} (${exits.length} jobs on the timeline)\n`);
    b = await openPage(page);
    await b.page.waitForSelector('body[data-ready="1"]');
  }, 90_000);

  afterAll(async () => {
    await b?.close();
  });

  it('loads with no console error and no network request, one bar per job', async () => {
    expect(b.errors).toEqual([]);
    expect(b.requests).toEqual([]);
    expect(exits.length).toBeGreaterThan(0);
    expect(await bars(b)).toBe(exits.length);
    expect(await b.page.getAttribute('body', 'data-jobs')).toBe(String(exits.length));
  });

  it("shows a job's details on hover, the log's text as text", async () => {
    const text = await hoverAJob(b);
    expect(text).toMatch(/job \d+\.\d+/);
    expect(text).toMatch(/sleep/);
    await b.page.screenshot({ path: artifactPath('log-timeline.png'), fullPage: true });
    // Output a job printed is shown, never interpreted as markup.
    expect(await b.page.locator('#tip b, table b, img').count()).toBe(0);
    expect(b.requests).toEqual([]);
  });

  it('zooms to a dragged time range, and back to the whole log', async () => {
    const box = await b.page.locator('#timeline').boundingBox();
    if (!box) throw new Error('no canvas');
    const before = await b.page.textContent('#range');
    await b.page.mouse.move(box.x + LABEL + 20, box.y + SLOT0_Y);
    await b.page.mouse.down();
    await b.page.mouse.move(box.x + LABEL + 140, box.y + SLOT0_Y, { steps: 5 });
    await b.page.mouse.up();
    const zoomed = await bars(b);
    expect(await b.page.textContent('#range')).not.toBe(before);
    expect(zoomed).toBeLessThan(exits.length);
    await b.page.screenshot({ path: artifactPath('log-timeline-zoomed.png'), fullPage: true });
    await b.page.click('#zoom-reset');
    expect(await bars(b)).toBe(exits.length);
    expect(await b.page.textContent('#range')).toBe(before);
  });

  it('has the summary tables', async () => {
    const heads = await b.page.locator('table th:first-child').allTextContents();
    expect(heads).toEqual(['job', 'pool', 'check']);
  });
});

/** A day's log of a busy pool: 10,000 jobs on 8 slots from 2 processes, with waits and skips. */
function busyLog(file: string, jobs: number): void {
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const t0 = Date.parse('2026-12-01T08:00:00Z');
  const lines: [number, string][] = [];
  const emit = (t: number, e: Record<string, unknown>): void => void lines.push([t, JSON.stringify({ ts: new Date(t).toISOString(), ...e })]);
  for (const pid of [101, 102]) emit(t0, { event: 'start', pid, mode: 'watch', pool: 'batch', maxLive: 8, schedule: 'every 5s', version: '0.1.0', backend: 'socket', stateDir: '/s' });
  const free = new Array<number>(8).fill(t0);
  for (let n = 0; n < jobs; n++) {
    const slot = n % 8;
    const pid = 101 + (slot % 2);
    const start = free[slot] + Math.floor(random() * 4000);
    const duration = Math.floor(200 + random() ** 3 * 60_000);
    const r = random();
    const outcome = r < 0.86 ? 'ok' : r < 0.94 ? 'failed' : r < 0.98 ? 'timeout' : 'killed';
    const jobId = `${n}.1`;
    const command = `./process.sh batch-${n % 37}`;
    emit(start, { event: 'spawn', pid, jobId, jobPid: 10_000 + n, command, slot, tick: n, attempt: 1, delayMs: 0 });
    emit(start + duration, { event: 'exit', pid, jobId, jobPid: 10_000 + n, command, exitCode: outcome === 'ok' ? 0 : outcome === 'failed' ? 1 : null, signal: outcome === 'ok' || outcome === 'failed' ? null : 'SIGTERM', durationMs: duration, outcome, tail: `line of ${jobId}`, attempt: 1, tick: n, slot, forced: false, leftover: false });
    if (random() < 0.05) emit(start - 1, { event: random() < 0.5 ? 'wait' : 'skip', pid, pool: 'batch', live: 8, maxLive: 8, tick: n, reason: 'pool-full' });
    free[slot] = start + duration;
  }
  lines.sort((a, b) => a[0] - b[0]);
  fs.writeFileSync(file, lines.map((l) => l[1]).join('\n') + '\n');
}

describe('the page of ten thousand jobs', () => {
  it('draws every job and stays readable', async () => {
    const { dir } = testDir('log-html-10k');
    const file = path.join(dir, 'busy.jsonl');
    busyLog(file, 10_000);
    const page = path.join(dir, 'busy.html');
    expect((await runWarden(['log', '--html', page, file])).code).toBe(0);
    const b = await openPage(page, { width: 1400, height: 700 });
    try {
      await b.page.waitForSelector('body[data-ready="1"]');
      expect(b.errors).toEqual([]);
      expect(await bars(b)).toBe(10_000);
      console.log(`10,000 jobs drawn in ${await b.page.getAttribute('#timeline', 'data-draw-ms')} ms`);
      expect(await hoverAJob(b)).toMatch(/\.\/process\.sh batch-\d+/);
      await b.page.screenshot({ path: artifactPath('log-timeline-10k.png') });
      // Zoomed to a few minutes, single jobs stand apart.
      await b.page.click('#zoom-in');
      await b.page.click('#zoom-in');
      await b.page.click('#zoom-in');
      await b.page.click('#zoom-in');
      expect(await bars(b)).toBeLessThan(10_000);
      await b.page.screenshot({ path: artifactPath('log-timeline-10k-zoomed.png') });
    } finally {
      await b.close();
    }
  }, 90_000);
});

describe('a job whose command is 100 KB long', () => {
  it('gets a tooltip that fits the window and still says how the job ended', async () => {
    const { dir } = testDir('log-html-long');
    const file = path.join(dir, 'long.jsonl');
    const command = `echo ${'x'.repeat(100_000)}`;
    const job = { pid: 7, jobId: '1.1', jobPid: 9, command, slot: 0, tick: 1, attempt: 1 };
    const t0 = Date.parse('2026-12-01T08:00:00Z');
    fs.writeFileSync(
      file,
      [
        { ts: new Date(t0).toISOString(), event: 'start', pid: 7, mode: 'watch', pool: 'p', maxLive: 1, schedule: 'every 1m', version: '0.1.0', backend: 'socket', stateDir: '/s' },
        { ts: new Date(t0 + 1000).toISOString(), event: 'spawn', ...job },
        { ts: new Date(t0 + 9000).toISOString(), event: 'exit', ...job, exitCode: 1, signal: null, durationMs: 8000, outcome: 'failed', tail: 'it broke' },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
    const page = path.join(dir, 'long.html');
    expect((await runWarden(['log', '--html', page, file])).code).toBe(0);
    const b = await openPage(page, { width: 1280, height: 800 });
    try {
      await b.page.waitForSelector('body[data-ready="1"]');
      expect(b.errors).toEqual([]);
      const text = await hoverAJob(b);
      expect(text).toContain('job 1.1: failed, exit code 1');
      expect(text).toContain('it broke');
      const tip = await b.page.locator('#tip').boundingBox();
      // Before, it was 21,909 px tall: the outcome, times and output were far below the window.
      expect(tip?.height).toBeLessThan(400);
      await b.page.screenshot({ path: artifactPath('log-timeline-long-command.png') });
    } finally {
      await b.close();
    }
  }, 60_000);
});
