// --redis through the real binary against a real redis-server: fencing tokens, the lease that
// lives with the job (a SIGKILLed warden's job keeps its slot, and frees it as it exits), the
// server's clock for expiry, exit 69 and bad URLs, and passwords kept out of sight.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, keeperPids, redisClient, startRedis, useRedisFile, withRedisClient } from './helpers/redis.js';
import { eventsNamed, expectOneLineError, expectUsageError, killTagged, parseEvents, readText, runWarden, startWarden, taggedPids, waitFor } from './helpers/warden.js';

const { redis, dir, tag } = useRedisFile('redis-pool', { killEach: true });

/** A "host": its own state dir. */
const host = (name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ WARDEN_STATE_DIR: path.join(dir, name), WARDEN_TEST_TAG: tag, ...extra });
const stderrEvents = (text: string): Record<string, unknown>[] => parseEvents(text);

describe('grants', () => {
  it('gives every job a fencing token that grows with each grant, logged in spawn and given as WARDEN_LEASE_TOKEN', async () => {
    const tokens: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = path.join(dir, `token-${i}`);
      const r = await runWarden(['run', '--redis', redis.url, '--pool', 'tokens', '--max-live', '2', '--log', 'json', '--', 'sh', '-c', `echo "$WARDEN_LEASE_TOKEN" > ${out}`], { env: host('a') });
      expect(r.code).toBe(0);
      const spawn = eventsNamed(stderrEvents(r.stderr), 'spawn')[0];
      expect(Number(readText(out).trim())).toBe(spawn.token);
      const start = eventsNamed(stderrEvents(r.stderr), 'start')[0];
      expect(start.backend).toBe('redis');
      tokens.push(spawn.token as number);
    }
    expect(tokens[1]).toBeGreaterThan(tokens[0]);
    expect(tokens[2]).toBeGreaterThan(tokens[1]);
  });

  it('status --redis shows the holders of every host (host, pid, job, command, age, token) and the waiters', async () => {
    const ready = path.join(dir, 'status-ready');
    const holder = startWarden(['run', '--redis', redis.url, '--pool', 'shown', '--max-live', '1', '--log', 'json', '--', 'sh', '-c', `touch ${ready}; sleep 30`], { env: host('a') });
    await waitFor('the holder to start', () => fs.existsSync(ready));
    const waiter = startWarden(['run', '--redis', redis.url, '--pool', 'shown', '--max-live', '1', '--log', 'json', '--', 'true'], { env: host('b') });
    await waitFor('the waiter to wait', () => eventsNamed(stderrEvents(waiter.stderr()), 'wait').length > 0);
    const token = eventsNamed(stderrEvents(holder.stderr()), 'spawn')[0].token;
    const status = await waitFor('status to show the waiter', async () => {
      const r = await runWarden(['status', '--redis', redis.url, '--pool', 'shown', '--json'], { env: host('c') });
      const view = JSON.parse(r.stdout) as { holders: Record<string, unknown>[]; waiters: Record<string, unknown>[] };
      return view.waiters.length === 1 ? view : undefined;
    });
    expect(status.holders).toHaveLength(1);
    expect(status.holders[0]).toMatchObject({ slot: 0, token, jobId: `run-${holder.pid}`, owner: holder.pid, command: `sh -c 'touch ${ready}; sleep 30'` });
    expect(typeof status.holders[0].host).toBe('string');
    expect(status.holders[0].ageMs).toBeGreaterThanOrEqual(0);
    expect(status.waiters[0]).toMatchObject({ pid: waiter.pid });
    const text = await runWarden(['status', '--redis', redis.url, '--pool', 'shown'], { env: host('c') });
    expect(text.stdout).toContain('pool shown (redis, unix://');
    expect(text.stdout).toContain('1 live of 1, 0 free, 1 waiting');
    expect(text.stdout).toContain(String(token));
    holder.child.kill('SIGTERM');
    expect((await waiter.done).code).toBe(0);
  });
});

