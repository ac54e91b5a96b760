// Turns a snapshot (or a path inside it) into a restore plan: directories, files with their (offset, blob) pieces, links, specials.
// Must never touch the target file system; all safety checks on names happen here, before anything is written.

import { NotFoundError } from '../core/errors.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { FileTable, type NumericMeta } from './file-table.js';
import { planTime } from './plan-time.js';
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
  node: TreeNode;
  /** Index of the parent in `dirs`, or -1 for the target directory itself. */
  parent: number;
}

/** A directory keeps only its metadata: a plan holds thousands, and a whole tree node is several times larger. */
export interface PlannedDir {
  path: Buffer;
  parent: number;
  meta: FileMeta;
}

export type PlannedOther = PlannedEntry; // symlinks, FIFOs, device nodes

/** Metadata of a planned file: numbers ready for the system calls, plus the exact mtime for 'if-changed'. */
export interface PlannedMeta extends NumericMeta {
  mtimeNs: bigint;
}

/** One regular file of the plan as objects, for the paths that handle files one at a time (see plannedFile). */
export interface PlannedFile {
  /** Absolute destination path as bytes. */
  path: Buffer;
  /** Index of the parent in `dirs`, or -1 for the target directory itself. */
  parent: number;
  meta: PlannedMeta;
  size: number;
  pieces: Piece[];
}

export interface PlannedHardlink extends PlannedEntry {
  /** Index in `files` of the first node with the same device and inode. */
  leader: number;
}

/**
 * Directories are in pre-order (every parent before its children), so the executor can create them in
 * order and apply their metadata in reverse order (children before parents). Regular files are in a
 * compact table (file-table.ts) whose pieces carry their blob's pack location, so a pack-ordered executor
 * can group them without asking the index again.
 */
export interface RestorePlan {
  /** The target directory as bytes; files with parent -1 are directly in it. */
  target: Buffer;
  dirs: PlannedDir[];
  files: FileTable;
  hardlinks: PlannedHardlink[];
  others: PlannedOther[];
  filesTotal: number;
  bytesTotal: number;
}

const SLASH = Buffer.from('/');

/** Absolute destination path of file i (built on demand: the table keeps only names). */
export function filePath(plan: RestorePlan, i: number): Buffer {
  const p = plan.files.parent(i);
  return Buffer.concat([p < 0 ? plan.target : plan.dirs[p].path, SLASH, plan.files.name(i)]);
}

/** File i with its pieces and metadata as objects. */
export function plannedFile(plan: RestorePlan, i: number): PlannedFile {
  const t = plan.files;
  const pieces: Piece[] = [];
  let offset = 0;
  for (let k = t.firstPiece(i), end = k + t.pieces(i); k < end; k++) {
    const length = t.rawLength(k);
    pieces.push({ offset, length, blob: Buffer.from(t.pieceId(k)) });
    offset += length;
  }
  return { path: filePath(plan, i), parent: t.parent(i), meta: { ...t.meta(i), mtimeNs: t.mtimeNs(i) }, size: t.size(i), pieces };
}

/** `sized` hears the number of files and content bytes planned so far, after each tree. */
export async function planRestore(ctx: RestoreContext, rootTreeId: string, sized?: (files: number, bytes: number) => void): Promise<RestorePlan> {
  const plan: RestorePlan = { target: ctx.target, dirs: [], files: new FileTable(), hardlinks: [], others: [], filesTotal: 0, bytesTotal: 0 };
  const leaders = new Map<string, number>();
  const { include, exclude } = ctx.opts;
  const filtered = include !== undefined || exclude !== undefined;
  const count = () => plan.dirs.length + plan.files.count + plan.hardlinks.length + plan.others.length;
  const pathOf = (parent: number, name: Buffer) => Buffer.concat([parent < 0 ? ctx.target : plan.dirs[parent].path, SLASH, name]);

  const locate = (id: Uint8Array) => ctx.repo.index.lookup('data', id);

  const addFile = (n: TreeNode, parent: number): void => {
    const key = n.links !== undefined && n.links > 1 && n.inode !== undefined && n.deviceId !== undefined ? `${n.deviceId}:${n.inode}` : undefined;
    const leader = key === undefined ? undefined : leaders.get(key);
    plan.filesTotal++;
    if (leader !== undefined) {
      plan.hardlinks.push({ path: pathOf(parent, n.name), node: n, parent, leader });
      return;
    }
    // Times are parsed here, once: a timestamp the format does not allow fails the plan, before anything is written.
    const mtime = planTime(n.mtime);
    const atime = n.atime === undefined ? mtime.seconds : planTime(n.atime).seconds;
    const i = plan.files.add({ parent, name: n.name, mode: n.mode, uid: n.uid, gid: n.gid, atime, mtime: mtime.seconds, mtimeS: mtime.s, mtimeNs: mtime.ns });
    if (key !== undefined) leaders.set(key, i);
    for (const hex of n.content ?? []) {
      if (!plan.files.addPiece(hex, locate)) {
        const shown = displayName(pathOf(parent, n.name));
        throw new NotFoundError(`data blob ${hex} of ${shown} is not in the index`, { blob: hex, path: shown });
      }
    }
    if (n.error !== undefined) ctx.warn(pathOf(parent, n.name), `file was damaged when the snapshot was repaired: ${n.error}`);
    plan.bytesTotal += plan.files.size(i);
  };

  const addLeaf = (n: TreeNode, parent: number): void => {
    switch (n.type) {
      case 'file':
        addFile(n, parent);
        return;
      case 'symlink':
        if (n.linktarget === undefined) ctx.warn(pathOf(parent, n.name), 'symlink without a target, skipped');
        else plan.others.push({ path: pathOf(parent, n.name), node: n, parent });
        return;
      case 'fifo':
      case 'blockdev':
      case 'chardev':
        plan.others.push({ path: pathOf(parent, n.name), node: n, parent });
        return;
      case 'socket':
        return; // a socket is only meaningful to the process that bound it; restic skips them too
      case 'dir':
        throw new Error('unreachable: directories are walked, not added as leaves');
    }
  };

  const walk = async (treeId: string, rel: string, parent: number, included: boolean): Promise<void> => {
    ctx.checkAborted();
    const tree = await loadCheckedTree(ctx.repo, treeId);
    sized?.(plan.files.count, plan.bytesTotal);
    for (const node of tree.nodes) {
      // The relative path is only needed (and only built) to match include and exclude patterns.
      const childRel = !filtered ? '' : rel === '' ? displayName(node.name) : `${rel}/${displayName(node.name)}`;
      if (exclude?.(childRel)) continue;
      const self = included || include === undefined || include(childRel);
      if (node.type === 'dir') {
        const meta: FileMeta = { mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime, atime: node.atime };
        const index = plan.dirs.push({ path: pathOf(parent, node.name), parent, meta }) - 1;
        const before = count();
        await walk(node.subtree!, childRel, index, self);
        // Without a matching include a directory exists only to hold matching descendants.
        if (!self && count() === before) plan.dirs.pop();
      } else if (self) {
        addLeaf(node, parent);
      }
    }
  };

  const resolved = await resolvePath(ctx.repo, rootTreeId, ctx.opts.subPath ?? '');
  if (resolved.treeId !== undefined) {
    await walk(resolved.treeId, '', -1, false);
  } else {
    // A single non-directory node: restore it under its own name inside the target.
    const node = resolved.node!;
    const rel = displayName(node.name);
    if (!exclude?.(rel) && (include === undefined || include(rel))) addLeaf(node, -1);
  }
  return plan;
}
