// The part of `check` that holds every snapshot's tree graph to what the readers accept (tree/validate.ts):
// node faults (unsafe or duplicate names, type confusion, bad metadata and times), trees with more than
// MAX_TREE_ENTRIES nodes, and snapshots that nest deeper than MAX_DEPTH or expand beyond MAX_EXPANSION entries.
// Each tree is validated once, as check's walk loads it; sizes come from the shapes recorded then, memoised per
// tree id, so the bounds cost no second load and stay linear in the distinct trees on any input.

import { shortId } from '../core/id.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import type { Tree } from '../tree/tree.js';
import { describeFault, MAX_DEPTH, MAX_TREE_ENTRIES, treeFaults } from '../tree/validate.js';
import { expansionRefusal, GraphMeasurer, shapeOfTree, type TreeShape } from '../tree/validate-graph.js';
import type { CheckProblem } from './check-context.js';

export class GraphValidator {
  /** The snapshot whose walk is loading trees (set before each walk): faults are reported under it. */
  snapshot: StoredSnapshot | undefined;
  private readonly shapes = new Map<string, TreeShape>();

  constructor(private readonly problems: CheckProblem[]) {}

  /** Wraps a loader: every tree it loads is validated and its shape kept for `checkBounds`. */
  wrap(load: (id: string) => Promise<Tree>): (id: string) => Promise<Tree> {
    return async (id) => {
      const tree = await load(id);
      if (!this.shapes.has(id)) this.validate(tree, id);
      return tree;
    };
  }

  private validate(tree: Tree, id: string): void {
    const snapshot = this.snapshot?.id;
    const where = snapshot === undefined ? '' : `snapshot ${shortId(snapshot)} `;
    for (const f of treeFaults(tree, id)) {
      this.problems.push({ kind: 'node', message: `${where}${describeFault(f)}`, snapshot, tree: id });
    }
    if (tree.nodes.length > MAX_TREE_ENTRIES) {
      this.problems.push({
        kind: 'bounds',
        message: `${where}tree ${id} has ${tree.nodes.length} entries, beyond the bound of ${MAX_TREE_ENTRIES}`,
        snapshot,
        tree: id,
      });
    }
    this.shapes.set(id, shapeOfTree(tree));
  }

  /**
   * Reports snapshots beyond the depth and expansion bounds; returns their ids (walks that expand paths skip them).
   * Trees that did not load count as empty: check's walk has reported them.
   */
  async checkBounds(snapshots: StoredSnapshot[]): Promise<Set<string>> {
    const measurer = new GraphMeasurer(async (id) => this.shapes.get(id));
    const oversize = new Set<string>();
    for (const sn of snapshots) {
      const size = await measurer.measure(sn.tree);
      const refusal = expansionRefusal(size);
      if (refusal !== undefined) {
        oversize.add(sn.id);
        this.problems.push({
          kind: 'bounds',
          message: `snapshot ${shortId(sn.id)} tree ${sn.tree} ${refusal}; readers refuse it`,
          snapshot: sn.id,
          tree: sn.tree,
        });
      }
      if (size.depth > MAX_DEPTH) {
        this.problems.push({
          kind: 'bounds',
          message: `snapshot ${shortId(sn.id)} tree ${sn.tree} nests ${size.depth} levels deep, beyond the bound of ${MAX_DEPTH}; readers refuse what is deeper`,
          snapshot: sn.id,
          tree: sn.tree,
        });
      }
    }
    this.shapes.clear();
    return oversize;
  }
}
