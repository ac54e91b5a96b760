// `repair index`: rebuilds the index from the packs themselves, after index files were lost or damaged.
// Packs whose header cannot be read are reported and left alone (repair packs may salvage them).

import { Semaphore } from '../core/concurrency.js';
import { isRepoError, errorMessage } from '../core/errors.js';
import { AAD_INDEX } from '../repository/aad.js';
import type { BlobEntry } from '../repository/blob.js';
import { decodeIndex, type PackRecord } from '../repository/index-file.js';
import { expectedPackLength, loadPackHeader, packHashMatches, packHeaderFromBytes } from '../repository/pack-reader.js';
import type { Repository } from '../repository/repository.js';
import { rewriteIndex } from './index-rewrite.js';

export interface RepairIndexOptions {
  /** Read every pack in full and index only blobs that decrypt and match their id. */
  readAllPacks?: boolean;
  dryRun?: boolean;
  concurrency?: number;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface RepairIndexReport {
  packs: number;
  blobs: number;
  packsReadFromStorage: number;
  /** Packs that could not be read; `kept` when the old index record was kept because nothing shows the pack is damaged. */
  unreadablePacks: { pack: string; message: string; kept: boolean }[];
  /** Packs whose bytes do not match their name; run `repair packs` on them. */
  damagedPacks: { pack: string; damagedBlobs: number }[];
  removedIndexFiles: string[];
  newIndexFiles: string[];
}

export async function repairIndex(repo: Repository, opts: RepairIndexOptions = {}): Promise<RepairIndexReport> {
  const oldFiles = await repo.listNames('index');
  const fromIndex = new Map<string, BlobEntry[]>();
  for (const name of oldFiles) {
    try {
      for (const p of decodeIndex(await repo.loadUnpacked('index', name, AAD_INDEX), name).packs)
        fromIndex.set(p.pack, p.blobs);
    } catch {
      // a damaged index file is exactly what this repairs: its packs are re-read below
    }
  }
  const sizes = new Map<string, number>();
  for await (const f of repo.backend.list('data')) sizes.set(f.name, f.size);

  const report: RepairIndexReport = {
    packs: 0,
    blobs: 0,
    packsReadFromStorage: 0,
    unreadablePacks: [],
    damagedPacks: [],
    removedIndexFiles: [],
    newIndexFiles: [],
  };
  const records: PackRecord[] = [];
  const sem = new Semaphore(opts.concurrency ?? 4);
  let done = 0;
  await Promise.all(
    [...sizes].sort().map(([pack, size]) =>
      sem.run(async () => {
        try {
          const blobs = await packEntries(repo, pack, size, fromIndex.get(pack), opts, report);
          if (blobs.length > 0) records.push({ pack, blobs });
        } catch (err) {
          // Unreadable is not damaged (permissions, a network error): dropping the pack from the index would let
          // `repair snapshots` cut every file that uses it. Only a pack proven damaged loses its old record.
          const known = fromIndex.get(pack);
          const kept = known !== undefined && !isRepoError(err, 'INTEGRITY') && !isRepoError(err, 'FORMAT');
          if (kept) records.push({ pack, blobs: known });
          report.unreadablePacks.push({ pack, message: errorMessage(err), kept });
        }
        opts.onProgress?.({ done: ++done, total: sizes.size });
      }),
    ),
  );
  records.sort((a, b) => (a.pack < b.pack ? -1 : 1));
  report.packs = records.length;
  report.blobs = records.reduce((n, r) => n + r.blobs.length, 0);
  if (!opts.dryRun) {
    report.newIndexFiles = await rewriteIndex(repo, records, oldFiles);
    report.removedIndexFiles = oldFiles.filter((f) => !report.newIndexFiles.includes(f));
  }
  return report;
}

async function packEntries(
  repo: Repository,
  pack: string,
  size: number,
  indexed: BlobEntry[] | undefined,
  opts: RepairIndexOptions,
  report: RepairIndexReport,
): Promise<BlobEntry[]> {
  if (!opts.readAllPacks) {
    if (indexed && expectedPackLength(indexed) === size) return indexed;
    report.packsReadFromStorage++;
    return loadPackHeader(repo.backend, repo.key.encryption, pack, size);
  }
  report.packsReadFromStorage++;
  const bytes = await repo.backend.load({ type: 'data', name: pack });
  const header = packHeaderFromBytes(bytes, repo.key.encryption, pack);
  if (!packHashMatches(bytes, pack)) {
    // Index records list a pack whole (spec §8), so a damaged pack stays indexed with its readable
    // blobs reachable; `repair packs` moves those into a new pack and drops the damaged ones.
    const damaged = header.filter((e) => {
      try {
        repo.openBlob({ ...e, pack }, bytes.subarray(e.offset, e.offset + e.storedLength));
        return false;
      } catch {
        return true;
      }
    }).length;
    report.damagedPacks.push({ pack, damagedBlobs: damaged });
  }
  return header;
}
