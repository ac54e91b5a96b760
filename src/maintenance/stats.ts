// Repository statistics (`repo stats`): restic's four counting modes plus logical, unique and stored bytes and what each snapshot added.
// Read-only; loads each distinct tree about once (sizes of trees without hard links are memoized), never a data blob.

import { idFromHex } from '../core/id.js';
import type { BlobType } from '../repository/blob.js';
import type { Repository } from '../repository/repository.js';
import { sortByTime, type StoredSnapshot } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';

export const STATS_MODES = ['restore-size', 'files-by-contents', 'raw-data', 'blobs-per-file'] as const;
export type StatsMode = (typeof STATS_MODES)[number];

export type StatsRepo = Pick<Repository, 'loadBlob' | 'index'>;

/** Bytes of a pack besides its blobs: the sealed header (48 bytes per entry + 40) and the 4-byte length (spec §7). */
const packOverhead = (blobs: number) => blobs * 48 + 40 + 4;

export interface SnapshotAdded {
  id: string;
  time: string;
  /** Bytes of its files as restored (hard links counted once). */
  logicalBytes: number;
  /** Blobs no earlier snapshot (of those considered, in time order) references. */
  addedBlobs: number;
  addedRawBytes: number;
  addedStoredBytes: number;
}

export interface StatsSummary {
  /** Sum over the snapshots of their logical (restore) size. */
  logicalBytes: number;
  /** Raw bytes of the distinct blobs (data and tree) the snapshots reference. */
  uniqueBytes: number;
  /** Stored (compressed and sealed) bytes of those blobs, one location each. */
  storedBytes: number;
  dedupeRatio: number;
  compressionRatio: number;
  blobCount: number;
  dataBlobs: number;
  treeBlobs: number;
  averageBlobSize: number;
  /** Packs holding those blobs. */
  packCount: number;
  /** Referenced blobs the index does not know (a damaged repository); their sizes are unknown. */
  missingBlobs: number;
}

export interface RepositoryTotals {
  blobCount: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Raw and stored bytes of every indexed blob location (duplicates in several packs included). */
  rawBytes: number;
  storedBytes: number;
  packCount: number;
  /** Bytes of all pack files, computed from the index (blobs plus headers). */
  packBytes: number;
  /** With every snapshot considered: indexed blobs no snapshot references (what prune could remove). */
  unreferencedBlobs?: number;
  unreferencedStoredBytes?: number;
}

export interface StatsReport {
  mode: StatsMode;
  snapshotsCount: number;
  /** restic's total_size: restore size, unique file contents' size, stored size of unique blobs, or raw size of per-file unique blobs. */
  totalSize: number;
  totalFileCount?: number;
  totalBlobCount?: number;
  /** raw-data mode only, with restic's meanings (raw lengths stand in for restic's ciphertext lengths). */
  totalUncompressedSize?: number;
  compressionRatio?: number;
  compressionProgress?: number;
  compressionSpaceSaving?: number;
  summary: StatsSummary;
  snapshots: SnapshotAdded[];
  repository: RepositoryTotals;
}

export interface StatsOptions {
  /** The snapshots are all the repository has: report unreferenced blobs. */
  allSnapshots?: boolean;
}

