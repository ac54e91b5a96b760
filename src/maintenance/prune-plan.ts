// Planning a prune: gathers per-pack facts (what snapshots use, what the packs hold) and lets prune-decide.ts
// pick the packs to delete and repack. Pure reading; the plan is serializable, so --dry-run is "plan and print".

import { RepoError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { parseSize } from '../core/units.js';
import type { Repository } from '../repository/repository.js';
import { isDamagedFile, listSnapshots, REPAIR_SNAPSHOTS_HINT } from '../snapshot/snapshot.js';
import { REPAIR_INDEX_HINT } from '../repository/index-load.js';
import { loadTree } from '../tree/tree-store.js';
import { walkTree } from '../tree/walk.js';
import { supersededIndexFilesOf } from './index-rewrite.js';
import { decidePacks, type MaxUnused, type PackFacts } from './prune-decide.js';

export type { MaxUnused } from './prune-decide.js';

export interface PruneOptions {
  /** Unused space allowed to remain after pruning (default 5%). */
  maxUnused?: MaxUnused;
  /** Upper bound on bytes of packs to repack in one run. */
  maxRepackSize?: number;
  /** Packs smaller than this share of the target pack size (default 1/8) are merged when that makes fewer packs. */
  smallPackShare?: number;
}

export interface PrunePlan {
  deletePacks: string[];
  repackPacks: string[];
  unreferencedPacks: string[];
  /**
   * Index files that another present index file supersedes: an interrupted rewrite left them. Filled only
   * when no pack needs work; otherwise the index rewrite that the pack work does replaces them anyway.
   */
  supersededIndexFiles: string[];
  stats: {
    snapshots: number;
    blobsUsed: number;
    /** Blobs in stored, indexed packs that no snapshot needs (including extra copies of needed ones). */
    blobsUnused: number;
    bytesUsed: number;
    /**
     * Bytes no snapshot needs in indexed packs: the unused blobs of packs that keep needed ones, and whole
     * files of packs that keep none. The headers of packs that keep needed blobs are not unused.
     * bytesUnused + bytesUnreferenced = bytesToDelete + bytesUnusedInRepack + bytesUnusedAfter.
     */
    bytesUnused: number;
    /** Pack files that no index names. */
    bytesUnreferenced: number;
    bytesTotal: number;
    bytesToDelete: number;
    bytesToRepack: number;
    bytesUnusedInRepack: number;
    /** Unused space tolerated after pruning (from --max-unused); null for unlimited (the plan stays JSON). */
    bytesUnusedLimit: number | null;
    /** Expected: the repack writes new packs, so this is the pack files removed minus those written. */
    bytesFreed: number;
    /** Exactly what stays unused: the unused blobs of packs that are kept. */
    bytesUnusedAfter: number;
    /** Expected number of packs the repack writes. */
    packsToWrite: number;
  };
}

/** True when carrying out the plan would write or delete anything in the repository. */
export function pruneHasWork(plan: PrunePlan): boolean {
  return plan.deletePacks.length + plan.repackPacks.length + plan.unreferencedPacks.length + plan.supersededIndexFiles.length > 0;
}

export function parseMaxUnused(s: string): MaxUnused {
  if (s === 'unlimited') return { kind: 'unlimited' };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct) return { kind: 'percent', value: Number(pct[1]) };
  if (/^\s*[\d.]/.test(s)) return { kind: 'bytes', value: parseSize(s, '--max-unused (a percentage like 5%, a size, or unlimited)') };
  throw new RepoError('INVALID_ARGUMENT', `invalid --max-unused "${s}": use a percentage like 5%, a size like 100M, or unlimited`);
}

/** Every blob reachable from any snapshot; refuses (throws) if any tree cannot be read, because deleting then could destroy data. */
export async function usedBlobs(repo: Repository): Promise<{ used: Set<string>; snapshots: number }> {
  const used = new Set<string>();
  const seen = new Set<string>();
  if (repo.damagedIndexFiles.length > 0) {
    // A pack only the damaged file lists would look unreferenced and be deleted with the blobs snapshots need.
    throw new RepoError('INTEGRITY', `prune refuses to delete anything while index files are damaged (${repo.damagedIndexFiles.join(', ')}): ${REPAIR_INDEX_HINT}, then prune again`, { file: repo.damagedIndexFiles[0] });
  }
  let snapshots;
  try {
    snapshots = await listSnapshots(repo, { strict: true });
  } catch (err) {
    // The trees of a snapshot prune cannot read would look unused: deleting then could destroy what it names.
    if (isDamagedFile(err)) err.message = `prune refuses to delete anything: ${err.message}; if it cannot be recovered, ${REPAIR_SNAPSHOTS_HINT}, then prune again`;
    throw err;
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
          throw new RepoError('INTEGRITY', `snapshot ${sn.id.slice(0, 8)} references tree ${treeId} at ${path || '/'} that cannot be read (${(err as Error).message}); prune refuses to delete anything — run "repo check" and "repo repair" first`, { snapshot: sn.id, tree: treeId });
        },
      },
      { uniqueTrees: true, seen },
    );
  }
  return { used, snapshots: snapshots.length };
}

