// The size of a snapshot's tree graph as readers would expand it: how many entries (paths) and how deep.
// Subtrees may be shared, so a graph of 41 trees can expand to 2^40 paths; sizes are memoised per tree id,
// so measuring costs one load of each distinct tree and memory for one number pair per tree, on any input.
// Iterative (an explicit stack), so 10,000 levels of nesting cost no call stack.

import type { Tree } from './tree.js';
import { MAX_DEPTH, MAX_EXPANSION } from './validate.js';

export interface GraphSize {
  /** Entries (files, directories, links, …) below this tree, counting each path through a shared subtree; saturates at CAP. */
  entries: number;
  /** Levels of nesting below and including this tree: 0 for an empty tree, 1 for a tree without directories. */
  depth: number;
}

/** The children of a tree as the measurer needs them: its node count and the subtree id of each directory node. */
export interface TreeShape {
  count: number;
  subtrees: string[];
}

export type ShapeOf = (treeId: string) => Promise<TreeShape | undefined>;

const CAP = 2 ** 60;

export function shapeOfTree(tree: Tree): TreeShape {
  const subtrees: string[] = [];
  for (const n of tree.nodes) if (n.type === 'dir' && n.subtree !== undefined) subtrees.push(n.subtree);
  return { count: tree.nodes.length, subtrees };
}

/**
 * A tree's shape read straight from its plaintext, without building nodes: measuring a snapshot before
 * reading it then costs one JSON parse per tree instead of a second full decode (names to bytes, ids
 * checked). Lenient on purpose: a node the full decode would reject still counts (the bound only grows),
 * and a plaintext that is not a tree counts as empty (the reader reports it when it gets there).
 */
export function shapeOfPlain(plain: Buffer): TreeShape | undefined {
  let nodes: unknown;
  try {
    nodes = (JSON.parse(plain.toString('utf8')) as { nodes?: unknown } | null)?.nodes;
  } catch {
    return undefined;
  }
  if (!Array.isArray(nodes)) return undefined;
  const subtrees: string[] = [];
  for (const n of nodes as { type?: unknown; subtree?: unknown }[]) {
    if (n !== null && typeof n === 'object' && n.type === 'dir' && typeof n.subtree === 'string')
      subtrees.push(n.subtree);
  }
  return { count: nodes.length, subtrees };
}

/** A shape source from a loader of tree plaintexts; trees that fail to load count as empty. */
export function shapesFromPlain(load: (id: string) => Promise<Buffer>): ShapeOf {
  return async (id) => {
    try {
      return shapeOfPlain(await load(id));
    } catch {
      return undefined;
    }
  };
}

/** A shape source from a tree loader; trees that fail to load count as empty (the reader reports them when it gets there). */
export function shapesFromLoader(load: (id: string) => Promise<Tree>): ShapeOf {
  return async (id) => {
    try {
      return shapeOfTree(await load(id));
    } catch {
      return undefined;
    }
  };
}

interface Frame {
  id: string;
  subtrees: string[];
  next: number;
  entries: number;
  depth: number;
}

/** Measures tree graphs, remembering every tree it has measured (share one across the snapshots of a command). */
export class GraphMeasurer {
  private readonly sizes = new Map<string, GraphSize>();

  constructor(private readonly shapeOf: ShapeOf) {}

  async measure(rootId: string): Promise<GraphSize> {
    const known = this.sizes.get(rootId);
    if (known !== undefined) return known;
    const open = new Set<string>(); // trees on the stack: ids are hashes, so a cycle means a forged index; it counts as empty
    const stack: Frame[] = [];
    const push = async (id: string) => {
      const shape = await this.shapeOf(id);
      open.add(id);
      stack.push({
        id,
        subtrees: shape?.subtrees ?? [],
        next: 0,
        entries: shape?.count ?? 0,
        depth: shape === undefined || shape.count === 0 ? 0 : 1,
      });
    };
    const addChild = (f: Frame, s: GraphSize) => {
      f.entries = Math.min(CAP, f.entries + s.entries);
      f.depth = Math.max(f.depth, 1 + s.depth);
    };
    await push(rootId);
    for (;;) {
      const f = stack[stack.length - 1];
      if (f.next < f.subtrees.length) {
        const sub = f.subtrees[f.next++];
        const s = this.sizes.get(sub);
        if (s !== undefined) addChild(f, s);
        else if (!open.has(sub)) await push(sub);
        continue;
      }
      stack.pop();
      open.delete(f.id);
      const size = { entries: f.entries, depth: f.depth };
      this.sizes.set(f.id, size);
      if (stack.length === 0) return size;
      addChild(stack[stack.length - 1], size);
    }
  }
}

/** Why a snapshot of this size must not be expanded, or undefined when it is within the bounds (spec §9.1). */
export function expansionRefusal(size: GraphSize): string | undefined {
  if (size.entries > MAX_EXPANSION) {
    const shown = size.entries >= CAP ? `more than 2^60` : String(size.entries);
    return `expands to ${shown} entries through shared subtrees, beyond the bound of ${MAX_EXPANSION}`;
  }
  return undefined;
}

/** Whether a directory at `depth` levels below the root (its own name counted) is beyond MAX_DEPTH. */
export function tooDeep(depth: number): boolean {
  return depth > MAX_DEPTH;
}
