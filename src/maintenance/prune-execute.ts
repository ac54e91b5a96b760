// Carrying out a prune plan in the only safe order: copy the plan's blobs out of packs to repack, store the
// new packs, write the new index that supersedes the old, and only then delete packs and old index files.
// Decides nothing: everything it writes or deletes is named in the plan.

import { temporaryFileStore } from '../backend/stack.js';
import { crashPoint } from '../core/crash-point.js';
import { isRepoError } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { rewriteIndex } from './index-rewrite.js';
import { pruneHasWork, type PrunePlan } from './prune-plan.js';
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

export interface ExecuteOptions {
  onProgress?: (p: { phase: string; done: number; total: number }) => void;
}

/**
 * Carries out a plan from planPrune on the repository it was made for. The caller holds an exclusive lock, so the
 * plan cannot go stale under it. The blobs to copy are stored through a second handle opened without the index
 * (so they are stored anew rather than deduplicated against the packs about to be deleted); this function opens
 * it and always closes it, also when the prune fails.
 */
export async function executePrune(repo: Repository, plan: PrunePlan, opts: ExecuteOptions = {}): Promise<PruneResult> {
  // With nothing to gain, nothing is written or deleted: not even the index is rewritten (it would come out
  // the same), so a prune right after a prune costs no writes.
  if (!pruneHasWork(plan)) {
    return {
      packsDeleted: 0,
      packsRepacked: 0,
      packsWritten: 0,
      indexFilesWritten: 0,
      bytesFreed: 0,
      temporaryFilesRemoved: await cleanupTemporaryFiles(repo),
    };
  }
  const writer = plan.stats.blobsToCopy > 0 ? await repo.sibling({ skipIndex: true }) : undefined;
  try {
    return await executeWith(repo, writer, plan, opts);
  } finally {
    // A close that fails after a failed prune must not hide the prune's error; after a successful one the
    // writer has flushed everything it holds, so there is nothing left a failed close could lose.
    await writer?.close().catch(() => undefined);
  }
}

async function executeWith(
  repo: Repository,
  writer: Repository | undefined,
  plan: PrunePlan,
  opts: ExecuteOptions,
): Promise<PruneResult> {
  const removed = new Set([...plan.deletePacks, ...plan.repackPacks, ...plan.unreferencedPacks]);
  if (writer !== undefined) {
    let done = 0;
    for (const { blobs } of plan.copyBlobs) {
      for (const b of blobs) {
        const id = idFromHex(b.id);
        await writer.saveBlob(b.type, await repo.loadBlob(b.type, id), id);
      }
      opts.onProgress?.({ phase: 'repack', done: ++done, total: plan.copyBlobs.length });
    }
    await writer.flush();
  }
  const oldIndexFiles = await repo.listNames('index');
  const records = [
    ...recordsOf(repo.index, removed),
    ...(writer === undefined ? [] : recordsOf(writer.index, new Set())),
  ];
  const written = await rewriteIndex(repo, records, oldIndexFiles);
  let done = 0;
  crashPoint('before-pack-delete'); // test-only (core/crash-point.ts)
  for (const pack of removed) {
    await repo.backend.remove({ type: 'data', name: pack }).catch((err) => {
      if (!isRepoError(err, 'NOT_FOUND')) throw err;
    });
    crashPoint('pack-deleted');
    opts.onProgress?.({ phase: 'delete', done: ++done, total: removed.size });
  }
  crashPoint('after-pack-delete');
  const stats = writer?.stats ?? { packsWritten: 0, indexFilesWritten: 0, storedBytesAdded: 0 };
  return {
    packsDeleted: plan.deletePacks.length + plan.unreferencedPacks.length,
    packsRepacked: plan.repackPacks.length,
    packsWritten: stats.packsWritten,
    indexFilesWritten: written.length + stats.indexFilesWritten,
    // The writer's stored bytes are exactly the sizes of the packs it wrote (blobs plus headers).
    bytesFreed: plan.stats.bytesToDelete + plan.stats.bytesToRepack - stats.storedBytesAdded,
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