export async function planPrune(repo: Repository, opts: PruneOptions = {}): Promise<PrunePlan> {
  const { used, snapshots } = await usedBlobs(repo);
  const sizes = new Map<string, number>();
  for await (const f of repo.backend.list('data')) sizes.set(f.name, f.size);

  // Walk packs so that, of duplicate copies, the first one the index lists is the one kept. Packs the index names but
  // storage lacks are left out: they free nothing, and check reports them.
  const facts = new Map<string, PackFacts>();
  const satisfied = new Set<string>();
  for (const e of repo.index.entries()) {
    const size = sizes.get(e.pack);
    if (size === undefined) continue;
    let f = facts.get(e.pack);
    if (!f) facts.set(e.pack, (f = { pack: e.pack, type: e.type, size, used: 0, unused: 0, usedBlobs: 0, unusedBlobs: 0 }));
    const key = `${e.type}:${idToHex(e.id)}`;
    if (used.has(key) && !satisfied.has(key)) {
      satisfied.add(key);
      f.used += e.storedLength;
      f.usedBlobs++;
    } else {
      f.unused += e.storedLength;
      f.unusedBlobs++;
    }
  }
  for (const key of used) {
    if (!satisfied.has(key)) {
      throw new RepoError('INTEGRITY', `a snapshot needs ${key.replace(':', ' blob ')}, which no stored pack holds; prune refuses to run — use "repo check" and "repo repair"`);
    }
  }

  const packs = [...facts.values()];
  const decision = decidePacks(packs, {
    maxUnused: opts.maxUnused ?? { kind: 'percent', value: 5 },
    maxRepackSize: opts.maxRepackSize ?? Infinity,
    packSize: repo.config.pack_size,
    smallPackShare: opts.smallPackShare ?? 1 / 8,
  });
  const unreferencedPacks = [...sizes.keys()].filter((p) => !facts.has(p)).sort();
  const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0);
  const repackSet = new Set(decision.repackPacks);
  const kept = packs.filter((f) => f.usedBlobs > 0 && !repackSet.has(f.pack));
  const bytesUnreferenced = sum(unreferencedPacks.map((p) => sizes.get(p)!));
  const bytesToDelete = sum(decision.deletePacks.map((p) => sizes.get(p)!)) + bytesUnreferenced;
  const bytesToRepack = sum(decision.repackPacks.map((p) => sizes.get(p)!));
  const bytesUnusedInRepack = sum(packs.filter((f) => repackSet.has(f.pack)).map((f) => f.unused));
  const bytesUsed = sum(packs.map((f) => f.used));
  // Only worth a look when no pack needs work: a rewrite for pack work replaces every index file anyway.
  const packWork = decision.deletePacks.length + decision.repackPacks.length + unreferencedPacks.length > 0;
  const supersededIndexFiles = packWork ? [] : await supersededIndexFilesOf(repo);
  return {
    deletePacks: decision.deletePacks,
    repackPacks: decision.repackPacks,
    unreferencedPacks,
    supersededIndexFiles,
    stats: {
      snapshots,
      blobsUsed: satisfied.size,
      blobsUnused: sum(packs.map((f) => f.unusedBlobs)),
      bytesUsed,
      bytesUnused: sum(packs.map((f) => (f.usedBlobs === 0 ? f.size : f.unused))),
      bytesUnreferenced,
      bytesTotal: sum(sizes.values()),
      bytesToDelete,
      bytesToRepack,
      bytesUnusedInRepack,
      bytesUnusedLimit: Number.isFinite(decision.unusedLimit) ? Math.floor(decision.unusedLimit) : null,
      bytesFreed: bytesToDelete + bytesToRepack - decision.bytesToWrite,
      bytesUnusedAfter: sum(kept.map((f) => f.unused)),
      packsToWrite: decision.packsToWrite,
    },
  };
}