describe('waiters', () => {
  it('are served first come, first served across hosts', async () => {
    const go = path.join(dir, 'fifo-go');
    const order = path.join(dir, 'fifo-order');
    const common = ['run', '--redis', redis.url, '--pool', 'fifo', '--max-live', '1'];
    const held = path.join(dir, 'fifo-held');
    const holder = startWarden([...common, '--', 'sh', '-c', `touch ${held}; while [ ! -e ${go} ]; do sleep 0.01; done`], { env: host('fifo-0') });
    await waitFor('the holder to hold', () => fs.existsSync(held));
    const waiters: ReturnType<typeof startWarden>[] = [];
    for (let i = 1; i <= 4; i++) {
      const w = startWarden([...common, '--log', 'json', '--', 'sh', '-c', `echo ${i} >> ${order}`], { env: host(`fifo-${i}`) });
      await waitFor(`waiter ${i} to wait`, () => eventsNamed(parseEvents(w.stderr()), 'wait').length > 0);
      waiters.push(w);
    }
    fs.writeFileSync(go, '');
    expect((await Promise.all(waiters.map((w) => w.done))).map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(readText(order).split('\n').filter(Boolean)).toEqual(['1', '2', '3', '4']);
    await holder.done;
  });

  it('one that is stopped (Ctrl-Z) holds up the line for a few seconds, not for --lease', async () => {
    const go = path.join(dir, 'stopped-go');
    const got = path.join(dir, 'stopped-got');
    const common = ['run', '--redis', redis.url, '--pool', 'stopped', '--max-live', '1', '--lease', '60s'];
    const held = path.join(dir, 'stopped-held');
    const holder = startWarden([...common, '--', 'sh', '-c', `touch ${held}; while [ ! -e ${go} ]; do sleep 0.01; done`], { env: host('stopped-0') });
    await waitFor('the holder to hold', () => fs.existsSync(held));
    const first = startWarden([...common, '--log', 'json', '--', 'true'], { env: host('stopped-1') });
    await waitFor('the first waiter to wait', () => eventsNamed(parseEvents(first.stderr()), 'wait').length > 0);
    const second = startWarden([...common, '--log', 'json', '--', 'touch', got], { env: host('stopped-2') });
    await waitFor('the second waiter to wait', () => eventsNamed(parseEvents(second.stderr()), 'wait').length > 0);
    first.child.kill('SIGSTOP');
    try {
      fs.writeFileSync(go, '');
      await holder.done;
      // Served while the first is still stopped, long before its 60 s lease would have run out.
      await waitFor('the second waiter to be served', () => fs.existsSync(got), 20_000);
    } finally {
      first.child.kill('SIGCONT');
    }
    expect((await second.done).code).toBe(0);
    // The stopped one, resumed, takes its turn again.
    expect((await first.done).code).toBe(0);
  });
});

describe('status --redis without --pool', () => {
  it('lists every fleet pool of the database, as status lists every local pool', async () => {
    const ready = (p: string): string => path.join(dir, `all-${p}-ready`);
    const holders = ['all-a', 'all-b'].map((p) =>
      startWarden(['run', '--redis', redis.url, '--pool', p, '--max-live', '3', '--', 'sh', '-c', `touch ${ready(p)}; sleep 30`], { env: host(p) }),
    );
    await waitFor('both jobs to start', () => fs.existsSync(ready('all-a')) && fs.existsSync(ready('all-b')));
    const json = await waitFor('both pools with their holder', async () => {
      const r = await runWarden(['status', '--redis', redis.url, '--json'], { env: host('all-c') });
      const view = JSON.parse(r.stdout) as { pools: { pool: string; maxLive: number | null; holders: Record<string, unknown>[] }[] };
      const mine = view.pools.filter((p) => p.pool === 'all-a' || p.pool === 'all-b');
      return mine.length === 2 && mine.every((p) => p.holders.length === 1) ? mine : undefined;
    });
    for (const p of json) expect(p.maxLive).toBe(3);
    expect(json.map((p) => p.holders[0].owner)).toEqual(holders.map((h) => h.pid));
    const text = await runWarden(['status', '--redis', redis.url], { env: host('all-c') });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^pool all-a \(redis, unix:\/\/.*\): 1 live of 3, 2 free, 0 waiting$/m);
    expect(text.stdout).toMatch(/^pool all-b \(redis, unix:\/\/.*\): 1 live of 3, 2 free, 0 waiting$/m);
    for (const h of holders) h.child.kill('SIGTERM');
    await Promise.all(holders.map((h) => h.done));
  });

  it('says so when the database has no fleet pool yet', async () => {
    const empty = await startRedis();
    try {
      const r = await runWarden(['status', '--redis', empty.url], { env: host('none') });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('No fleet pools');
      const json = JSON.parse((await runWarden(['status', '--redis', empty.url, '--json'], { env: host('none') })).stdout) as { pools: unknown[] };
      expect(json.pools).toEqual([]);
    } finally {
      await empty.stop();
    }
  });
});

