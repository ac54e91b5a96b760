// Builds a snapshot's root from the planned targets (targets.ts): intermediate directories carry the real
// directories' metadata and list only what leads to a target; each target is backed up by the walker.
// Parent nodes come from ParentTrees, by name or, for a last-component parent, by real path.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { RepoError } from '../core/errors.js';
import type { TreeNode } from '../tree/node.js';
import { nodeFromStat } from './metadata.js';
import { parentChildren, type ParentTrees } from './parent.js';
import { describeFsError, warn, type WalkState } from './state.js';
import { isUnrolled, type TargetNode } from './targets.js';
import { backupEntry, excludedEntry, storeDirTree } from './walker.js';

export interface RootContext {
  state: WalkState;
  parent: ParentTrees;
  /** What lstat said about each target, read before anything was stored. */
  stats: Map<string, BigIntStats>;
}

/** The entries of a planned directory (the root when `dir` is the plan itself), backed up in name order. */
export async function plannedEntries(
  ctx: RootContext,
  dir: TargetNode,
  before: Map<string, TreeNode>,
): Promise<TreeNode[]> {
  if (isUnrolled(dir)) unroll(ctx.state, dir);
  const nodes: TreeNode[] = [];
  const names = [...dir.children.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const n of names) {
    const child = dir.children.get(n)!;
    const name = Buffer.from(n);
    const real = child.source ?? child.infoPath!;
    const old = ctx.parent.byRealPath ? await ctx.parent.byPath(real) : before.get(name.toString('hex'));
    if (child.source !== undefined && child.children.size === 0) {
      const st = ctx.stats.get(child.source) ?? statEntry(ctx.state, child.source);
      if (st === undefined) continue;
      if (excludedEntry(ctx.state, child.source, st)) continue; // restic applies excludes to the targets too
      const node = await backupEntry(ctx.state, Buffer.from(child.source), name, st, st.dev, old);
      if (node) nodes.push(node);
    } else {
      nodes.push(await plannedDir(ctx, name, child, old));
    }
  }
  return nodes;
}

/**
 * A directory on the way to targets (or a target holding other targets). Its metadata is the real
 * directory's, read with stat as restic does, so a symlink on the way stores the directory it points to.
 */
async function plannedDir(
  ctx: RootContext,
  name: Buffer,
  dir: TargetNode,
  old: TreeNode | undefined,
): Promise<TreeNode> {
  const { state } = ctx;
  const real = dir.source ?? dir.infoPath!;
  let st: BigIntStats;
  try {
    st = fs.statSync(real, { bigint: true });
  } catch (err) {
    throw new RepoError('SOURCE', `cannot back up ${real}: ${describeFsError(err)}`, { path: real }, { cause: err });
  }
  if (!st.isDirectory()) throw new RepoError('SOURCE', `cannot back up ${real}: not a directory`, { path: real });
  const node = nodeFromStat(name, st, 'dir', state.owners);
  const parentTree = old?.type === 'dir' ? old.subtree : undefined;
  const before = await parentChildren(state.repo, parentTree);
  const nodes = await plannedEntries(ctx, dir, before);
  await storeDirTree(state, node, nodes, parentTree, before, old !== undefined);
  return node;
}

/** A target that holds other targets: every entry of it is backed up, the nested targets as planned. */
function unroll(state: WalkState, dir: TargetNode): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir.source!);
  } catch (err) {
    warn(state, Buffer.from(dir.source!), `cannot read directory: ${describeFsError(err)}`, true);
    return;
  }
  for (const n of names) {
    const abs = path.join(dir.source!, n);
    const child = dir.children.get(n);
    if (child !== undefined) {
      child.source ??= abs;
      continue;
    }
    if (state.excluded(abs)) continue;
    dir.children.set(n, { source: abs, root: '', children: new Map() });
  }
}

function statEntry(state: WalkState, abs: string): BigIntStats | undefined {
  try {
    return fs.lstatSync(abs, { bigint: true });
  } catch (err) {
    warn(state, Buffer.from(abs), `cannot stat: ${describeFsError(err)}`, true);
    return undefined;
  }
}
