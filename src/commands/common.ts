// What every command sets up the same way: the state dir, the log file, the reporter, the pool,
// signal handlers and the parent-death watch. A user error here is a message and exit 2.
import fs from 'node:fs';
import type { Event, Mode } from '../events.js';
import { UnavailableError, UsageError, VERSION } from '../exit.js';
import { describeFsError, msg } from '../messages.js';
import { openPool } from '../pool/open-pool.js';
import { UnsafePathError } from '../pool/safe-fs.js';
import { checkStateDir, ensureStateDir, mkdirLevels } from '../pool/state-dir.js';
import { finite } from '../pool/pool.js';
import type { Pool } from '../pool/pool.js';
import { openLogFile } from '../report/log-file.js';
import { createReporter } from '../report/reporter.js';
import type { Display, Reporter } from '../report/reporter.js';
import type { Settings } from '../settings.js';
import { ranPart } from '../code-parts.js';

/** Create the state dir (mode 0700) if missing, refuse it unless it is ours alone and writable. */
export function prepareStateDir(dir: string): void {
  try {
    ensureStateDir(dir);
  } catch (err) {
    throw stateDirError(dir, err);
  }
}

/** For commands that only look (status): an existing state dir must still be ours alone. */
export function checkExistingStateDir(dir: string): boolean {
  try {
    checkStateDir(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw stateDirError(dir, err);
  }
}

function stateDirError(dir: string, err: unknown): UsageError {
  if (err instanceof UnsafePathError) return new UsageError(msg.stateDirRefused(err.file, err.problem));
  return new UsageError(msg.stateDirUnusable(dir, describeFsError(err)));
}

export async function openReporter(settings: Settings, display: Display, displayFd: number): Promise<Reporter> {
  let logFd: number | undefined;
  if (settings.logFile) {
    try {
      logFd = openLogFile(settings.logFile);
    } catch (err) {
      throw new UsageError(msg.logFileUnusable(settings.logFile, describeFsError(err)));
    }
  }
  if (settings.output) {
    try {
      mkdirLevels(settings.output, 0o777);
      fs.accessSync(settings.output, fs.constants.W_OK);
    } catch (err) {
      throw new UsageError(msg.outputDirUnusable(settings.output, describeFsError(err)));
    }
  }
  return createReporter({ display, displayFd, quiet: settings.quiet, logFd, logPath: settings.logFile, env: process.env });
}

export function openSettingsPool(settings: Settings): Pool {
  prepareStateDir(settings.stateDir);
  try {
    return openPool({ name: settings.pool, maxLive: settings.maxLive, stateDir: settings.stateDir, backend: settings.poolBackend });
  } catch (err) {
    throw stateDirError(settings.stateDir, err);
  }
}

/**
 * The command's pool: the local kernel pool, or with --redis the fleet pool (its client loaded
 * only then). `once` and `run` that cannot reach the server stop with exit 69; `watch` (and the
 * runner of detached jobs) starts anyway and waits for it, admitting nothing without a lease.
 */
export async function openCommandPool(settings: Settings, reporter: Reporter, failFast = settings.command !== 'watch'): Promise<Pool> {
  const target = settings.redis;
  if (!target) return openSettingsPool(settings);
  prepareStateDir(settings.stateDir);
  ranPart('redis');
  const { openRedisPool } = await import('../pool/redis/redis-pool.js');
  const { UnreachableError } = await import('../pool/redis/client.js');
  (await import('../pool/redis/target.js')).dropSecrets(process.env);
  try {
    return await openRedisPool({
      name: settings.pool,
      maxLive: settings.maxLive,
      stateDir: settings.stateDir,
      target,
      leaseMs: settings.leaseMs,
      onLeaseLost: settings.onLeaseLost,
      killAfterMs: settings.killAfterMs,
      logFile: settings.logFile,
      failFast,
      emit: (e) => reporter.emit(e),
    });
  } catch (err) {
    if (err instanceof UnreachableError) throw new UnavailableError(msg.redisUnavailable(target.shown, err.message));
    throw err;
  }
}

/** The `start` event every command logs first. */
export function startEvent(mode: Mode, pool: Pool, settings: Settings, schedule: string | null = null): Event {
  return { event: 'start', mode, pool: pool.name, maxLive: finite(pool.maxLive), schedule, version: VERSION, backend: pool.backend, stateDir: settings.stateDir };
}
