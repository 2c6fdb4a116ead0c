// The one shutdown policy of watch, once, run and the --detach runner: the first Ctrl-C drains
// (stop admitting, pass the interrupt on, let running jobs finish), a second one terminates;
// SIGTERM and SIGHUP terminate at once. Warden then exits 128+n for the first signal n.
import { SIGNAL_EXIT } from './exit.js';
import type { Signal } from './exit.js';

export type ShutdownState = 'running' | 'draining' | 'terminating';

export interface ShutdownActions {
  /** The first SIGINT. */
  drain(signal: Signal): void;
  /** SIGTERM, SIGHUP or a second SIGINT; `first` when nothing had stopped before. */
  terminate(signal: Signal, first: boolean): void;
}

export class Shutdown {
  state: ShutdownState = 'running';
  /** 128+n for the first signal; undefined while none came. */
  exitCode: number | undefined;

  constructor(private readonly actions: ShutdownActions) {}

  get active(): boolean {
    return this.state !== 'running';
  }

  onSignal(signal: Signal): void {
    this.exitCode ??= SIGNAL_EXIT[signal];
    if (signal === 'SIGINT' && this.state === 'running') {
      this.state = 'draining';
      this.actions.drain(signal);
      return;
    }
    if (this.state === 'terminating') return;
    const first = this.state === 'running';
    this.state = 'terminating';
    this.actions.terminate(signal, first);
  }
}

/**
 * Route SIGINT, SIGTERM and SIGHUP to `handler`; a dead parent (the npx in front of us was
 * killed, the terminal's shell is gone) counts as SIGHUP. Returns the undo.
 */
export function handleSignals(handler: (signal: Signal) => void, watchParent = true): () => void {
  const listeners = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const fn = (): void => handler(sig);
    process.on(sig, fn);
    return [sig, fn] as const;
  });
  const parent = process.ppid;
  const watch =
    watchParent && parent > 1
      ? setInterval(() => {
          if (process.ppid !== parent) {
            clearInterval(watch);
            handler('SIGHUP');
          }
        }, 250).unref()
      : undefined;
  return () => {
    for (const [sig, fn] of listeners) process.off(sig, fn);
    if (watch) clearInterval(watch);
  };
}
