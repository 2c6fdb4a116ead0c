// Flags, WARDEN_* variables and --config files become one Settings object.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/settings.js';
import type { Resolved } from '../../src/settings.js';
import { fails, ok } from '../helpers/settings.js';

type Flags = Record<string, string | string[] | boolean>;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
const config = (data: unknown): string => {
  const file = path.join(dir, `config-${++files}.json`);
  fs.writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  return file;
};

const baseEnv: NodeJS.ProcessEnv = { WARDEN_STATE_DIR: path.join(dir, 'state') };
const WATCH: Flags = { every: '30s', job: ['./mail.sh'] };

const watch = (flags: Flags, env: NodeJS.ProcessEnv = {}): Resolved => resolveSettings('watch', { ...WATCH, ...flags }, { ...baseEnv, ...env });

describe('defaults', () => {
  it('fills every setting a watch needs', () => {
    const s = ok(watch({}));
    expect(s.command).toBe('watch');
    expect(s.schedule).toEqual({ kind: 'every', ms: 30_000 });
    expect(s.jobs).toEqual([{ run: './mail.sh', delayMs: 0 }]);
    expect(s.check).toBeUndefined();
    expect(s.pool).toBe('default');
    expect(s.maxLive).toBe(os.availableParallelism());
    expect(s.maxQueue).toBe(0);
    expect(s.overflow).toBe('wait');
    expect(s.waitTimeoutMs).toBeUndefined();
    expect(s.jobTimeoutMs).toBeUndefined();
    expect(s.killAfterMs).toBe(10_000);
    expect(s.retries).toBe(0);
    expect(s.retryDelayMs).toBe(1000);
    expect(s.jitterMs).toBe(0);
    expect(s.maxRuns).toBeUndefined();
    expect(s.log).toBe('pretty');
    expect(s.logFile).toBeUndefined();
    expect(s.quiet).toBe(false);
    expect(s.eachLine).toBe(false);
    expect(s.detach).toBe(false);
    expect(s.stateDir).toBe(path.join(dir, 'state'));
    expect(s.poolBackend).toBe(process.platform === 'linux' ? 'socket' : 'flock');
  });

  it('overflows with wait for watch and run, skip for once', () => {
    expect(ok(watch({})).overflow).toBe('wait');
    expect(ok(resolveSettings('once', { job: ['x'] }, baseEnv)).overflow).toBe('skip');
    expect(ok(resolveSettings('run', {}, baseEnv, ['true'])).overflow).toBe('wait');
  });

  it('keeps the command and arguments of run', () => {
    const s = ok(resolveSettings('run', { pool: 'mail' }, baseEnv, ['sh', '-c', 'echo hi']));
    expect(s.argv).toEqual(['sh', '-c', 'echo hi']);
    expect(s.pool).toBe('mail');
  });

  it('uses one state dir per user whatever the session sets (XDG_RUNTIME_DIR, TMPDIR)', () => {
    const bare = ok(resolveSettings('once', { job: ['x'] }, {}));
    const session = ok(resolveSettings('once', { job: ['x'] }, { XDG_RUNTIME_DIR: dir, TMPDIR: dir }));
    expect(session.stateDir).toBe(bare.stateDir);
    expect(bare.stateDir).toBe(`/tmp/warden-${process.getuid?.()}`);
  });

  it('makes relative paths absolute', () => {
    const s = ok(watch({ logFile: 'events.jsonl', stateDir: 'state' }));
    expect(s.logFile).toBe(path.resolve('events.jsonl'));
    expect(s.stateDir).toBe(path.resolve('state'));
  });
});

