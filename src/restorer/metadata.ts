// Applies a node's ownership, mode and times to a restored entry, through a file handle wherever one exists.
// Must never chmod a symlink (that would change its target) and never let a metadata failure abort the restore.

import { promises as fsp, type promises } from 'node:fs';
import type { TreeNode } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import { lstatOrUndefined, openDir } from './fsops.js';
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
  const ns = rfc3339ToNs(rfc3339);
  const us = (ns >= 0n ? ns + 500n : ns - 500n) / 1000n;
  return Number(us) / 1e6 + 5e-7;
}

async function attempt(ctx: RestoreContext, path: Buffer, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.warn(path, `cannot set ${what}: ${(err as Error).message}`, err);
  }
}

/** Metadata through an open handle: no path lookup, so no symlink can be swapped in. chown comes first because it clears setuid/setgid. */
export async function applyHandleMeta(ctx: RestoreContext, fh: FileHandle, path: Buffer, node: FileMeta): Promise<void> {
  if (ctx.isRoot) await attempt(ctx, path, 'owner', () => fh.chown(node.uid, node.gid));
  await attempt(ctx, path, 'mode', () => fh.chmod(node.mode & 0o7777));
  await attempt(ctx, path, 'times', () => fh.utimes(nodeTimeSeconds(node.atime ?? node.mtime), nodeTimeSeconds(node.mtime)));
}

export async function applyDirMeta(ctx: RestoreContext, path: Buffer, node: TreeNode): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await openDir(path);
  } catch (err) {
    ctx.warn(path, `cannot set directory metadata: ${(err as Error).message}`, err);
    return;
  }
  try {
    await applyHandleMeta(ctx, fh, path, node);
  } finally {
    await fh.close();
  }
}

/** Puts back the mode of a pre-existing directory that ensureDir made writable. */
export async function restoreDirMode(ctx: RestoreContext, path: Buffer, mode: number): Promise<void> {
  await attempt(ctx, path, 'mode', async () => {
    const fh = await openDir(path);
    try {
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  });
}

/** Symlinks: lchown and lutimes only; Linux has no symlink modes. */
export async function applySymlinkMeta(ctx: RestoreContext, path: Buffer, node: TreeNode): Promise<void> {
  if (ctx.isRoot) await attempt(ctx, path, 'owner', () => fsp.lchown(path, node.uid, node.gid));
  await attempt(ctx, path, 'times', () => fsp.lutimes(path, nodeTimeSeconds(node.atime ?? node.mtime), nodeTimeSeconds(node.mtime)));
}

/**
 * FIFOs and device nodes cannot be opened safely (a FIFO blocks, a device may act on open), so this
 * works by path; chmod follows symlinks, so it runs only after lstat shows the entry we just made.
 */
export async function applySpecialMeta(ctx: RestoreContext, path: Buffer, node: TreeNode): Promise<void> {
  if (ctx.isRoot) await attempt(ctx, path, 'owner', () => fsp.lchown(path, node.uid, node.gid));
  const st = await lstatOrUndefined(path);
  if (st !== undefined && !st.isSymbolicLink()) await attempt(ctx, path, 'mode', () => fsp.chmod(path, node.mode & 0o7777));
  await attempt(ctx, path, 'times', () => fsp.lutimes(path, nodeTimeSeconds(node.atime ?? node.mtime), nodeTimeSeconds(node.mtime)));
}
