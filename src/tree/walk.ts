// Depth-first walks over the tree graph of snapshots, for check, stats, find and prune.
// Reads trees only through the loader it is given; never writes.

import type { Tree } from './tree.js';
import type { TreeNode } from './node.js';

export type LoadTree = (id: string) => Promise<Tree>;

export interface WalkVisitor {
  /** Called for every node with its '/'-joined path below the root; return false to skip a directory's subtree. */
  node?(node: TreeNode, path: string, parentTree: string): boolean | void | Promise<boolean | void>;
  /** Called when a tree cannot be loaded; the walk goes on with the rest. */
  treeError?(treeId: string, path: string, err: unknown): void | Promise<void>;
}

export interface WalkOptions {
  /** Visit each distinct tree once (enough for reachability; paths then show only the first place a tree occurs). */
  uniqueTrees?: boolean;
  /** Trees already visited, shared across walks of several snapshots. */
  seen?: Set<string>;
}

export async function walkTree(
  load: LoadTree,
  rootId: string,
  visitor: WalkVisitor,
  opts: WalkOptions = {},
): Promise<void> {
  const seen = opts.seen ?? new Set<string>();
  const visit = async (treeId: string, path: string): Promise<void> => {
    if (opts.uniqueTrees) {
      if (seen.has(treeId)) return;
      seen.add(treeId);
    }
    let tree: Tree;
    try {
      tree = await load(treeId);
    } catch (err) {
      if (visitor.treeError) return visitor.treeError(treeId, path, err);
      throw err;
    }
    for (const n of tree.nodes) {
      const p = path === '' ? n.name.toString('utf8') : `${path}/${n.name.toString('utf8')}`;
      const descend = (await visitor.node?.(n, p, treeId)) !== false;
      if (descend && n.type === 'dir' && n.subtree) await visit(n.subtree, p);
    }
  };
  await visit(rootId, '');
}
