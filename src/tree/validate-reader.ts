// Trees as the listing readers (ls, find, diff, dump) see them: refused nodes left out, bad times defaulted,
// directories beyond MAX_DEPTH and trees that cannot be loaded reported and read as empty, snapshots beyond
// MAX_EXPANSION refused whole. Each fault is one line naming snapshot, tree and node; the walk goes on.

import { errorMessage } from '../core/errors.js';
import type { TreeNode } from './node.js';
import type { Tree } from './tree.js';
import { describeFault, MAX_DEPTH, readableNodes } from './validate.js';
import { expansionRefusal, GraphMeasurer, shapesFromLoader, type ShapeOf } from './validate-graph.js';

export class ValidatingReader {
  /** Lines reported so far; a command that reported any exits 1 at the end (README, exit codes). */
  faults = 0;
  /** The snapshot being read, for messages (set it before reading each snapshot). */
  snapshot = '';
  private readonly measurer: GraphMeasurer;

  constructor(
    private readonly load: (id: string) => Promise<Tree>,
    private readonly say: (line: string) => void,
    /** A cheaper way to measure (e.g. shapesFromPlain); default: the loader's decoded trees. */
    shapes?: ShapeOf,
  ) {
    this.measurer = new GraphMeasurer(shapes ?? shapesFromLoader(load));
  }

  /** Reports a fault the caller found itself (same form, same count). */
  refuse(line: string): void {
    this.report(line);
  }

  private report(line: string): void {
    this.faults++;
    this.say(`snapshot ${this.snapshot.slice(0, 8)} ${line}`);
  }

  /**
   * The readable nodes of the tree listing directory `path` ('/'-joined, '' for the root), or none when it is
   * more than MAX_DEPTH levels down or cannot be loaded. Names of returned nodes are safe and unique.
   */
  async nodes(treeId: string, path: string): Promise<TreeNode[]> {
    if (levels(path) >= MAX_DEPTH) {
      this.report(`${path}: tree ${treeId}: directory nested deeper than ${MAX_DEPTH} levels, its contents refused`);
      return [];
    }
    let tree: Tree;
    try {
      tree = await this.load(treeId);
    } catch (err) {
      this.report(`${path || '/'}: tree ${treeId}: ${errorMessage(err)}; its contents skipped`);
      return [];
    }
    return readableNodes(tree, treeId, (f) => this.report(`${path || '/'}: ${describeFault(f)}`));
  }

  /** `nodes` as a Tree, for code that takes a tree loader. */
  async tree(treeId: string, path: string): Promise<Tree> {
    return { nodes: await this.nodes(treeId, path) };
  }

  /** False (and one line) when the graph below `treeId` expands beyond MAX_EXPANSION entries. */
  async withinBounds(treeId: string): Promise<boolean> {
    const refusal = expansionRefusal(await this.measurer.measure(treeId));
    if (refusal === undefined) return true;
    this.report(`tree ${treeId} ${refusal}; refused`);
    return false;
  }
}

/** Components of a '/'-joined path whose names are known to hold no '/'. */
function levels(path: string): number {
  let n = 0;
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) n++;
  return path.startsWith('/') ? n : path === '' ? 0 : n + 1;
}