describe('precedence: flag > environment > config file > default', () => {
  const file = config({ maxLive: 5, pool: 'from-config', killAfter: '3s' });

  it('takes the flag over everything', () => {
    const s = ok(watch({ config: file, maxLive: '3', pool: 'from-flag' }, { WARDEN_MAX_LIVE: '4', WARDEN_POOL: 'from-env' }));
    expect(s.maxLive).toBe(3);
    expect(s.pool).toBe('from-flag');
  });

  it('takes the environment over the config file', () => {
    const s = ok(watch({ config: file }, { WARDEN_MAX_LIVE: '4', WARDEN_POOL: 'from-env' }));
    expect(s.maxLive).toBe(4);
    expect(s.pool).toBe('from-env');
  });

  it('takes the config file over the default', () => {
    const s = ok(watch({ config: file }));
    expect(s.maxLive).toBe(5);
    expect(s.pool).toBe('from-config');
    expect(s.killAfterMs).toBe(3000);
  });

  it('reads the config file named by WARDEN_CONFIG', () => {
    expect(ok(watch({}, { WARDEN_CONFIG: file })).maxLive).toBe(5);
  });

  it('reads every setting from its WARDEN_* variable', () => {
    const s = ok(
      resolveSettings(
        'watch',
        {},
        {
          ...baseEnv,
          WARDEN_CRON: '*/5 * * * *',
          WARDEN_JOB: './mail.sh',
          WARDEN_CHECK: './in-stock.sh',
          WARDEN_DELAY: '10m',
          WARDEN_MAX_QUEUE: 'unlimited',
          WARDEN_OVERFLOW: 'skip',
          WARDEN_WAIT_TIMEOUT: '5s',
          WARDEN_JOB_TIMEOUT: '1h',
          WARDEN_RETRIES: '2',
          WARDEN_RETRY_DELAY: '2s',
          WARDEN_MAX_RUNS: '7',
          WARDEN_LOG: 'json',
          WARDEN_EACH_LINE: '1',
        },
      ),
    );
    expect(s.schedule).toEqual({ kind: 'cron', expr: '*/5 * * * *' });
    expect(s.jobs).toEqual([{ run: './mail.sh', delayMs: 600_000 }]);
    expect(s.check).toBe('./in-stock.sh');
    expect(s.maxQueue).toBe(Infinity);
    expect(s.overflow).toBe('skip');
    expect(s.waitTimeoutMs).toBe(5000);
    expect(s.jobTimeoutMs).toBe(3_600_000);
    expect(s.retries).toBe(2);
    expect(s.retryDelayMs).toBe(2000);
    expect(s.maxRuns).toBe(7);
    expect(s.log).toBe('json');
    expect(s.eachLine).toBe(true);
  });

  it('does not read a bad environment value that a flag overrides', () => {
    expect(ok(watch({ maxLive: '2' }, { WARDEN_MAX_LIVE: 'lots' })).maxLive).toBe(2);
  });

  it('reports a bad environment value by its variable name', () => {
    const e = fails(watch({}, { WARDEN_MAX_LIVE: '0' }));
    expect(e).toContain('WARDEN_MAX_LIVE');
    expect(fails(watch({}, { WARDEN_KILL_AFTER: 'soon' }))).toMatch(/^WARDEN_KILL_AFTER: "soon" is not a duration/);
  });

  it('reports a bad flag by its flag name', () => {
    expect(fails(watch({ maxLive: '0' }))).toMatch(/^--max-live: "0"/);
    expect(fails(watch({ every: '0' }))).toMatch(/^--every: "0"/);
    expect(fails(watch({ job: ['ok', ''] }))).toBe('--job: must not be empty');
  });
});

describe('environment values', () => {
  it.each(['1', 'true', 'TRUE'])('reads WARDEN_QUIET=%s as on', (v) => {
    expect(ok(watch({}, { WARDEN_QUIET: v })).quiet).toBe(true);
  });

  it.each(['0', 'false', ''])('reads WARDEN_QUIET=%j as off', (v) => {
    expect(ok(watch({}, { WARDEN_QUIET: v })).quiet).toBe(false);
  });

  it.each(['yes', 'on', 'no'])('rejects WARDEN_QUIET=%s', (v) => {
    const e = fails(watch({}, { WARDEN_QUIET: v }));
    expect(e).toContain('WARDEN_QUIET');
    expect(e).toContain('1, 0, true or false');
  });

  it('ignores an empty variable for a setting that is not a yes/no', () => {
    const s = ok(watch({}, { WARDEN_MAX_LIVE: '', WARDEN_POOL: '', WARDEN_KILL_AFTER: '', WARDEN_CHECK: '' }));
    expect(s.maxLive).toBe(os.availableParallelism());
    expect(s.pool).toBe('default');
    expect(s.killAfterMs).toBe(10_000);
    expect(s.check).toBeUndefined();
    expect(fails(resolveSettings('watch', { job: ['x'] }, { ...baseEnv, WARDEN_EVERY: '' }))).toContain('--every');
  });

  it('lets a flag switch off a yes/no that the environment switched on', () => {
    expect(ok(watch({ quiet: false }, { WARDEN_QUIET: '1' })).quiet).toBe(false);
  });
});

