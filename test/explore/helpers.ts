// Test helpers for stats, diff, find and tag: hand-built trees and snapshots with known blobs and sizes.
// Only tests import this; it writes to the repository it is given and nowhere else.

import { idToHex } from '../../src/core/id.js';
import type { Repository } from '../../src/repository/repository.js';
import { loadSnapshot, saveSnapshot, type StoredSnapshot } from '../../src/snapshot/snapshot.js';
import type { NodeType, TreeNode } from '../../src/tree/node.js';
import { saveTree } from '../../src/tree/tree-store.js';

export const MTIME = '2021-06-07T08:09:10.123456789Z';

export { bytes } from '../restorer/helpers.js';

export async function blob(repo: Repository, data: Buffer): Promise<string> {
  return idToHex((await repo.saveBlob('data', data)).id);
}

export function node(name: string, type: NodeType, extra: Partial<TreeNode> = {}): TreeNode {
  return {
    name: Buffer.from(name),
    type,
    mode: type === 'dir' ? 0o755 : 0o644,
    mtime: MTIME,
    ctime: MTIME,
    uid: 1000,
    gid: 1000,
    ...extra,
  };
}

/** A file node whose content is the given blobs (sizes taken from the data). */
export async function file(
  repo: Repository,
  name: string,
  parts: Buffer[],
  extra: Partial<TreeNode> = {},
): Promise<TreeNode> {
  const content: string[] = [];
  for (const p of parts) content.push(await blob(repo, p));
  return node(name, 'file', { size: parts.reduce((n, p) => n + p.length, 0), content, ...extra });
}

/** A directory node; also returns the tree's id and encoded size. */
export async function dir(
  repo: Repository,
  name: string,
  children: TreeNode[],
  extra: Partial<TreeNode> = {},
): Promise<TreeNode & { treeSize: number }> {
  const t = await saveTree(repo, children);
  return { ...node(name, 'dir', { subtree: t.id, ...extra }), treeSize: t.size };
}

/** Stores a root tree and a snapshot of it (after flushing), returning the stored snapshot. */
export async function snapshot(
  repo: Repository,
  children: TreeNode[],
  time: string,
  extra: Record<string, unknown> = {},
): Promise<StoredSnapshot & { rootSize: number }> {
  const root = await saveTree(repo, children);
  await repo.flush();
  const id = await saveSnapshot(repo, {
    time,
    tree: root.id,
    paths: ['/src'],
    hostname: 'host',
    username: 'user',
    tags: [],
    program_version: 'test',
    ...extra,
  });
  return { ...(await loadSnapshot(repo, id)), rootSize: root.size };
}

/** Wraps a repository so that tree loads are counted (by id). */
export function countingRepo(repo: Repository): { repo: Pick<Repository, 'loadBlob' | 'index'>; loads: string[] } {
  const loads: string[] = [];
  return {
    loads,
    repo: {
      index: repo.index,
      loadBlob: (type, id) => {
        if (type === 'tree') loads.push(idToHex(id));
        return repo.loadBlob(type, id);
      },
    },
  };
}
