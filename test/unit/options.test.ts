// The option table: how each kind of value is read from text, and the WARDEN_* names.
import { describe, expect, it } from 'vitest';
import { OPTIONS, envName, optionsFor, parseText } from '../../src/options.js';
import type { Kind, OptionDef, Parsed } from '../../src/options.js';

const def = (kind: Kind, choices?: readonly string[]): OptionDef => ({
  key: 'x',
  flag: '--x',
  kind,
  choices,
  commands: ['watch'],
  help: '',
});
const byKey = (key: string): OptionDef => {
  const found = OPTIONS.find((o) => o.key === key);
  if (!found) throw new Error(`no option ${key}`);
  return found;
};
const value = (p: Parsed): unknown => ('value' in p ? p.value : `error: ${p.error}`);
const error = (p: Parsed): string => {
  if (!('error' in p)) throw new Error(`expected an error, got ${JSON.stringify(p.value)}`);
  return p.error;
};

describe('parseText: durations', () => {
  it('reads a duration in milliseconds', () => {
    expect(value(parseText(def('duration'), '1h30m', '--x'))).toBe(5_400_000);
    expect(value(parseText(def('positive-duration'), '500ms', '--x'))).toBe(500);
  });

  it('allows 0 only where the duration may be zero', () => {
    expect(value(parseText(def('duration'), '0', '--x'))).toBe(0);
    expect(value(parseText(def('duration'), '0s', '--x'))).toBe(0);
    expect(error(parseText(def('positive-duration'), '0', '--every'))).toMatch(/^--every: "0" .*above zero/);
    expect(error(parseText(def('positive-duration'), '0ms', '--every'))).toContain('--every');
  });

  it.each(['', '5', '-5s', '5x', 'soon'])('rejects %j naming the option and the accepted form', (raw) => {
    const e = error(parseText(def('duration'), raw, '--delay'));
    expect(e).toContain('--delay');
    expect(e).toContain('is not a duration');
    expect(e).toContain('30s');
  });
});

describe('parseText: counts', () => {
  it('reads whole numbers of 0 or more for a count', () => {
    expect(value(parseText(def('count'), '0', '--x'))).toBe(0);
    expect(value(parseText(def('count'), '3', '--x'))).toBe(3);
    expect(value(parseText(def('count'), ' 12 ', '--x'))).toBe(12);
  });

  it('requires 1 or more for a positive number', () => {
    expect(value(parseText(def('positive'), '1', '--x'))).toBe(1);
    expect(error(parseText(def('positive'), '0', '--max-runs'))).toMatch(/^--max-runs: "0" must be a whole number of 1 or more/);
    expect(error(parseText(def('positive-or-unlimited'), '0', '--max-live'))).toContain('--max-live');
  });

  it('takes "unlimited" only where allowed', () => {
    expect(value(parseText(def('count-or-unlimited'), 'unlimited', '--x'))).toBe(Infinity);
    expect(value(parseText(def('positive-or-unlimited'), 'unlimited', '--x'))).toBe(Infinity);
    expect(value(parseText(def('positive-or-unlimited'), 'UNLIMITED', '--x'))).toBe(Infinity);
    expect(error(parseText(def('count'), 'unlimited', '--retries'))).toContain('--retries');
    expect(error(parseText(def('positive'), 'unlimited', '--max-runs'))).toContain('--max-runs');
  });

  it('mentions "unlimited" in the error only where it is allowed', () => {
    expect(error(parseText(def('count-or-unlimited'), 'x', '--max-queue'))).toContain('unlimited');
    expect(error(parseText(def('count'), 'x', '--retries'))).not.toContain('unlimited');
  });

  it.each(['-1', '1.5', '3x', '', ' ', '1e3', '0x10', '+3', 'Infinity', 'NaN', '99999999999999999999'])(
    'rejects %j',
    (raw) => {
      for (const kind of ['count', 'count-or-unlimited', 'positive', 'positive-or-unlimited'] as const) {
        expect(error(parseText(def(kind), raw, '--n'))).toContain('--n');
      }
    },
  );
});

