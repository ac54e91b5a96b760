// The one crash-safe way to replace a small local file (state, credentials, caches, generated files): write a
// temporary name in the same folder, fsync it, rename it over the final name, fsync the folder. A reader sees
// the old content or the new, never a torn file, and once the call returns the new content survives a crash.
// Sync and async forms, because some callers (the serve credentials, the directory cache) are synchronous.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from './errors.js';

export interface AtomicWriteOptions {
  /** Permission bits of the new file (default 0600). */
  mode?: number;
  /** Create missing parent folders first (mode 0700). Default: a missing folder is an ENOENT error. */
  makeDir?: boolean;
}

/** Temporary names start with this, so that listings can skip or clean up what a crash left behind. */
export const ATOMIC_TEMP_PREFIX = '.tmp-';

function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `${ATOMIC_TEMP_PREFIX}${randomBytes(8).toString('hex')}-${path.basename(file)}`);
}

/** Errors from fsync on a folder that mean "not supported here", not "failed". */
export function isIgnorableDirSyncError(err: unknown): boolean {
  const code = errnoCode(err);
  if (code === 'EINVAL' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return true;
  // Windows cannot open or fsync a directory.
  return process.platform === 'win32' && (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES');
}

/** Makes a folder's entries (a rename, a new or removed name) durable. */
export async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (!isIgnorableDirSyncError(err)) throw err;
  } finally {
    await fh?.close();
  }
}

export function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!isIgnorableDirSyncError(err)) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Replaces `file` with `data` crash-safely (see the top of this file). On failure the temporary file is removed. */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  if (opts.makeDir === true) await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = tempNameFor(file);
  try {
    // Durable before it is visible: the content reaches the disk, then the name, then the folder entry.
    const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** The synchronous form of writeFileAtomic, for callers that cannot await. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = path.dirname(path.resolve(file));
  if (opts.makeDir === true) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = tempNameFor(file);
  try {
    const fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o600);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirSync(dir);
}
