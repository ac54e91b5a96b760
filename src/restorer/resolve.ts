// Loading trees for restore with the safety checks spec §9 demands, and resolving a path inside a snapshot.
// Must never hand out a node whose name could escape a directory ("", ".", "..", "/" or NUL in it).

import { FormatError, NotFoundError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import { lastComponentNames, treeLayout, type Snapshot } from '../snapshot/snapshot.js';
import { displayName, isSafeName, type TreeNode } from '../tree/node.js';
import { loadTree } from '../tree/tree-store.js';
import type { Tree } from '../tree/tree.js';

/** Throws FormatError unless every name is safe and unique: a duplicate name could turn a symlink into a directory path. */
export function checkTree(tree: Tree, treeId: string): void {
  const seen = new Set<string>();
  for (const n of tree.nodes) {
    if (!isSafeName(n.name)) {
      throw new FormatError(`tree ${treeId} has a node with an unsafe name ${JSON.stringify(displayName(n.name))}`, {
        tree: treeId,
      });
    }
    const key = n.name.toString('hex');
    if (seen.has(key)) {
      throw new FormatError(`tree ${treeId} has two nodes named ${JSON.stringify(displayName(n.name))}`, {
        tree: treeId,
      });
    }
    seen.add(key);
  }
}

/** Loads a tree and rejects it if any name is unsafe. */
export async function loadCheckedTree(repo: Pick<Repository, 'loadBlob'>, treeId: string): Promise<Tree> {
  const tree = await loadTree(repo, treeId);
  checkTree(tree, treeId);
  return tree;
}

/** Splits a '/'-separated path into its components, dropping empty and "." components. */
export function splitPath(path: Buffer | string): Buffer[] {
  const buf = typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === 0x2f) {
      const part = buf.subarray(start, i);
      if (part.length > 0 && !(part.length === 1 && part[0] === 0x2e)) out.push(Buffer.from(part));
      start = i + 1;
    }
  }
  return out;
}

export interface ResolvedPath {
  /** The node the path names; undefined for the root (an empty path). */
  node: TreeNode | undefined;
  /** The tree listing the node's children, when it is a directory (or the root). */
  treeId?: string;
}

/**
 * Where a path as it was backed up lives in a snapshot's stored tree (spec §10). In the full layout that
 * is the path itself. A last-component snapshot stores each of its `paths` under one root node named by
 * the last component, so a path under one of them (the longest that matches) has that prefix replaced by
 * the node's name: "/srv/data/me/docs" → "/me/docs" for paths ["/srv/data/me"]. Any other path, such as
 * "/me/docs" itself, is taken as it is.
 */
export function storedPath<P extends string | Buffer>(sn: Pick<Snapshot, 'paths' | 'tree_layout'>, path: P): P {
  if (treeLayout(sn) === 'full') return path;
  const want = splitPath(path);
  let best: { depth: number; name: string } | undefined;
  for (const [p, name] of lastComponentNames(sn.paths)) {
    const prefix = splitPath(p);
    const under = prefix.length <= want.length && prefix.every((c, i) => c.equals(want[i]));
    if (under && (best === undefined || prefix.length > best.depth)) best = { depth: prefix.length, name };
  }
  if (best === undefined) return path;
  const joined = Buffer.concat(
    [Buffer.from(best.name), ...want.slice(best.depth)].flatMap((b) => [Buffer.from('/'), b]),
  );
  return (typeof path === 'string' ? joined.toString('utf8') : joined) as P;
}

/** Resolves a path as it was backed up (see storedPath) in a snapshot; NotFoundError as resolvePath. */
export async function resolveSnapshotPath(
  repo: Pick<Repository, 'loadBlob'>,
  sn: Pick<Snapshot, 'paths' | 'tree_layout' | 'tree'>,
  path: string,
): Promise<ResolvedPath> {
  return resolvePath(repo, sn.tree, storedPath(sn, path));
}

/**
 * Resolves a path relative to a root tree as stored ("/srv/data/me/docs" in the full layout, spec §10).
 * NotFoundError if a component is missing or an intermediate component is not a directory.
 */
export async function resolvePath(
  repo: Pick<Repository, 'loadBlob'>,
  rootTreeId: string,
  path: Buffer | string,
): Promise<ResolvedPath> {
  const parts = splitPath(path);
  const shown = typeof path === 'string' ? path : displayName(path);
  let treeId = rootTreeId;
  let node: TreeNode | undefined;
  for (let i = 0; i < parts.length; i++) {
    const tree = await loadCheckedTree(repo, treeId);
    node = tree.nodes.find((n) => n.name.equals(parts[i]));
    if (node === undefined) {
      throw new NotFoundError(
        `path ${JSON.stringify(shown)} not found in snapshot: no ${JSON.stringify(displayName(parts[i]))}`,
        { path: shown, tree: treeId },
      );
    }
    if (i < parts.length - 1) {
      if (node.type !== 'dir' || node.subtree === undefined) {
        throw new NotFoundError(
          `path ${JSON.stringify(shown)} not found in snapshot: ${JSON.stringify(displayName(parts[i]))} is not a directory`,
          { path: shown, tree: treeId },
        );
      }
      treeId = node.subtree;
    }
  }
  if (node === undefined) return { node: undefined, treeId: rootTreeId };
  return node.type === 'dir' && node.subtree !== undefined ? { node, treeId: node.subtree } : { node };
}
