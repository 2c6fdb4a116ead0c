// Every test file's temp folders go when the file is done: a run of the suite used to leave
// ~700 folders in /tmp. Folders of processes that outlive the file go with them.
import fs from 'node:fs';
import { afterAll } from 'vitest';
import { madeDirs } from './paths.js';

afterAll(() => {
  for (const dir of madeDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});