describe('schedules and combinations', () => {
  it('watch needs --every or --cron', () => {
    const e = fails(resolveSettings('watch', { job: ['x'] }, baseEnv));
    expect(e).toContain('--every');
    expect(e).toContain('--cron');
  });

  it('takes --cron as the schedule', () => {
    expect(ok(resolveSettings('watch', { cron: '0 9 * * 1-5', job: ['x'] }, baseEnv)).schedule).toEqual({ kind: 'cron', expr: '0 9 * * 1-5' });
  });

  it('refuses --every with --cron, also when they come from different sources', () => {
    expect(fails(watch({ cron: '* * * * *' }))).toContain('--every and --cron');
    expect(fails(watch({}, { WARDEN_CRON: '* * * * *' }))).toContain('--every and --cron');
  });

  it('once runs without a schedule', () => {
    expect(ok(resolveSettings('once', { job: ['x'] }, baseEnv)).schedule).toBeUndefined();
  });

  it('watch and once need a job; run needs a command', () => {
    expect(fails(resolveSettings('watch', { every: '1s' }, baseEnv))).toContain('--job');
    expect(fails(resolveSettings('once', {}, baseEnv))).toContain('--job');
    expect(fails(resolveSettings('run', {}, baseEnv, []))).toContain("'--'");
  });

  it('--detach needs --log-file', () => {
    expect(fails(resolveSettings('once', { job: ['x'], detach: true }, baseEnv))).toMatch(/--detach needs --log-file/);
    expect(fails(resolveSettings('run', { detach: true }, baseEnv, ['true']))).toMatch(/--detach needs --log-file/);
    const s = ok(resolveSettings('once', { job: ['x'], detach: true, logFile: path.join(dir, 'log') }, baseEnv));
    expect(s.detach).toBe(true);
    expect(s.logFile).toBe(path.join(dir, 'log'));
  });

  it('run refuses --overflow replace and accepts wait and skip', () => {
    const e = fails(resolveSettings('run', { overflow: 'replace' }, baseEnv, ['true']));
    expect(e).toContain('--overflow');
    expect(e).toContain('"replace"');
    expect(fails(resolveSettings('run', {}, { ...baseEnv, WARDEN_OVERFLOW: 'replace' }, ['true']))).toContain('replace');
    expect(ok(resolveSettings('run', { overflow: 'skip' }, baseEnv, ['true'])).overflow).toBe('skip');
  });

  it('run takes --timeout as the job timeout', () => {
    expect(ok(resolveSettings('run', { timeout: '5s' }, baseEnv, ['true'])).jobTimeoutMs).toBe(5000);
  });

  it('applies --delay to every --job', () => {
    expect(ok(watch({ job: ['a', 'b'], delay: '10m' })).jobs).toEqual([
      { run: 'a', delayMs: 600_000 },
      { run: 'b', delayMs: 600_000 },
    ]);
  });
});

