// Where the binary under test is, and fresh folders for tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Why: the binary under test, exactly as users start it. */
export const BIN = path.join(ROOT, 'bin/warden.js');

/** Folders made by tempDir in this test file, removed when it is done (helpers/cleanup.ts). */
export const madeDirs: string[] = [];

/** A fresh folder for one test. */
export function tempDir(label = 'warden-test'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
  madeDirs.push(dir);
  return dir;
}
