// `repair packs ID...`: moves the readable blobs of damaged packs into new packs, then drops the damaged packs.
// The salvaged copies and the new index are stored before anything is removed.

import { NotFoundError, RepoError, errorMessage } from '../core/errors.js';
import type { BlobEntry } from '../repository/blob.js';
import type { PackRecord } from '../repository/index-file.js';
import type { MasterIndex } from '../repository/master-index.js';
import { packHeaderFromBytes } from '../repository/pack-reader.js';
import type { Repository } from '../repository/repository.js';
import { rewriteIndex } from './index-rewrite.js';

export interface RepairPacksReport {
  packs: { pack: string; salvaged: number; lost: number; lostBlobs: string[] }[];
  newIndexFiles: string[];
}

/**
 * `salvage` must be a second handle on the same repository opened with `skipIndex`, so that it
 * stores the salvaged blobs again instead of deduplicating them against the damaged pack.
 */
export async function repairPacks(
  repo: Repository,
  salvage: Repository,
  packs: string[],
  opts: { dryRun?: boolean } = {},
): Promise<RepairPacksReport> {
  if (salvage.index.size !== 0)
    throw new RepoError('INVALID_ARGUMENT', 'the salvage handle must be opened without its index');
  const report: RepairPacksReport = { packs: [], newIndexFiles: [] };
  const damaged = new Set(packs);
  for (const pack of packs) {
    let bytes: Buffer;
    try {
      bytes = await repo.backend.load({ type: 'data', name: pack });
    } catch (err) {
      throw new NotFoundError(
        `pack ${pack} cannot be read, nothing to salvage: ${errorMessage(err)}`,
        { pack },
        { cause: err },
      );
    }
    let entries: BlobEntry[];
    try {
      entries = packHeaderFromBytes(bytes, repo.key.encryption, pack);
    } catch {
      entries = [...repo.index.entries()].filter((e) => e.pack === pack); // the index still maps the pack
    }
    const r = { pack, salvaged: 0, lost: 0, lostBlobs: [] as string[] };
    for (const e of entries) {
      let plain: Buffer;
      try {
        if (e.offset + e.storedLength > bytes.length) throw new Error('outside the pack');
        plain = repo.openBlob({ ...e, pack }, bytes.subarray(e.offset, e.offset + e.storedLength));
      } catch {
        r.lost++;
        r.lostBlobs.push(`${e.type}:${e.id.toString('hex')}`);
        continue;
      }
      r.salvaged++;
      if (!opts.dryRun) await salvage.saveBlob(e.type, plain, e.id);
    }
    report.packs.push(r);
  }
  if (opts.dryRun) return report;
  await salvage.flush();
  const oldFiles = await repo.listNames('index');
  const records = [...recordsOf(repo.index, damaged), ...recordsOf(salvage.index, new Set())];
  report.newIndexFiles = await rewriteIndex(repo, records, oldFiles);
  for (const pack of packs) await repo.backend.remove({ type: 'data', name: pack });
  return report;
}

/** Groups an in-memory index back into whole-pack records, leaving out the given packs. */
export function recordsOf(index: MasterIndex, without: Set<string>): PackRecord[] {
  const byPack = new Map<string, BlobEntry[]>();
  for (const e of index.entries()) {
    if (without.has(e.pack)) continue;
    let list = byPack.get(e.pack);
    if (!list) byPack.set(e.pack, (list = []));
    const { pack: _pack, ...entry } = e;
    list.push(entry);
  }
  return [...byPack].map(([pack, blobs]) => ({ pack, blobs: blobs.sort((a, b) => a.offset - b.offset) }));
}
