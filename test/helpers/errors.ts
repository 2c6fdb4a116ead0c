// What every refusal a user sees looks like: the exit code and one line on stderr that says why.
import { expect } from 'vitest';

/** Why: one place that says what "one line, this code, this message" means for every refusal. */
export function expectOneLineError(r: { code: number | null; stderr: string }, code: number, message: string | RegExp, label?: string): void {
  const text = r.stderr.trimEnd();
  expect(r.code, label ? `${label}: ${r.stderr}` : r.stderr).toBe(code);
  expect(text.split('\n'), label ? `${label}: one line` : 'one line').toHaveLength(1);
  // toMatch takes a substring as well as a pattern.
  expect(text, label).toMatch(message);
}

/** Bad input (SPEC): exit 2 and one line naming the option and the accepted form. */
export function expectUsageError(r: { code: number | null; stderr: string }, message: string | RegExp, label?: string): void {
  expectOneLineError(r, 2, message, label);
}
