// Differences between two snapshots (or two trees): added, removed, modified, type-changed and metadata-changed paths, with blob statistics.
// Must never load a subtree whose id is the same on both sides: equal ids mean equal content, and skipping them keeps big diffs fast.

import { idFromHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { displayName, type NodeType, type TreeNode } from '../tree/node.js';
import { loadTree } from '../tree/tree-store.js';
import type { Tree } from '../tree/tree.js';
import type { Snapshot } from './snapshot.js';

export type DiffRepo = Pick<Repository, 'loadBlob' | 'index'>;

/**
 * One changed path. `modifier` is restic's: "+" added, "-" removed, "M" content modified ("M?" when every other
 * attribute is equal: possible bit rot, or a backup with --ignore-inode/--ignore-ctime), "T" type changed
 * (may combine with "M"), "U" metadata only (reported only with `metadata: true`).
 */
export interface DiffChange {
  path: string;
  modifier: string;
  type: NodeType;
}

export interface DiffStat {
  files: number;
  dirs: number;
  others: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Raw (uncompressed) bytes of those blobs. */
  bytes: number;
}

export interface DiffStats {
  changedFiles: number;
  added: DiffStat;
  removed: DiffStat;
}

export interface DiffOptions {
  /** Report metadata-only changes ("U"). */
  metadata?: boolean;
  /** Called for each change in output order (depth first, names in byte order); awaited, so a slow consumer throttles the walk. */
  onChange?: (c: DiffChange) => void | Promise<void>;
  /** Keep every change in the result (default true; turn off for huge diffs streamed through onChange). */
  collect?: boolean;
  /** Loads the tree listing directory `path` of side a or b (default loadTree); cli/diff.ts passes one that leaves out unsafe nodes. */
  loadTree?: (treeId: string, path: string, side: 'a' | 'b') => Promise<Tree>;
}

export interface DiffResult {
  changes: DiffChange[];
  stats: DiffStats;
  /** Trees loaded from the repository (equal subtrees are never loaded). */
  treesLoaded: number;
}

const emptyStat = (): DiffStat => ({ files: 0, dirs: 0, others: 0, dataBlobs: 0, treeBlobs: 0, bytes: 0 });

function countNode(s: DiffStat, n: TreeNode): void {
  if (n.type === 'file') s.files++;
  else if (n.type === 'dir') s.dirs++;
  else s.others++;
}

function sameList(a: string[] | undefined, b: string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Every attribute except name, content and subtree (those are compared on their own). */
export function sameMetadata(a: TreeNode, b: TreeNode): boolean {
  const bufEq = (x?: Buffer, y?: Buffer) => (x === undefined ? y === undefined : y !== undefined && x.equals(y));
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.mtime === b.mtime &&
    a.atime === b.atime &&
    a.ctime === b.ctime &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.user === b.user &&
    a.group === b.group &&
    a.inode === b.inode &&
    a.deviceId === b.deviceId &&
    a.links === b.links &&
    a.size === b.size &&
    bufEq(a.linktarget, b.linktarget) &&
    a.rdev === b.rdev &&
    a.error === b.error
  );
}

/**
 * Compares two root trees. Blob statistics count blobs referenced by the compared (differing) directories of one side
 * and not the other; blobs inside skipped equal subtrees are not known, so a blob that a changed file shares with an
 * unchanged subtree elsewhere counts as added or removed (restic walks equal subtrees to exclude those).
 */
export async function diffTrees(
  repo: DiffRepo,
  treeA: string,
  treeB: string,
  opts: DiffOptions = {},
): Promise<DiffResult> {
  const collect = opts.collect !== false;
  const result: DiffResult = {
    changes: [],
    stats: { changedFiles: 0, added: emptyStat(), removed: emptyStat() },
    treesLoaded: 0,
  };
  // Blob keys ('d' or 't' + hex) referenced by the differing parts of each side.
  const before = new Set<string>();
  const after = new Set<string>();

  const load = async (id: string, path: string, side: 'a' | 'b'): Promise<Tree> => {
    result.treesLoaded++;
    return opts.loadTree ? opts.loadTree(id, path, side) : loadTree(repo, id);
  };
  const emit = async (path: string, modifier: string, node: TreeNode): Promise<void> => {
    const c: DiffChange = { path: node.type === 'dir' ? `${path}/` : path, modifier, type: node.type };
    if (collect) result.changes.push(c);
    await opts.onChange?.(c);
  };
  const addBlobs = (set: Set<string>, n: TreeNode): void => {
    for (const c of n.content ?? []) set.add('d' + c);
    if (n.subtree !== undefined) set.add('t' + n.subtree);
  };

  // A whole subtree that exists on one side only: every entry is added (or removed).
  const listDir = async (
    treeId: string,
    prefix: string,
    modifier: string,
    stat: DiffStat,
    set: Set<string>,
  ): Promise<void> => {
    for (const n of (await load(treeId, prefix, modifier === '-' ? 'a' : 'b')).nodes) {
      const path = `${prefix}/${displayName(n.name)}`;
      await emit(path, modifier, n);
      countNode(stat, n);
      addBlobs(set, n);
      if (n.type === 'dir' && n.subtree !== undefined) await listDir(n.subtree, path, modifier, stat, set);
    }
  };

  const pair = async (prefix: string, a: TreeNode, b: TreeNode): Promise<void> => {
    const path = `${prefix}/${displayName(b.name)}`;
    let mod = '';
    if (a.type !== b.type) mod += 'T';
    const contentDiffers = a.type === 'file' && b.type === 'file' && !sameList(a.content, b.content);
    if (contentDiffers) {
      mod += 'M';
      result.stats.changedFiles++;
      if (sameMetadata(a, b)) mod += '?';
    } else if (opts.metadata && mod === '' && !sameMetadata(a, b)) {
      mod += 'U';
    }
    if (mod !== '') await emit(path, mod, b);
    // As restic does, every entry of a compared directory counts on its side, unchanged ones included, so a blob
    // that moves from a changed file to an unchanged one is neither added nor removed.
    if (a.type !== 'dir' && b.type !== 'dir') {
      addBlobs(before, a);
      addBlobs(after, b);
      return;
    }
    if (a.type === 'dir' && b.type === 'dir') {
      if (a.subtree === b.subtree || a.subtree === undefined || b.subtree === undefined) return; // equal: skipped entirely
      before.add('t' + a.subtree);
      after.add('t' + b.subtree);
      await diffTree(a.subtree, b.subtree, path);
      return;
    }
    addBlobs(before, a);
    addBlobs(after, b);
    if (a.type === 'dir' && a.subtree !== undefined) await listDir(a.subtree, path, '-', result.stats.removed, before);
    if (b.type === 'dir' && b.subtree !== undefined) await listDir(b.subtree, path, '+', result.stats.added, after);
  };

  const diffTree = async (idA: string, idB: string, prefix: string): Promise<void> => {
    const [ta, tb] = [await load(idA, prefix, 'a'), await load(idB, prefix, 'b')];
    const A = [...ta.nodes].sort((x, y) => Buffer.compare(x.name, y.name));
    const B = [...tb.nodes].sort((x, y) => Buffer.compare(x.name, y.name));
    let i = 0;
    let j = 0;
    while (i < A.length || j < B.length) {
      const cmp = i >= A.length ? 1 : j >= B.length ? -1 : Buffer.compare(A[i].name, B[j].name);
      if (cmp === 0) {
        await pair(prefix, A[i++], B[j++]);
        continue;
      }
      const [n, mod, stat, set] =
        cmp < 0 ? [A[i++], '-', result.stats.removed, before] : [B[j++], '+', result.stats.added, after];
      const path = `${prefix}/${displayName(n.name)}`;
      await emit(path, mod, n);
      countNode(stat, n);
      addBlobs(set, n);
      if (n.type === 'dir' && n.subtree !== undefined) await listDir(n.subtree, path, mod, stat, set);
    }
  };

  if (treeA !== treeB) {
    before.add('t' + treeA);
    after.add('t' + treeB);
    await diffTree(treeA, treeB, '');
  }
  blobStats(repo, before, after, result.stats.removed);
  blobStats(repo, after, before, result.stats.added);
  return result;
}

/** Counts blobs in `side` but not in `other`, with their raw sizes from the index (a blob missing from the index counts with size 0). */
function blobStats(repo: DiffRepo, side: Set<string>, other: Set<string>, stat: DiffStat): void {
  for (const key of side) {
    if (other.has(key)) continue;
    const type = key[0] === 'd' ? 'data' : 'tree';
    if (type === 'data') stat.dataBlobs++;
    else stat.treeBlobs++;
    stat.bytes += repo.index.lookup(type, idFromHex(key.slice(1)))?.rawLength ?? 0;
  }
}

/** Compares snapshot `a` (before) with `b` (after). */
export function diffSnapshots(
  repo: DiffRepo,
  a: Pick<Snapshot, 'tree'>,
  b: Pick<Snapshot, 'tree'>,
  opts: DiffOptions = {},
): Promise<DiffResult> {
  return diffTrees(repo, a.tree, b.tree, opts);
}
