// The parts of warden this process ran: its command, waiting for a slot, starting a job, Redis.
// The code cache (boot/code-cache.ts) is rewritten when a process ran a part that the cache's
// own maker did not, so each part's code is compiled once, not in every process.
const ran = new Set<string>();

export function ranPart(part: string): void {
  ran.add(part);
}

export function partsRun(): string[] {
  return [...ran];
}
