// Flags, WARDEN_* variables and a --config file become one typed Settings object.
// Precedence: flag > environment > config file > default. No behaviour here.
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './config-file.js';
import type { JobSpec, Values } from './config-file.js';
import { msg } from './messages.js';
import { envName, optionsFor, parseAddress, parseText } from './options.js';
import type { Address, CommandName, OptionDef, Parsed, Value } from './options.js';
import { defaultBackend } from './pool/pool.js';
import { canonicalStateDir, defaultStateDir } from './pool/state-dir.js';
import { isTimeZone } from './zone.js';
import type { PoolBackend } from './pool/pool.js';
import type { LeaseLostPolicy } from './pool/redis/keeper-protocol.js';
import { parseRedisUrl } from './pool/redis/target.js';
import type { RedisTarget } from './pool/redis/target.js';

export type Overflow = 'wait' | 'skip' | 'replace';
export type Schedule = { kind: 'every'; ms: number } | { kind: 'cron'; expr: string; tz?: string };
/** --on-change: fire on the edge into firing, or also when the firing output changes. */
export type OnChange = 'exit' | 'output';

export type { JobSpec } from './config-file.js';

export interface Settings {
  command: CommandName;
  schedule?: Schedule;
  check?: string;
  jobs: JobSpec[];
  eachLine: boolean;
  pool: string;
  maxLive: number;
  maxQueue: number;
  overflow: Overflow;
  waitTimeoutMs?: number;
  checkTimeoutMs?: number;
  jobTimeoutMs?: number;
  killAfterMs: number;
  retries: number;
  retryDelayMs: number;
  jitterMs: number;
  maxRuns?: number;
  log: 'pretty' | 'json';
  logFile?: string;
  quiet: boolean;
  output?: string;
  stateDir: string;
  poolBackend: PoolBackend;
  detach: boolean;
  json: boolean;
  onFailure?: string;
  onFailureTimeoutMs: number;
  ping?: string;
  pingTimeoutMs: number;
  metrics?: Address;
  /** `log`: the window (as given; read against the clock by the command) and the outputs. */
  since?: string;
  until?: string;
  timeline: boolean;
  html?: string;
  width?: number;
  /** `run`: the command and its arguments; `log`: the files. */
  argv: string[];
  onChange?: OnChange;
  unique: boolean;
  maxLateMs?: number;
  /** `status --drop`: the spooled job to drop. */
  drop?: string;
  /** --redis: the pool is shared through this server. */
  redis?: RedisTarget;
  leaseMs: number;
  onLeaseLost: LeaseLostPolicy;
  everyHost: boolean;
}

export type Resolved = { settings: Settings } | { error: string };

/** Build Settings for one command from parsed flags (raw text), the environment and --config. */
export function resolveSettings(
  command: CommandName,
  flags: Record<string, string | string[] | boolean>,
  env: NodeJS.ProcessEnv,
  argv: string[] = [],
): Resolved {
  const defs = optionsFor(command);
  const values: Values = new Map();
  for (const def of defs) {
    const flag = flags[def.key];
    let parsed: Parsed | undefined;
    if (flag !== undefined) parsed = parseFlag(def, flag);
    else if (env[envName(def)] !== undefined && (def.kind === 'boolean' || env[envName(def)] !== '')) {
      parsed = parseText(def, env[envName(def)] ?? '', envName(def));
    }
    if (!parsed) continue;
    if ('error' in parsed) return { error: parsed.error };
    values.set(def.key, parsed.value);
  }

  let configJobs: JobSpec[] | undefined;
  const configFile = values.get('config');
  if (typeof configFile === 'string') {
    const loaded = loadConfig(configFile, defs);
    if ('error' in loaded) return { error: loaded.error };
    for (const [key, value] of loaded.values) if (!values.has(key)) values.set(key, value);
    configJobs = loaded.jobs;
  }
  return finish(command, values, configJobs, argv, env);
}

function parseFlag(def: OptionDef, flag: string | string[] | boolean): Parsed {
  if (typeof flag === 'boolean') return { value: flag };
  if (Array.isArray(flag)) {
    const texts: string[] = [];
    for (const item of flag) {
      const parsed = parseText(def, item, def.flag);
      if ('error' in parsed) return parsed;
      texts.push(item);
    }
    return { value: texts };
  }
  return parseText(def, flag, def.flag);
}

