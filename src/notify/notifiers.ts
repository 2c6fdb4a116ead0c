// The listeners a command attaches to its event stream to tell people what happened
// (--on-failure, --ping). Each is loaded only when asked for; a command forwards its signals
// to them and waits for them, bounded, before it exits.
import type { Mode } from '../events.js';
import type { Signal } from '../exit.js';
import type { Reporter } from '../report/reporter.js';
import type { Settings } from '../settings.js';

export interface Notifiers {
  onSignal(signal: Signal): void;
  /** Wait for hooks and pings under way; `exitCode` ends a once/run invocation's ping. */
  finish(exitCode: number): Promise<void>;
}

interface Part {
  onSignal(signal: Signal): void;
  finish(exitCode: number): Promise<void>;
}

export async function attachNotifiers(settings: Settings, reporter: Reporter, mode: Mode): Promise<Notifiers> {
  const parts: Part[] = [];
  if (settings.onFailure) {
    const { OnFailure } = await import('./on-failure.js');
    const hooks = new OnFailure(
      { command: settings.onFailure, timeoutMs: settings.onFailureTimeoutMs, killAfterMs: settings.killAfterMs, pool: settings.pool },
      reporter,
    );
    reporter.listen(hooks.hear);
    parts.push({ onSignal: (sig) => hooks.onSignal(sig), finish: () => hooks.settle() });
  }
  if (settings.ping && mode !== 'runner') {
    const { Pinger } = await import('./ping.js');
    const pinger = new Pinger({ url: settings.ping, timeoutMs: settings.pingTimeoutMs, mode, jobsPerTrigger: settings.jobs.length || 1 }, reporter);
    reporter.listen(pinger.hear);
    parts.push(pinger);
  }
  return {
    onSignal: (signal) => parts.forEach((p) => p.onSignal(signal)),
    finish: async (exitCode) => {
      await Promise.all(parts.map((p) => p.finish(exitCode)));
    },
  };
}
