// `check --read-data`: reads whole packs and has worker threads verify storage hashes, headers and every
// blob (decrypt, decompress, re-hash). Measures the read rate it achieves, which check turns into a
// restore-time estimate. A local repository's packs are read by the verify threads themselves (see
// verify-pool.ts); other backends' are loaded here and handed over.

import { forEachLimit } from '../core/concurrency.js';
import { idFromHex, idToHex } from '../core/id.js';
import { threadsPerCore, transferable } from '../core/worker-pool.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import { LocalBackend } from '../backend/local.js';
import { ENTRY_SIZE, entryRawLength, type BlobEntry } from '../repository/blob.js';
import { packPath } from '../repository/repository.js';
import { indexedCount, indexedEntries, locKey, type CheckContext } from './check-context.js';
import { indexMismatches, unreadable, type VerifyPackResult } from './verify-pack.js';
import { verifyList, VerifyPool, type PackList } from './verify-pool.js';

export interface DataReadStats {
  packsRead: number;
  bytesRead: number;
  blobsChecked: number;
  seconds: number;
  bytesPerSecond: number;
}

export async function readPacks(ctx: CheckContext, packs: string[]): Promise<DataReadStats> {
  const stats: DataReadStats = { packsRead: 0, bytesRead: 0, blobsChecked: 0, seconds: 0, bytesPerSecond: 0 };
  const start = process.hrtime.bigint();
  const costs = packs.map((p) => cost(ctx, p));
  const bytesTotal = packs.reduce((sum, p) => sum + (ctx.packSizes.get(p) ?? 0), 0);
  // The main thread walks trees meanwhile. A thread costs about 40 ms to start (an isolate, the bundled worker
  // script, its native modules: measured 33-36 ms to a loaded script) before it verifies anything, so by
  // default each must get enough work to repay that; a small repository is verified here, between turns of
  // the walk, sooner than any thread could.
  const worth = Math.floor(costs.reduce((a, b) => a + b, 0) / THREAD_WORTH_NS);
  const workers = Math.min(ctx.opts.workers ?? Math.min(threadsPerCore(), worth), packs.length);
  const url = workers > 0 ? siblingWorkerUrl(import.meta.url, 'verify-worker.js') : undefined;
  // The costliest packs first, so that the last ones, which one thread may finish alone, are short.
  const order = packs.map((_, i) => i).sort((a, b) => costs[b] - costs[a]);
  const queue = order.map((i) => packs[i]);
  // Findings are reported in the order of `packs` whatever order the threads finish in, so a check
  // reports the same list with any number of threads.
  const finished = new Map<number, VerifyPackResult>();
  let reported = 0;
  const onResult = (r: VerifyPackResult) => {
    if (r.readError === undefined) {
      stats.packsRead++;
      stats.bytesRead += r.size;
      stats.blobsChecked += r.blobsChecked;
      ctx.opts.onProgress?.({
        phase: 'read data',
        done: stats.packsRead,
        total: packs.length,
        bytes: stats.bytesRead,
        bytesTotal,
      });
    }
    finished.set(order[r.job], r);
    for (let f; (f = finished.get(reported)) !== undefined; reported++) {
      finished.delete(reported);
      report(ctx, packs[reported], f);
    }
  };
  const backend = ctx.repo.backend;
  if (backend instanceof LocalBackend)
    await verifyList(url, workers, ctx.repo.key, packList(ctx, queue, backend.dir), onResult);
  else await verifyLoaded(ctx, queue, url, workers, onResult);
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // Whole bytes per second: the figure goes into JSON and the audit log, where a raw float is noise.
  stats.bytesPerSecond = stats.seconds > 0 ? Math.round(stats.bytesRead / stats.seconds) : 0;
  return stats;
}

/**
 * Roughly what verifying a pack costs on one thread, in ns (measured on a 2-core VM): ~12 µs per blob
 * (setting up its decryption, decompression and hash), ~1 ns per byte stored (reading, hashing the pack,
 * AES-GCM) and per byte of plaintext (zstd, BLAKE3).
 */
function cost(ctx: CheckContext, pack: string): number {
  let c = ctx.packSizes.get(pack) ?? 0;
  const records = ctx.packRecords.get(pack);
  if (records !== undefined)
    for (let at = 0; at < records.length; at += ENTRY_SIZE) c += 12_000 + entryRawLength(records, at);
  return c;
}

