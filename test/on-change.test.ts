// --on-change against real one-shots: the state lives in the state dir, shared by every
// process of the pool, so cron's one-shots fire on edges, never on levels.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { eventsNamed, parseEvents, readText, runWarden, startWarden, testDir } from './helpers/warden.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  ({ dir, env } = testDir('onchange'));
});

/** One `once` with the check reading `value` (its exit code); returns its events. */
async function onceWith(value: string, extra: string[] = []): Promise<Record<string, unknown>[]> {
  fs.writeFileSync(path.join(dir, 'value'), value);
  const r = await runWarden(['once', '--log', 'json', '--check', `exit $(cat "${dir}/value")`, '--on-change', '--job', `echo x >> "${dir}/ran"`, ...extra], { env });
  expect(r.code, r.stderr).toBe(value === '2' ? 3 : 0);
  return parseEvents(r.stdout);
}

describe('--on-change', () => {
  it('ten one-shots against a check that flips fire exactly on the edges into firing', async () => {
    // exit 0 fires, 1 is idle.
    const series = ['1', '0', '0', '1', '1', '0', '1', '0', '0', '0'];
    const fired: number[] = [];
    const changed: unknown[] = [];
    for (const value of series) {
      const events = await onceWith(value);
      fired.push(eventsNamed(events, 'spawn').length);
      changed.push(eventsNamed(events, 'check')[0].changed);
    }
    expect(fired).toEqual([0, 1, 0, 0, 0, 1, 0, 1, 0, 0]);
    expect(changed).toEqual([true, true, false, true, false, true, true, true, false, false]);
    expect(readText(path.join(dir, 'ran')).split('\n').filter(Boolean)).toHaveLength(3);
  }, 60_000);

  it('the first run with no state fires; a held-back trigger is a skip "unchanged" and exits 0', async () => {
    expect(eventsNamed(await onceWith('0'), 'spawn')).toHaveLength(1);
    const again = await onceWith('0');
    expect(eventsNamed(again, 'spawn')).toEqual([]);
    expect(eventsNamed(again, 'skip').map((e) => e.reason)).toEqual(['unchanged']);
  });

  it('a check error between two firing runs does not fire again', async () => {
    const fired = [];
    for (const value of ['0', '2', '0']) fired.push(eventsNamed(await onceWith(value), 'spawn').length);
    expect(fired).toEqual([1, 0, 0]);
  });

  it('output mode also fires when the firing output changes', async () => {
    const fired = [];
    for (const out of ['a', 'a', 'b', 'b']) {
      fs.writeFileSync(path.join(dir, 'out'), out);
      const r = await runWarden(['once', '--log', 'json', '--check', `cat "${dir}/out"`, '--on-change', 'output', '--job', 'true'], { env });
      fired.push(eventsNamed(parseEvents(r.stdout), 'spawn').length);
    }
    expect(fired).toEqual([1, 0, 1, 0]);
  });

  it('with --each-line only new items fire, and an item that leaves and comes back fires again', async () => {
    const rounds = [['a', 'b'], ['a', 'b', 'c'], ['b', 'c'], ['a', 'b', 'c'], [], ['c']];
    const fired: string[][] = [];
    const logged: unknown[] = [];
    for (const items of rounds) {
      fs.writeFileSync(path.join(dir, 'items'), items.map((i) => `${i}\n`).join(''));
      const check = `test -s "${dir}/items" || exit 1; cat "${dir}/items"`;
      const r = await runWarden(['once', '--log', 'json', '--check', check, '--each-line', '--on-change', '--job', 'true'], { env });
      const events = parseEvents(r.stdout);
      fired.push(eventsNamed(events, 'spawn').map((e) => String(e.item)).sort());
      logged.push(eventsNamed(events, 'check')[0].items);
    }
    expect(fired).toEqual([['a', 'b'], ['c'], [], ['a'], [], ['c']]);
    expect(logged).toEqual([['a', 'b'], ['c'], [], ['a'], [], ['c']]);
  }, 60_000);

  it('eight one-shots started together on one edge fire it once', async () => {
    await onceWith('1');
    fs.writeFileSync(path.join(dir, 'value'), '0');
    const ledger = path.join(dir, 'ran');
    const runs = Array.from({ length: 8 }, () =>
      startWarden(['once', '--log', 'json', '--max-live', '8', '--check', `exit $(cat "${dir}/value")`, '--on-change', '--job', `echo $$ >> "${ledger}"`], { env }),
    );
    const results = await Promise.all(runs.map((r) => r.done));
    expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));
    expect(readText(ledger).split('\n').filter(Boolean)).toHaveLength(1);
    const skips = results.flatMap((r) => eventsNamed(parseEvents(r.stdout), 'skip'));
    expect(skips.map((s) => s.reason)).toEqual(Array(7).fill('unchanged'));
  }, 60_000);

  it('state is per pool and per check', async () => {
    expect(eventsNamed(await onceWith('0'), 'spawn')).toHaveLength(1);
    expect(eventsNamed(await onceWith('0', ['--pool', 'other']), 'spawn')).toHaveLength(1);
    const r = await runWarden(['once', '--log', 'json', '--check', `exit $(cat "${dir}/value") # another check`, '--on-change', '--job', 'true'], { env });
    expect(eventsNamed(parseEvents(r.stdout), 'spawn')).toHaveLength(1);
  });

  it('bad values are a one-line usage error', async () => {
    const r = await runWarden(['once', '--on-change', 'sometimes', '--job', 'true'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--on-change: "sometimes" is not one of exit, output/);
    const e = await runWarden(['once', '--job', 'true'], { env: { ...env, WARDEN_ON_CHANGE: 'maybe' } });
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/WARDEN_ON_CHANGE/);
  });
});
