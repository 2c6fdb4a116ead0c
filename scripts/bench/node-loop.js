// The reference for throughput: a plain Node loop that runs N shell jobs with
// child_process.spawn, at most P at a time, and waits for every exit.
// Usage: node node-loop.js N P COMMAND
import { spawn } from 'node:child_process';

const [n, p, command] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] ?? 'true'];
let started = 0;
let finished = 0;
let failed = 0;

function next() {
  if (started >= n) return;
  started++;
  const child = spawn(command, { shell: true, stdio: 'ignore' });
  child.once('error', () => {
    failed++;
  });
  child.once('close', (code) => {
    if (code !== 0) failed++;
    finished++;
    if (finished === n) {
      process.exitCode = failed ? 1 : 0;
      return;
    }
    next();
  });
}

for (let i = 0; i < Math.min(p, n); i++) next();