describe('--detach', () => {
  it("the runner takes the fleet lease over: the job gets the token, status shows it, and the slot frees as it ends", async () => {
    const log = path.join(dir, 'detach.jsonl');
    const tokenFile = path.join(dir, 'detach-token');
    const go = path.join(dir, 'detach-go');
    const r = await runWarden(['once', '--detach', '--log-file', log, '--redis', redis.url, '--pool', 'det', '--max-live', '1', '--job', `echo "$WARDEN_LEASE_TOKEN" > ${tokenFile}; while [ ! -e ${go} ]; do sleep 0.01; done`], { env: host('det') });
    expect(r.code).toBe(0);
    await waitFor('the detached job to start', () => readText(tokenFile).trim() !== '');
    const spawn = await waitFor('its spawn event', () => eventsNamed(parseEvents(readText(log)), 'spawn')[0]);
    expect(Number(readText(tokenFile).trim())).toBe(spawn.token);
    // The runner records the job as holder as it starts it.
    const holders = await waitFor('status to show the job', async () => {
      const status = await runWarden(['status', '--redis', redis.url, '--pool', 'det', '--json'], { env: host('det') });
      const view = JSON.parse(status.stdout) as { holders: Record<string, unknown>[] };
      return view.holders[0]?.pid === spawn.jobPid ? view.holders : undefined;
    });
    expect(holders).toHaveLength(1);
    expect(holders[0]).toMatchObject({ token: spawn.token, pid: spawn.jobPid, jobId: spawn.jobId });
    fs.writeFileSync(go, '');
    await waitFor('the exit in the log', () => eventsNamed(parseEvents(readText(log)), 'exit').length === 1);
    await withRedisClient(redis.url, (client) => waitFor('the slot to free', async () => (await client.command(['HLEN', 'warden:{det}:leases'])) === 0));
  });
});