interface TreeSize {
  bytes: number;
  nodes: number;
  /** Holds hard-linked files, whose bytes depend on what else the snapshot holds. */
  linked: boolean;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

/** Statistics over `snapshots` (taken in time order) in one of restic's counting modes. */
export async function computeStats(
  repo: StatsRepo,
  snapshots: StoredSnapshot[],
  mode: StatsMode,
  opts: StatsOptions = {},
): Promise<StatsReport> {
  const ordered = sortByTime([...new Map(snapshots.map((s) => [s.id, s])).values()]);
  const seenTrees = new Set<string>();
  const blobs = new Set<string>(); // type letter + hex
  const packs = new Set<string>();
  const sizes = new Map<string, TreeSize>();
  const summary: StatsSummary = {
    logicalBytes: 0,
    uniqueBytes: 0,
    storedBytes: 0,
    dedupeRatio: 0,
    compressionRatio: 0,
    blobCount: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    averageBlobSize: 0,
    packCount: 0,
    missingBlobs: 0,
  };
  const raw = { zstdRaw: 0, zstdStored: 0 };
  const contents = new Set<string>(); // files-by-contents / blobs-per-file: content lists seen
  const fileBlobs = new Map<string, Set<string>>(); // blobs-per-file: path → blobs counted for it
  let totalSize = 0;
  let totalFiles = 0;
  let totalBlobs = 0;
  let current!: SnapshotAdded;

  const addBlob = (type: BlobType, hex: string): void => {
    const key = (type === 'data' ? 'd' : 't') + hex;
    if (blobs.has(key)) return;
    blobs.add(key);
    if (type === 'data') summary.dataBlobs++;
    else summary.treeBlobs++;
    current.addedBlobs++;
    const loc = repo.index.lookup(type, idFromHex(hex));
    if (loc === undefined) {
      summary.missingBlobs++;
      return;
    }
    summary.uniqueBytes += loc.rawLength;
    summary.storedBytes += loc.storedLength;
    current.addedRawBytes += loc.rawLength;
    current.addedStoredBytes += loc.storedLength;
    if (loc.compression !== 0) {
      raw.zstdRaw += loc.rawLength;
      raw.zstdStored += loc.storedLength;
    }
    packs.add(loc.pack);
  };
  const rawLength = (hex: string) => repo.index.lookup('data', idFromHex(hex))?.rawLength ?? 0;

  // One pass per snapshot: restore size for every occurrence, everything "unique" only the first time a tree is seen.
  const visit = async (treeId: string, path: string, links: Set<string>): Promise<TreeSize> => {
    const memo = sizes.get(treeId);
    if (memo !== undefined) return memo;
    const tree = await loadTree(repo, treeId);
    const first = !seenTrees.has(treeId);
    if (first) {
      seenTrees.add(treeId);
      addBlob('tree', treeId);
    }
    const r: TreeSize = { bytes: 0, nodes: 0, linked: false };
    for (const n of tree.nodes) {
      r.nodes++;
      const p = `${path}/${n.name.toString('utf8')}`;
      if (n.type === 'file') {
        const size = n.size ?? 0;
        if ((n.links ?? 1) > 1 && n.inode !== undefined && n.inode !== '0') {
          r.linked = true;
          const k = `${n.deviceId ?? ''}:${n.inode}`;
          if (!links.has(k)) {
            links.add(k);
            r.bytes += size;
          }
        } else r.bytes += size;
        if (first) {
          for (const c of n.content ?? []) addBlob('data', c);
          const key = (n.content ?? []).join(',');
          if (!contents.has(key)) {
            contents.add(key);
            if (mode === 'files-by-contents') {
              totalSize += size;
              totalFiles++;
            } else if (mode === 'blobs-per-file') {
              for (const c of n.content ?? []) {
                let set = fileBlobs.get(p);
                if (set === undefined) {
                  fileBlobs.set(p, (set = new Set()));
                  totalFiles++;
                }
                if (set.has(c)) continue;
                set.add(c);
                totalSize += rawLength(c);
                totalBlobs++;
              }
            }
          }
        }
      }
      if (n.type === 'dir' && n.subtree !== undefined) {
        const sub = await visit(n.subtree, p, links);
        r.bytes += sub.bytes;
        r.nodes += sub.nodes;
        if (sub.linked) r.linked = true;
      }
    }
    if (!r.linked) sizes.set(treeId, r);
    return r;
  };

  const perSnapshot: SnapshotAdded[] = [];
  for (const sn of ordered) {
    current = { id: sn.id, time: sn.time, logicalBytes: 0, addedBlobs: 0, addedRawBytes: 0, addedStoredBytes: 0 };
    const r = await visit(sn.tree, '', new Set());
    current.logicalBytes = r.bytes;
    summary.logicalBytes += r.bytes;
    if (mode === 'restore-size') {
      totalSize += r.bytes;
      totalFiles += r.nodes;
    }
    perSnapshot.push(current);
  }

  summary.blobCount = summary.dataBlobs + summary.treeBlobs;
  summary.packCount = packs.size;
  summary.dedupeRatio = ratio(summary.logicalBytes, summary.uniqueBytes);
  summary.compressionRatio = ratio(summary.uniqueBytes, summary.storedBytes);
  summary.averageBlobSize = ratio(summary.uniqueBytes, summary.blobCount - summary.missingBlobs);

  const report: StatsReport = {
    mode,
    snapshotsCount: ordered.length,
    totalSize,
    summary,
    snapshots: perSnapshot,
    repository: repositoryTotals(repo, opts.allSnapshots ? blobs : undefined),
  };
  if (mode === 'restore-size' || mode === 'files-by-contents' || mode === 'blobs-per-file')
    report.totalFileCount = totalFiles;
  if (mode === 'blobs-per-file') report.totalBlobCount = totalBlobs;
  if (mode === 'raw-data') {
    report.totalSize = summary.storedBytes;
    report.totalBlobCount = summary.blobCount;
    report.totalUncompressedSize = summary.uniqueBytes;
    report.compressionRatio = ratio(raw.zstdRaw, raw.zstdStored);
    report.compressionProgress = ratio(raw.zstdRaw, summary.uniqueBytes) * 100;
    report.compressionSpaceSaving = summary.uniqueBytes > 0 ? (1 - summary.storedBytes / summary.uniqueBytes) * 100 : 0;
  }
  return report;
}

/** Totals of the whole index; with `referenced`, also what no considered snapshot uses. */
function repositoryTotals(repo: StatsRepo, referenced?: Set<string>): RepositoryTotals {
  const t: RepositoryTotals = {
    blobCount: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    rawBytes: 0,
    storedBytes: 0,
    packCount: 0,
    packBytes: 0,
  };
  const distinct = new Set<string>();
  const perPack = new Map<string, number>();
  let unrefBlobs = 0;
  let unrefStored = 0;
  for (const e of repo.index.entries()) {
    t.rawBytes += e.rawLength;
    t.storedBytes += e.storedLength;
    t.packBytes += e.storedLength;
    perPack.set(e.pack, (perPack.get(e.pack) ?? 0) + 1);
    const key = (e.type === 'data' ? 'd' : 't') + e.id.toString('hex');
    const known = referenced?.has(key) ?? true;
    if (!known) unrefStored += e.storedLength;
    if (distinct.has(key)) continue;
    distinct.add(key);
    if (e.type === 'data') t.dataBlobs++;
    else t.treeBlobs++;
    if (!known) unrefBlobs++;
  }
  t.blobCount = t.dataBlobs + t.treeBlobs;
  t.packCount = perPack.size;
  for (const n of perPack.values()) t.packBytes += packOverhead(n);
  if (referenced !== undefined) {
    t.unreferencedBlobs = unrefBlobs;
    t.unreferencedStoredBytes = unrefStored;
  }
  return t;
}
