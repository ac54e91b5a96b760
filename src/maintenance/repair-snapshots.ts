// `repair snapshots`: rewrites snapshots whose trees reference lost blobs, keeping everything still readable.
// A file is cut at its first lost blob and marked; an unreadable directory becomes empty and marked.
// Originals are removed only with `forget`, after the repaired snapshot is stored.

import { isRepoError, errorMessage } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { loadSnapshot, saveSnapshot, type StoredSnapshot } from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { loadTree, saveTree } from '../tree/tree-store.js';

export interface RepairSnapshotsOptions {
  /** Snapshot ids to consider; all when empty. */
  snapshots?: string[];
  forget?: boolean;
  dryRun?: boolean;
}

export interface RepairedSnapshot {
  original: string;
  repaired?: string; // absent on a dry run
  changes: { path: string; change: string }[];
}

export interface RepairSnapshotsReport {
  repaired: RepairedSnapshot[];
  unchanged: string[];
  forgotten: string[];
  /** Snapshot files that are themselves damaged: nothing in them can be saved; `forget` removes them. */
  unreadable: { id: string; message: string }[];
}

export async function repairSnapshots(
  repo: Repository,
  opts: RepairSnapshotsOptions = {},
): Promise<RepairSnapshotsReport> {
  const packs = new Set(await repo.listNames('data'));
  const available = (type: 'data' | 'tree', hex: string) =>
    repo.index.lookupAll(type, idFromHex(hex)).some((l) => packs.has(l.pack));
  const memo = new Map<string, { id: string; changes: { path: string; change: string }[] } | null>();
  const report: RepairSnapshotsReport = { repaired: [], unchanged: [], forgotten: [], unreadable: [] };
  const ids = opts.snapshots?.length ? opts.snapshots : await repo.listNames('snapshots');

  // Returns the id of the repaired tree (equal to treeId when nothing changed), or null if the tree is lost.
  const repairTree = async (
    treeId: string,
    path: string,
  ): Promise<{ id: string; changes: { path: string; change: string }[] } | null> => {
    const key = `${treeId}\0${path}`;
    if (memo.has(key)) return memo.get(key)!;
    let nodes: TreeNode[];
    try {
      if (!available('tree', treeId)) throw new Error('missing');
      nodes = (await loadTree(repo, treeId)).nodes;
    } catch {
      memo.set(key, null);
      return null;
    }
    const changes: { path: string; change: string }[] = [];
    const out: TreeNode[] = [];
    for (const n of nodes) {
      const p = `${path}/${n.name.toString('utf8')}`;
      if (n.type === 'file' && n.content) {
        const lost = n.content.findIndex((c) => !available('data', c));
        if (lost >= 0) {
          const kept = n.content.slice(0, lost);
          const size = kept.reduce((s, c) => s + (repo.index.lookup('data', idFromHex(c))?.rawLength ?? 0), 0);
          out.push({
            ...n,
            content: kept,
            size,
            error: `repaired: content lost from byte ${size} of ${n.size ?? '?'}`,
          });
          changes.push({ path: p, change: `truncated to ${size} bytes (content lost)` });
          continue;
        }
      }
      if (n.type === 'dir' && n.subtree) {
        const sub = await repairTree(n.subtree, p);
        if (sub === null) {
          const empty = opts.dryRun ? { id: n.subtree } : await saveTree(repo, []);
          out.push({ ...n, subtree: empty.id, error: 'repaired: directory contents lost' });
          changes.push({ path: p, change: 'directory contents lost, replaced by an empty directory' });
          continue;
        }
        changes.push(...sub.changes);
        out.push(sub.id === n.subtree ? n : { ...n, subtree: sub.id });
        continue;
      }
      out.push(n);
    }
    const result =
      changes.length === 0 || opts.dryRun ? { id: treeId, changes } : { id: (await saveTree(repo, out)).id, changes };
    memo.set(key, result);
    return result;
  };

  for (const id of ids) {
    let sn: StoredSnapshot;
    try {
      sn = await loadSnapshot(repo, id);
    } catch (err) {
      // Only a file proven damaged is given up; an I/O error (permissions, network) says nothing about its content.
      if (!isRepoError(err, 'INTEGRITY') && !isRepoError(err, 'FORMAT')) throw err;
      report.unreadable.push({ id, message: errorMessage(err) });
      if (opts.forget && !opts.dryRun) {
        await repo.backend.remove({ type: 'snapshots', name: id });
        report.forgotten.push(id);
      }
      continue;
    }
    const root = await repairTree(sn.tree, '');
    const changes = root ? root.changes : [{ path: '/', change: 'root tree lost, snapshot is empty' }];
    if (changes.length === 0) {
      report.unchanged.push(id);
      continue;
    }
    const entry: RepairedSnapshot = { original: id, changes };
    if (!opts.dryRun) {
      const tree = root ? root.id : (await saveTree(repo, [])).id;
      await repo.flush(); // new trees are stored and indexed before the snapshot that names them
      const { id: _old, ...rest } = sn;
      entry.repaired = await saveSnapshot(repo, {
        ...rest,
        tree,
        original: sn.original ?? id,
        tags: [...new Set([...sn.tags, 'repaired'])],
      });
      if (opts.forget) {
        await repo.backend.remove({ type: 'snapshots', name: id });
        report.forgotten.push(id);
      }
    }
    report.repaired.push(entry);
  }
  return report;
}
