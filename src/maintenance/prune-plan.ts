// Planning a prune: gather (prune-gather.ts, reads only) → decidePrune (pure: per-pack facts, the pack rule of
// prune-decide.ts, the blobs to copy) → a serializable plan that carries everything execute needs, so --dry-run
// is "plan and print" and execute never walks the snapshots again. Must never decide from a partial picture.

import { RepoError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { parseSize } from '../core/units.js';
import type { BlobType } from '../repository/blob.js';
import type { Repository } from '../repository/repository.js';
import { gatherPruneInputs, type PruneInputs } from './prune-gather.js';
import { decidePacks, type MaxUnused, type PackFacts } from './prune-decide.js';
import { lockedFiles, repositoryLock } from './object-lock.js';

export type { MaxUnused } from './prune-decide.js';

export interface PruneOptions {
  /** Unused space allowed to remain after pruning (default 5%). */
  maxUnused?: MaxUnused;
  /** Upper bound on bytes of packs to repack in one run. */
  maxRepackSize?: number;
  /** Packs smaller than this share of the target pack size (default 1/8) are merged when that makes fewer packs. */
  smallPackShare?: number;
}

/** One blob a repack copies into a new pack: a snapshot needs it and no pack that stays holds a copy. */
export interface BlobToCopy {
  type: BlobType;
  id: string;
}

export interface PrunePlan {
  /** Packs no snapshot needs anything from. */
  deletePacks: string[];
  /** Packs whose needed blobs are copied into new packs before the packs are deleted. */
  repackPacks: string[];
  /** Stored packs that stay as they are. */
  keepPacks: string[];
  /** Per repacked pack (in repackPacks order), the blobs copied out of it; each blob is copied once. */
  copyBlobs: { pack: string; blobs: BlobToCopy[] }[];
  unreferencedPacks: string[];
  /**
   * Index files that another present index file supersedes: an interrupted rewrite left them. Filled only
   * when no pack needs work; otherwise the index rewrite that the pack work does replaces them anyway.
   */
  supersededIndexFiles: string[];
  /**
   * Packs prune would delete or repack but that are still under Object Lock: they stay as they are (their unused
   * blobs stay unused) until `until`, when a later prune can remove them. Sorted by pack name.
   */
  lockedPacks: { pack: string; until: string; bytes: number }[];
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
    /** Blobs the repack copies (the sum over copyBlobs). */
    blobsToCopy: number;
  };
}

/** True when carrying out the plan would write or delete anything in the repository. */
export function pruneHasWork(plan: PrunePlan): boolean {
  return (
    plan.deletePacks.length +
      plan.repackPacks.length +
      plan.unreferencedPacks.length +
      plan.supersededIndexFiles.length >
    0
  );
}

export function parseMaxUnused(s: string): MaxUnused {
  if (s === 'unlimited') return { kind: 'unlimited' };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct) return { kind: 'percent', value: Number(pct[1]) };
  if (/^\s*[\d.]/.test(s))
    return { kind: 'bytes', value: parseSize(s, '--max-unused (a percentage like 5%, a size, or unlimited)') };
  throw new RepoError(
    'INVALID_ARGUMENT',
    `invalid --max-unused "${s}": use a percentage like 5%, a size like 100M, or unlimited`,
  );
}

/**
 * Gathers and decides. With Object Lock, the retention of every pack the decision would delete or repack is read,
 * locked ones are set aside and the decision is made again (it may then pick other packs), until no pack it picks is
 * locked: prune never tries to delete a locked object.
 */
export async function planPrune(repo: Repository, opts: PruneOptions = {}): Promise<PrunePlan> {
  const inputs = await gatherPruneInputs(repo);
  if (repositoryLock(repo) === undefined) return decidePrune(inputs, opts);
  const locked = new Map<string, string>();
  const asked = new Set<string>();
  for (;;) {
    const plan = decidePrune({ ...inputs, lockedPacks: locked }, opts);
    const ask = [...plan.deletePacks, ...plan.repackPacks, ...plan.unreferencedPacks].filter((p) => !asked.has(p));
    if (ask.length === 0) return plan;
    for (const p of ask) asked.add(p);
    const found = await lockedFiles(
      repo,
      ask.map((name) => ({ type: 'data', name })),
    );
    if (found.size === 0) return plan;
    for (const [pack, r] of found) locked.set(pack, r.until.toISOString());
  }
}

/**
 * The whole prune decision, from gathered inputs alone (no I/O): per-pack facts, the packs to delete, repack
 * and keep (prune-decide.ts decides from the facts), the blobs to copy, and the statistics. Throws when a
 * snapshot needs a blob that no stored pack holds: pruning then would hide the damage that check reports.
 */
