// The perl that warden's helpers run (the flock backend's locker, a waiting run's ready job):
// found only in PATH's absolute folders, so a `perl` in the working folder (PATH with `.` or an
// empty entry) is never run in its place.
import fs from 'node:fs';
import path from 'node:path';

// Where a shell looks when PATH is unset (glibc's default).
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

let found: string | null | undefined;

/** The absolute path of perl, or undefined when there is none. */
export function perlPath(): string | undefined {
  if (found === undefined) {
    found = null;
    for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(':')) {
      if (!path.isAbsolute(dir)) continue;
      const file = path.join(dir, 'perl');
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) {
          found = file;
          break;
        }
      } catch {
        // Not here.
      }
    }
  }
  return found ?? undefined;
}
