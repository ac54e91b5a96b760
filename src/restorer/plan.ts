// Turns a snapshot (or a path inside it) into a restore plan: directories, files with their (offset, blob) pieces, links, specials.
// Must never touch the target file system; all safety checks on names happen here, before anything is written.

import { NotFoundError } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { loadCheckedTree, resolvePath } from './resolve.js';
import type { FileMeta, RestoreContext } from './types.js';

/** One chunk of a file: the plaintext of `blob` belongs at `offset` and is `length` bytes long. */
export interface Piece {
  offset: number;
  length: number;
  blob: Buffer;
}

interface PlannedEntry {
  /** Absolute destination path as bytes (target + '/'-joined names). */
  path: Buffer;
  /** Path relative to the restore root, as passed to include/exclude. */
  rel: string;
  node: TreeNode;
  /** Index of the parent in `dirs`, or -1 for the target directory itself. */
  parent: number;
}

export type PlannedDir = PlannedEntry;
export type PlannedOther = PlannedEntry; // symlinks, FIFOs, device nodes

/**
 * A regular file keeps only what restoring it needs, not its tree node: a restore plan holds every file
 * of the snapshot at once, and a full node (content ids as hex, user names, ctime, inode…) is several
 * times larger.
 */
export interface PlannedFile {
  /** Absolute destination path as bytes. */
  path: Buffer;
  /** Index of the parent in `dirs`, or -1 for the target directory itself. */
  parent: number;
  meta: FileMeta;
  size: number;
  pieces: Piece[];
}

export interface PlannedHardlink extends PlannedEntry {
  /** Index in `files` of the first node with the same device and inode. */
  leader: number;
}

/**
 * Directories are in pre-order (every parent before its children), so the executor can create them in
 * order and apply their metadata in reverse order (children before parents). A pack-ordered executor
 * can consume `files[].pieces` in any order it likes.
 */
export interface RestorePlan {
  dirs: PlannedDir[];
  files: PlannedFile[];
  hardlinks: PlannedHardlink[];
  others: PlannedOther[];
  filesTotal: number;
  bytesTotal: number;
}

const SLASH = Buffer.from('/');

export async function planRestore(ctx: RestoreContext, rootTreeId: string): Promise<RestorePlan> {
  const plan: RestorePlan = { dirs: [], files: [], hardlinks: [], others: [], filesTotal: 0, bytesTotal: 0 };
  const leaders = new Map<string, number>();
  const { include, exclude } = ctx.opts;
  const count = () => plan.dirs.length + plan.files.length + plan.hardlinks.length + plan.others.length;

  const addLeaf = (e: PlannedEntry): void => {
    const n = e.node;
    switch (n.type) {
      case 'file': {
        const key = n.links !== undefined && n.links > 1 && n.inode !== undefined && n.deviceId !== undefined ? `${n.deviceId}:${n.inode}` : undefined;
        const leader = key === undefined ? undefined : leaders.get(key);
        plan.filesTotal++;
        if (leader !== undefined) {
          plan.hardlinks.push({ ...e, leader });
          return;
        }
        if (key !== undefined) leaders.set(key, plan.files.length);
        const pieces = planPieces(ctx, e.path, n.content ?? []);
        const size = pieces.length === 0 ? 0 : pieces[pieces.length - 1].offset + pieces[pieces.length - 1].length;
        if (n.error !== undefined) ctx.warn(e.path, `file was damaged when the snapshot was repaired: ${n.error}`);
        const meta: FileMeta = { mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, atime: n.atime };
        plan.files.push({ path: e.path, parent: e.parent, meta, size, pieces });
        plan.bytesTotal += size;
        return;
      }
      case 'symlink':
        if (n.linktarget === undefined) ctx.warn(e.path, 'symlink without a target, skipped');
        else plan.others.push(e);
        return;
      case 'fifo':
      case 'blockdev':
      case 'chardev':
        plan.others.push(e);
        return;
      case 'socket':
        return; // a socket is only meaningful to the process that bound it; restic skips them too
      case 'dir':
        throw new Error('unreachable: directories are walked, not added as leaves');
    }
  };

  const walk = async (treeId: string, dirPath: Buffer, rel: string, parent: number, included: boolean): Promise<void> => {
    ctx.checkAborted();
    const tree = await loadCheckedTree(ctx.repo, treeId);
    for (const node of tree.nodes) {
      const childRel = rel === '' ? displayName(node.name) : `${rel}/${displayName(node.name)}`;
      if (exclude?.(childRel)) continue;
      const self = included || include === undefined || include(childRel);
      const e: PlannedEntry = { path: Buffer.concat([dirPath, SLASH, node.name]), rel: childRel, node, parent };
      if (node.type === 'dir') {
        const index = plan.dirs.push(e) - 1;
        const before = count();
        await walk(node.subtree!, e.path, childRel, index, self);
        // Without a matching include a directory exists only to hold matching descendants.
        if (!self && count() === before) plan.dirs.pop();
      } else if (self) {
        addLeaf(e);
      }
    }
  };

  const resolved = await resolvePath(ctx.repo, rootTreeId, ctx.opts.subPath ?? '');
  if (resolved.treeId !== undefined) {
    await walk(resolved.treeId, ctx.target, '', -1, false);
  } else {
    // A single non-directory node: restore it under its own name inside the target.
    const node = resolved.node!;
    const rel = displayName(node.name);
    if (!exclude?.(rel) && (include === undefined || include(rel))) {
      addLeaf({ path: Buffer.concat([ctx.target, SLASH, node.name]), rel, node, parent: -1 });
    }
  }
  return plan;
}

/** Looks up every blob's raw length so each piece knows its offset; fails before writing if a blob is unknown. */
function planPieces(ctx: RestoreContext, path: Buffer, content: string[]): Piece[] {
  const pieces: Piece[] = [];
  let offset = 0;
  for (const hex of content) {
    const blob = idFromHex(hex);
    const loc = ctx.repo.index.lookup('data', blob);
    if (loc === undefined) {
      const shown = displayName(path);
      throw new NotFoundError(`data blob ${hex} of ${shown} is not in the index`, { blob: hex, path: shown });
    }
    pieces.push({ offset, length: loc.rawLength, blob });
    offset += loc.rawLength;
  }
  return pieces;
}