describe('the lease lives with the job', () => {
  it("a SIGKILLed warden's job keeps its fleet slot until it ends, then the slot frees at once", async () => {
    const started = path.join(dir, 'k-started');
    const go = path.join(dir, 'k-go');
    const ended = path.join(dir, 'k-ended');
    const got = path.join(dir, 'k-got');
    const holder = startWarden(['run', '--redis', redis.url, '--pool', 'kill9', '--max-live', '1', '--', 'sh', '-c', `touch ${started}; while [ ! -e ${go} ]; do sleep 0.01; done; date +%s%N > ${ended}`], { env: host('a') });
    await waitFor('the job to start', () => fs.existsSync(started));
    holder.child.kill('SIGKILL');
    await holder.done;
    const waiter = startWarden(['run', '--redis', redis.url, '--pool', 'kill9', '--max-live', '1', '--log', 'json', '--', 'sh', '-c', `date +%s%N > ${got}`], { env: host('b') });
    await waitFor('the other host to wait', () => eventsNamed(stderrEvents(waiter.stderr()), 'wait').length > 0);
    // The job runs on without its warden: the slot is still its own.
    expect(await withRedisClient(redis.url, (client) => client.command(['HLEN', 'warden:{kill9}:leases']))).toBe(1);
    expect(fs.existsSync(got)).toBe(false);
    fs.writeFileSync(go, '');
    expect((await waiter.done).code).toBe(0);
    const gapMs = (Number(readText(got)) - Number(readText(ended))) / 1e6;
    // Released as the job exited, not when its 30 s lease would have lapsed (the bench measures it).
    expect(gapMs).toBeGreaterThanOrEqual(0);
    expect(gapMs).toBeLessThan(15_000);
  });

  it("a warden that sees its job end releases the lease itself, not only through the host's keeper (which may not be connected yet)", async () => {
    const hostTag = `${tag}-selfrel`;
    const env = host('selfrel', { WARDEN_TEST_TAG: hostTag });
    const started = path.join(dir, 'selfrel-started');
    // A long job makes the host's keeper; then the keeper stops answering anyone.
    const long = startWarden(['run', '--redis', redis.url, '--pool', 'selfrel', '--max-live', '2', '--', 'sh', '-c', `touch ${started}; sleep 60`], { env });
    await waitFor('the long job to start', () => fs.existsSync(started));
    const [keeper] = await waitFor('the keeper', () => {
      const pids = keeperPids(hostTag);
      return pids.length ? pids : undefined;
    });
    process.kill(keeper, 'SIGSTOP');
    const client = await redisClient(redis.url);
    try {
      const short = await runWarden(['run', '--redis', redis.url, '--pool', 'selfrel', '--max-live', '2', '--', 'true'], { env });
      expect(short.code).toBe(0);
      // Only the long job's lease is left, though the keeper never heard that the short one ended.
      await waitFor('the short job\'s lease to be released', async () => (await client.command(['HLEN', 'warden:{selfrel}:leases'])) === 1, 5000);
    } finally {
      process.kill(keeper, 'SIGCONT');
      await client.close();
      long.child.kill('SIGTERM');
      await long.done;
    }
  });

  it('a lease whose host stops renewing (warden, keeper and job all gone) lapses after --lease, by the server clock', async () => {
    const started = path.join(dir, 'd-started');
    const env = host('dies', { WARDEN_TEST_TAG: `${tag}-dies` });
    startWarden(['run', '--redis', redis.url, '--pool', 'dies', '--max-live', '1', '--lease', '2s', '--', 'sh', '-c', `touch ${started}; exec sleep 60`], { env });
    await waitFor('the job to start', () => fs.existsSync(started));
    await waitFor('its keeper to run', () => taggedPids('WARDEN_TEST_TAG', `${tag}-dies`).length >= 3);
    const client = await redisClient(redis.url);
    try {
      const [s] = (await client.command(['TIME'])) as string[];
      // The whole host at once: stopped first, so that no part of it sees another go.
      const pids = taggedPids('WARDEN_TEST_TAG', `${tag}-dies`);
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      const diedAt = Number(s) * 1000;
      const r = await runWarden(['run', '--redis', redis.url, '--pool', 'dies', '--max-live', '1', '--log', 'json', '--', 'true'], { env: host('other') });
      expect(r.code).toBe(0);
      const [s2, us2] = (await client.command(['TIME'])) as string[];
      const grantedBy = Number(s2) * 1000 + Number(us2) / 1000;
      // Not before the lease could lapse (2 s from the last renewal, which was at most 2/3 s before death).
      expect(grantedBy - diedAt).toBeGreaterThanOrEqual(2000 - 2000 / 3 - 1000);
    } finally {
      await client.close();
    }
  });

  it("a host whose clock is minutes off neither loses its lease nor takes another's: expiry is the server's", async () => {
    if (spawnSync('faketime', ['-f', '+0', 'true']).status !== 0) throw new Error('faketime is needed (apt-get install faketime)');
    const started = path.join(dir, 'f-started');
    const go = path.join(dir, 'f-go');
    const late = startWarden(['run', '--redis', redis.url, '--pool', 'skew', '--max-live', '1', '--lease', '3s', '--', 'sh', '-c', `touch ${started}; while [ ! -e ${go} ]; do sleep 0.01; done`], { env: host('behind', { FAKETIME: '-10m', LD_PRELOAD: fakeTimeLib() }) });
    await waitFor('the job to start', () => fs.existsSync(started));
    // A host 10 minutes ahead asks for the slot over several lease lengths: never granted.
    const ahead = host('ahead', { FAKETIME: '+10m', LD_PRELOAD: fakeTimeLib() });
    const probe = await runWarden(['run', '--redis', redis.url, '--pool', 'skew', '--max-live', '1', '--lease', '3s', '--wait-timeout', '5s', '--log', 'json', '--', 'true'], { env: ahead });
    expect(probe.code).toBe(75);
    expect(eventsNamed(stderrEvents(probe.stderr), 'skip')[0].reason).toBe('wait-timeout');
    fs.writeFileSync(go, '');
    expect((await late.done).code).toBe(0);
    expect(eventsNamed(stderrEvents(late.stderr()), 'lease-lost')).toHaveLength(0);
    expect((await runWarden(['run', '--redis', redis.url, '--pool', 'skew', '--max-live', '1', '--', 'true'], { env: ahead })).code).toBe(0);
  });
});