export function decidePrune(
  inputs: PruneInputs & { lockedPacks?: ReadonlyMap<string, string> },
  opts: PruneOptions = {},
): PrunePlan {
  const sizes = inputs.packFiles;
  const locked = inputs.lockedPacks ?? new Map<string, string>();
  // Walk packs so that, of duplicate copies, the first one the index lists is the one kept. Packs the index names but
  // storage lacks are left out: they free nothing, and check reports them.
  const facts = new Map<string, PackFacts>();
  const satisfied = new Set<string>();
  for (const e of inputs.index.entries()) {
    const size = sizes.get(e.pack);
    if (size === undefined) continue;
    let f = facts.get(e.pack);
    if (!f)
      facts.set(e.pack, (f = { pack: e.pack, type: e.type, size, used: 0, unused: 0, usedBlobs: 0, unusedBlobs: 0 }));
    const key = `${e.type}:${idToHex(e.id)}`;
    if (inputs.usedBlobs.has(key) && !satisfied.has(key)) {
      satisfied.add(key);
      f.used += e.storedLength;
      f.usedBlobs++;
    } else {
      f.unused += e.storedLength;
      f.unusedBlobs++;
    }
  }
  for (const key of inputs.usedBlobs) {
    if (!satisfied.has(key)) {
      throw new RepoError(
        'INTEGRITY',
        `a snapshot needs ${key.replace(':', ' blob ')}, which no stored pack holds; prune refuses to run — use "repo check" and "repo repair"`,
      );
    }
  }

  const packs = [...facts.values()];
  // A locked pack can be neither deleted nor repacked (repacking ends in deleting it): it is kept whatever it holds.
  const decision = decidePacks(
    packs.filter((f) => !locked.has(f.pack)),
    {
      maxUnused: opts.maxUnused ?? { kind: 'percent', value: 5 },
      maxRepackSize: opts.maxRepackSize ?? Infinity,
      packSize: inputs.packSize,
      smallPackShare: opts.smallPackShare ?? 1 / 8,
    },
  );
  const unreferencedPacks = [...sizes.keys()].filter((p) => !facts.has(p) && !locked.has(p)).sort();
  const lockedPacks = [...locked]
    .filter(([p]) => sizes.has(p))
    .map(([pack, until]) => ({ pack, until, bytes: sizes.get(pack)! }))
    .sort((a, b) => (a.pack < b.pack ? -1 : 1));
  const repackSet = new Set(decision.repackPacks);
  const deleteSet = new Set(decision.deletePacks);
  const kept = packs.filter((f) => !deleteSet.has(f.pack) && !repackSet.has(f.pack));
  const copyBlobs = blobsToCopy(inputs, repackSet, new Set(kept.map((f) => f.pack)));
  const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0);
  const bytesUnreferenced = sum(unreferencedPacks.map((p) => sizes.get(p)!));
  const bytesToDelete = sum(decision.deletePacks.map((p) => sizes.get(p)!)) + bytesUnreferenced;
  const bytesToRepack = sum(decision.repackPacks.map((p) => sizes.get(p)!));
  // A rewrite for pack work replaces every index file anyway; superseded ones are work of their own only without it.
  const packWork = decision.deletePacks.length + decision.repackPacks.length + unreferencedPacks.length > 0;
  return {
    deletePacks: decision.deletePacks,
    repackPacks: decision.repackPacks,
    keepPacks: kept.map((f) => f.pack).sort(),
    copyBlobs,
    unreferencedPacks,
    supersededIndexFiles: packWork ? [] : [...inputs.supersededIndexFiles].sort(),
    lockedPacks,
    stats: {
      snapshots: inputs.snapshots,
      blobsUsed: satisfied.size,
      blobsUnused: sum(packs.map((f) => f.unusedBlobs)),
      bytesUsed: sum(packs.map((f) => f.used)),
      bytesUnused: sum(packs.map((f) => (f.usedBlobs === 0 ? f.size : f.unused))),
      bytesUnreferenced,
      bytesTotal: sum(sizes.values()),
      bytesToDelete,
      bytesToRepack,
      bytesUnusedInRepack: sum(packs.filter((f) => repackSet.has(f.pack)).map((f) => f.unused)),
      bytesUnusedLimit: Number.isFinite(decision.unusedLimit) ? Math.floor(decision.unusedLimit) : null,
      bytesFreed: bytesToDelete + bytesToRepack - decision.bytesToWrite,
      bytesUnusedAfter: sum(kept.map((f) => f.unused)),
      packsToWrite: decision.packsToWrite,
      blobsToCopy: sum(copyBlobs.map((c) => c.blobs.length)),
    },
  };
}

/**
 * The needed blobs of the packs to repack that no kept pack holds, each once (a blob stored in two repacked
 * packs is copied from the first). Only stored packs count as holding a copy: a pack the index names but storage
 * lacks cannot stand in for one that is deleted. Holds only the candidates, so its memory follows the size of
 * the repack, not of the repository.
 */
function blobsToCopy(
  inputs: PruneInputs,
  repack: ReadonlySet<string>,
  keep: ReadonlySet<string>,
): PrunePlan['copyBlobs'] {
  if (repack.size === 0) return [];
  const candidates = new Map<string, { pack: string; blob: BlobToCopy }>(); // by type:id, in index order
  for (const e of inputs.index.entries()) {
    if (!repack.has(e.pack)) continue;
    const id = idToHex(e.id);
    const key = `${e.type}:${id}`;
    if (inputs.usedBlobs.has(key) && !candidates.has(key))
      candidates.set(key, { pack: e.pack, blob: { type: e.type, id } });
  }
  if (candidates.size > 0) {
    for (const e of inputs.index.entries()) if (keep.has(e.pack)) candidates.delete(`${e.type}:${idToHex(e.id)}`);
  }
  const byPack = new Map<string, BlobToCopy[]>([...repack].sort().map((p) => [p, []]));
  for (const c of candidates.values()) byPack.get(c.pack)!.push(c.blob);
  return [...byPack].map(([pack, blobs]) => ({ pack, blobs }));
}
