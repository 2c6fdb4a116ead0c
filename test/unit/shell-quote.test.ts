// shellQuote: `run -- CMD ARG...` becomes one sh command line (for logs and the --detach runner)
// that must give sh back exactly the same argv. Checked against the real /bin/sh.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellLine, shellQuote } from '../../src/shell-quote.js';

/** The argv that /bin/sh makes of `line`, printed NUL-separated by printf. */
function shArgv(line: string): string[] {
  const r = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

const NASTY = [
  'plain',
  'two words',
  "it's",
  "'",
  "''",
  '"double"',
  '$HOME',
  '$(touch /tmp/warden-shell-quote-pwned)',
  '`id`',
  'back\\slash',
  'star*?[a]',
  'semi;colon && pipe | amp &',
  'new\nline',
  'tab\there',
  '~user',
  '-n',
  '#comment',
  'ünïcødé ✓',
  ' leading and trailing ',
  '!bang',
  '{a,b}',
];

describe('shellQuote', () => {
  it('leaves plain words alone', () => {
    for (const w of ['./mail.sh', '--full', 'a=b', 'x@y:z,1', '100%']) expect(shellQuote(w)).toBe(w);
  });

  it.each(NASTY)('round-trips %j through sh', (arg) => {
    expect(shArgv(shellQuote(arg))).toEqual([arg]);
  });

  it('round-trips a whole argv, the empty string included, and never runs what it quotes', () => {
    const argv = ['', ...NASTY, ''];
    expect(shArgv(shellLine(argv))).toEqual(argv);
  });
});
