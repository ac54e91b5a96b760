// Which packs a prune deletes and which it repacks, decided from per-pack facts alone (no I/O), so the rule
// can be tested as a table. Every action must gain something: a deleted pack frees its whole file, a repacked
// partly used pack frees its unused blobs, and small packs are merged only when that lowers the number of
// packs. Anything else would read and write pack files, paid traffic on object storage, for nothing; and a
// prune right after a prune must find nothing to do.

import { SEAL_OVERHEAD } from '../crypto/xaes.js';
import type { BlobType } from '../repository/blob.js';
import { ENTRY_SIZE } from '../repository/blob.js';

export type MaxUnused = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number } | { kind: 'unlimited' };

/** What the index and the pack listing say about one stored pack. All blobs of a pack have one type (spec §7). */
export interface PackFacts {
  pack: string;
  type: BlobType;
  /** Size of the pack file. */
  size: number;
  /** Stored bytes of the blobs a snapshot needs from this pack (one copy of each blob counts). */
  used: number;
  /** Stored bytes of the other blobs: no snapshot needs them, or another pack's copy is the one kept. */
  unused: number;
  usedBlobs: number;
  unusedBlobs: number;
}

export interface DecideOptions {
  maxUnused: MaxUnused;
  /** Upper bound on the bytes of packs repacked in one run. */
  maxRepackSize: number;
  /** The repository's target pack size (config pack_size). */
  packSize: number;
  /** A fully used pack smaller than this share of packSize is "small" and may be merged with others. */
  smallPackShare: number;
}

export interface PackDecision {
  /** Packs no snapshot needs anything from. */
  deletePacks: string[];
  /** Packs whose needed blobs are copied into new packs before the packs are deleted. */
  repackPacks: string[];
  /** Unused space the options tolerate; Infinity for unlimited. */
  unusedLimit: number;
  /** Expected number and total size of the packs the repack writes (the packer closes a pack once it reaches packSize). */
  packsToWrite: number;
  bytesToWrite: number;
}

/** Bytes of a pack beyond its blobs: the sealed header (one entry per blob) and its 4-byte length. */
export function packOverhead(blobs: number): number {
  return blobs * ENTRY_SIZE + SEAL_OVERHEAD + 4;
}

/**
 * How many packs `bytes` of blobs fill. The packer stores a pack as soon as it holds packSize bytes, so every
 * pack but the last holds at least packSize: at most floor(bytes / packSize) full packs and one more.
 */
export function packsFor(bytes: number, packSize: number): number {
  return bytes <= 0 ? 0 : Math.floor(bytes / packSize) + 1;
}

/** Unused bytes tolerated after pruning, given the bytes snapshots use. */
export function unusedLimit(maxUnused: MaxUnused, bytesUsed: number): number {
  if (maxUnused.kind === 'unlimited') return Infinity;
  if (maxUnused.kind === 'bytes') return maxUnused.value;
  // p% of the repository after pruning: unused / (used + unused) = p  ⇔  unused = used · p / (100 − p)
  return (bytesUsed * maxUnused.value) / (100 - Math.min(maxUnused.value, 99.9));
}

const byName = (a: PackFacts, b: PackFacts) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : 0);

export function decidePacks(packs: readonly PackFacts[], opts: DecideOptions): PackDecision {
  const deletePacks = packs.filter((p) => p.usedBlobs === 0);
  const partial = packs.filter((p) => p.usedBlobs > 0 && p.unusedBlobs > 0);
  const bytesUsed = packs.reduce((a, p) => a + p.used, 0);
  const limit = unusedLimit(opts.maxUnused, bytesUsed);

  // Partly used packs, most wasteful first, until what stays unused is within the limit. Each one frees
  // its unused blobs (a partly used pack has at least one), so each is a gain.
  let unusedLeft = partial.reduce((a, p) => a + p.unused, 0);
  const repack: PackFacts[] = [];
  let repackBytes = 0;
  const ratio = (p: PackFacts) => p.unused / Math.max(1, p.size);
  for (const p of [...partial].sort((a, b) => ratio(b) - ratio(a) || byName(a, b))) {
    if (unusedLeft <= limit) break;
    if (repackBytes + p.size > opts.maxRepackSize) continue;
    repack.push(p);
    repackBytes += p.size;
    unusedLeft -= p.unused;
  }

  // Small packs (left by many small backups) are merged per blob type: the writer never puts tree and data
  // blobs into one pack, so a small tree pack and a small data pack can never become one. Merging pays only
  // when the packs of that type become fewer; it never does for a single small pack on its own, which would
  // come out as a single small pack again on every run.
  // At most half the target size: when a small pack stays out because taking it would spill the repack into
  // one more pack, the repack's last pack is then over half full, so it is not small and the next run does
  // not find two small packs to merge.
  const smallBelow = opts.packSize * Math.min(opts.smallPackShare, 0.5);
  const chosen = new Set(repack);
  for (const type of ['tree', 'data'] as const) {
    const ofType = repack.filter((p) => p.type === type);
    const usedOfType = ofType.reduce((a, p) => a + p.used, 0);
    const candidates = packs
      .filter((p) => p.type === type && p.usedBlobs > 0 && !chosen.has(p) && p.size < smallBelow)
      .sort((a, b) => a.size - b.size || byName(a, b)); // smallest first: the most packs within the budget
    const take: PackFacts[] = [];
    let takeBytes = 0;
    let takeUsed = 0;
    for (const p of candidates) {
      if (repackBytes + takeBytes + p.size > opts.maxRepackSize) break;
      take.push(p);
      takeBytes += p.size;
      takeUsed += p.used;
    }
    const packsWithout = packsFor(usedOfType, opts.packSize) + take.length;
    const packsWith = packsFor(usedOfType + takeUsed, opts.packSize);
    if (take.length === 0 || packsWith >= packsWithout) continue;
    repack.push(...take);
    repackBytes += takeBytes;
  }

  let packsToWrite = 0;
  let bytesToWrite = 0;
  for (const type of ['tree', 'data'] as const) {
    const ofType = repack.filter((p) => p.type === type);
    const used = ofType.reduce((a, p) => a + p.used, 0);
    const n = packsFor(used, opts.packSize);
    packsToWrite += n;
    bytesToWrite += used + ofType.reduce((a, p) => a + p.usedBlobs * ENTRY_SIZE, 0) + n * packOverhead(0);
  }
  return {
    deletePacks: deletePacks.map((p) => p.pack).sort(),
    repackPacks: repack.map((p) => p.pack).sort(),
    unusedLimit: limit,
    packsToWrite,
    bytesToWrite,
  };
}
