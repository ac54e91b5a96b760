// Carrying out a prune plan in the only safe order: copy still-used blobs out of packs to repack, store the
// new packs, write the new index that supersedes the old, and only then delete packs and old index files.

import { temporaryFileStore } from '../backend/stack.js';
import { crashPoint } from '../core/crash-point.js';
import { idToHex } from '../core/id.js';
import type { IndexedBlob } from '../repository/blob.js';
import type { Repository } from '../repository/repository.js';
import { rewriteIndex } from './index-rewrite.js';
import { pruneHasWork, usedBlobs, type PrunePlan } from './prune-plan.js';
import { recordsOf } from './repair-packs.js';

export interface PruneResult {
  packsDeleted: number;
  packsRepacked: number;
  packsWritten: number;
  indexFilesWritten: number;
  /** Measured: bytes of the pack files removed minus those of the packs written. */
  bytesFreed: number;
  /** Abandoned temporary files (left by killed writers) that were removed. */
  temporaryFilesRemoved: number;
}

/**
 * `writer` must be a second handle on the same repository opened with `skipIndex`, so the blobs it
 * copies are stored anew rather than deduplicated against the packs about to be deleted. The caller
 * holds an exclusive lock, so the plan cannot go stale under it.
 */
export async function executePrune(
  repo: Repository,
  writer: Repository,
  plan: PrunePlan,
  opts: { onProgress?: (p: { phase: string; done: number; total: number }) => void } = {},
): Promise<PruneResult> {
  // With nothing to gain, nothing is written or deleted: not even the index is rewritten (it would come out
  // the same), so a prune right after a prune costs no writes.
  if (!pruneHasWork(plan)) {
    return { packsDeleted: 0, packsRepacked: 0, packsWritten: 0, indexFilesWritten: 0, bytesFreed: 0, temporaryFilesRemoved: await cleanupTemporaryFiles(repo) };
  }
  const removed = new Set([...plan.deletePacks, ...plan.repackPacks, ...plan.unreferencedPacks]);
  if (plan.repackPacks.length > 0) {
    const { used } = await usedBlobs(repo);
    // A used blob needs a copy only if no pack that stays already has one.
    const keptElsewhere = (type: 'data' | 'tree', id: Buffer) => repo.index.lookupAll(type, id).some((l) => !removed.has(l.pack));
    const repackSet = new Set(plan.repackPacks);
    const byPack = new Map(plan.repackPacks.map((p) => [p, [] as IndexedBlob[]]));
    for (const e of repo.index.entries()) if (repackSet.has(e.pack)) byPack.get(e.pack)!.push(e);
    let done = 0;
    for (const [, entries] of byPack) {
      for (const e of entries) {
        const key = `${e.type}:${idToHex(e.id)}`;
        if (!used.has(key) || keptElsewhere(e.type, e.id) || writer.hasBlob(e.type, e.id)) continue;
        await writer.saveBlob(e.type, await repo.loadBlob(e.type, e.id), e.id);
      }
      opts.onProgress?.({ phase: 'repack', done: ++done, total: plan.repackPacks.length });
    }
    await writer.flush();
  }
  const oldIndexFiles = await repo.listNames('index');
  const records = [...recordsOf(repo.index, removed), ...recordsOf(writer.index, new Set())];
  const written = await rewriteIndex(repo, records, oldIndexFiles);
  let done = 0;
  crashPoint('before-pack-delete'); // test-only (core/crash-point.ts)
  for (const pack of removed) {
    await repo.backend.remove({ type: 'data', name: pack }).catch((err) => {
      if (!(err as { code?: string }).code?.includes('NOT_FOUND')) throw err;
    });
    crashPoint('pack-deleted');
    opts.onProgress?.({ phase: 'delete', done: ++done, total: removed.size });
  }
  crashPoint('after-pack-delete');
  return {
    packsDeleted: plan.deletePacks.length + plan.unreferencedPacks.length,
    packsRepacked: plan.repackPacks.length,
    packsWritten: writer.stats.packsWritten,
    indexFilesWritten: written.length + writer.stats.indexFilesWritten,
    // The writer's stored bytes are exactly the sizes of the packs it wrote (blobs plus headers).
    bytesFreed: plan.stats.bytesToDelete + plan.stats.bytesToRepack - writer.stats.storedBytesAdded,
    temporaryFilesRemoved: await cleanupTemporaryFiles(repo),
  };
}

/**
 * Temporary files of writers that were killed (spec §2) are never renamed to a final name and nothing else
 * removes them. Only old ones are removed (the backend's default age), so nothing still being written is touched.
 */
async function cleanupTemporaryFiles(repo: Repository): Promise<number> {
  // The store under any wrapper (retry, cache — also over a local repository); stores without temporary files have none.
  const store = temporaryFileStore(repo.backend);
  return store === undefined ? 0 : await store.cleanupTemporaryFiles().catch(() => 0);
}
