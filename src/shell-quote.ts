// Quoting for /bin/sh: `run -- CMD ARG...` is logged, and handed to the --detach runner, as one
// shell command line that must mean exactly the argv it came from.

/** Characters that never need quoting in sh. */
export const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** One argument as sh reads it back: plain words as they are, anything else single-quoted. */
export function shellQuote(arg: string): string {
  return PLAIN_WORD.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one sh command line. */
export function shellLine(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}
