#!/usr/bin/env node
import { createRequire } from 'node:module';
// One CommonJS bundle: Node's ESM loader resolves each module and builtin namespace eagerly.
const { main } = createRequire(import.meta.url)('../dist/warden.cjs');
process.exitCode = await main(process.argv.slice(2));