describe('the server unreachable', () => {
  it('once and run exit 69 with one line naming the server, and start nothing', async () => {
    const missing = path.join(dir, 'nowhere', 'redis.sock');
    const marker = path.join(dir, 'u-ran');
    for (const args of [
      ['run', '--redis', `unix://${missing}`, '--', 'touch', marker],
      ['once', '--redis', `unix://${missing}`, '--job', `touch ${marker}`],
    ]) {
      const r = await runWarden(args, { env: host('u') });
      expectOneLineError(r, 69, missing);
    }
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('bad URLs exit 2 naming --redis and the accepted form', async () => {
    // Malformed %-escapes in the password or the path too: one line, never the password.
    for (const url of ['http://localhost', 'redis://', 'redis://host:99999', 'unix:relative.sock', 'redis://h/notadb', 'redis://:pw-%zz-secret@h', 'redis://us%er:pw@h', 'unix:///tmp/x%zz.sock']) {
      const r = await runWarden(['run', '--redis', url, '--', 'true'], { env: host('bad') });
      expectUsageError(r, '--redis', url);
      expect(r.stderr).toContain('redis://');
      expect(r.stderr).not.toContain('secret');
    }
    const env = await runWarden(['run', '--', 'true'], { env: host('bad', { WARDEN_REDIS_URL: 'nonsense' }) });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('WARDEN_REDIS_URL');
    const lease = await runWarden(['run', '--lease', '5s', '--', 'true'], { env: host('bad') });
    expect(lease.code).toBe(2);
    expect(lease.stderr).toContain('--lease');
  });
});

describe('passwords', () => {
  it('never appear in logs, status, errors or the command lines of the processes warden starts', async () => {
    const secret = 'pw-Zq81-secret';
    const port = await freePort();
    const locked = await startRedis({ password: secret, port });
    const log = path.join(dir, 'pw.jsonl');
    const ready = path.join(dir, 'pw-ready');
    try {
      const env = host('pw', { WARDEN_REDIS_URL: `redis://:${secret}@127.0.0.1:${port}`, WARDEN_TEST_TAG: `${tag}-pw` });
      const w = startWarden(['run', '--pool', 'pw', '--log', 'json', '--log-file', log, '--', 'sh', '-c', `touch ${ready}; sleep 30`], { env });
      await waitFor('the job to start', () => fs.existsSync(ready));
      const seen: string[] = [];
      for (const pid of taggedPids('WARDEN_TEST_TAG', `${tag}-pw`)) seen.push(readText(`/proc/${pid}/cmdline`).replace(/\0/g, ' '));
      expect(seen.length).toBeGreaterThanOrEqual(3);
      const viaEnvPassword = host('pw2', { WARDEN_REDIS_PASSWORD: secret });
      const status = await runWarden(['status', '--redis', `redis://127.0.0.1:${port}`, '--pool', 'pw', '--json'], { env: viaEnvPassword });
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`redis://127.0.0.1:${port}`);
      const wrong = await runWarden(['run', '--redis', `redis://:${secret}-not@127.0.0.1:${port}`, '--', 'true'], { env: host('pw3') });
      expect(wrong.code).toBe(69);
      w.child.kill('SIGTERM');
      const r = await w.done;
      for (const text of [...seen, r.stdout, r.stderr, readText(log), status.stdout, status.stderr, wrong.stderr]) expect(text).not.toContain(secret);
    } finally {
      killTagged('WARDEN_TEST_TAG', `${tag}-pw`);
      await locked.stop();
    }
  });
});

describe('the password and the processes warden starts', () => {
  it('is in the environment of no check, job or --on-failure hook, so none can print it into the log', async () => {
    const secret = 'pw-env-5521-secret';
    const port = await freePort();
    const locked = await startRedis({ password: secret, port });
    const log = path.join(dir, 'pwenv.jsonl');
    const dump = 'env | grep -i redis; true';
    try {
      for (const env of [{ WARDEN_REDIS_URL: `redis://:${secret}@127.0.0.1:${port}` }, { WARDEN_REDIS_URL: `redis://127.0.0.1:${port}`, WARDEN_REDIS_PASSWORD: secret }]) {
        const r = await runWarden(['once', '--pool', 'pwenv', '--check', dump, '--job', `${dump}; exit 3`, '--on-failure', dump, '--log-file', log], { env: host('pwenv', env) });
        expect(r.code).toBe(3);
        // The check's, the job's and the hook's output is shown: they ran and printed their environment.
        expect(r.stdout + r.stderr).toContain(`WARDEN_REDIS_URL=redis://127.0.0.1:${port}`);
        expect(r.stdout + r.stderr).toContain('on-failure');
        for (const text of [r.stdout, r.stderr, readText(log)]) expect(text).not.toContain(secret);
      }
    } finally {
      await locked.stop();
    }
  });
});

describe('a keeper started with a wrong password', () => {
  it('is not the keeper of a warden that has the right one: that warden\'s lease is renewed', async () => {
    const secret = 'pw-right-8841';
    const port = await freePort();
    const locked = await startRedis({ password: secret, port });
    const hostTag = `${tag}-wrongpw`;
    const started = path.join(dir, 'wrongpw-started');
    const go = path.join(dir, 'wrongpw-go');
    const env = host('wrongpw', { WARDEN_TEST_TAG: hostTag });
    const client = await redisClient(`redis://127.0.0.1:${port}`, secret);
    try {
      // A typo: the watch cannot log in, but its keeper stays for a while after it is stopped.
      const typo = startWarden(['watch', '--redis', `redis://:${secret}-typo@127.0.0.1:${port}`, '--pool', 'wrongpw', '--every', '1h', '--job', 'true', '--log', 'json'], { env });
      await waitFor('the typo to be reported', () => eventsNamed(typo.events(), 'error').length > 0);
      await waitFor('its keeper', () => keeperPids(hostTag).length > 0);
      typo.child.kill('SIGTERM');
      await typo.done;
      // Fixed and run again on the same host.
      const fixed = startWarden(['run', '--redis', `redis://:${secret}@127.0.0.1:${port}`, '--pool', 'wrongpw', '--max-live', '1', '--lease', '2s', '--log', 'json', '--', 'sh', '-c', `touch ${started}; while [ ! -e ${go} ]; do sleep 0.01; done`], { env });
      await waitFor('the job to start', () => fs.existsSync(started));
      const expiry = async (): Promise<number> => Number(((await client.command(['ZRANGE', 'warden:{wrongpw}:expiry', '0', '-1', 'WITHSCORES'])) as string[])[1]);
      const first = await expiry();
      await waitFor('a renewal of its lease', async () => (await expiry()) > first, 15_000);
      expect(eventsNamed(parseEvents(fixed.stderr()), 'lease-lost')).toHaveLength(0);
      fs.writeFileSync(go, '');
      expect((await fixed.done).code).toBe(0);
    } finally {
      await client.close();
      killTagged('WARDEN_TEST_TAG', hostTag);
      await locked.stop();
    }
  });
});

function fakeTimeLib(): string {
  const candidates = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) throw new Error('libfaketime not found (apt-get install faketime)');
  return found;
}
