// Deadline-bound waiting: tests synchronise on observable facts (files, lines, /proc), never on bare sleeps.
import fs from 'node:fs';

type Probe<T> = () => T | undefined | false | null | Promise<T | undefined | false | null>;

/**
 * Why: every wait in the suite must end, and say what it was waiting for when it does not.
 * Two argument orders, one wait: `waitFor(what, probe, deadlineMs = 15 s)` and
 * `waitFor(probe, deadlineMs, what, everyMs)`.
 */
export function waitFor<T>(what: string, probe: Probe<T>, deadlineMs?: number): Promise<T>;
export function waitFor<T>(probe: Probe<T>, deadlineMs: number, what: string, everyMs?: number): Promise<T>;
export async function waitFor<T>(a: string | Probe<T>, b: Probe<T> | number | undefined, c?: number | string, d?: number): Promise<T> {
  const [probe, deadlineMs, what, everyMs] =
    typeof a === 'string' ? [b as Probe<T>, (c as number | undefined) ?? 15_000, a, 15] : [a, b as number, c as string, d ?? 5];
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    // Truthy is done: an empty string or 0 (a file not written yet, nothing counted) is not.
    if (value) return value;
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
