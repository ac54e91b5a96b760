// `rewrite --exclude`: new snapshots without the files the exclude patterns match, as restic's rewrite makes them.
// Never removes an original before its replacement is stored, and never changes a snapshot nothing matched.

import { idToHex, shortId } from '../core/id.js';
import type { PathMatcher } from '../archiver/exclude.js';
import type { Repository } from '../repository/repository.js';
import { saveSnapshot, type Snapshot, type StoredSnapshot } from '../snapshot/snapshot.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { encodeTree } from '../tree/tree.js';
import { loadTree, saveTree } from '../tree/tree-store.js';

/** The tag restic adds to a rewritten snapshot when the original is kept. */
export const REWRITE_TAG = 'rewrite';

export interface RewriteOptions {
  /**
   * The matcher backup uses for --exclude and its kin, given each node's path in the snapshot's tree as `ls`
   * shows it ("/" + the names from the root), as restic's rewrite matches.
   */
  exclude: PathMatcher;
  /** Remove each original once its replacement is stored (then no `rewrite` tag is added, as restic does). */
  forget?: boolean;
  /** Compute the new trees' ids but store nothing. */
  dryRun?: boolean;
  /** Told about every excluded path. */
  onExcluded?: (snapshot: string, path: string) => void;
}

export interface RewrittenSnapshot {
  original: string;
  /** Absent on a dry run and when nothing matched. */
  rewritten?: string;
  /** Paths left out (directories count once; what was below them is not listed). */
  excluded: string[];
  removedOriginal: boolean;
}

interface TreeTotals {
  files: number;
  bytes: number;
}

/**
 * Rewrites each snapshot: every node whose path in the tree the matcher excludes is left out with all below
 * it. A changed snapshot is saved with the same time, host, paths, tags (plus `rewrite` unless `forget`) and
 * other members, `original` set to the id it was made from and the summary's totals recounted (restic's
 * TotalFilesProcessed/TotalBytesProcessed); with `forget` the original is removed afterwards.
 */
export async function rewriteSnapshots(
  repo: Repository,
  snapshots: StoredSnapshot[],
  opts: RewriteOptions,
): Promise<RewrittenSnapshot[]> {
  const results: RewrittenSnapshot[] = [];
  for (const sn of snapshots) {
    const excluded: string[] = [];
    const totals: TreeTotals = { files: 0, bytes: 0 };
    const rewriteTree = async (treeId: string, dir: string): Promise<string> => {
      const nodes = (await loadTree(repo, treeId)).nodes;
      const kept: TreeNode[] = [];
      let changed = false;
      for (const node of nodes) {
        const path = `${dir}/${displayName(node.name)}`;
        if (opts.exclude(path)) {
          excluded.push(path);
          opts.onExcluded?.(sn.id, path);
          changed = true;
          continue;
        }
        if (node.type === 'dir' && node.subtree !== undefined) {
          const sub = await rewriteTree(node.subtree, path);
          if (sub !== node.subtree) {
            kept.push({ ...node, subtree: sub });
            changed = true;
            continue;
          }
        } else if (node.type === 'file') {
          totals.files++;
          totals.bytes += node.size ?? 0;
        }
        kept.push(node);
      }
      if (!changed) return treeId;
      // A dry run names the new tree without storing it (nothing is sealed, nothing waits for a flush).
      if (opts.dryRun) return idToHex(repo.blobId(encodeTree(kept)));
      return (await saveTree(repo, kept)).id;
    };
    const tree = await rewriteTree(sn.tree, '');
    const result: RewrittenSnapshot = { original: sn.id, excluded, removedOriginal: false };
    results.push(result);
    if (tree === sn.tree || opts.dryRun) continue;
    await repo.flush(); // the new trees are stored and indexed before a snapshot names them
    const { id, ...rest } = sn;
    const next: Snapshot = { ...rest, tree, original: id };
    if (!opts.forget && !next.tags.includes(REWRITE_TAG)) next.tags = [...next.tags, REWRITE_TAG];
    if (next.summary !== undefined)
      next.summary = { ...next.summary, total_files_processed: totals.files, total_bytes_processed: totals.bytes };
    result.rewritten = await saveSnapshot(repo, next);
    if (opts.forget) {
      await repo.backend.remove({ type: 'snapshots', name: id });
      result.removedOriginal = true;
    }
  }
  return results;
}

/** One line per rewritten snapshot for people: what restic prints, with the short ids. */
export function describeRewrite(r: RewrittenSnapshot, dryRun: boolean): string {
  if (r.excluded.length === 0) return `snapshot ${shortId(r.original)}: not modified`;
  const what = `${r.excluded.length} path${r.excluded.length === 1 ? '' : 's'} excluded`;
  if (dryRun) return `snapshot ${shortId(r.original)}: would save new snapshot (${what})`;
  const gone = r.removedOriginal ? `, removed old snapshot ${shortId(r.original)}` : '';
  return `snapshot ${shortId(r.original)}: saved new snapshot ${shortId(r.rewritten ?? '')} (${what})${gone}`;
}