describe('--config files', () => {
  it('reads settings under their camelCase names', () => {
    const file = config({
      $schema: './warden.schema.json',
      every: '3m',
      check: './in-stock.sh',
      job: './mail.sh',
      pool: 'mail',
      maxLive: 'unlimited',
      maxQueue: 10,
      overflow: 'skip',
      quiet: true,
      killAfter: '2s',
    });
    const s = ok(resolveSettings('watch', { config: file }, baseEnv));
    expect(s.schedule).toEqual({ kind: 'every', ms: 180_000 });
    expect(s.check).toBe('./in-stock.sh');
    expect(s.jobs).toEqual([{ run: './mail.sh', delayMs: 0 }]);
    expect(s.pool).toBe('mail');
    expect(s.maxLive).toBe(Infinity);
    expect(s.maxQueue).toBe(10);
    expect(s.overflow).toBe('skip');
    expect(s.quiet).toBe(true);
    expect(s.killAfterMs).toBe(2000);
  });

  it('reads jobs with different delays', () => {
    const file = config({ every: '1m', jobs: [{ run: './mail-vip.sh' }, { run: './mail-all.sh', delay: '10m' }, { run: './log.sh', delay: 0 }] });
    expect(ok(resolveSettings('watch', { config: file }, baseEnv)).jobs).toEqual([
      { run: './mail-vip.sh', delayMs: 0 },
      { run: './mail-all.sh', delayMs: 600_000 },
      { run: './log.sh', delayMs: 0 },
    ]);
  });

  it('gives jobs without their own delay the --delay of the file or the flag', () => {
    const file = config({ every: '1m', delay: '5s', jobs: [{ run: 'a' }, { run: 'b', delay: '1m' }, 'c'] });
    expect(ok(resolveSettings('watch', { config: file }, baseEnv)).jobs).toEqual([
      { run: 'a', delayMs: 5000 },
      { run: 'b', delayMs: 60_000 },
      { run: 'c', delayMs: 5000 },
    ]);
    expect(ok(resolveSettings('watch', { config: file, delay: '2s' }, baseEnv)).jobs).toEqual([
      { run: 'a', delayMs: 2000 },
      { run: 'b', delayMs: 60_000 },
      { run: 'c', delayMs: 2000 },
    ]);
  });

  it('lets --job flags replace the jobs of the file', () => {
    const file = config({ every: '1m', jobs: [{ run: 'a', delay: '1m' }, { run: 'b' }] });
    expect(ok(resolveSettings('watch', { config: file, job: ['flag-job'] }, baseEnv)).jobs).toEqual([{ run: 'flag-job', delayMs: 0 }]);
    expect(ok(resolveSettings('watch', { config: file }, { ...baseEnv, WARDEN_JOB: 'env-job' })).jobs).toEqual([
      { run: 'env-job', delayMs: 0 },
    ]);
  });

  it('lets flags override the schedule of the file', () => {
    const file = config({ every: '1m', job: 'x' });
    expect(ok(resolveSettings('watch', { config: file, every: '5s' }, baseEnv)).schedule).toEqual({ kind: 'every', ms: 5000 });
  });

  it.each([
    [{ every: '1m', job: 'x', maxLiv: 3 }, 'maxLiv', 'unknown setting'],
    [{ every: '1m', job: 'x', config: 'other.json' }, 'config', 'unknown setting'],
    [{ every: '1m', jobs: [{ run: 'x', dealy: '1m' }] }, 'jobs[0].dealy', 'unknown setting'],
    [{ every: '1m', job: 'x', maxLive: 'three' }, 'maxLive', 'whole number'],
    [{ every: '1m', job: 'x', maxLive: 2.5 }, 'maxLive', 'whole number'],
    [{ every: '1m', job: 'x', maxLive: 0 }, 'maxLive', '1 or more'],
    [{ every: '1m', job: 'x', retries: -1 }, 'retries', '0 or more'],
    [{ every: 30, job: 'x' }, 'every', 'duration'],
    [{ every: '30', job: 'x' }, 'every', 'is not a duration'],
    [{ every: '1m', job: 'x', quiet: 'yes' }, 'quiet', 'true or false'],
    [{ every: '1m', job: 'x', overflow: 'drop' }, 'overflow', 'wait, skip, replace'],
    [{ every: '1m', job: 'x', pool: 'a/b' }, 'pool', 'not a pool name'],
    [{ every: '1m', job: 42 }, 'job', 'shell command'],
    [{ every: '1m', job: [] }, 'job', 'shell command'],
    [{ every: '1m', jobs: 'x' }, 'jobs', 'list'],
    [{ every: '1m', jobs: [{ run: 'x' }, { run: 'y', delay: '5' }] }, 'jobs[1].delay', 'is not a duration'],
    [{ every: '1m', jobs: [{ run: 'x' }, { run: 'y', delay: 600 }] }, 'jobs[1].delay', 'duration'],
    [{ every: '1m', jobs: [{ run: 'x' }, { delay: '1m' }] }, 'jobs[1].run', 'shell command'],
    [{ every: '1m', jobs: [{ run: ' ' }] }, 'jobs[0].run', 'must not be empty'],
    [{ every: '1m', jobs: [42] }, 'jobs[0]', 'object'],
  ])('reports %j at the path of the key (%s)', (data, key, why) => {
    const file = config(data);
    const e = fails(resolveSettings('watch', { config: file }, baseEnv));
    expect(e).toContain(`--config ${file}: ${key}`);
    expect(e).toContain(why);
    expect(e).not.toContain('\n');
  });

  it('reports a bad delay in jobs[1] as `jobs[1].delay ... is not a duration`', () => {
    const file = config({ every: '1m', jobs: [{ run: 'a', delay: '1m' }, { run: 'b', delay: 'ten minutes' }] });
    expect(fails(resolveSettings('watch', { config: file }, baseEnv))).toMatch(/jobs\[1\]\.delay: "ten minutes" is not a duration/);
  });

  it('reports a file that is missing, not JSON, or not an object', () => {
    const missing = path.join(dir, 'missing.json');
    expect(fails(resolveSettings('watch', { config: missing }, baseEnv))).toBe(`--config: cannot read ${missing}: no such file or directory`);
    const broken = config('{"every": "1m",');
    expect(fails(resolveSettings('watch', { config: broken }, baseEnv))).toContain(`--config: ${broken} is not valid JSON`);
    const list = config([1, 2]);
    expect(fails(resolveSettings('watch', { config: list }, baseEnv))).toContain(`--config ${list}: expected a JSON object`);
  });
});

