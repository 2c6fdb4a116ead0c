// --redis URLs and the options that go with them: what is accepted, what is refused (exit 2
// with the option and the form), and that a password is kept but never shown.
import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/pool/redis/target.js';
import type { RedisTarget } from '../../src/pool/redis/target.js';
import { resolveSettings } from '../../src/settings.js';
import { fails, ok } from '../helpers/settings.js';

const target = (text: string, password?: string): RedisTarget => {
  const t = parseRedisUrl(text, password);
  if (typeof t === 'string') throw new Error(t);
  return t;
};
const env: NodeJS.ProcessEnv = { WARDEN_STATE_DIR: '/tmp/warden-redis-settings' };

describe('parseRedisUrl', () => {
  it('reads host, port, database, user and password; shows the URL without the password', () => {
    expect(target('redis://alice:s3cret@cache.internal:6380/2')).toMatchObject({ host: 'cache.internal:6380', port: 6380, database: 2, username: 'alice', password: 's3cret', tls: false, shown: 'redis://alice@cache.internal:6380/2' });
    expect(target('redis://localhost')).toMatchObject({ host: 'localhost:6379', database: 0, shown: 'redis://localhost:6379' });
    expect(target('rediss://:pw@[::1]:7000')).toMatchObject({ tls: true, password: 'pw', shown: 'rediss://[::1]:7000' });
    expect(target('unix:///run/redis/redis.sock?db=3')).toMatchObject({ path: '/run/redis/redis.sock', database: 3, shown: 'unix:///run/redis/redis.sock?db=3' });
  });

  it('takes the password from WARDEN_REDIS_PASSWORD when the URL has none', () => {
    expect(target('redis://h', 'from-env').password).toBe('from-env');
    expect(target('redis://:in-url@h', 'from-env').password).toBe('in-url');
  });

  it('says what is wrong with a URL it cannot use', () => {
    expect(parseRedisUrl('http://h')).toContain('scheme');
    expect(parseRedisUrl('redis://')).toBeTypeOf('string');
    expect(parseRedisUrl('redis://h/x')).toContain('database');
    expect(parseRedisUrl('unix:relative.sock')).toContain('absolute');
    expect(parseRedisUrl('not a url')).toBe('not a URL');
  });
});

describe('settings', () => {
  it('--redis, --lease, --on-lease-lost and --every-host', () => {
    const s = ok(resolveSettings('watch', { every: '1s', job: ['true'], redis: 'redis://h/1', lease: '10s', onLeaseLost: 'kill', everyHost: true }, env));
    expect(s.redis?.shown).toBe('redis://h:6379/1');
    expect(s).toMatchObject({ leaseMs: 10_000, onLeaseLost: 'kill', everyHost: true });
    expect(ok(resolveSettings('run', {}, env, ['true'])).redis).toBeUndefined();
    expect(ok(resolveSettings('run', { redis: 'redis://h' }, env, ['true']))).toMatchObject({ leaseMs: 30_000, onLeaseLost: 'warn' });
  });

  it('reads WARDEN_REDIS_URL and WARDEN_REDIS_PASSWORD', () => {
    const s = ok(resolveSettings('run', {}, { ...env, WARDEN_REDIS_URL: 'redis://h', WARDEN_REDIS_PASSWORD: 'pw' }, ['true']));
    expect(s.redis).toMatchObject({ password: 'pw', shown: 'redis://h:6379' });
  });

  it('refuses bad URLs and redis options without --redis, naming the option', () => {
    expect(fails(resolveSettings('run', { redis: 'http://h' }, env, ['true']))).toMatch(/^--redis: .*redis:\/\//);
    expect(fails(resolveSettings('run', {}, { ...env, WARDEN_REDIS_URL: 'x' }, ['true']))).toMatch(/^WARDEN_REDIS_URL: /);
    expect(fails(resolveSettings('run', { lease: '5s' }, env, ['true']))).toContain('--lease needs --redis');
    expect(fails(resolveSettings('run', { redis: 'redis://h', lease: '0s' }, env, ['true']))).toContain('--lease');
    expect(fails(resolveSettings('run', { redis: 'redis://h', onLeaseLost: 'ignore' }, env, ['true']))).toContain('--on-lease-lost');
    expect(fails(resolveSettings('watch', { every: '1s', job: ['true'], everyHost: true }, env))).toContain('--every-host needs --redis');
  });

  it('a bad URL error never repeats the password', () => {
    expect(fails(resolveSettings('run', { redis: 'redis://:topsecret@h/x' }, env, ['true']))).not.toContain('topsecret');
  });
});
