// The README's main example, examples/stock-monitor/run.sh, run end to end in a short mode:
// a local shop, the check, the VIP mail at once and the everyone mail after a delay, all
// mailing into an outbox, and nothing of it left running afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { killTagged, parseEvents, readText, ROOT, taggedPids, tempDir, waitFor } from './helpers/warden.js';

const TAG = 'WARDEN_EXAMPLE_TEST';
const tag = randomUUID();
afterEach(() => killTagged(TAG, tag));

/** Runs the example from a fresh folder (not the repo: the script finds its files itself). */
async function runExample(settings: Record<string, string>): Promise<{ dir: string; code: number | null; out: string }> {
  const dir = tempDir('warden-example');
  const child = spawn('bash', [path.join(ROOT, 'examples/stock-monitor/run.sh')], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', [TAG]: tag, STOCK_DIR: dir, ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { dir, code, out };
}

const mails = (dir: string): string[] => {
  try {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
};

it('stock-monitor: VIP and everyone mails land in the outbox, exit 0, nothing left running', async () => {
  const { dir, code, out } = await runExample({
    STOCK_SECONDS: '4', // two checks, 2 s apart; the shop starts in stock and flips after 3 s
    STOCK_DELAY: '2s',
    STOCK_MAIL_SLEEP: '0.1',
    STOCK_CRASH_AT: '0',
  });
  expect(code, out).toBe(0);
  expect(out).toContain('[shop] open on http://127.0.0.1:');
  expect(out).toContain('== summary (warden exit status 0)');

  const vip = mails(path.join(dir, 'outbox/vip'));
  const everyone = mails(path.join(dir, 'outbox/everyone'));
  expect(vip.length, out).toBeGreaterThanOrEqual(3);
  expect(everyone.length, out).toBeGreaterThanOrEqual(6);
  for (const who of ['ada', 'grace', 'linus']) expect(vip.some((f) => f.includes(`-${who}@`))).toBe(true);
  for (const who of ['alan', 'barbara', 'dennis', 'edsger', 'ken', 'margaret']) expect(everyone.some((f) => f.includes(`-${who}@`))).toBe(true);
  expect(readText(path.join(dir, 'outbox/vip', vip[0]))).toMatch(/"inStock":true/);

  // The log: every job started was reaped and logged once, and the delayed job waited its delay.
  const events = parseEvents(readText(path.join(dir, 'warden.jsonl')));
  const spawns = events.filter((e) => e.event === 'spawn');
  const exits = events.filter((e) => e.event === 'exit');
  expect(spawns.length).toBeGreaterThanOrEqual(2);
  expect(exits.map((e) => e.jobId).sort()).toEqual(spawns.map((e) => e.jobId).sort());
  expect(exits.every((e) => e.outcome === 'ok')).toBe(true);
  expect(spawns.some((e) => String(e.command).endsWith('mail-everyone.sh') && e.delayMs === 2000)).toBe(true);
  expect(events.at(-1)).toMatchObject({ event: 'stop', reason: 'max-runs' });

  // Nothing of the example is left: no shop, no warden, no job (all carry the tag).
  expect(fs.existsSync(path.join(dir, 'shop.port'))).toBe(false);
  await waitFor('the example processes to be gone', () => taggedPids(TAG, tag).length === 0, 2000);
}, 20_000);

it('stock-monitor with a crash halfway: one VIP mail per restock and VIP, everyone mailed once per restock 8 s later', async () => {
  const { dir, code, out } = await runExample({ STOCK_SECONDS: '14', STOCK_MAIL_SLEEP: '0.1' });
  expect(code, out).toBe(0);
  expect(out).toContain('== SIGKILL warden after 7s');

  const events = parseEvents(readText(path.join(dir, 'warden.jsonl')));
  // A restock is a check that fired a new item (the shop's answer carries the time it changed).
  const restocks = events.filter((e) => e.event === 'check' && Array.isArray(e.items) && e.items.length > 0).length;
  expect(restocks, out).toBeGreaterThanOrEqual(2);
  const vip = mails(path.join(dir, 'outbox/vip'));
  const everyone = mails(path.join(dir, 'outbox/everyone'));
  expect(vip.length, out).toBe(restocks * 3);
  expect(everyone.length, out).toBe(restocks * 6);
  expect(out).toContain(`vip:      ${restocks * 3} mails (restocks x 3 VIPs = ${restocks * 3})`);
  // Each everyone mail was started 8 s after its trigger, by whichever warden was alive then.
  const delays = events.filter((e) => e.event === 'delay');
  const starts = events.filter((e) => e.event === 'spawn' && String(e.command).endsWith('mail-everyone.sh'));
  expect(starts).toHaveLength(restocks);
  for (const s of starts) {
    const d = delays.find((x) => x.jobId === s.jobId && Math.abs(Date.parse(String(s.ts)) - Date.parse(String(x.dueAt))) < 1000);
    expect(d, `a delay for ${String(s.jobId)}`).toBeDefined();
    const after = Date.parse(String(s.ts)) - (Date.parse(String(d?.dueAt)) - 8000);
    expect(Math.abs(after - 8000)).toBeLessThanOrEqual(500);
  }
  await waitFor('the example processes to be gone', () => taggedPids(TAG, tag).length === 0, 5000);
}, 60_000);

it('stock-monitor check: asks the shop with Node when there is no curl; 0 in stock, 2 when the shop is gone', async () => {
  const dir = tempDir('warden-example');
  const env = { ...process.env, [TAG]: tag, STOCK_DIR: dir, STOCK_FETCH: 'node', STOCK_FLIP_MS: '60000', STOCK_PARENT_PID: String(process.pid) };
  const shop = spawn(process.execPath, [path.join(ROOT, 'examples/stock-monitor/shop.js')], { env, stdio: 'ignore' });
  const check = (): { status: number | null; stdout: string } => {
    const r = spawnSync('sh', [path.join(ROOT, 'examples/stock-monitor/check-stock.sh')], { env, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout };
  };
  try {
    await waitFor('the shop port', () => fs.existsSync(path.join(dir, 'shop.port')), 5000);
    const inStock = check();
    expect(inStock.status).toBe(0);
    expect(JSON.parse(inStock.stdout)).toMatchObject({ product: 'Lava lamp', inStock: true });
  } finally {
    shop.kill('SIGTERM');
  }
  await new Promise((r) => shop.on('exit', r));
  expect(fs.existsSync(path.join(dir, 'shop.port'))).toBe(false);
  expect(check().status).toBe(2);
});

it("README's stock.json is the example's file, key for key", () => {
  const readme = readText(path.join(ROOT, 'README.md'));
  const at = readme.indexOf('(examples/stock-monitor/stock.json)');
  expect(at).toBeGreaterThan(-1);
  const block = /```json\n([\s\S]*?)\n```/.exec(readme.slice(at))?.[1];
  expect(block).toBeDefined();
  expect(JSON.parse(block ?? '')).toEqual(JSON.parse(readText(path.join(ROOT, 'examples/stock-monitor/stock.json'))));
});
