// Applies a node's ownership, mode and times to a restored entry, through a file handle wherever one exists.
// Must never chmod a symlink (that would change its target) and never let a metadata failure abort the restore.

import { errorMessage } from '../core/errors.js';
import fs, { promises as fsp, type promises } from 'node:fs';
import type { TreeNode } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import type { NumericMeta } from './file-table.js';
import { lstatOrUndefined, openDirSync } from './fsops.js';
import type { FileMeta, RestoreContext } from './types.js';

type FileHandle = promises.FileHandle;

/**
 * Seconds since the epoch as Node's utimes wants them. Node hands libuv a double and libuv truncates it
 * to whole microseconds, so sub-microsecond precision is lost (acceptable: most tools keep µs). We round
 * to the nearest microsecond and aim at the middle of it, so the double's rounding error (about 0.24 µs
 * for present-day dates) cannot push libuv's truncation into the previous microsecond. Going through
 * bigint microseconds keeps the integer part exact: nanoseconds since 1970 do not fit a double.
 */
export function nodeTimeSeconds(rfc3339: string): number {
  return nsToNodeSeconds(rfc3339ToNs(rfc3339));
}

/** nodeTimeSeconds for a time already in nanoseconds. */
export function nsToNodeSeconds(ns: bigint): number {
  const us = (ns >= 0n ? ns + 500n : ns - 500n) / 1000n;
  return Number(us) / 1e6 + 5e-7;
}

async function attempt(ctx: RestoreContext, path: Buffer, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.warn(path, `cannot set ${what}: ${errorMessage(err)}`, err);
  }
}

function attemptSync(ctx: RestoreContext, path: Buffer, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    ctx.warn(path, `cannot set ${what}: ${errorMessage(err)}`, err);
  }
}

/** Times of a node (strings, parsed here so a bad one only costs a warning) or of a planned file (numbers). */
function times(meta: FileMeta | NumericMeta): [number, number] {
  if (typeof meta.mtime === 'number') return [meta.atime as number, meta.mtime];
  return [nodeTimeSeconds((meta.atime as string | undefined) ?? meta.mtime), nodeTimeSeconds(meta.mtime)];
}

/** Metadata through an open handle: no path lookup, so no symlink can be swapped in. chown comes first because it clears setuid/setgid. */
export async function applyHandleMeta(
  ctx: RestoreContext,
  fh: FileHandle,
  path: Buffer,
  meta: FileMeta | NumericMeta,
): Promise<void> {
  if (ctx.isRoot) await attempt(ctx, path, 'owner', () => fh.chown(meta.uid, meta.gid));
  await attempt(ctx, path, 'mode', () => fh.chmod(meta.mode & 0o7777));
  await attempt(ctx, path, 'times', () => fh.utimes(...times(meta)));
}

/** applyHandleMeta through a descriptor, blocking: for the main thread's loops over thousands of directories. */
export function applyFdMetaSync(ctx: RestoreContext, fd: number, path: Buffer, meta: FileMeta | NumericMeta): void {
  if (ctx.isRoot) attemptSync(ctx, path, 'owner', () => fs.fchownSync(fd, meta.uid, meta.gid));
  attemptSync(ctx, path, 'mode', () => fs.fchmodSync(fd, meta.mode & 0o7777));
  attemptSync(ctx, path, 'times', () => fs.futimesSync(fd, ...times(meta)));
}

/**
 * Blocking on purpose: directory metadata is applied in one loop at the very end, where a promise round trip
 * through the thread pool for each of five system calls per directory cost more than the calls themselves
 * (kernel tree, 5k directories: seconds instead of tens of milliseconds).
 */
export function applyDirMetaSync(ctx: RestoreContext, path: Buffer, meta: FileMeta): void {
  let fd: number;
  try {
    fd = openDirSync(path);
  } catch (err) {
    ctx.warn(path, `cannot set directory metadata: ${errorMessage(err)}`, err);
    return;
  }
  try {
    applyFdMetaSync(ctx, fd, path, meta);
  } finally {
    fs.closeSync(fd);
  }
}

/** Puts back the mode of a pre-existing directory that ensureDir made writable. */
export function restoreDirModeSync(ctx: RestoreContext, path: Buffer, mode: number): void {
  attemptSync(ctx, path, 'mode', () => {
    const fd = openDirSync(path);
    try {
      fs.fchmodSync(fd, mode);
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** Symlinks: lchown and lutimes only; Linux has no symlink modes. */
export async function applySymlinkMeta(ctx: RestoreContext, path: Buffer, node: TreeNode): Promise<void> {
  if (ctx.isRoot) await attempt(ctx, path, 'owner', () => fsp.lchown(path, node.uid, node.gid));
  await attempt(ctx, path, 'times', () =>
    fsp.lutimes(path, nodeTimeSeconds(node.atime ?? node.mtime), nodeTimeSeconds(node.mtime)),
  );
}

/**
 * FIFOs and device nodes cannot be opened safely (a FIFO blocks, a device may act on open), so this
 * works by path; chmod follows symlinks, so it runs only after lstat shows the entry we just made.
 */
export async function applySpecialMeta(ctx: RestoreContext, path: Buffer, node: TreeNode): Promise<void> {
  if (ctx.isRoot) await attempt(ctx, path, 'owner', () => fsp.lchown(path, node.uid, node.gid));
  const st = await lstatOrUndefined(path);
  if (st !== undefined && !st.isSymbolicLink())
    await attempt(ctx, path, 'mode', () => fsp.chmod(path, node.mode & 0o7777));
  await attempt(ctx, path, 'times', () =>
    fsp.lutimes(path, nodeTimeSeconds(node.atime ?? node.mtime), nodeTimeSeconds(node.mtime)),
  );
}
