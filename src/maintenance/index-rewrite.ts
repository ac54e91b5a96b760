// Replaces all index files with new ones: the new files are written first and name the old ones as
// superseded; only then are the old files removed, so a crash at any instant leaves a complete index.

import { crashPoint } from '../core/crash-point.js';
import { AAD_INDEX } from '../repository/aad.js';
import { encodeIndex, type PackRecord } from '../repository/index-file.js';
import type { Repository } from '../repository/repository.js';

const BLOBS_PER_INDEX_FILE = 100_000;

export async function rewriteIndex(repo: Repository, packs: PackRecord[], replaces: string[]): Promise<string[]> {
  const written: string[] = [];
  let batch: PackRecord[] = [];
  let blobs = 0;
  const flush = async () => {
    if (batch.length === 0 && written.length > 0) return;
    // Every new file names every old one, so whichever new file a reader sees, the old ones are known to be stale.
    written.push(await repo.saveUnpacked('index', encodeIndex({ supersedes: replaces, packs: batch }), AAD_INDEX));
    batch = [];
    blobs = 0;
  };
  for (const p of packs) {
    batch.push(p);
    blobs += p.blobs.length;
    if (blobs >= BLOBS_PER_INDEX_FILE) await flush();
  }
  await flush();
  const keep = new Set(written);
  crashPoint('before-old-index-delete'); // test-only (core/crash-point.ts)
  for (const old of replaces)
    if (!keep.has(old)) await repo.backend.remove({ type: 'index', name: old }).catch(() => undefined);
  crashPoint('after-old-index-delete');
  return written;
}
