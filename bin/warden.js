#!/usr/bin/env node
// CommonJS on purpose (see bin/package.json): an ES module entry costs every one-shot ~4 ms.
// First of all, before the bundle loads: Node answers SIGUSR1 by opening a debugger port that any
// local user can connect to, and a log rotation's SIGUSR1 may come while warden is starting.
process.on('SIGUSR1', () => undefined);
// The bundle is compiled from V8's code cache when there is one (src/boot/code-cache.ts).
require('../dist/boot.cjs')
  .loadBundle(require('node:path').join(__dirname, '..', 'dist', 'warden.cjs'))
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
