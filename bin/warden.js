#!/usr/bin/env node
// CommonJS on purpose (see bin/package.json): an ES module entry costs every one-shot ~4 ms.
require('../dist/warden.cjs')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
