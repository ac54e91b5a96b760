// Target file-system operations that never follow a symlink we did not ask for and never write through an existing entry.
// Must never delete anything but the single entry being replaced (no recursive removal) and never touch paths outside the target.

import { execFile } from 'node:child_process';
import { childEnv } from '../core/child-env.js';
import { randomBytes } from 'node:crypto';
import fs, { constants as C, promises as fsp, type BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { RepoError } from '../core/errors.js';
import { displayName, isUtf8 } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import type { RestoreContext } from './types.js';

const run = promisify(execFile);

export async function lstatOrUndefined(path: Buffer): Promise<BigIntStats | undefined> {
  try {
    return await fsp.lstat(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes room for a new non-directory entry at `path`. Returns false when the entry must be left alone.
 * An existing entry is unlinked rather than written into: it may be a symlink, or a hard link to a
 * file outside the target, and writing through either would change that file.
 */
export async function prepareSlot(
  ctx: RestoreContext,
  path: Buffer,
  unchanged: (st: BigIntStats) => boolean | Promise<boolean>,
): Promise<boolean> {
  const st = await lstatOrUndefined(path);
  if (st === undefined) return true;
  if (ctx.overwrite === 'never' || (ctx.overwrite === 'if-changed' && (await unchanged(st)))) {
    ctx.result.skipped++;
    return false;
  }
  if (st.isDirectory()) {
    try {
      await fsp.rmdir(path); // only succeeds when empty: other people's files are never deleted
    } catch (err) {
      ctx.warn(path, 'a non-empty directory is in the way, entry not restored', err);
      return false;
    }
    return true;
  }
  await fsp.unlink(path);
  return true;
}

/** 'if-changed' treats a regular file with the same size and mtime (to the microsecond we can set; RFC 3339 or ns) as already restored. */
export function matchesPlanned(st: BigIntStats, size: number, mtime: string | bigint): boolean {
  if (!st.isFile() || st.size !== BigInt(size)) return false;
  const d = st.mtimeNs - (typeof mtime === 'bigint' ? mtime : rfc3339ToNs(mtime));
  return d > -1000n && d < 1000n;
}

export interface DirState {
  ok: boolean;
  created: boolean;
  /** The mode a pre-existing directory had before we made it writable for ourselves. */
  oldMode?: number;
  /** Its group while files are written into it (a new file gets this group or the creator's, see pack-writer). */
  gid?: number;
}

/** Opens a directory without following a symlink in its last component, for fchmod/futimes/fchown. */
export function openDirSync(path: Buffer): number {
  return fs.openSync(path, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
}

function lstatSyncOrUndefined(path: Buffer): fs.BigIntStats | undefined {
  return fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
}

/**
 * Creates a directory (mode 0700 until its final metadata is applied, so nobody else can put entries
 * in it meanwhile) or reuses an existing real directory. Anything else in the way is replaced unless
 * overwrite is 'never', in which case the directory and its contents are skipped.
 * Blocking on purpose: it runs in one loop over every directory before any file is written, where a
 * promise round trip per system call cost more than the calls (see applyDirMetaSync).
 */
export function ensureDirSync(ctx: RestoreContext, path: Buffer): DirState {
  // Into an empty target nearly every mkdir succeeds: try it first and look only when something is there.
  try {
    fs.mkdirSync(path, 0o700);
    return checkCreated(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSyncOrUndefined(path);
  if (st !== undefined && st.isDirectory()) {
    const mode = Number(st.mode & 0o7777n);
    const gid = Number(st.gid);
    if (ctx.isRoot || (mode & 0o700) === 0o700) return { ok: true, created: false, gid };
    // A read-only directory from an earlier restore would block writing into it; its final mode is set at the end.
    const fd = openDirSync(path);
    try {
      fs.fchmodSync(fd, mode | 0o700);
    } finally {
      fs.closeSync(fd);
    }
    return { ok: true, created: false, oldMode: mode, gid };
  }
  if (st !== undefined) {
    if (ctx.overwrite === 'never') {
      ctx.warn(path, 'not a directory in the target; left alone and its contents not restored');
      ctx.result.skipped++;
      return { ok: false, created: false };
    }
    fs.unlinkSync(path); // a symlink here must never be descended through
  }
  fs.mkdirSync(path, 0o700);
  return checkCreated(path);
}

function checkCreated(path: Buffer): DirState {
  const st = fs.lstatSync(path);
  if (!st.isDirectory()) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `refusing to restore into ${displayName(path)}: it is not a real directory`,
      { path: displayName(path) },
    );
  }
  return { ok: true, created: true, gid: st.gid };
}

/** Opens a new file for writing; O_EXCL|O_NOFOLLOW make it fail rather than write through anything that appeared meanwhile. */
export function createFile(path: Buffer) {
  return fsp.open(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
}

export function openForVerify(path: Buffer) {
  return fsp.open(path, C.O_RDONLY | C.O_NOFOLLOW);
}

/**
 * Creates a FIFO or device node with the system's mkfifo/mknod (Node has no binding). Command-line
 * arguments cannot carry non-UTF-8 bytes, so such names are created under a random ASCII name in the
 * target directory and renamed into place (rename(2) takes the raw bytes and never follows symlinks).
 */
export async function makeSpecial(
  ctx: RestoreContext,
  path: Buffer,
  cmd: 'mkfifo' | 'mknod',
  extra: string[],
): Promise<void> {
  if (isUtf8(path)) {
    await run(cmd, ['-m', '600', '--', path.toString('utf8'), ...extra], { env: childEnv() });
    return;
  }
  const tmp = Buffer.concat([ctx.target, Buffer.from(`/.restore-tmp-${randomBytes(8).toString('hex')}`)]);
  await run(cmd, ['-m', '600', '--', tmp.toString('utf8'), ...extra], { env: childEnv() });
  try {
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Splits a Linux dev_t (as glibc encodes it) into major and minor numbers. */
export function splitDev(rdev: string): [string, string] {
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return [major.toString(), minor.toString()];
}
