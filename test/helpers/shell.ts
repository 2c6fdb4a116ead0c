// Building shell command lines for jobs: quoting and tagging, so tests can find their processes.

/** Why: job bodies contain quotes and $; single-quoting is the only safe way to nest them in sh -c. */
export function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Why: the variable that marks a test's jobs in /proc/PID/environ (warden's own environ never has it). */
export const TAG_VAR = 'FAULT_TAG';

/** Why: a unique tag per test keeps parallel tests from seeing each other's processes. */
export function newTag(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Why: a job command for `--job` that tags itself and appends start/end lines to the ledger;
 * `exec env` makes the tagged shell the job's leader, so /proc shows exactly the job's group.
 */
export function taggedJob(tag: string, ledger: string, body: string): string {
  return `exec env ${TAG_VAR}=${tag} LEDGER=${sq(ledger)} sh -c ${sq(ledgered(body))}`;
}

/** Why: the same job as an argv for `warden run -- ...` (no outer shell). */
export function taggedArgv(tag: string, ledger: string, body: string): string[] {
  return ['env', `${TAG_VAR}=${tag}`, `LEDGER=${ledger}`, 'sh', '-c', ledgered(body)];
}

/**
 * Why: wraps a body so the job records when it started and, through an EXIT trap, when it
 * ended (also after `exit N` in the body); a job killed by a signal writes no end line.
 */
export function ledgered(body: string): string {
  return `trap 'echo "end $$ $(date +%s%N)" >> "$LEDGER"' EXIT; echo "start $$ $(date +%s%N)" >> "$LEDGER"
${body}`;
}
