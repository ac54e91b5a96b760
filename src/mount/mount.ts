// Serves a repository as a read-only FUSE file system until it is unmounted or `stop` fires, then unmounts it
// (lazily if it is busy) so no dead mount is left behind. Refuses a mount point a dead process left mounted.

import fs from 'node:fs';
import { errorMessage, RepoError } from '../core/errors.js';
import { FuseSession } from './fuse-session.js';
import { onPath } from './fusermount.js';
import { absoluteMountpoint, mountState, unmount, unmountCommand } from './mountpoint.js';
import { SnapshotFs, type MountRepo, type SnapshotFsOptions } from './snapshot-fs.js';

export interface MountRequest extends SnapshotFsOptions {
  mountpoint: string;
  allowOther: boolean;
  defaultPermissions: boolean;
  /** Said once the file system answers, with the absolute mount point. */
  onReady: (mountpoint: string, snapshots: number) => void;
  /** Unmounts when aborted (Ctrl-C, SIGTERM). */
  stop: AbortSignal;
}

/** Why `abs` cannot be mounted on, or undefined when it can. */
function refusal(abs: string, given: string): string | undefined {
  const state = mountState(abs);
  if (state === 'stale')
    return `${given} is still mounted by a process that has ended (reading it fails with "transport endpoint is not connected"): clear it with \`${unmountCommand(abs)}\` and mount again`;
  if (state === 'mounted')
    return `${given} is already a mounted FUSE file system: unmount it first with \`${unmountCommand(abs)}\``;
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    return `mount point ${given}: ${errorMessage(err)}`;
  }
  if (!st.isDirectory()) return `mount point ${given} is not a directory`;
  return undefined;
}

/** Throws when `mountpoint` cannot be mounted on: a stale or live mount there (with the command that clears it), no directory, no FUSE, no fusermount3 without root. */
export function checkMountpoint(mountpoint: string): void {
  const why = refusal(absoluteMountpoint(mountpoint), mountpoint);
  if (why !== undefined) throw new RepoError('INVALID_ARGUMENT', why, { path: mountpoint });
  if (!fs.existsSync('/dev/fuse'))
    throw new RepoError('INVALID_ARGUMENT', '/dev/fuse is missing: this kernel or container offers no FUSE');
  if (process.getuid?.() !== 0 && !onPath('fusermount3'))
    throw new RepoError(
      'INVALID_ARGUMENT',
      'repo mount without root needs fusermount3 (Debian package fuse3) on PATH, or run it as root',
    );
}

/** Returns once unmounted; "lazily" when something still used the mount point and the kernel detaches it later. */
export async function mountRepository(repo: MountRepo, req: MountRequest): Promise<'unmounted' | 'lazily'> {
  checkMountpoint(req.mountpoint); // again: the repository took a while to open
  const abs = absoluteMountpoint(req.mountpoint);
  const fsys = new SnapshotFs(repo, req);
  await fsys.refresh(true);
  const session = await FuseSession.mount(abs, fsys, {
    allowOther: req.allowOther,
    defaultPermissions: req.defaultPermissions,
    warn: req.warn,
  });
  let how: 'unmounted' | 'lazily' = 'unmounted';
  const onStop = () => {
    unmount(abs).then(
      (h) => (how = h),
      (err: unknown) => req.warn(`cannot unmount ${abs}: ${errorMessage(err)}; run \`${unmountCommand(abs)}\``),
    );
  };
  if (req.stop.aborted) onStop();
  else req.stop.addEventListener('abort', onStop, { once: true });
  req.onReady(abs, fsys.snapshots.length);
  const failure = await session.finished;
  req.stop.removeEventListener('abort', onStop);
  if (failure !== '') throw new RepoError('BACKEND', `mount at ${abs} ended: ${failure}`, { path: abs });
  return how;
}