describe('parseText: choices and booleans', () => {
  it('accepts only the listed choices', () => {
    const overflow = byKey('overflow');
    for (const c of ['wait', 'skip', 'replace']) expect(value(parseText(overflow, c, '--overflow'))).toBe(c);
    const e = error(parseText(overflow, 'drop', '--overflow'));
    expect(e).toContain('--overflow');
    expect(e).toContain('"drop"');
    expect(e).toContain('wait, skip, replace');
    expect(error(parseText(byKey('log'), 'xml', '--log'))).toContain('pretty, json');
  });

  it.each([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['0', false],
    ['false', false],
  ])('reads boolean %j as %s', (raw, expected) => {
    expect(value(parseText(def('boolean'), raw, 'WARDEN_QUIET'))).toBe(expected);
  });

  it.each(['yes', 'no', 'on', 'off', '2', 'y', 'truee'])('rejects boolean %j', (raw) => {
    const e = error(parseText(def('boolean'), raw, 'WARDEN_QUIET'));
    expect(e).toContain('WARDEN_QUIET');
    expect(e).toContain('1, 0, true or false');
  });
});

describe('parseText: pool names', () => {
  it.each(['default', 'mail', 'mail.vip_1-a', 'A', '0', 'x'.repeat(100)])('accepts %j', (raw) => {
    expect(value(parseText(byKey('pool'), raw, '--pool'))).toBe(raw);
  });

  it.each(['', '-x', '.hidden', '_x', 'a/b', '../x', 'a b', 'x'.repeat(101), 'mail\n', 'é'])('rejects %j', (raw) => {
    expect(error(parseText(byKey('pool'), raw, '--pool'))).toContain('--pool');
  });

  it('says redis pools are not available', () => {
    expect(error(parseText(byKey('pool'), 'redis://localhost:6379/mail', '--pool'))).toMatch(/--pool: .*redis/);
  });
});

describe('parseText: cron', () => {
  it.each(['*/5 * * * *', '0 9 * * 1-5', '30 */5 * * * *', '0 0 1 1 *'])('accepts %j', (raw) => {
    expect(value(parseText(byKey('cron'), raw, '--cron'))).toBe(raw);
  });

  it.each([
    ['* * * *', '4 fields'],
    ['* * * * * * *', '7 fields'],
    ['', undefined],
    ['* * * * $', 'unexpected'],
  ])('rejects %j', (raw, why) => {
    const e = error(parseText(byKey('cron'), raw, '--cron'));
    expect(e).toMatch(/^--cron: .* is not a cron expression/);
    if (why) expect(e).toContain(why);
  });
});

describe('parseText: text', () => {
  it('keeps text as given', () => {
    expect(value(parseText(byKey('check'), '  curl -sf x ', '--check'))).toBe('  curl -sf x ');
    expect(value(parseText(byKey('job'), './mail.sh', '--job'))).toEqual(['./mail.sh']);
  });

  it.each(['', '   '])('rejects empty text %j', (raw) => {
    expect(error(parseText(byKey('check'), raw, '--check'))).toBe('--check: must not be empty');
    expect(error(parseText(byKey('job'), raw, '--job'))).toBe('--job: must not be empty');
  });
});

