// `recover`: a snapshot holding every tree that neither a snapshot nor another tree references, as restic's
// recover builds it. Never removes anything; a tree that cannot be loaded is reported and skipped.

import os from 'node:os';
import { PROGRAM_VERSION } from '../archiver/index.js';
import { errorMessage } from '../core/errors.js';
import { idToHex, shortId } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { FULL_LAYOUT, listSnapshots, saveSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { nsToRfc3339, toLocalRfc3339 } from '../tree/time.js';
import { loadTree, saveTree } from '../tree/tree-store.js';

/** restic's recovered snapshot: path "/recover", tag "recovered", the machine's host name. */
export const RECOVER_PATH = '/recover';
export const RECOVER_TAG = 'recovered';

export interface RecoverOptions {
  /** Find the roots but write nothing. */
  dryRun?: boolean;
  /** Told about each tree that could not be loaded. */
  onTreeError?: (tree: string, message: string) => void;
  /** The snapshot's time (default now) and host (default os.hostname()). */
  now?: Date;
  host?: string;
}

export interface RecoverResult {
  /** Tree blobs in the index. */
  trees: number;
  /** Trees no snapshot and no other tree references, sorted. */
  roots: string[];
  /** The new snapshot (absent when there were no roots, or on a dry run). */
  snapshot?: string;
}

/**
 * Marks every tree a loaded tree names as a subtree and every snapshot's root; the trees left unmarked are the
 * roots of lost snapshots (or of partial backups). One node per root, named by its short id, goes into a new
 * root tree, which a new snapshot names.
 */
export async function recoverTrees(repo: Repository, opts: RecoverOptions = {}): Promise<RecoverResult> {
  const referenced = new Map<string, boolean>();
  for (const e of repo.index.entries()) if (e.type === 'tree') referenced.set(idToHex(e.id), false);
  for (const id of [...referenced.keys()]) {
    let nodes: TreeNode[];
    try {
      nodes = (await loadTree(repo, id)).nodes;
    } catch (err) {
      opts.onTreeError?.(id, errorMessage(err));
      continue;
    }
    for (const n of nodes) if (n.type === 'dir' && n.subtree !== undefined) referenced.set(n.subtree, true);
  }
  for (const sn of await listSnapshots(repo, { strict: true })) referenced.set(sn.tree, true);
  const roots = [...referenced].filter(([, seen]) => !seen).map(([id]) => id);
  roots.sort();
  const result: RecoverResult = { trees: referenced.size, roots };
  if (roots.length === 0 || opts.dryRun) return result;

  const now = opts.now ?? new Date();
  const ns = BigInt(now.getTime()) * 1_000_000n;
  const time = nsToRfc3339(ns);
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const nodes: TreeNode[] = roots.map((id) => ({
    name: Buffer.from(shortId(id)),
    type: 'dir',
    mode: 0o755,
    mtime: time,
    ctime: time,
    uid,
    gid,
    subtree: id,
  }));
  const tree = await saveTree(repo, nodes);
  await repo.flush();
  const info = os.userInfo();
  const sn: Snapshot = {
    time: toLocalRfc3339(ns),
    tree: tree.id,
    paths: [RECOVER_PATH],
    tree_layout: FULL_LAYOUT,
    hostname: opts.host ?? os.hostname(),
    username: info.username,
    uid: info.uid,
    gid: info.gid,
    tags: [RECOVER_TAG],
    program_version: PROGRAM_VERSION,
  };
  result.snapshot = await saveSnapshot(repo, sn);
  return result;
}
