// `check --read-data`: reads whole packs and has worker threads verify storage hashes and decrypt and re-hash every blob.
// Measures the read rate it achieves, which check turns into a restore-time estimate.

import { forEachLimit } from '../core/concurrency.js';
import { idToHex } from '../core/id.js';
import { threadsPerCore, transferable, WorkerPool } from '../core/worker-pool.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import type { BlobEntry } from '../repository/blob.js';
import { packPath } from '../repository/repository.js';
import { locKey, type CheckContext } from './check.js';
import { verifyPack, type VerifyPackJob, type VerifyPackResult } from './verify-pack.js';

export interface DataReadStats {
  packsRead: number;
  bytesRead: number;
  blobsChecked: number;
  seconds: number;
  bytesPerSecond: number;
}

export async function readPacks(ctx: CheckContext, packs: string[]): Promise<DataReadStats> {
  const workers = ctx.opts.workers ?? threadsPerCore(); // the main thread only reads packs and walks trees
  const url = workers > 0 ? siblingWorkerUrl(import.meta.url, 'verify-worker.js') : undefined;
  const key = ctx.repo.key;
  const pool = new WorkerPool<VerifyPackJob, VerifyPackResult>(url, workers, { key: key.bytes() }, (job) => verifyPack(key, job));
  // One pack more than threads: each thread verifies while the next pack is being read.
  const inFlight = Math.min(ctx.opts.concurrency ?? 4, Math.max(2, pool.threads + 1));
  const stats: DataReadStats = { packsRead: 0, bytesRead: 0, blobsChecked: 0, seconds: 0, bytesPerSecond: 0 };
  const start = process.hrtime.bigint();
  try {
    await forEachLimit(packs, inFlight, (pack) => readOne(ctx, pool, pack, stats, packs.length));
  } finally {
    await pool.close();
  }
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stats.bytesPerSecond = stats.seconds > 0 ? stats.bytesRead / stats.seconds : 0;
  return stats;
}

async function readOne(ctx: CheckContext, pool: WorkerPool<VerifyPackJob, VerifyPackResult>, pack: string, stats: DataReadStats, total: number): Promise<void> {
  const file = packPath(pack);
  const indexed = ctx.packEntries.get(pack) ?? [];
  let bytes: Buffer;
  try {
    bytes = await ctx.repo.backend.load({ type: 'data', name: pack });
  } catch (err) {
    ctx.problems.push({ kind: 'pack-missing', message: `pack ${pack} cannot be read: ${(err as Error).message}`, pack, file });
    for (const e of indexed) ctx.badLocations.add(locKey(pack, e));
    return;
  }
  stats.packsRead++;
  stats.bytesRead += bytes.length;
  const r = await pool.run((job) => ({ job, pack, bytes, indexed }), transferable(bytes));
  if (!r.hashOk) {
    ctx.problems.push({ kind: 'pack-hash', message: `pack ${pack} is damaged: its content does not match its name`, pack, file });
  }
  if (r.header !== undefined) compareWithIndex(ctx, pack, r.header.map((e) => ({ ...e, id: Buffer.from(e.id) })));
  else ctx.problems.push({ kind: 'pack-header', message: `pack ${pack}: ${r.headerError}`, pack, file });
  stats.blobsChecked += r.blobsChecked;
  for (const d of r.damaged) {
    ctx.problems.push({ kind: 'blob', message: `${d.type} blob ${d.id} in pack ${pack} is damaged: ${d.message}`, pack, blob: d.id, file });
    ctx.badLocations.add(locKey(pack, { ...d.entry, id: Buffer.from(d.entry.id) }));
  }
  ctx.opts.onProgress?.({ phase: 'read data', done: stats.packsRead, total, bytes: stats.bytesRead });
}

/** Every blob the index places in a pack must be listed by the pack's own header at the same place. */
export function compareWithIndex(ctx: CheckContext, pack: string, header: BlobEntry[]): void {
  const inHeader = new Map(header.map((e) => [locKey(pack, e), e]));
  for (const e of ctx.packEntries.get(pack) ?? []) {
    const h = inHeader.get(locKey(pack, e));
    if (!h || h.offset !== e.offset || h.storedLength !== e.storedLength || h.rawLength !== e.rawLength || h.compression !== e.compression) {
      const blob = idToHex(e.id);
      ctx.problems.push({
        kind: 'index-mismatch',
        message: `${e.type} blob ${blob} is indexed in pack ${pack}, which does not list it there`,
        pack,
        blob,
        file: packPath(pack),
      });
      ctx.badLocations.add(locKey(pack, e));
    }
  }
}
