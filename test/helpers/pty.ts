// A pseudo-terminal driver: run a command on a real pty, type Ctrl-C, hang up, read the screen.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Why: the python3 helper (stdlib `pty`) that owns the terminal's master side. */
export const PTY_PY = path.join(HERE, 'pty-driver.py');

/** Why: a handle on a command running on a pseudo-terminal. */
export interface Terminal {
  child: ChildProcess;
  /** Everything the command wrote to the terminal so far. */
  screen: () => string;
  /** Type Ctrl-C (the line discipline sends SIGINT to the foreground process group). */
  ctrlC: () => void;
  /** Close the terminal's master side: the kernel hangs up the session. */
  hangUp: () => void;
  /** The driver's exit: the command's status, 128+n for signal n. */
  exited: Promise<number>;
}

/** Why: Ctrl-C and hang-up behaviour can only be seen on a real terminal, not on pipes. */
export function openTerminal(argv: string[], env: NodeJS.ProcessEnv): Terminal {
  const child = spawn('python3', [PTY_PY, '--', ...argv], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let screen = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    screen = (screen + d).slice(-2_000_000);
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? 1 : 0))));
  const send = (line: string): void => {
    if (child.stdin && !child.stdin.destroyed) child.stdin.write(line + '\n');
  };
  return { child, screen: () => screen, ctrlC: () => send('INT'), hangUp: () => send('HUP'), exited };
}