function finish(command: CommandName, values: Values, configJobs: JobSpec[] | undefined, argv: string[], env: NodeJS.ProcessEnv): Resolved {
  const num = (key: string): number | undefined => {
    const v = values.get(key);
    return typeof v === 'number' ? v : undefined;
  };
  const str = (key: string): string | undefined => {
    const v = values.get(key);
    return typeof v === 'string' ? v : undefined;
  };
  const bool = (key: string): boolean => values.get(key) === true;

  const every = num('every');
  const cron = str('cron');
  if (every !== undefined && cron !== undefined) return { error: msg.bothSchedules() };
  // CRON_TZ is what cronie and supercronic read; --tz and WARDEN_TZ come first.
  const tz = str('tz') ?? (env.CRON_TZ ? env.CRON_TZ : undefined);
  if (tz !== undefined && !isTimeZone(tz)) return { error: msg.notTimeZone(str('tz') === undefined ? 'CRON_TZ' : '--tz', tz) };
  const schedule: Schedule | undefined =
    every !== undefined ? { kind: 'every', ms: every } : cron !== undefined ? { kind: 'cron', expr: cron, ...(tz ? { tz } : {}) } : undefined;
  if (command === 'watch' && !schedule) return { error: msg.needSchedule() };

  const delayMs = num('delay') ?? 0;
  const flagJobs = values.get('job');
  const jobs: JobSpec[] = Array.isArray(flagJobs)
    ? flagJobs.map((run) => ({ run, delayMs }))
    : (configJobs ?? []).map((j) => ({ run: j.run, delayMs: j.delayMs >= 0 ? j.delayMs : delayMs }));
  if ((command === 'watch' || command === 'once') && jobs.length === 0) return { error: msg.needJob(command) };
  if (command === 'run' && (argv.length === 0 || argv.every((a) => a.trim() === ''))) return { error: msg.needCommand() };
  if (command === 'log' && argv.length === 0) return { error: msg.logNeedsFile() };

  const overflowText = str('overflow');
  const overflow = (overflowText ?? (command === 'once' ? 'skip' : 'wait')) as Overflow;

  const poolBackend = (str('poolBackend') ?? defaultBackend()) as PoolBackend;
  if (poolBackend === 'socket' && process.platform !== 'linux') return { error: msg.socketBackendOffLinux() };

  if (values.get('onChange') !== undefined && values.get('onChange') !== false && str('check') === undefined) return { error: msg.onChangeNeedsCheck() };

  const detach = bool('detach');
  const logFile = str('logFile');
  if (detach && !logFile) return { error: msg.detachNeedsLogFile() };
  const metrics = str('metrics');
  if (detach && str('ping') !== undefined) return { error: msg.detachWithPing() };

  const redisUrl = str('redis');
  const redis = redisUrl === undefined ? undefined : parseRedisUrl(redisUrl, env.WARDEN_REDIS_PASSWORD);
  if (typeof redis === 'string') return { error: msg.notRedisUrl('--redis', redis) };
  if (!redis) {
    const needsRedis = [['lease', '--lease'], ['onLeaseLost', '--on-lease-lost'], ['everyHost', '--every-host']].find(([key]) => values.has(key) && values.get(key) !== false);
    if (needsRedis) return { error: msg.redisOnly(needsRedis[1]) };
  }

  const settings: Settings = {
    command,
    schedule,
    check: str('check'),
    jobs,
    eachLine: bool('eachLine'),
    pool: str('pool') ?? 'default',
    maxLive: num('maxLive') ?? os.availableParallelism(),
    maxQueue: num('maxQueue') ?? 0,
    overflow,
    waitTimeoutMs: num('waitTimeout'),
    checkTimeoutMs: num('checkTimeout'),
    jobTimeoutMs: num('jobTimeout') ?? num('timeout'),
    killAfterMs: num('killAfter') ?? 10_000,
    retries: num('retries') ?? 0,
    retryDelayMs: num('retryDelay') ?? 1000,
    jitterMs: num('jitter') ?? 0,
    maxRuns: num('maxRuns'),
    log: (str('log') ?? 'pretty') as 'pretty' | 'json',
    logFile: logFile === undefined ? undefined : path.resolve(logFile),
    quiet: bool('quiet'),
    output: str('output'),
    stateDir: canonicalStateDir(str('stateDir') ?? defaultStateDir()),
    poolBackend,
    detach,
    json: bool('json'),
    onFailure: str('onFailure'),
    onFailureTimeoutMs: num('onFailureTimeout') ?? 30_000,
    ping: str('ping'),
    pingTimeoutMs: num('pingTimeout') ?? 5_000,
    metrics: metrics === undefined ? undefined : parseAddress(metrics),
    since: str('since'),
    until: str('until'),
    timeline: bool('timeline'),
    html: str('html'),
    width: num('width'),
    argv,
    onChange: onChange(values.get('onChange')),
    unique: bool('unique'),
    maxLateMs: num('maxLate'),
    drop: str('drop'),
    redis,
    leaseMs: num('lease') ?? 30_000,
    onLeaseLost: (str('onLeaseLost') ?? 'warn') as LeaseLostPolicy,
    everyHost: bool('everyHost'),
  };
  return { settings };
}

/** --on-change alone means `exit`; `false` (env, config) turns it off. */
function onChange(value: Value | undefined): OnChange | undefined {
  if (value === true || value === 'exit') return 'exit';
  return value === 'output' ? 'output' : undefined;
}
