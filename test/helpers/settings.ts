// What resolveSettings answered, for the unit tests of settings: the settings, or the error.
import type { Resolved, Settings } from '../../src/settings.js';

/** Why: a case that must be accepted fails with the error it got instead. */
export function ok(r: Resolved): Settings {
  if ('error' in r) throw new Error(`unexpected error: ${r.error}`);
  return r.settings;
}

/** Why: a case that must be refused fails when it was accepted. */
export function fails(r: Resolved): string {
  if (!('error' in r)) throw new Error('expected an error');
  return r.error;
}
