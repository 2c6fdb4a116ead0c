// One table of every option: its flag, which commands take it, how its value is read, and its
// help text. The CLI, the WARDEN_* environment and --config files are all read through it.
import { parseDuration } from './duration.js';
import { msg } from './messages.js';
import { isTimeZone } from './zone.js';
import { parseRedisUrl } from './pool/redis/target.js';

/** What --pool accepts. */
export const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export type CommandName = 'watch' | 'once' | 'run' | 'status' | 'log';

export type Kind =
  | 'duration'
  | 'positive-duration'
  | 'count'
  | 'count-or-unlimited'
  | 'positive'
  | 'positive-or-unlimited'
  | 'text'
  | 'texts'
  | 'choice'
  | 'boolean'
  | 'pool'
  | 'cron'
  | 'zone'
  | 'optional-choice'
  | 'redis-url'
  | 'url'
  | 'address';

export interface OptionDef {
  /** camelCase: the config key and the Settings field. */
  key: string;
  flag: string;
  value?: string;
  kind: Kind;
  choices?: readonly string[];
  commands: readonly CommandName[];
  help: string;
  /** Not read from --config (the config file itself, for one). */
  cliOnly?: boolean;
  /** The value may be left out (`--on-change` alone): the flag is then `true`. */
  optionalValue?: boolean;
  /** The environment variable, where it is not WARDEN_<KEY>. */
  env?: string;
}

export type Value = number | string | boolean | string[];
export type Parsed = { value: Value } | { error: string };

const SCHEDULED: readonly CommandName[] = ['watch', 'once'];
const POOLED: readonly CommandName[] = ['watch', 'once', 'run'];

