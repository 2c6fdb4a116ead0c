// Runs warden (or any command) as another local user: as root (CI is root), setpriv switches to
// a uid that needs no account. The folders it touches must be reachable by that uid.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from './warden.js';
import type { Result } from './warden.js';

export const OTHER_UID = 4242;

/** argv that runs `argv` as `uid` (group = uid, no supplementary groups). */
export const asUser = (uid: number, argv: string[]): string[] => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv];

/** Whether this process can switch users (root with setpriv). */
export function canSwitchUsers(): boolean {
  return process.getuid?.() === 0 && spawnSync('setpriv', ['--reuid=4242', '--regid=4242', '--clear-groups', 'true']).status === 0;
}

/** Run argv to completion; `env` replaces the environment entirely (as cron's `env -i` would). */
export function runCommand(argv: string[], env: NodeJS.ProcessEnv, deadlineMs = 20_000): Promise<Result & { timedOut: boolean }> {
  return startCommand(argv, env, deadlineMs).done;
}

/** Start argv (killed at the deadline); its pid is the command's own (setpriv execs it). */
export function startCommand(argv: string[], env: NodeJS.ProcessEnv, deadlineMs = 20_000): { pid: number; done: Promise<Result & { timedOut: boolean }> } {
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, deadlineMs);
  const done = new Promise<Result & { timedOut: boolean }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return { pid: child.pid ?? -1, done };
}

/** warden's argv for runCommand. */
export const wardenArgv = (args: string[]): string[] => [process.execPath, BIN, ...args];

/** cron's bare environment. */
export const CRON_ENV: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', NO_COLOR: '1' };

/** A folder every user may create in but not touch others' entries in (like /tmp: 1777). */
export function sharedDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
  fs.chmodSync(dir, 0o1777);
  return dir;
}
