// With --redis, --on-change state, --unique keys and the spool live in Redis: "hosts" (each its
// own network namespace and state dir, sharing only the Redis server) fire an edge once, never
// run two jobs of one key, and resume a delayed job whose host died, exactly once.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxConcurrent, readLedger } from './helpers/ledger.js';
import { newTag, taggedJob } from './helpers/shell.js';
import { netnsHosts } from './helpers/netns-host.js';
import { keeperPids, redisClient, useRedisFile, withRedisClient } from './helpers/redis.js';
import { eventsNamed, killTagged, waitFor } from './helpers/warden.js';

const { redis, dir, tag } = useRedisFile('redis-stores');
const { makeHost, onHost, killHost } = netnsHosts(dir, tag);

const lines = (file: string): string[] => {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

const common = (pool: string): string[] => ['--redis', redis.url, '--pool', pool, '--max-live', '8', '--log', 'json', '--lease', '1s', '--kill-after', '1s'];

describe('--on-change across hosts', () => {
  it('eight one-shots on four hosts started together on one edge fire it once; then it is unchanged everywhere', async () => {
    const hs = [makeHost(), makeHost(), makeHost(), makeHost()];
    const args = ['once', ...common('change'), '--check', 'echo in-stock', '--on-change', '--job', 'true'];
    const first = hs.flatMap((h) => [onHost(h, args), onHost(h, args)]);
    const codes = await Promise.all(first.map((p) => p.done));
    expect(codes).toEqual(Array(8).fill(0));
    expect(first.flatMap((p) => eventsNamed(p.events(), 'spawn'))).toHaveLength(1);
    expect(first.flatMap((p) => eventsNamed(p.events(), 'skip')).filter((e) => e.reason === 'unchanged')).toHaveLength(7);
    const again = onHost(hs[3], args);
    await again.done;
    expect(eventsNamed(again.events(), 'spawn')).toHaveLength(0);
    // A flaky check (an error) between two firing runs does not fire again.
    await onHost(hs[0], ['once', ...common('change'), '--check', 'exit 7', '--on-change', '--job', 'true']).done;
    const after = onHost(hs[1], args);
    await after.done;
    expect(eventsNamed(after.events(), 'spawn')).toHaveLength(0);
    hs.forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);
});

describe('--unique across hosts', () => {
  it('twelve racing one-shots on three hosts never have two jobs of one key live; the key frees when the tree is SIGKILLed', async () => {
    const hs = [makeHost(), makeHost(), makeHost()];
    const jobTag = newTag('uniq');
    const ledger = path.join(dir, 'unique-ledger');
    // Long enough to outlast the slowest start of twelve processes on a loaded machine; killed below.
    const args = ['once', ...common('uniq'), '--unique', '--job', taggedJob(jobTag, ledger, 'sleep 30')];
    const procs = hs.flatMap((h) => [0, 1, 2, 3].map(() => onHost(h, args)));
    await waitFor('one job to start', () => readLedger(ledger).length > 0, 20_000);
    // The others are duplicates and end; the one that runs holds the key.
    await waitFor('11 duplicates', () => procs.flatMap((p) => eventsNamed(p.events(), 'skip')).filter((e) => e.reason === 'duplicate').length === 11, 20_000);
    killTagged('FAULT_TAG', jobTag);
    await Promise.all(procs.map((p) => p.done));
    // The key is released by the host's keeper as the tree goes (a moment later, not by the kernel).
    await waitFor(
      'the key to free',
      async () => {
        const next = onHost(hs[2], ['once', ...common('uniq'), '--unique', '--job', taggedJob(jobTag, ledger, 'true')]);
        expect(await next.done).toBe(0);
        return eventsNamed(next.events(), 'spawn').length === 1;
      },
      10_000,
    );
    const overlap = maxConcurrent(readLedger(ledger));
    expect(overlap.starts).toBe(2);
    expect(overlap.max).toBe(1);
    hs.forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);

  it('the key of a job whose host died frees once its lease lapses', async () => {
    const [a, b] = [makeHost(), makeHost()];
    const jobTag = newTag('uniq-dead');
    const ledger = path.join(dir, 'unique-dead-ledger');
    const job = taggedJob(jobTag, ledger, 'sleep 30');
    const first = onHost(a, ['once', ...common('uniq-dead'), '--unique', '--job', job]);
    await waitFor('the job to start', () => eventsNamed(first.events(), 'spawn').length === 1, 20_000);
    const dup = onHost(b, ['once', ...common('uniq-dead'), '--unique', '--job', job]);
    await dup.done;
    expect(eventsNamed(dup.events(), 'skip')).toMatchObject([{ reason: 'duplicate' }]);
    killHost(a);
    // --lease 1s: after it the server no longer counts the dead host's lease.
    await waitFor(
      'the key to free',
      async () => {
        const p = onHost(b, ['once', ...common('uniq-dead'), '--unique', '--job', taggedJob(jobTag, ledger, 'true')]);
        await p.done;
        return eventsNamed(p.events(), 'spawn').length === 1;
      },
      15_000,
    );
    b.ns.kill('SIGKILL');
  }, 60_000);
});

describe('the spool across hosts', () => {
  const spooled = (pool: string): Promise<number> => withRedisClient(redis.url, async (c) => Number(await c.command(['HLEN', `warden:{${pool}:trig}:spool`])));

  it('a delayed job whose host died is resumed by another host, once, at its due time', async () => {
    const [a, b, c] = [makeHost(), makeHost(), makeHost()];
    const ran = path.join(dir, 'spool-ran');
    const w = onHost(a, ['watch', ...common('sp'), '--every', '1h', '--delay', '3s', '--job', `date +%s%3N >> '${ran}'`]);
    const delay = await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0], 20_000);
    expect(await spooled('sp')).toBe(1);
    killHost(a);
    // Two hosts race to resume it (its claim lapses after --lease): it runs once.
    const args = ['once', ...common('sp'), '--check', 'exit 1', '--job', 'true'];
    await waitFor(
      'a host to resume it',
      async () => {
        const [p, q] = [onHost(b, args), onHost(c, args)];
        await Promise.all([p.done, q.done]);
        return [p, q].flatMap((x) => eventsNamed(x.events(), 'resume')).length > 0;
      },
      15_000,
    );
    expect(lines(ran)).toHaveLength(1);
    const offMs = Number(lines(ran)[0]) - Date.parse(String(delay.dueAt));
    expect(Math.abs(offMs), `ran ${offMs} ms from its due time`).toBeLessThanOrEqual(500);
    expect(await spooled('sp')).toBe(0);
    const more = onHost(b, args);
    await more.done;
    expect(lines(ran)).toHaveLength(1);
    [b, c].forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);

  it('a resumer SIGKILLed before the job is due, or just after starting it: the job runs once; status shows and drops spooled jobs', async () => {
    const [a, b] = [makeHost(), makeHost()];
    const ran = path.join(dir, 'spool-kill-ran');
    const w = onHost(a, ['watch', ...common('spk'), '--every', '1h', '--delay', '2s', '--job', `date +%s%3N >> '${ran}'; sleep 1`]);
    const delay = await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0], 20_000);
    // Only the warden dies: the host's keeper releases the claim at once.
    w.child.kill('SIGKILL');
    await w.done;
    const status = onHost(b, ['status', '--redis', redis.url, '--pool', 'spk', '--json']);
    await status.done;
    expect(JSON.parse(status.out)).toMatchObject({ spooled: [{ id: delay.spoolId, jobId: delay.jobId }] });
    const args = ['once', ...common('spk'), '--check', 'exit 1', '--job', 'true'];
    const early = onHost(b, args);
    await waitFor('the resume', () => eventsNamed(early.events(), 'resume')[0], 20_000);
    early.child.kill('SIGKILL');
    await early.done;
    expect(lines(ran)).toEqual([]);
    // The killed resumer's claim is released by its host's keeper a moment later (not by the
    // kernel, as a local one is): a once that finds it still held takes nothing up, and ends.
    let late = onHost(a, args);
    await waitFor(
      'the spawn',
      async () => {
        if (eventsNamed(late.events(), 'spawn').length) return true;
        if (late.child.exitCode !== null) late = onHost(a, args);
        return false;
      },
      20_000,
    );
    late.child.kill('SIGKILL');
    await late.done;
    await waitFor('the job to run', () => lines(ran).length === 1, 10_000);
    // Its job still runs and holds the claim; then it ends, and the next warden of that host settles it.
    await waitFor('the job to end', async () => {
      const p = onHost(a, args);
      await p.done;
      return (await spooled('spk')) === 0;
    }, 15_000);
    const other = onHost(b, args);
    await other.done;
    expect(lines(ran)).toHaveLength(1);
    // status --drop: a job not started is removed and never runs.
    // --every-host: the hour's tick was elected once already, by the first watch.
    const w2 = onHost(a, ['watch', ...common('spk'), '--every', '1h', '--every-host', '--delay', '2s', '--job', `date +%s%3N >> '${ran}'`]);
    const d2 = await waitFor('the second delay', () => eventsNamed(w2.events(), 'delay')[0], 20_000);
    const drop = onHost(b, ['status', '--redis', redis.url, '--pool', 'spk', '--drop', String(d2.spoolId)]);
    expect(await drop.done).toBe(0);
    await waitFor('the due time to pass', () => Date.now() > Date.parse(String(d2.dueAt)) + 500, 10_000);
    w2.child.kill('SIGTERM');
    await w2.done;
    expect(lines(ran)).toHaveLength(1);
    expect(await spooled('spk')).toBe(0);
    [a, b].forEach((h) => h.ns.kill('SIGKILL'));
  }, 90_000);

  it('a start cut short between marking and spawning is resumed on its host, and left alone by the others', async () => {
    const [a, b] = [makeHost(), makeHost()];
    const ran = path.join(dir, 'spool-cut-ran');
    // A warden of host a spools the job and dies; its start is then "cut short" by hand: marked
    // starting on host a, with the marker its job's shell would have removed still there.
    const w = onHost(a, ['watch', ...common('cut'), '--every', '1h', '--delay', '1s', '--job', `date +%s%3N >> '${ran}'`]);
    const delay = await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0], 20_000);
    w.child.kill('SIGKILL');
    await w.done;
    const hostId = fs.readFileSync(path.join(a.stateDir, 'host-id'), 'utf8').trim();
    const marker = path.join(a.stateDir, 'starts', String(delay.spoolId));
    fs.mkdirSync(path.dirname(marker), { recursive: true, mode: 0o700 });
    fs.writeFileSync(marker, 'x', { mode: 0o600 });
    const client = await redisClient(redis.url);
    const key = 'warden:{cut:trig}:spool';
    const entry = JSON.parse(String(await client.command(['HGET', key, String(delay.spoolId)]))) as Record<string, unknown>;
    await client.command(['HSET', key, String(delay.spoolId), JSON.stringify({ ...entry, starting: { host: hostId, marker } })]);
    await client.close();
    const args = ['once', ...common('cut'), '--check', 'exit 1', '--job', 'true'];
    const elsewhere = onHost(b, args);
    await elsewhere.done;
    expect(eventsNamed(elsewhere.events(), 'resume')).toEqual([]);
    const home = onHost(a, args);
    await home.done;
    expect(eventsNamed(home.events(), 'resume')).toHaveLength(1);
    expect(lines(ran)).toHaveLength(1);
    expect(fs.existsSync(marker)).toBe(false);
    expect(await spooled('cut')).toBe(0);
    [a, b].forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);

  it('--detach with --unique: the runner holds the key and the claim through the delay; SIGKILLed, another host runs the job once', async () => {
    const [a, b] = [makeHost(), makeHost()];
    const ran = path.join(dir, 'spool-detach-ran');
    const log = path.join(dir, 'detach.jsonl');
    const job = `date +%s%3N >> '${ran}'`;
    // Long enough that the runner is surely killed before the job is due, on a loaded machine too.
    const first = onHost(a, ['once', ...common('det'), '--detach', '--log-file', log, '--unique', '--delay', '5s', '--job', job]);
    expect(await first.done).toBe(0);
    const delay = eventsNamed(first.events(), 'delay')[0];
    // Another host's trigger of the same job is a duplicate while the runner waits.
    const dup = onHost(b, ['once', ...common('det'), '--unique', '--job', job]);
    await dup.done;
    expect(eventsNamed(dup.events(), 'skip')).toMatchObject([{ reason: 'duplicate' }]);
    const runner = await waitFor('the runner', () => lines(log).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.event === 'start' && e.mode === 'runner'), 10_000);
    process.kill(Number(runner.pid), 'SIGKILL');
    const args = ['once', ...common('det'), '--unique', '--check', 'exit 1', '--job', 'true'];
    await waitFor(
      'another host to run it',
      async () => {
        const p = onHost(b, args);
        await p.done;
        return eventsNamed(p.events(), 'resume').length > 0;
      },
      20_000,
    );
    expect(lines(ran)).toHaveLength(1);
    expect(Number(lines(ran)[0])).toBeGreaterThanOrEqual(Date.parse(String(delay.dueAt)) - 50);
    const again = onHost(a, args);
    await again.done;
    expect(lines(ran)).toHaveLength(1);
    [a, b].forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);

  it('a claim that lapsed to another host (its keeper stopped past --lease) is theirs: the job runs once, on the other host, not also on the first', async () => {
    const [a, b] = [makeHost(), makeHost()];
    const ran = path.join(dir, 'spool-lapse-ran');
    const w = onHost(a, ['watch', ...common('lapse'), '--every', '1h', '--delay', '4s', '--job', `echo "$WARDEN_JOB_ID" >> '${ran}'`]);
    const delay = await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0], 20_000);
    // Host a is cut off: its keeper stops renewing (its warden lives on and waits for the due time).
    const keeper = await waitFor('host a\'s keeper', () => keeperPids(a.tag, 'HOST_TAG')[0], 10_000);
    process.kill(keeper, 'SIGSTOP');
    const args = ['once', ...common('lapse'), '--check', 'exit 1', '--job', 'true'];
    const resumer = await waitFor(
      'host b to take the job up',
      async () => {
        const p = onHost(b, args);
        await p.done;
        return eventsNamed(p.events(), 'resume').length > 0 && p;
      },
      15_000,
    );
    expect(eventsNamed(resumer.events(), 'spawn')).toHaveLength(1);
    process.kill(keeper, 'SIGCONT');
    await waitFor('host b to run it', () => lines(ran).length > 0, 10_000);
    // Host a's warden reaches the due time too, and finds the claim no longer its own.
    await waitFor('1.5 s past the due time', () => Date.now() > Date.parse(String(delay.dueAt)) + 1500, 10_000);
    expect(eventsNamed(w.events(), 'spawn')).toEqual([]);
    w.child.kill('SIGTERM');
    await w.done;
    expect(lines(ran)).toEqual(['1.1']);
    [a, b].forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);

  it('a resumer whose clock is an hour ahead starts the job at its due time by the server\'s clock, not an hour early', async () => {
    const [a, b] = [makeHost(), makeHost()];
    const ran = path.join(dir, 'spool-skew-ran');
    // The job tells the real time even where warden's clock is faked (the preload is inherited).
    const w = onHost(a, ['watch', ...common('skew'), '--every', '1h', '--delay', '6s', '--job', `env -u LD_PRELOAD -u FAKETIME date +%s%3N >> '${ran}'`]);
    const delay = await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0], 20_000);
    w.child.kill('SIGKILL');
    await w.done;
    const args = ['once', ...common('skew'), '--check', 'exit 1', '--job', 'true'];
    const skewed = { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', FAKETIME: '+1h' };
    const resumer = await waitFor(
      'host b to take the job up',
      async () => {
        const p = onHost(b, args, skewed);
        await p.done;
        return eventsNamed(p.events(), 'resume').length > 0 && p;
      },
      15_000,
    );
    // Taken up a moment late at most on a loaded machine, never an hour (its own clock's view).
    expect(Number(eventsNamed(resumer.events(), 'resume')[0].lateMs)).toBeLessThan(60_000);
    expect(lines(ran)).toHaveLength(1);
    const offMs = Number(lines(ran)[0]) - Date.parse(String(delay.dueAt));
    expect(offMs, `ran ${offMs} ms from its due time`).toBeGreaterThanOrEqual(-50);
    expect(offMs, `ran ${offMs} ms from its due time`).toBeLessThan(60_000);
    [a, b].forEach((h) => h.ns.kill('SIGKILL'));
  }, 60_000);
});