export const OPTIONS: readonly OptionDef[] = [
  { key: 'every', flag: '--every', value: 'DUR', kind: 'positive-duration', commands: SCHEDULED, help: 'run the check every DUR (500ms, 30s, 3m, 1h30m)' },
  { key: 'cron', flag: '--cron', value: 'EXPR', kind: 'cron', commands: SCHEDULED, help: 'cron schedule instead of --every: 5 fields, or 6 with seconds first; local time' },
  { key: 'check', flag: '--check', value: 'CMD', kind: 'text', commands: SCHEDULED, help: 'shell command: exit 0 fires, 1 is idle, anything else is a check error (default: every tick fires)' },
  { key: 'job', flag: '--job', value: 'CMD', kind: 'texts', commands: SCHEDULED, help: 'shell command to start when the check fires; repeat for several jobs' },
  { key: 'delay', flag: '--delay', value: 'DUR', kind: 'duration', commands: SCHEDULED, help: 'start the jobs this long after the trigger; the slot is held meanwhile (default 0)' },
  { key: 'eachLine', flag: '--each-line', kind: 'boolean', commands: SCHEDULED, help: "one trigger per non-empty line of the check's output, in WARDEN_ITEM" },
  { key: 'pool', flag: '--pool', value: 'NAME', kind: 'pool', commands: ['watch', 'once', 'run', 'status'], help: 'pool shared by every warden process using this name and state dir (default "default")' },
  { key: 'maxLive', flag: '--max-live', value: 'N', kind: 'positive-or-unlimited', commands: POOLED, help: 'at most N live jobs in the pool, across processes, or "unlimited" (default: number of CPUs)' },
  { key: 'maxQueue', flag: '--max-queue', value: 'N', kind: 'count-or-unlimited', commands: SCHEDULED, help: 'triggers held in memory while the pool is full, or "unlimited" (default 0)' },
  { key: 'overflow', flag: '--overflow', value: 'POLICY', kind: 'choice', choices: ['wait', 'skip', 'replace'], commands: SCHEDULED, help: 'pool and queue full: wait (pause the schedule), skip (drop the trigger), replace (stop our oldest job) (default: wait for watch, skip for once)' },
  // `run` has no jobs of its own to replace.
  { key: 'overflow', flag: '--overflow', value: 'POLICY', kind: 'choice', choices: ['wait', 'skip'], commands: ['run'], help: 'pool full: wait for a slot, or skip (exit 75 at once) (default wait)' },
  { key: 'waitTimeout', flag: '--wait-timeout', value: 'DUR', kind: 'duration', commands: POOLED, help: 'with wait: give up after DUR and log a skip' },
  { key: 'checkTimeout', flag: '--check-timeout', value: 'DUR', kind: 'positive-duration', commands: SCHEDULED, help: 'kill a check that runs longer (default: the interval)' },
  { key: 'jobTimeout', flag: '--job-timeout', value: 'DUR', kind: 'positive-duration', commands: SCHEDULED, help: 'terminate a job that runs longer (default: none)' },
  { key: 'timeout', flag: '--timeout', value: 'DUR', kind: 'positive-duration', commands: ['run'], help: 'terminate the command if it runs longer (default: none)' },
  { key: 'killAfter', flag: '--kill-after', value: 'DUR', kind: 'duration', commands: POOLED, help: 'grace between SIGTERM and SIGKILL for timeouts and shutdown (default 10s)' },
  { key: 'retries', flag: '--retries', value: 'N', kind: 'count', commands: SCHEDULED, help: 're-run a failed job up to N times (default 0)' },
  { key: 'retryDelay', flag: '--retry-delay', value: 'DUR', kind: 'duration', commands: SCHEDULED, help: 'first retry after DUR, doubling each time (default 1s)' },
  { key: 'jitter', flag: '--jitter', value: 'DUR', kind: 'duration', commands: SCHEDULED, help: 'random extra delay of up to DUR before each check (default 0)' },
  { key: 'maxRuns', flag: '--max-runs', value: 'N', kind: 'positive', commands: SCHEDULED, help: 'stop after N ticks, then wait for the jobs' },
  { key: 'log', flag: '--log', value: 'FORMAT', kind: 'choice', choices: ['pretty', 'json'], commands: POOLED, help: 'pretty (colour on a terminal; NO_COLOR, FORCE_COLOR) or json (one object per line) (default pretty)' },
  { key: 'logFile', flag: '--log-file', value: 'PATH', kind: 'text', commands: POOLED, help: 'also append every event to PATH as JSON lines; reopened when rotated (renamed or truncated away, or on SIGUSR1)' },
  { key: 'quiet', flag: '--quiet', kind: 'boolean', commands: POOLED, help: 'show only what is wrong (check errors, failed or killed jobs, skips)' },
  { key: 'output', flag: '--output', value: 'DIR', kind: 'text', commands: SCHEDULED, help: "write each job's output to DIR/<job-id>.log instead of the terminal" },
  { key: 'stateDir', flag: '--state-dir', value: 'DIR', kind: 'text', commands: ['watch', 'once', 'run', 'status'], help: 'where pools live; processes share a pool only with the same state dir (default /tmp/warden-UID, the same for every session of this user)' },
  { key: 'poolBackend', flag: '--pool-backend', value: 'B', kind: 'choice', choices: ['socket', 'flock'], commands: POOLED, help: 'socket (Linux abstract sockets) or flock (lock files; across network namespaces and off Linux)' },
  { key: 'config', flag: '--config', value: 'FILE', kind: 'text', commands: SCHEDULED, help: 'JSON file with these settings in camelCase, and jobs: [{run, delay}]; flags override it', cliOnly: true },
  { key: 'detach', flag: '--detach', kind: 'boolean', commands: ['once', 'run'], help: 'start the jobs and return at once; their exits go to --log-file' },
  { key: 'tz', flag: '--tz', value: 'ZONE', kind: 'zone', commands: SCHEDULED, help: 'time zone of --cron, an IANA name such as Europe/Berlin (env CRON_TZ too; default: local time)' },
  { key: 'onChange', flag: '--on-change', value: 'MODE', optionalValue: true, kind: 'optional-choice', choices: ['exit', 'output'], commands: SCHEDULED, help: "fire only when the check's result changed since the last check of any process on this pool: exit (the default: the edge into firing) or output (also when the firing output changes); with --each-line, only lines not in the previous output" },
  { key: 'unique', flag: '--unique', kind: 'boolean', commands: SCHEDULED, help: 'at most one live or delayed job per key (the job command, and its item with --each-line) across the pool; a trigger whose key is live is skipped (duplicate)' },
  { key: 'maxLate', flag: '--max-late', value: 'DUR', kind: 'duration', commands: SCHEDULED, help: 'drop a spooled delayed job that is resumed more than DUR after its due time (default: always run it)' },
  { key: 'drop', flag: '--drop', value: 'ID', kind: 'text', commands: ['status'], help: 'remove the spooled delayed job with this ID (as status lists it): it will not run', cliOnly: true },
  { key: 'onFailure', flag: '--on-failure', value: 'CMD', kind: 'text', commands: POOLED, help: 'run CMD after a job fails, times out or is killed (once per job, after its last retry), with WARDEN_OUTCOME, WARDEN_EXIT_CODE, WARDEN_SIGNAL, WARDEN_TAIL, WARDEN_JOB_ID, WARDEN_COMMAND' },
  { key: 'onFailureTimeout', flag: '--on-failure-timeout', value: 'DUR', kind: 'positive-duration', commands: POOLED, help: 'terminate an --on-failure command that runs longer (default 30s)' },
  { key: 'ping', flag: '--ping', value: 'URL', kind: 'url', commands: POOLED, help: 'healthchecks-style pings: URL/start when a run starts, URL on success, URL/fail or URL/<exit code> on failure' },
  { key: 'pingTimeout', flag: '--ping-timeout', value: 'DUR', kind: 'positive-duration', commands: POOLED, help: 'give up on one ping attempt after DUR; a ping is tried 3 times (default 5s)' },
  { key: 'metrics', flag: '--metrics', value: 'ADDR', kind: 'address', commands: ['watch'], help: 'serve Prometheus metrics at http://ADDR/metrics (ADDR: 9464, 127.0.0.1:9464, [::1]:9464)' },
  { key: 'json', flag: '--json', kind: 'boolean', commands: ['status', 'log'], help: 'print JSON instead of a table' },
  { key: 'since', flag: '--since', value: 'TIME', kind: 'text', commands: ['log'], help: 'only what happened from TIME on: an ISO time (2026-12-02T03:00, local unless a zone is given) or a duration ago (2h)' },
  { key: 'until', flag: '--until', value: 'TIME', kind: 'text', commands: ['log'], help: 'only what happened up to TIME (same forms as --since)' },
  { key: 'timeline', flag: '--timeline', kind: 'boolean', commands: ['log'], help: 'also draw the slots of each pool over time, a bar per job coloured by outcome' },
  { key: 'html', flag: '--html', value: 'FILE', kind: 'text', commands: ['log'], help: 'also write the timeline and the summary as one self-contained page to FILE' },
  { key: 'width', flag: '--width', value: 'N', kind: 'positive', commands: ['log'], help: 'columns for --timeline (default: the terminal width, else 80)' },
  { key: 'redis', flag: '--redis', value: 'URL', kind: 'redis-url', commands: ['watch', 'once', 'run', 'status'], env: 'WARDEN_REDIS_URL', help: 'share the pool with every host whose URL reaches the same Redis (redis://[user[:pass]@]host[:port][/db], rediss://, unix:///path); password also from WARDEN_REDIS_PASSWORD' },
  { key: 'lease', flag: '--lease', value: 'DUR', kind: 'positive-duration', commands: POOLED, help: "with --redis: how long a slot stays held after its host stops renewing it (host down, network cut) (default 30s)" },
  { key: 'onLeaseLost', flag: '--on-lease-lost', value: 'POLICY', kind: 'choice', choices: ['warn', 'kill'], commands: POOLED, help: 'with --redis: a job whose lease was lost is logged and left running (warn) or terminated (kill) (default warn)' },
  { key: 'everyHost', flag: '--every-host', kind: 'boolean', commands: SCHEDULED, help: 'with --redis: every host runs the check each tick (default: one host per tick, fleet-wide)' },
];