describe('the option table', () => {
  it('names every environment variable WARDEN_<SNAKE_CASE> after its flag (--redis: WARDEN_REDIS_URL, as SPEC names it)', () => {
    for (const o of OPTIONS) {
      expect(envName(o)).toMatch(/^WARDEN_[A-Z]+(_[A-Z]+)*$/);
      expect(envName(o)).toBe(o.flag === '--redis' ? 'WARDEN_REDIS_URL' : `WARDEN_${o.flag.slice(2).replaceAll('-', '_').toUpperCase()}`);
    }
  });

  it.each([
    ['maxLive', 'WARDEN_MAX_LIVE'],
    ['stateDir', 'WARDEN_STATE_DIR'],
    ['poolBackend', 'WARDEN_POOL_BACKEND'],
    ['eachLine', 'WARDEN_EACH_LINE'],
    ['every', 'WARDEN_EVERY'],
  ])('%s reads %s', (key, env) => {
    expect(envName(byKey(key))).toBe(env);
  });

  it('gives each command one option per key, flag and environment name', () => {
    for (const c of ['watch', 'once', 'run', 'status'] as const) {
      for (const pick of [(o: OptionDef) => o.key, (o: OptionDef) => o.flag, envName]) {
        const names = optionsFor(c).map(pick);
        expect(new Set(names).size, c).toBe(names.length);
      }
    }
    // One key is one environment name, whichever command reads it.
    const envOf = new Map<string, string>();
    for (const o of OPTIONS) expect(envOf.get(o.key) ?? envOf.set(o.key, envName(o)).get(o.key)).toBe(envName(o));
  });

  it("offers run only the overflow policies it accepts (it has no jobs of its own to replace)", () => {
    expect(optionsFor('run').find((o) => o.key === 'overflow')?.choices).toEqual(['wait', 'skip']);
    expect(optionsFor('run').find((o) => o.key === 'overflow')?.help).not.toMatch(/replace/);
    expect(optionsFor('watch').find((o) => o.key === 'overflow')?.choices).toEqual(['wait', 'skip', 'replace']);
  });

  it('gives each command the options SPEC.md lists for it', () => {
    const keys = (c: Parameters<typeof optionsFor>[0]): string[] => optionsFor(c).map((o) => o.key);
    for (const c of ['watch', 'once'] as const) {
      expect(keys(c)).toEqual(
        expect.arrayContaining(['every', 'cron', 'check', 'job', 'delay', 'eachLine', 'pool', 'maxLive', 'maxQueue', 'overflow',
          'waitTimeout', 'checkTimeout', 'jobTimeout', 'killAfter', 'retries', 'retryDelay', 'jitter', 'maxRuns', 'log',
          'logFile', 'quiet', 'output', 'stateDir', 'poolBackend', 'config']),
      );
    }
    expect(keys('once')).toContain('detach');
    expect(keys('run')).toEqual(expect.arrayContaining(['pool', 'maxLive', 'overflow', 'waitTimeout', 'detach', 'logFile']));
    expect(keys('run')).not.toContain('job');
    expect(keys('status')).toEqual(expect.arrayContaining(['pool', 'json', 'stateDir']));
  });

  it('has a value name for every option that takes a value, and real choices', () => {
    for (const o of OPTIONS) {
      if (o.kind !== 'boolean') expect(o.value, o.flag).toMatch(/^[A-Z]+$/);
      if (o.kind === 'choice') expect(o.choices?.length, o.flag).toBeGreaterThan(1);
    }
  });

  it.each(['watch', 'once', 'run', 'status'] as const)('%s --help shows every option and examples that use only its own options', async (command) => {
    const { parseArgs } = await import('../../src/cli.js');
    let help = '';
    const code = parseArgs([command, '--help'], { out: (t) => (help += t), err: () => undefined });
    expect(code).toBe(0);
    for (const o of optionsFor(command)) expect(help, o.flag).toContain(o.value ? (o.optionalValue ? `${o.flag} [${o.value}]` : `${o.flag} <${o.value}>`) : o.flag);
    const examples = help.slice(help.indexOf('Examples:')).split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
    expect(examples.length).toBeGreaterThan(0);
    const flags = new Set(optionsFor(command).map((o) => o.flag));
    for (const example of examples) {
      expect(example).toContain(`warden ${command}`);
      // Flags before a `--` (run's command comes after it).
      const own = example.split(' -- ')[0].match(/(?<=\s)--[a-z-]+/g) ?? [];
      for (const flag of own) expect(flags, `${flag} in: ${example}`).toContain(flag);
    }
  });
});

// Values of the right shape are checked by croner when a schedule is built (watch refuses
// them with exit 2 before anything starts; see test/watch.test.ts).
describe('cronProblem', () => {
  it.each(['61 * * * *', '* 25 * * *', '* * 32 * *', '* * * 13 *', 'abc * * * *'])('names what is wrong with %j', async (raw) => {
    const { cronProblem } = await import('../../src/schedule.js');
    expect(cronProblem(raw)).toEqual(expect.any(String));
  });

  it.each(['*/5 * * * *', '0 9 * * 1-5', '30 */5 * * * *'])('accepts %j', async (raw) => {
    const { cronProblem } = await import('../../src/schedule.js');
    expect(cronProblem(raw)).toBeUndefined();
  });
});