describe('triggers: --on-change, --unique, --max-late, --tz', () => {
  const CRON: Flags = { cron: '30 2 * * *', job: ['./mail.sh'] };

  it('--on-change alone is exit; a mode may be named; env and config read the same forms', () => {
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x', onChange: true }, baseEnv)).onChange).toBe('exit');
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x', onChange: 'output' }, baseEnv)).onChange).toBe('output');
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x' }, baseEnv)).onChange).toBeUndefined();
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x' }, { ...baseEnv, WARDEN_ON_CHANGE: '1' })).onChange).toBe('exit');
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x' }, { ...baseEnv, WARDEN_ON_CHANGE: 'output' })).onChange).toBe('output');
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x' }, { ...baseEnv, WARDEN_ON_CHANGE: '0' })).onChange).toBeUndefined();
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x', config: config({ onChange: true }) }, baseEnv)).onChange).toBe('exit');
    expect(ok(resolveSettings('watch', { ...WATCH, check: 'x', config: config({ onChange: 'output', unique: true, maxLate: '1h' }) }, baseEnv))).toMatchObject({ onChange: 'output', unique: true, maxLateMs: 3_600_000 });
    expect(fails(resolveSettings('watch', { ...WATCH, check: 'x', onChange: 'often' }, baseEnv))).toBe('--on-change: "often" is not one of exit, output');
    expect(fails(resolveSettings('once', { job: ['x'], onChange: true }, baseEnv))).toMatch(/^--on-change needs --check CMD/);
    expect(fails(resolveSettings('watch', { ...WATCH, config: config({ onChange: 3 }) }, baseEnv))).toMatch(/onChange: expected true, false or one of "exit", "output"/);
  });

  it('--max-late is a duration', () => {
    expect(ok(resolveSettings('once', { job: ['x'], maxLate: '90s' }, baseEnv)).maxLateMs).toBe(90_000);
    expect(fails(resolveSettings('once', { job: ['x'], maxLate: 'soon' }, baseEnv))).toMatch(/^--max-late: "soon" is not a duration/);
  });

  it('--tz names the cron zone; CRON_TZ is read when neither --tz nor WARDEN_TZ is given', () => {
    expect(ok(resolveSettings('watch', { ...CRON, tz: 'Europe/Berlin' }, baseEnv)).schedule).toEqual({ kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Berlin' });
    expect(ok(resolveSettings('watch', CRON, { ...baseEnv, CRON_TZ: 'Asia/Tokyo' })).schedule).toMatchObject({ tz: 'Asia/Tokyo' });
    expect(ok(resolveSettings('watch', CRON, { ...baseEnv, CRON_TZ: 'Asia/Tokyo', WARDEN_TZ: 'UTC' })).schedule).toMatchObject({ tz: 'UTC' });
    expect(ok(resolveSettings('watch', { ...CRON, tz: 'UTC' }, { ...baseEnv, CRON_TZ: 'Asia/Tokyo' })).schedule).toMatchObject({ tz: 'UTC' });
    expect(ok(resolveSettings('watch', CRON, baseEnv)).schedule).toEqual({ kind: 'cron', expr: '30 2 * * *' });
    expect(fails(resolveSettings('watch', { ...CRON, tz: 'Mars/Base' }, baseEnv))).toBe('--tz: "Mars/Base" is not a time zone; use an IANA name such as Europe/Berlin, America/New_York or UTC');
    expect(fails(resolveSettings('watch', CRON, { ...baseEnv, CRON_TZ: 'Nowhere' }))).toMatch(/^CRON_TZ: "Nowhere" is not a time zone/);
  });
});