export const envName = (def: OptionDef): string => def.env ?? `WARDEN_${def.key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export const optionsFor = (command: CommandName): OptionDef[] => OPTIONS.filter((o) => o.commands.includes(command));

/** Read one value given as text (flag, env var); `where` names its source in errors. */
export function parseText(def: OptionDef, raw: string, where: string): Parsed {
  switch (def.kind) {
    case 'duration':
    case 'positive-duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) return { error: msg.notDuration(where, raw) };
      if (def.kind === 'positive-duration' && ms <= 0) return { error: msg.notPositiveDuration(where, raw) };
      return { value: ms };
    }
    case 'count':
    case 'count-or-unlimited':
    case 'positive':
    case 'positive-or-unlimited': {
      const unlimited = def.kind.endsWith('unlimited');
      if (unlimited && raw.trim().toLowerCase() === 'unlimited') return { value: Infinity };
      const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
      const min = def.kind.startsWith('positive') ? 1 : 0;
      if (!Number.isSafeInteger(n) || n < min) {
        return { error: min ? msg.notPositive(where, raw, unlimited) : msg.notCount(where, raw, unlimited) };
      }
      return { value: n };
    }
    case 'choice':
      return def.choices?.includes(raw) ? { value: raw } : { error: msg.notChoice(where, raw, def.choices ?? []) };
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (v === '1' || v === 'true') return { value: true };
      if (v === '0' || v === 'false' || v === '') return { value: false };
      return { error: msg.notBoolean(where, raw) };
    }
    case 'pool':
      if (raw.startsWith('redis://')) return { error: msg.redisPool(where) };
      return POOL_NAME.test(raw) ? { value: raw } : { error: msg.notPoolName(where, raw) };
    case 'cron':
      return cronError(raw, where) ?? { value: raw };
    case 'zone':
      return isTimeZone(raw) ? { value: raw } : { error: msg.notTimeZone(where, raw) };
    case 'optional-choice': {
      if (def.choices?.includes(raw)) return { value: raw };
      const v = raw.trim().toLowerCase();
      if (v === '1' || v === 'true') return { value: true };
      if (v === '0' || v === 'false' || v === '') return { value: false };
      return { error: msg.notChoice(where, raw, def.choices ?? []) };
    }
    case 'redis-url': {
      const target = parseRedisUrl(raw);
      return typeof target === 'string' ? { error: msg.notRedisUrl(where, target) } : { value: raw.trim() };
    }
    case 'url': {
      const url = httpUrl(raw);
      if (!url) return { error: msg.notUrl(where, raw) };
      // Credentials are sent decoded, as a Basic authorization.
      return decodable(url.username) && decodable(url.password) ? { value: raw.trim() } : { error: msg.urlBadCredentials(where) };
    }
    case 'address':
      return parseAddress(raw) ? { value: raw.trim() } : { error: msg.notAddress(where, raw) };
    case 'texts':
      return raw.trim() === '' ? { error: msg.emptyValue(where) } : { value: [raw] };
    case 'text':
      return raw.trim() === '' ? { error: msg.emptyValue(where) } : { value: raw };
  }
}

function decodable(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function httpUrl(raw: string): URL | undefined {
  try {
    const url = new URL(raw.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

export interface Address {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

/** `9464`, `:9464`, `127.0.0.1:9464`, `localhost:9464` or `[::1]:9464`. */
export function parseAddress(raw: string): Address | undefined {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?:)?(\d{1,5})$/.exec(raw.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]?.replace(/^\[|\]$/g, ''), port };
}

// The shape only (croner, which knows every rule, is loaded with the schedule: it is not needed
// to start `run` or `once`).
function cronError(expr: string, where: string): { error: string } | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) return { error: msg.notCron(where, expr, `${fields.length} field${fields.length === 1 ? '' : 's'}`) };
  const bad = fields.find((f) => !/^[\w*?/,#LW-]+$/.test(f));
  return bad === undefined ? undefined : { error: msg.notCron(where, expr, `unexpected ${JSON.stringify(bad)}`) };
}
