// Deadline-bound waiting: tests synchronise on observable facts (files, lines, /proc), never on bare sleeps.
import fs from 'node:fs';

/** Why: every wait in the suite must end, and say what it was waiting for when it does not. */
export async function waitFor<T>(
  probe: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  deadlineMs: number,
  what: string,
  everyMs = 5,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Why: jobs and helpers report through files; a test needs a file's content once it exists. */
export async function waitForFile(path: string, deadlineMs: number, test: (text: string) => boolean = () => true): Promise<string> {
  return waitFor(
    () => {
      try {
        const text = fs.readFileSync(path, 'utf8');
        return test(text) ? text : undefined;
      } catch {
        return undefined;
      }
    },
    deadlineMs,
    `file ${path}`,
  );
}

/** Why: a quiet period measured on a monotonic clock, for storms and races that must run for a while. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** Why: the one place the suite lets time pass on purpose (driving load, not synchronising on results). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Why: jitter for storms and races (how long to pause, which victim to kill): an integer in [0, n). */
export function random(n: number): number {
  return Math.floor(Math.random() * n);
}
