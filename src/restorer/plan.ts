// Turns a snapshot (or a path inside it) into a restore plan: directories, files with their (offset, blob) pieces, links, specials.
// Must never touch the target file system; all safety checks on names happen here, before anything is written.
// Nodes that tree/validate.ts refuses are left out with a warning (counted in result.refused; nodes read with default times in result.defaulted), and so are
// directories beyond MAX_DEPTH, subtrees that cannot be loaded and files whose blobs are not indexed;
// a snapshot that expands beyond MAX_EXPANSION entries is refused whole before the plan takes any memory.

import { FormatError, errorMessage } from '../core/errors.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { loadTree, storedTreeShapes } from '../tree/tree-store.js';
import { describeFault, MAX_DEPTH, quoteName, readableNodes } from '../tree/validate.js';
import { expansionRefusal, GraphMeasurer, tooDeep } from '../tree/validate-graph.js';
import { FileTable, type NumericMeta } from './file-table.js';
import { planTime } from './plan-time.js';
import { resolvePath } from './resolve.js';
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
/** Linux's PATH_MAX and NAME_MAX: longer paths and names cannot be created through a path, so they are refused in the plan. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

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
  return {
    path: filePath(plan, i),
    parent: t.parent(i),
    meta: { ...t.meta(i), mtimeNs: t.mtimeNs(i) },
    size: t.size(i),
    pieces,
  };
}

/** `sized` hears the number of files and content bytes planned so far, after each tree; `snapshot` only names it in messages. */
export async function planRestore(
  ctx: RestoreContext,
  rootTreeId: string,
  sized?: (files: number, bytes: number) => void,
  snapshot = '',
): Promise<RestorePlan> {
  const plan: RestorePlan = {
    target: ctx.target,
    dirs: [],
    files: new FileTable(),
    hardlinks: [],
    others: [],
    filesTotal: 0,
    bytesTotal: 0,
  };
  const leaders = new Map<string, number>();
  const { include, exclude } = ctx.opts;
  const filtered = include !== undefined || exclude !== undefined;
  const count = () => plan.dirs.length + plan.files.count + plan.hardlinks.length + plan.others.length;
  const pathOf = (parent: number, name: Buffer) =>
    Buffer.concat([parent < 0 ? ctx.target : plan.dirs[parent].path, SLASH, name]);

  const locate = (id: Uint8Array) => ctx.repo.index.lookup('data', id);
  const inSnapshot = snapshot === '' ? '' : `snapshot ${snapshot.slice(0, 8)} `;
  const refuse = (path: Buffer, message: string, cause?: unknown): void => {
    ctx.result.refused = (ctx.result.refused ?? 0) + 1;
    ctx.warn(path, inSnapshot + message, cause);
  };
  const defaulted = (path: Buffer, message: string): void => {
    ctx.result.defaulted = (ctx.result.defaulted ?? 0) + 1;
    ctx.warn(path, inSnapshot + message);
  };

  const addFile = (n: TreeNode, parent: number, treeId: string): void => {
    const key =
      n.links !== undefined && n.links > 1 && n.inode !== undefined && n.deviceId !== undefined
        ? `${n.deviceId}:${n.inode}`
        : undefined;
    const leader = key === undefined ? undefined : leaders.get(key);
    plan.filesTotal++;
    if (leader !== undefined) {
      plan.hardlinks.push({ path: pathOf(parent, n.name), node: n, parent, leader });
      return;
    }
    // Times are parsed here, once; tree/validate.ts has already replaced any that do not parse.
    const mtime = planTime(n.mtime);
    const atime = n.atime === undefined ? mtime.seconds : planTime(n.atime).seconds;
    const i = plan.files.add({
      parent,
      name: n.name,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      atime,
      mtime: mtime.seconds,
      mtimeS: mtime.s,
      mtimeNs: mtime.ns,
    });
    if (key !== undefined) leaders.set(key, i);
    for (const hex of n.content ?? []) {
      if (!plan.files.addPiece(hex, locate)) {
        plan.files.removeLast();
        if (key !== undefined) leaders.delete(key);
        plan.filesTotal--;
        refuse(
          pathOf(parent, n.name),
          `tree ${treeId} node ${quoteName(n.name)}: data blob ${hex} is not in the index, file not restored`,
        );
        return;
      }
    }
    if (n.error !== undefined)
      ctx.warn(pathOf(parent, n.name), `file was damaged when the snapshot was repaired: ${n.error}`);
    plan.bytesTotal += plan.files.size(i);
  };

  const addLeaf = (n: TreeNode, parent: number, treeId: string): void => {
    switch (n.type) {
      case 'file':
        addFile(n, parent, treeId);
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

  /** `depth`: levels of the directory holding this tree below the restore root. */
  const walk = async (treeId: string, rel: string, parent: number, included: boolean, depth: number): Promise<void> => {
    ctx.checkAborted();
    const here = parent < 0 ? ctx.target : plan.dirs[parent].path;
    let nodes: TreeNode[];
    try {
      nodes = readableNodes(await loadTree(ctx.repo, treeId), treeId, (f) => {
        const message = describeFault(f);
        if (f.refused) refuse(pathOf(parent, f.name), message);
        else defaulted(pathOf(parent, f.name), message);
      });
    } catch (err) {
      if (parent < 0) throw err; // nothing of the snapshot can be restored
      refuse(here, `tree ${treeId}: ${errorMessage(err)}; the directory's contents are not restored`, err);
      return;
    }
    sized?.(plan.files.count, plan.bytesTotal);
    for (const node of nodes) {
      if (node.name.length > NAME_MAX || here.length + 1 + node.name.length >= PATH_MAX) {
        refuse(
          pathOf(parent, node.name),
          `tree ${treeId} node ${quoteName(node.name)}: name longer than ${NAME_MAX} bytes or path longer than ${PATH_MAX - 1}, not restored`,
        );
        continue;
      }
      // The relative path is only needed (and only built) to match include and exclude patterns.
      const childRel = !filtered ? '' : rel === '' ? displayName(node.name) : `${rel}/${displayName(node.name)}`;
      if (exclude?.(childRel)) continue;
      const self = included || include === undefined || include(childRel);
      if (node.type === 'dir') {
        if (tooDeep(depth + 1)) {
          refuse(
            pathOf(parent, node.name),
            `tree ${treeId} node ${quoteName(node.name)}: directory nested deeper than ${MAX_DEPTH} levels, refused`,
          );
          continue;
        }
        const meta: FileMeta = { mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime, atime: node.atime };
        const index = plan.dirs.push({ path: pathOf(parent, node.name), parent, meta }) - 1;
        const before = count();
        await walk(node.subtree!, childRel, index, self, depth + 1);
        // Without a matching include a directory exists only to hold matching descendants.
        if (!self && count() === before) plan.dirs.pop();
      } else if (self) {
        addLeaf(node, parent, treeId);
      }
    }
  };

  const resolved = await resolvePath(ctx.repo, rootTreeId, ctx.opts.subPath ?? '');
  if (resolved.treeId !== undefined) {
    // Measured first, one load per distinct tree: a few shared trees can expand to 2^40 paths.
    const size = await new GraphMeasurer(storedTreeShapes(ctx.repo)).measure(resolved.treeId);
    const refusal = expansionRefusal(size);
    if (refusal !== undefined) {
      throw new FormatError(`${inSnapshot}tree ${resolved.treeId} ${refusal}; refusing to restore it`, {
        snapshot,
        tree: resolved.treeId,
      });
    }
    await walk(resolved.treeId, '', -1, false, 0);
  } else {
    // A single non-directory node: restore it under its own name inside the target.
    const label = `holding ${displayName(Buffer.from(String(ctx.opts.subPath ?? '')))}`;
    const [node] = readableNodes({ nodes: [resolved.node!] }, label, (f) =>
      (f.refused ? refuse : defaulted)(pathOf(-1, f.name), describeFault(f)),
    );
    const rel = node === undefined ? '' : displayName(node.name);
    if (node !== undefined && !exclude?.(rel) && (include === undefined || include(rel))) addLeaf(node, -1, label);
  }
  return plan;
}
