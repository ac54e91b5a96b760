// Saving and loading trees as blobs of type "tree" through the narrow part of the repository they need.
// Never touches packs or the index directly.

import { idFromHex, idToHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import type { TreeNode } from './node.js';
import { decodeTree, encodeTree, type Tree } from './tree.js';
import { shapesFromPlain, type ShapeOf } from './validate-graph.js';

export type TreeSaver = Pick<Repository, 'saveBlob'>;
export type TreeLoader = Pick<Repository, 'loadBlob'>;

export async function saveTree(
  repo: TreeSaver,
  nodes: TreeNode[],
): Promise<{ id: string; known: boolean; size: number }> {
  const bytes = encodeTree(nodes);
  const r = await repo.saveBlob('tree', bytes);
  return { id: idToHex(r.id), known: r.known, size: bytes.length };
}

/** Shapes (node count, subtree ids) of stored trees for GraphMeasurer, parsed without building nodes. */
export function storedTreeShapes(repo: TreeLoader): ShapeOf {
  return shapesFromPlain((id) => repo.loadBlob('tree', idFromHex(id)));
}

export async function loadTree(repo: TreeLoader, id: string): Promise<Tree> {
  return decodeTree(await repo.loadBlob('tree', idFromHex(id)), id);
}
