// Every sentence warden says to a person lives here, so help, errors and logs read as one voice.

import { REDIS_URL_FORM } from './pool/redis/target.js';

export const PROGRAM = 'warden';

export const DURATION_FORM = 'use e.g. 500ms, 30s, 3m, 1h30m';

export const msg = {
  usageError: (text: string): string => `${PROGRAM}: ${text}`,
  seeHelp: (command?: string): string => `see '${PROGRAM}${command ? ` ${command}` : ''} --help'`,
  notDuration: (where: string, value: string): string => `${where}: ${quote(value)} is not a duration; ${DURATION_FORM} (at most 24d)`,
  notPositiveDuration: (where: string, value: string): string =>
    `${where}: ${quote(value)} must be a duration above zero; ${DURATION_FORM}`,
  notCount: (where: string, value: string, unlimited: boolean): string =>
    `${where}: ${quote(value)} is not a whole number of 0 or more${unlimited ? ", or 'unlimited'" : ''}`,
  notPositive: (where: string, value: string, unlimited: boolean): string =>
    `${where}: ${quote(value)} must be a whole number of 1 or more${unlimited ? ", or 'unlimited'" : ''}`,
  notChoice: (where: string, value: string, choices: readonly string[]): string =>
    `${where}: ${quote(value)} is not one of ${choices.join(', ')}`,
  notBoolean: (where: string, value: string): string => `${where}: ${quote(value)} is not a yes/no value; use 1, 0, true or false`,
  notPoolName: (where: string, value: string): string =>
    `${where}: ${quote(value)} is not a pool name; use letters, digits, '.', '_', '-' (up to 100 characters)`,
  notCron: (where: string, value: string, why: string): string =>
    `${where}: ${quote(value)} is not a cron expression (${why}); use 5 fields, or 6 with seconds first, e.g. '*/5 * * * *'`,
  notTimeZone: (where: string, value: string): string =>
    `${where}: ${quote(value)} is not a time zone; use an IANA name such as Europe/Berlin, America/New_York or UTC`,
  notUrl: (where: string, value: string): string => `${where}: ${quote(value)} is not an http(s) URL; use e.g. https://hc-ping.com/<uuid>`,
  urlBadCredentials: (where: string): string => `${where}: the user name or password has a malformed %-escape (write % as %25)`,
  notAddress: (where: string, value: string): string =>
    `${where}: ${quote(value)} is not a listen address; use a port (9464) or HOST:PORT (127.0.0.1:9464, [::1]:9464), port 1-65535`,
  emptyValue: (where: string): string => `${where}: must not be empty`,
  wrongType: (where: string, expected: string): string => `${where}: expected ${expected}`,
  unknownKey: (where: string): string => `${where}: unknown setting`,
  configUnreadable: (file: string, why: string): string => `--config: cannot read ${file}: ${why}`,
  configNotJson: (file: string, why: string): string => `--config: ${file} is not valid JSON: ${why}`,
  configTooLarge: (file: string, max: number): string => `--config: ${file} is larger than ${max / 1024 / 1024} MiB; a settings file is a small JSON object`,
  configTooSlow: (file: string, ms: number): string => `--config: ${file} sent nothing for ${ms / 1000}s; give a file, or a pipe that ends`,
  needSchedule: (): string => "watch needs a schedule: --every DUR (e.g. --every 30s) or --cron EXPR (e.g. --cron '*/5 * * * *')",
  bothSchedules: (): string => '--every and --cron cannot be used together; choose one',
  needJob: (command: string): string => `${command} needs at least one --job CMD (e.g. --job './mail.sh')`,
  needCommand: (): string => "run needs a command after '--', e.g. warden run --pool mail -- ./mail.sh",
  onChangeNeedsCheck: (): string => "--on-change needs --check CMD: it compares the check's results (e.g. --check './in-stock.sh' --on-change)",
  detachNeedsLogFile: (): string => '--detach needs --log-file PATH: the detached jobs report their exits there',
  detachWithPing: (): string => '--ping cannot be used with --detach: the run ends in the detached runner, after warden has returned',
  socketBackendOffLinux: (): string => "--pool-backend: 'socket' needs Linux abstract sockets; use --pool-backend flock",
  stateDirUnusable: (dir: string, why: string): string => `--state-dir: cannot use ${dir}: ${why}`,
  stateDirRefused: (file: string, problem: string): string => `--state-dir: refusing ${file}: it ${problem}`,
  // What is wrong with a path in the state dir (after "it").
  unsafe: {
    symlink: 'is a symbolic link',
    notFolder: 'is not a folder',
    notFile: 'is not a regular file',
    owner: (uid: number, me: number): string => `is owned by uid ${uid}, not by this user (uid ${me})`,
    open: (mode: number, folder: boolean): string =>
      `is open to group/others (mode ${mode.toString(8).padStart(4, '0')}; it must be ${folder ? '0700' : '0600'})`,
    parentOpen: (parent: string, mode: number): string =>
      `sits in ${parent}, which others can write (mode ${mode.toString(8).padStart(4, '0')}, no sticky bit): they could replace it`,
    parentOwner: (parent: string, uid: number): string => `sits in ${parent}, owned by uid ${uid}, who could replace it`,
    notIdentity: 'is not a warden pool identity (remove it to start afresh)',
    hardLinked: 'has other names (hard links)',
  },
  logFileUnusable: (file: string, why: string): string => `--log-file: cannot write ${file}: ${why}`,
  outputDirUnusable: (dir: string, why: string): string => `--output: cannot write into ${dir}: ${why}`,
  outputFileRefused: (file: string, problem: string): string => `--output: refusing ${file}: it ${problem}`,
  redisPool: (where: string): string => `${where}: a pool is named, not a URL; share it across hosts with --redis URL --pool NAME`,
  notRedisUrl: (where: string, why: string): string => `${where}: not a Redis URL (${why}); use ${REDIS_URL_FORM}`,
  stateDirTooLong: (dir: string, extra: number): string =>
    `--state-dir: ${dir} is too long for --redis (the lease keeper's socket lives there; use a state dir of at most ${107 - extra} bytes)`,
  redisOnly: (option: string): string => `${option} needs --redis URL (it is about pools shared across hosts)`,
  redisUnavailable: (shown: string, why: string): string => `cannot reach Redis at ${shown}: ${why} (exit 69; nothing was started)`,
  redisUnreachable: (shown: string, why: string): string => `Redis at ${shown} is unreachable (${why}); retrying, and no job starts without a lease`,
  // Runtime notices (stderr).
  writeFailed: (what: string, why: string): string => `${PROGRAM}: cannot write ${what}: ${why}; carrying on`,
  statusUnwritten: (why: string): string => `${PROGRAM}: status: cannot write stdout: ${why}`,
  runSkipped: (pool: string, live: number, max: number): string =>
    `${PROGRAM}: pool '${pool}' is full (${live}/${formatCap(max)}); not running the command (exit 75)`,
  runWaitTimeout: (pool: string): string => `${PROGRAM}: gave up waiting for a slot in pool '${pool}' (exit 75)`,
  spawnFailure: (code: string | undefined, fallback: string): string => {
    const reasons: Record<string, string> = {
      ENOENT: 'command or working folder not found',
      EACCES: 'permission denied (not executable?)',
      EMFILE: 'too many open files',
      ENFILE: 'too many open files on the system',
      EAGAIN: 'too many processes',
      ENOMEM: 'out of memory',
      E2BIG: 'its arguments and environment are too large (a variable over 128 KiB, such as a --each-line item?)',
    };
    return code ? `${code}: ${reasons[code] ?? fallback}` : fallback;
  },
  flockHelperFailed: (why: string): string => `the flock pool's locking helper (perl) failed: ${why}`,
  // Where delayed jobs and the --on-change state are kept (durable-dir.ts).
  durable: {
    noAccount: (uid: number): string => `uid ${uid} has no passwd entry, hence no home`,
    noHome: (home: string): string => `the passwd entry's home is ${quote(home)}`,
    homeMissing: (home: string): string => `the home ${home} does not exist`,
    unwritable: (dir: string, why: string): string => `cannot use ${dir}: ${why}`,
    refused: (file: string, problem: string): string => `refusing ${file} (where delayed jobs and the --on-change state are kept): it ${problem}`,
    volatile: (dir: string, why: string): string =>
      `delayed jobs and the --on-change state are kept in ${dir}, which a reboot may empty (${why}); give --state-dir a folder on disk to keep them`,
  },
  spoolFailed: (err: unknown): string => `spool: ${err instanceof Error ? err.message : String(err)}`,
  changeFailed: (err: unknown): string => `--on-change: cannot read or record the check's last result: ${err instanceof Error ? err.message : String(err)}`,
  poolFailed: (pool: string, err: unknown): string => `pool ${pool}: ${err instanceof Error ? err.message : String(err)}`,
  mixedBackends: (other: string): string => `in use with the ${other} backend by another process; every process of a pool must use the same --pool-backend`,
  runnerFailed: (why: string): string => `--detach: the runner did not take over the jobs, none of them ran${why ? ` (${why})` : ''}`,
  internalError: (why: string): string => `${PROGRAM}: internal error: ${why}`,
  cannotStart: (command: string, why: string): string => `${PROGRAM}: cannot start ${quote(command)}: ${why}`,
  stillRunning: (n: number): string => `${n} job${n === 1 ? '' : 's'} still running; press Ctrl-C again to terminate`,
  noSpooledJob: (id: string, dir: string): string => `--drop: no spooled job ${quote(id)} in ${dir} (it may have started already; see 'warden status')`,
  spoolDamaged: (id: string): string =>
    `spool: entry ${quote(id)} is damaged (it cannot be read back) and will not run; 'warden status' lists it, 'warden status --drop ${id}' removes it`,
  spooledDamaged: (): string => '(damaged: cannot be read back; drop it)',
  spooledStarted: (id: string): string => `--drop: the job of spooled entry ${quote(id)} has started already; it cannot be dropped`,
  droppedSpooled: (id: string, jobId: string, command: string, held: boolean): string =>
    `Dropped spooled job ${id} (${jobId}: ${command})${held ? '; the warden holding it will not start it' : ''}.`,
  notRegularFile: (): string => 'not a regular file',
  isSymlink: (): string => 'is a symbolic link (never written through)',
  othersSymlink: (): string => 'is a symbolic link another user made (never followed)',
  othersFile: (uid: number): string => `belongs to another user (uid ${uid})`,
  logReopenFailed: (file: string, why: string): string =>
    `${PROGRAM}: --log-file: cannot reopen ${file} after rotation: ${why}; still writing to the file open before`,
  onFailureFailed: (jobId: string, problem: string): string => `--on-failure for job ${jobId} ${problem}`,
  onFailureDropped: (jobId: string): string => `--on-failure for job ${jobId} not run: warden is stopping`,
  onFailureBacklog: (jobId: string, waiting: number): string => `--on-failure for job ${jobId} not run: ${waiting} failures already wait for their hook`,
  hookCannotStart: (why: string): string => `could not start: ${why}`,
  hookTimedOut: (after: string): string => `timed out after ${after} and was terminated`,
  hookKilled: (signal: string): string => `was killed by ${signal}`,
  hookExited: (code: number): string => `exited with ${code}`,
  pingFailed: (url: string, attempts: number, why: string): string =>
    `--ping: ${url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${why}`,
  pingStatus: (status: number): string => `the server answered HTTP ${status}`,
  pingNoAnswer: (ms: number): string => `no answer within ${formatMs(ms)}`,
  pingAbandoned: (): string => 'abandoned: warden was stopping',
  pingClosed: (): string => 'the server closed the connection without an answer',
  pingNotSent: (url: string, why: string): string => `--ping: ${url} not sent: ${why}`,
  pingRedirectRefused: (why: 'not-http' | 'to-http' | 'credentials' | 'bad-location' | 'too-many', max: number): string =>
    ({
      'not-http': 'redirected to a URL that is not http(s)',
      'to-http': 'redirected from https to plain http (not followed: the body and credentials would travel in clear)',
      credentials: 'redirected to a URL with credentials in it',
      'bad-location': 'redirected to a malformed URL',
      'too-many': `more than ${max} redirects`,
    })[why],
  pingJobFailed: (jobId: string, command: string, outcome: string, exitCode: number | null, signal: string | null, error?: string): string =>
    `job ${jobId} ${quote(command)}: ${error ? `could not start (${error})` : outcome === 'timeout' ? 'timed out' : signal ? `killed by ${signal}` : `exited with ${exitCode ?? '?'}`}`,
  pingCheckFailed: (outcome: string, exitCode: number | null, stderr: string): string =>
    `check ${outcome === 'timeout' ? 'timed out' : `failed (exit ${exitCode ?? '?'})`}${stderr ? `\n${stderr}` : ''}`,
  pingSkipped: (reason: string, command: string): string => `job ${quote(command)} skipped: ${reason}`,
  pingUnfinished: (): string => 'warden stopped before this run finished',
  metricsCannotListen: (where: string, why: string): string => `--metrics: cannot listen on ${where}: ${why}`,
  portBusy: (): string => 'the port is in use by another process; choose another with --metrics HOST:PORT',
  portDenied: (): string => 'permission denied (ports below 1024 need privileges)',
  noSuchLocalAddress: (): string => 'no such address on this machine',
  metricsNotFound: (): string => 'warden serves its metrics at /metrics\n',
  noPools: (dir: string): string => `No pools in ${dir} yet: nothing has run here.`,
  noFleetPools: (shown: string): string => `No fleet pools on ${shown} yet: no warden has asked it for a slot.`,
  poolOnlySpooled: (name: string): string => `pool ${name}: nothing live (no warden has used it since the state dir was emptied, e.g. by a reboot)`,
  noSuchPool: (name: string, dir: string): string => `No pool named '${name}' in ${dir}.`,
  // warden log
  notTime: (where: string, value: string): string =>
    `${where}: ${quote(value)} is not a time; use an ISO time (2026-12-02, 2026-12-02T03:00, 2026-12-02 03:00:00Z, local unless a zone is given), 'now', or a duration ago (30m, 2h, 7d)`,
  sinceAfterUntil: (): string => '--since must be earlier than --until',
  logNeedsFile: (): string => 'log needs at least one FILE (a --log-file of watch, once or run; - for standard input)',
  logUnreadable: (file: string, why: string): string => `cannot read ${file}: ${why}`,
  htmlUnwritable: (file: string, why: string): string => `--html: cannot write ${file}: ${why}`,
  htmlIsInput: (file: string): string => `--html: ${file} is one of the logs being read; name another file for the page`,
  logNoEvents: (files: number): string => `No events in ${files === 1 ? 'the file' : `the ${files} files`} (in the window asked for).`,
  logHeading: (events: number, processes: number, hosts: number, first: string, last: string, span: string): string =>
    `${events.toLocaleString('en-US')} event${events === 1 ? '' : 's'} from ${processes} process${processes === 1 ? '' : 'es'}${hosts > 1 ? ` on ${hosts} hosts` : ''}, ${first} to ${last} (${span})`,
  logMalformed: (count: number, examples: string[]): string =>
    `${count.toLocaleString('en-US')} malformed line${count === 1 ? '' : 's'} skipped (${examples.join('; ')}${count > examples.length ? '; …' : ''})`,
  htmlWritten: (file: string, jobs: number): string => `wrote ${file} (${jobs} job${jobs === 1 ? '' : 's'} on the timeline)`,
};

const formatMs = (ms: number): string => (ms % 1000 ? `${ms}ms` : `${ms / 1000}s`);

export const formatCap = (n: number): string => (Number.isFinite(n) ? String(n) : 'unlimited');

function quote(value: string): string {
  return JSON.stringify(value);
}

/** A file system error in words a person reads ("permission denied"), else its own message. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a part of the path is not a folder',
    EISDIR: 'is a folder',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EEXIST: 'already exists',
  };
  return (e && e.code && reasons[e.code]) || (e instanceof Error ? e.message : String(err));
}
