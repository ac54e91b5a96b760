// Planning a prune: which packs are unused (delete), which are partly used (repack), what it frees.
// Pure reading; the plan is serializable, so --dry-run is simply "plan and print".

import { RepoError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';
import { walkTree } from '../tree/walk.js';

export type MaxUnused = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number } | { kind: 'unlimited' };

export interface PruneOptions {
  /** Unused space allowed to remain after pruning (default 5%). */
  maxUnused?: MaxUnused;
  /** Upper bound on bytes of packs to repack in one run. */
  maxRepackSize?: number;
  /** Repack packs smaller than this share of the target pack size (default 1/8), when there are several. */
  smallPackShare?: number;
}

export interface PrunePlan {
  deletePacks: string[];
  repackPacks: string[];
  unreferencedPacks: string[];
  stats: {
    snapshots: number;
    blobsUsed: number;
    blobsUnused: number;
    bytesUsed: number;
    bytesUnused: number;
    bytesTotal: number;
    bytesToDelete: number;
    bytesToRepack: number;
    bytesUnusedInRepack: number;
    bytesFreed: number;
    bytesUnusedAfter: number;
  };
}

interface PackUse {
  pack: string;
  size: number;
  used: number; // bytes of blobs this pack must keep
  unused: number;
  usedBlobs: number;
  unusedBlobs: number;
}

export function parseMaxUnused(s: string): MaxUnused {
  if (s === 'unlimited') return { kind: 'unlimited' };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct) return { kind: 'percent', value: Number(pct[1]) };
  const size = /^(\d+(?:\.\d+)?)([KMGT]?)i?B?$/i.exec(s);
  if (size) return { kind: 'bytes', value: Math.floor(Number(size[1]) * 1024 ** ' KMGT'.indexOf(size[2].toUpperCase() || ' ')) };
  throw new RepoError('INVALID_ARGUMENT', `invalid --max-unused "${s}": use a percentage like 5%, a size like 100M, or unlimited`);
}

/** Every blob reachable from any snapshot; refuses (throws) if any tree cannot be read, because deleting then could destroy data. */
export async function usedBlobs(repo: Repository): Promise<{ used: Set<string>; snapshots: number }> {
  const used = new Set<string>();
  const seen = new Set<string>();
  const snapshots = await listSnapshots(repo);
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

  // Walk packs so that, of duplicate copies, the first (in a fully used pack, preferably) is the one kept.
  const uses = new Map<string, PackUse>();
  const entries = [...repo.index.entries()];
  for (const e of entries) {
    if (!uses.has(e.pack)) uses.set(e.pack, { pack: e.pack, size: sizes.get(e.pack) ?? 0, used: 0, unused: 0, usedBlobs: 0, unusedBlobs: 0 });
  }
  const satisfied = new Set<string>();
  for (const e of entries) {
    const key = `${e.type}:${idToHex(e.id)}`;
    const u = uses.get(e.pack)!;
    if (used.has(key) && !satisfied.has(key) && sizes.has(e.pack)) {
      satisfied.add(key);
      u.used += e.storedLength;
      u.usedBlobs++;
    } else {
      u.unused += e.storedLength;
      u.unusedBlobs++;
    }
  }
  for (const key of used) {
    if (!satisfied.has(key)) {
      throw new RepoError('INTEGRITY', `a snapshot needs ${key.replace(':', ' blob ')}, which no stored pack holds; prune refuses to run — use "repo check" and "repo repair"`);
    }
  }

  const deletePacks: string[] = [];
  const partial: PackUse[] = [];
  for (const u of uses.values()) {
    if (!sizes.has(u.pack)) continue; // missing pack: nothing to delete; check reports it
    if (u.usedBlobs === 0) deletePacks.push(u.pack);
    else if (u.unusedBlobs > 0) partial.push(u);
  }
  const unreferencedPacks = [...sizes.keys()].filter((p) => !uses.has(p));
  const bytesTotal = [...sizes.values()].reduce((a, b) => a + b, 0);
  const bytesUsed = [...uses.values()].reduce((a, u) => a + u.used, 0);
  const bytesToDelete = deletePacks.reduce((a, p) => a + sizes.get(p)!, 0) + unreferencedPacks.reduce((a, p) => a + sizes.get(p)!, 0);

  // Repack the most wasteful packs first, until what stays unused is within the limit.
  const maxUnused = opts.maxUnused ?? { kind: 'percent', value: 5 };
  const limit = maxUnused.kind === 'unlimited' ? Infinity : maxUnused.kind === 'bytes' ? maxUnused.value : (bytesUsed * maxUnused.value) / (100 - Math.min(maxUnused.value, 99.9));
  let unusedLeft = partial.reduce((a, u) => a + u.unused, 0);
  const repack: PackUse[] = [];
  let repackBytes = 0;
  const budget = opts.maxRepackSize ?? Infinity;
  for (const u of [...partial].sort((a, b) => b.unused / b.size - a.unused / a.size)) {
    if (unusedLeft <= limit) break;
    if (repackBytes + u.size > budget) continue;
    repack.push(u);
    repackBytes += u.size;
    unusedLeft -= u.unused;
  }
  // Small packs (e.g. from many tiny backups) are merged when there are at least two of them.
  const small = [...uses.values()].filter((u) => sizes.has(u.pack) && u.usedBlobs > 0 && !repack.includes(u) && u.size < repo.config.pack_size * (opts.smallPackShare ?? 1 / 8));
  if (small.length >= 2) {
    for (const u of small) {
      if (repackBytes + u.size > budget) break;
      repack.push(u);
      repackBytes += u.size;
      unusedLeft -= u.unused;
    }
  }
  const bytesUnusedInRepack = repack.reduce((a, u) => a + u.unused, 0);
  return {
    deletePacks: deletePacks.sort(),
    repackPacks: repack.map((u) => u.pack).sort(),
    unreferencedPacks: unreferencedPacks.sort(),
    stats: {
      snapshots,
      blobsUsed: satisfied.size,
      blobsUnused: [...uses.values()].reduce((a, u) => a + u.unusedBlobs, 0),
      bytesUsed,
      bytesUnused: bytesTotal - bytesUsed,
      bytesTotal,
      bytesToDelete,
      bytesToRepack: repackBytes,
      bytesUnusedInRepack,
      bytesFreed: bytesToDelete + bytesUnusedInRepack,
      bytesUnusedAfter: Math.max(0, bytesTotal - bytesUsed - bytesToDelete - bytesUnusedInRepack),
    },
  };
}
