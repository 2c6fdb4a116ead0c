// The one shutdown policy: the first Ctrl-C drains, a second terminates; TERM and HUP terminate;
// the exit status is 128+n for the first signal.
import { describe, expect, it } from 'vitest';
import { Shutdown } from '../../src/shutdown.js';

function policy(): { s: Shutdown; calls: string[] } {
  const calls: string[] = [];
  const s = new Shutdown({ drain: (sig) => calls.push(`drain ${sig}`), terminate: (sig, first) => calls.push(`terminate ${sig}${first ? ' first' : ''}`) });
  return { s, calls };
}

describe('Shutdown', () => {
  it('drains on the first SIGINT and terminates on the second', () => {
    const { s, calls } = policy();
    s.onSignal('SIGINT');
    expect(s.state).toBe('draining');
    s.onSignal('SIGINT');
    expect(s.state).toBe('terminating');
    expect(calls).toEqual(['drain SIGINT', 'terminate SIGINT']);
    expect(s.exitCode).toBe(130);
  });

  it('terminates at once on SIGTERM or SIGHUP, and only once', () => {
    for (const [sig, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const { s, calls } = policy();
      s.onSignal(sig);
      s.onSignal('SIGINT');
      s.onSignal(sig);
      expect(calls).toEqual([`terminate ${sig} first`]);
      expect(s.exitCode).toBe(code);
    }
  });

  it('keeps the first signal for the exit status when a TERM follows a Ctrl-C', () => {
    const { s, calls } = policy();
    s.onSignal('SIGINT');
    s.onSignal('SIGTERM');
    expect(calls).toEqual(['drain SIGINT', 'terminate SIGTERM']);
    expect(s.exitCode).toBe(130);
  });

  it('is not active until a signal comes', () => {
    const { s } = policy();
    expect(s.active).toBe(false);
    expect(s.exitCode).toBeUndefined();
  });
});