/**
 * Work (cost()) that makes starting one more verify thread worth it. At 400e6 the versions bench repository
 * (cost 254e6, 16 packs) was verified on the main thread; two threads took 9 % less wall time (8 pairs).
 */
const THREAD_WORTH_NS = 100e6;

/** The packs with their index entries in shared memory, for the threads to take one by one. */
function packList(ctx: CheckContext, packs: string[], dir: string): PackList {
  const bounds = [0];
  for (const p of packs) bounds.push(bounds[bounds.length - 1] + (ctx.packRecords.get(p)?.length ?? 0));
  const records = Buffer.from(new SharedArrayBuffer(bounds[bounds.length - 1]));
  packs.forEach((p, i) => ctx.packRecords.get(p)?.copy(records, bounds[i]));
  return { dir, packs, records, bounds, next: new Int32Array(new SharedArrayBuffer(4)) };
}

/** Other backends: packs are loaded here, a few ahead, and each goes to the next free thread. */
async function verifyLoaded(
  ctx: CheckContext,
  packs: string[],
  url: URL | undefined,
  workers: number,
  onResult: (r: VerifyPackResult) => void,
): Promise<void> {
  const most = packs.reduce((m, p) => Math.max(m, indexedCount(ctx, p)), 0);
  const pool = new VerifyPool(url, workers, ctx.repo.key, most);
  // One pack more than threads is loaded meanwhile, so that every thread finds its next pack ready.
  const lanes = Math.min(ctx.opts.concurrency ?? 4, Math.max(2, pool.threads + 1));
  try {
    await forEachLimit(
      packs.map((_, i) => i),
      lanes,
      async (job) => {
        const pack = packs[job];
        let bytes: Buffer;
        try {
          bytes = await ctx.repo.backend.load({ type: 'data', name: pack });
        } catch (err) {
          onResult(unreadable(job, err));
          return;
        }
        // A copy of its own, which moves to the thread with the pack.
        const indexed = Buffer.allocUnsafeSlow(indexedCount(ctx, pack) * ENTRY_SIZE);
        ctx.packRecords.get(pack)?.copy(indexed);
        onResult(
          await pool.verify({ job, pack, bytes, indexed }, [...transferable(bytes), indexed.buffer as ArrayBuffer]),
        );
      },
    );
  } finally {
    await pool.close();
  }
}

function report(ctx: CheckContext, pack: string, r: VerifyPackResult): void {
  const file = packPath(pack);
  if (r.readError !== undefined) {
    ctx.problems.push({ kind: 'pack-missing', message: `pack ${pack} cannot be read: ${r.readError}`, pack, file });
    for (const e of indexedEntries(ctx, pack)) ctx.badLocations.add(locKey(pack, e));
    return;
  }
  if (!r.hashOk) {
    ctx.problems.push({
      kind: 'pack-hash',
      message: `pack ${pack} is damaged: its content does not match its name`,
      pack,
      file,
    });
  }
  if (r.headerError === undefined) {
    // Decoded only when something is to be named: a sound pack's entries stay records.
    const indexed = r.mismatched.length > 0 ? indexedEntries(ctx, pack) : [];
    for (const i of r.mismatched) reportMismatch(ctx, pack, indexed[i]);
  } else {
    ctx.problems.push({ kind: 'pack-header', message: `pack ${pack}: ${r.headerError}`, pack, file });
  }
  for (const d of r.damaged) {
    ctx.problems.push({
      kind: 'blob',
      message: `${d.type} blob ${d.id} in pack ${pack} is damaged: ${d.message}`,
      pack,
      blob: d.id,
      file,
    });
    ctx.badLocations.add(locKey(pack, { type: d.type, id: idFromHex(d.id) }));
  }
}

/** Every blob the index places in a pack must be listed by the pack's own header at the same place. */
export function compareWithIndex(ctx: CheckContext, pack: string, header: BlobEntry[]): void {
  const indexed = indexedEntries(ctx, pack);
  for (const i of indexMismatches(indexed, header)) reportMismatch(ctx, pack, indexed[i]);
}

function reportMismatch(ctx: CheckContext, pack: string, e: BlobEntry): void {
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
