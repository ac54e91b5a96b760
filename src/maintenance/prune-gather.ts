// Gathering what a prune decides on: the blobs every snapshot needs (one walk over all trees), the pack files in
// storage and the loaded index. Reads only; refuses (throws) whenever a gap in what it read could make a needed
// blob look unused, because the decision would then delete it.

import { errorMessage, RepoError, withContext } from '../core/errors.js';
import type { IndexedBlob } from '../repository/blob.js';
import { REPAIR_INDEX_HINT } from '../repository/index-load.js';
import type { Repository } from '../repository/repository.js';
import { isDamagedFile, listSnapshots, REPAIR_SNAPSHOTS_HINT } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';
import { walkTree } from '../tree/walk.js';

/** Everything the pure prune decision needs (prune-plan.ts decidePrune); nothing in it refers back to storage. */
export interface PruneInputs {
  snapshots: number;
  /** `type:hex` of every blob that some snapshot needs. */
  usedBlobs: ReadonlySet<string>;
  /** Size of every pack file in storage, by name. */
  packFiles: ReadonlyMap<string, number>;
  /** The index in its order: of duplicate copies of a blob, the first stored one is the one kept. */
  index: { entries(): Iterable<IndexedBlob> };
  /** Index files that another present index file supersedes (left by an interrupted rewrite). */
  supersededIndexFiles: readonly string[];
  /** The repository's target pack size (config pack_size). */
  packSize: number;
}

export async function gatherPruneInputs(repo: Repository): Promise<PruneInputs> {
  const { used, snapshots } = await usedBlobs(repo);
  const packFiles = new Map<string, number>();
  for await (const f of repo.backend.list('data')) packFiles.set(f.name, f.size);
  return {
    snapshots,
    usedBlobs: used,
    packFiles,
    index: repo.index,
    supersededIndexFiles: repo.supersededIndexFiles,
    packSize: repo.config.pack_size,
  };
}

/** Every blob reachable from any snapshot; refuses (throws) if any tree cannot be read, because deleting then could destroy data. */
async function usedBlobs(repo: Repository): Promise<{ used: Set<string>; snapshots: number }> {
  const used = new Set<string>();
  const seen = new Set<string>();
  if (repo.damagedIndexFiles.length > 0) {
    // A pack only the damaged file lists would look unreferenced and be deleted with the blobs snapshots need.
    throw new RepoError(
      'INTEGRITY',
      `prune refuses to delete anything while index files are damaged (${repo.damagedIndexFiles.join(', ')}): ${REPAIR_INDEX_HINT}, then prune again`,
      { file: repo.damagedIndexFiles[0] },
    );
  }
  let snapshots;
  try {
    snapshots = await listSnapshots(repo, { strict: true });
  } catch (err) {
    // The trees of a snapshot prune cannot read would look unused: deleting then could destroy what it names.
    if (!isDamagedFile(err)) throw err;
    throw withPruneRefusal(err);
  }
  for (const sn of snapshots) {
    used.add('tree:' + sn.tree);
    await walkTree(
      (id) => loadTree(repo, id),
      sn.tree,
      {
        node: (n) => {
          for (const c of n.content ?? []) used.add('data:' + c);
          if (n.subtree) used.add('tree:' + n.subtree);
        },
        treeError: (treeId, path, err) => {
          throw new RepoError(
            'INTEGRITY',
            `snapshot ${sn.id.slice(0, 8)} references tree ${treeId} at ${path || '/'} that cannot be read (${errorMessage(err)}); prune refuses to delete anything — run "repo check" and "repo repair" first`,
            { snapshot: sn.id, tree: treeId },
            { cause: err },
          );
        },
      },
      { uniqueTrees: true, seen },
    );
  }
  return { used, snapshots: snapshots.length };
}

function withPruneRefusal(err: RepoError): RepoError {
  return withContext(
    err,
    {},
    {
      message: (m) =>
        `prune refuses to delete anything: ${m}; if it cannot be recovered, ${REPAIR_SNAPSHOTS_HINT}, then prune again`,
    },
  );
}
