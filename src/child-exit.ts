// When a child is done, for checks and jobs alike: the moment its own process exits, once its
// pipes have handed over their last bytes, but never later on account of a grandchild that
// keeps them open.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

// After the exit, how long the pipes may take to deliver their last bytes.
export const DRAIN_GRACE_MS = 50;

export type ChildEnd =
  | { kind: 'exit'; exitCode: number | null; signal: NodeJS.Signals | null; exitedAt: number }
  /** The spawn failed (ENOENT, EACCES, EMFILE; before or after the fork): no exit follows. */
  | { kind: 'error'; error: Error };

/**
 * Resolves with how the child ended. `onExit` runs the moment the process is reaped, before
 * the drain. Attach the streams' own 'data' and 'close' listeners before calling this.
 */
export function childEnd(child: ChildProcess, onExit: () => void = () => undefined): Promise<ChildEnd> {
  // After EMFILE the child has no stdio at all (undefined, not null).
  const open = new Set([child.stdout, child.stderr].filter((s): s is Readable => s != null));
  let onDrained: (() => void) | undefined;
  for (const stream of open) {
    stream.on('error', () => undefined);
    stream.on('close', () => {
      open.delete(stream);
      if (!open.size) onDrained?.();
    });
  }
  return new Promise<ChildEnd>((resolve) => {
    let settled = false;
    // Reaped already (a ready job whose process died as it was taken): no 'exit' will follow.
    if (child.exitCode !== null || child.signalCode !== null) {
      settled = true;
      onExit();
      resolve({ kind: 'exit', exitCode: child.exitCode, signal: child.signalCode, exitedAt: performance.now() });
      return;
    }
    child.on('error', (error) => {
      if (settled) return;
      settled = true;
      onExit();
      resolve({ kind: 'error', error });
    });
    child.on('exit', (exitCode, signal) => {
      if (settled) return;
      settled = true;
      const exitedAt = performance.now();
      onExit();
      let grace: NodeJS.Timeout | undefined;
      const finish = (): void => {
        onDrained = undefined;
        if (grace) clearTimeout(grace);
        // A grandchild may hold the pipes for ever: keep reading, but never keep warden alive.
        for (const stream of open) (stream as { unref?: () => void }).unref?.();
        resolve({ kind: 'exit', exitCode, signal, exitedAt });
      };
      // No pipes (output to a file or the terminal): done now; a timer would add a millisecond.
      if (!open.size) return finish();
      grace = setTimeout(finish, DRAIN_GRACE_MS);
      onDrained = finish;
    });
  });
}
