// Exit statuses and the few constants the command line needs before any command is loaded.
import fs from 'node:fs';

export const EXIT = { ok: 0, failed: 1, usage: 2, checkFailed: 3, unavailable: 69, software: 70, tempFail: 75, timedOut: 124 } as const;

export type Signal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
export const SIGNAL_EXIT: Record<Signal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

// The bundle has the version built in (esbuild --define); unbundled, it is read from package.json.
declare const WARDEN_VERSION: string | undefined;
export const VERSION: string =
  typeof WARDEN_VERSION === 'string'
    ? WARDEN_VERSION
    : (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A mistake of the user's: its message is shown as one line and warden exits 2. */
export class UsageError extends Error {}

/** The hidden subcommand that keeps --detach jobs' slots and reaps them. */
export const RUNNER_COMMAND = '__runner';

/** The pool's server (Redis) could not be reached: one line naming it, exit 69, nothing started. */
export class UnavailableError extends Error {}

/** The hidden subcommand that renews this host's fleet leases (see src/pool/redis/keeper.ts). */
export const KEEPER_COMMAND = '__keeper';
