// Change detection against a parent snapshot: which files can reuse their content list without being read,
// which directories can reuse their tree id, and which snapshot is the parent by default.

import { idFromHex } from '../core/id.js';
import {
  lastComponentNames,
  listSnapshots,
  treeLayout,
  type Snapshot,
  type StoredSnapshot,
} from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { loadTree } from '../tree/tree-store.js';
import { sameMetadata } from '../snapshot/diff.js';
import type { ArchiverRepo, BackupOptions } from './state.js';

export type GroupBy = ('host' | 'paths' | 'tags')[];

/** The newest snapshot of the same group (by default same host and same set of paths), or undefined. */
export async function findParent(
  repo: Pick<ArchiverRepo, 'loadUnpacked' | 'listNames'>,
  s: { hostname: string; paths: string[]; tags?: string[] },
  groupBy: GroupBy = ['host', 'paths'],
): Promise<StoredSnapshot | undefined> {
  const same = (a: string[], b: string[]) =>
    a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
  const all = await listSnapshots(repo);
  for (let i = all.length - 1; i >= 0; i--) {
    const sn = all[i];
    if (groupBy.includes('host') && sn.hostname !== s.hostname) continue;
    if (groupBy.includes('paths') && !same(sn.paths, s.paths)) continue;
    if (groupBy.includes('tags') && !same(sn.tags, s.tags ?? [])) continue;
    return sn;
  }
  return undefined;
}

/** Children of a parent directory by name, or an empty map when there is no usable parent tree. */
export async function parentChildren(
  repo: Pick<ArchiverRepo, 'loadBlob'>,
  subtree: string | undefined,
): Promise<Map<string, TreeNode>> {
  const m = new Map<string, TreeNode>();
  if (!subtree) return m;
  try {
    for (const n of (await loadTree(repo, subtree)).nodes) m.set(n.name.toString('hex'), n);
  } catch {
    // an unreadable parent tree only means this directory is read in full
  }
  return m;
}

/**
 * The parent snapshot's nodes for the paths of a new backup. A full-layout parent is followed name by name
 * from its root, as the new tree is built. A parent in the last-component layout (spec §10) holds each of
 * its paths under one root node; a node is found there by its real path, so the first backup in the full
 * layout still reuses every unchanged file and directory of such a parent.
 */
export class ParentTrees {
  private constructor(
    private readonly repo: Pick<ArchiverRepo, 'loadBlob'>,
    /** The parent's root entries by hex name. */
    readonly root: Map<string, TreeNode>,
    /** For a last-component parent: each of its paths → its root node's hex name. */
    private readonly lastComponent?: Map<string, string>,
  ) {}

  static async open(repo: Pick<ArchiverRepo, 'loadBlob'>, parent: Snapshot | undefined): Promise<ParentTrees> {
    const root = await parentChildren(repo, parent?.tree);
    if (parent === undefined || treeLayout(parent) === 'full') return new ParentTrees(repo, root);
    const names = new Map<string, string>();
    for (const [p, name] of lastComponentNames(parent.paths)) names.set(p, Buffer.from(name).toString('hex'));
    return new ParentTrees(repo, root, names);
  }

  /** Whether nodes are found by real path (`byPath`) rather than by name from the parent's root. */
  get byRealPath(): boolean {
    return this.lastComponent !== undefined;
  }

  /** A last-component parent's node for the entry at `abs`: under the longest of its paths that holds it. */
  async byPath(abs: string): Promise<TreeNode | undefined> {
    let best: string | undefined;
    for (const p of this.lastComponent?.keys() ?? []) {
      const under = abs === p || abs.startsWith(p.endsWith('/') ? p : p + '/');
      if (under && (best === undefined || p.length > best.length)) best = p;
    }
    if (best === undefined) return undefined;
    let node = this.root.get(this.lastComponent!.get(best)!);
    for (const c of abs
      .slice(best.length)
      .split('/')
      .filter((x) => x !== '')) {
      if (node?.type !== 'dir') return undefined;
      node = (await parentChildren(this.repo, node.subtree)).get(Buffer.from(c).toString('hex'));
    }
    return node;
  }
}

/** A file is unchanged when type, size, mtime, ctime, inode and device match and its blobs are all still stored. */
export function fileUnchanged(
  repo: Pick<ArchiverRepo, 'hasBlob'>,
  now: TreeNode,
  old: TreeNode | undefined,
  opts: BackupOptions,
): boolean {
  if (!old || opts.force || old.type !== 'file' || now.type !== 'file' || old.error !== undefined) return false;
  if (old.size !== now.size || old.mtime !== now.mtime) return false;
  if (!opts.ignoreCtime && old.ctime !== now.ctime) return false;
  if (!opts.ignoreInode && (old.inode !== now.inode || old.deviceId !== now.deviceId)) return false;
  return (old.content ?? []).every((c) => repo.hasBlob('data', idFromHex(c)));
}

/** Whether two node lists would serialize to the same tree (so the parent's tree id can be reused). */
export function sameNodes(a: TreeNode[], b: TreeNode[]): boolean {
  if (a.length !== b.length) return false;
  const byName = new Map(b.map((n) => [n.name.toString('latin1'), n]));
  for (const n of a) {
    const o = byName.get(n.name.toString('latin1'));
    if (!o || !sameNode(n, o)) return false;
  }
  return true;
}

// Field by field rather than by encoding both trees: this runs for every directory of an unchanged backup.
function sameNode(a: TreeNode, b: TreeNode): boolean {
  return sameMetadata(a, b) && a.subtree === b.subtree && sameList(a.content, b.content);
}

function sameList(a?: string[], b?: string[]): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a === b) return true;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
