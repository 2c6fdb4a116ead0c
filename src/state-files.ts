// Private files in the state dir for the change state and the spool: folders 0700 that must
// be real folders owned by this user, files 0600 created exclusively and never opened through
// a symlink, and published whole by link(2), which fails rather than replace an existing name.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

const { O_CREAT, O_EXCL, O_WRONLY, O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = fs.constants;

export class UnsafeStateError extends Error {}

/** Create `dir` (its parent must exist) private, and check that it is ours and private. */
export function privateDir(dir: string): string {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    // A new folder's name is in its parent: synced, or a reboot could lose the folder and what it holds.
    syncDirNow(path.dirname(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (!st.isDirectory()) throw new UnsafeStateError(`${dir} is not a folder (a symlink?)`);
  if (st.uid !== uid) throw new UnsafeStateError(`${dir} belongs to another user`);
  if (st.mode & 0o077) throw new UnsafeStateError(`${dir} is open to group or others`);
  return dir;
}

/** Whether `dir` exists as a private folder of ours; throws if it exists but is not one. */
export function isPrivateDir(dir: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (!st.isDirectory() || st.uid !== uid || st.mode & 0o077) throw new UnsafeStateError(`${dir} is not a private folder of this user`);
  return true;
}

let serial = 0;

/** A new private file holding `text`, synced: the name it has, unique to this call. */
async function writeSynced(dir: string, text: string): Promise<string> {
  const tmp = path.join(dir, `.tmp-${process.pid}-${++serial}`);
  // The sync runs on libuv's pool, not in the event loop: a slow disk must not stall the ticks.
  const handle = await fsp.open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/**
 * Write `text` to a new private file and give it the name `target` in one step: false when
 * `target` exists already (someone else published first). Synced, so a reboot keeps it.
 */
export async function publishNew(target: string, text: string): Promise<boolean> {
  const tmp = await writeSynced(path.dirname(target), text);
  try {
    fs.linkSync(tmp, target);
    await syncDir(path.dirname(target));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Replace `target` with a new private file holding `text`, in one step (rename); synced. */
export async function replaceFile(target: string, text: string): Promise<void> {
  const tmp = await writeSynced(path.dirname(target), text);
  try {
    // rename(2) replaces the name itself: a symlink planted there is replaced, never followed.
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(target));
}

/** A private file's text, or undefined when it does not exist; never through a symlink. */
export function readPrivate(file: string): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted here must not hang the open; it is refused below.
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new UnsafeStateError(`${file} is a symlink`);
    throw err;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new UnsafeStateError(`${file} is not a regular file`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Remove a file; false when it was not there. */
export function removeFile(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Sync a folder's entries now (rare: only when a folder is made). */
export function syncDirNow(dir: string): void {
  try {
    const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems refuse to sync a folder.
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, O_RDONLY | O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse to sync a folder; the file itself is synced.
  }
}
