// `check --read-data`: reads whole packs, verifies storage hashes, and decrypts and re-hashes every blob.
// Measures the read rate it achieves, which check turns into a restore-time estimate.

import { Semaphore } from '../core/concurrency.js';
import { idToHex } from '../core/id.js';
import type { BlobEntry } from '../repository/blob.js';
import { packHashMatches, packHeaderFromBytes } from '../repository/pack-reader.js';
import { packPath } from '../repository/repository.js';
import { locKey, type CheckContext } from './check.js';

export interface DataReadStats {
  packsRead: number;
  bytesRead: number;
  blobsChecked: number;
  seconds: number;
  bytesPerSecond: number;
}

export async function readPacks(ctx: CheckContext, packs: string[]): Promise<DataReadStats> {
  const sem = new Semaphore(ctx.opts.concurrency ?? 4);
  const stats: DataReadStats = { packsRead: 0, bytesRead: 0, blobsChecked: 0, seconds: 0, bytesPerSecond: 0 };
  const start = process.hrtime.bigint();
  await Promise.all(packs.map((pack) => sem.run(() => readOne(ctx, pack, stats, packs.length))));
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stats.bytesPerSecond = stats.seconds > 0 ? stats.bytesRead / stats.seconds : 0;
  return stats;
}

async function readOne(ctx: CheckContext, pack: string, stats: DataReadStats, total: number): Promise<void> {
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
  if (!packHashMatches(bytes, pack)) {
    ctx.problems.push({ kind: 'pack-hash', message: `pack ${pack} is damaged: its content does not match its name`, pack, file });
  }
  let header: BlobEntry[];
  try {
    header = packHeaderFromBytes(bytes, ctx.repo.key.encryption, pack);
  } catch (err) {
    ctx.problems.push({ kind: 'pack-header', message: `pack ${pack}: ${(err as Error).message}`, pack, file });
    // Without a header the index's entries are the only map of the pack: check each blob they name.
    header = indexed;
  }
  if (header !== indexed) compareWithIndex(ctx, pack, header);
  for (const e of header) {
    stats.blobsChecked++;
    const stored = bytes.subarray(e.offset, e.offset + e.storedLength);
    try {
      if (e.offset + e.storedLength > bytes.length) throw new Error('blob lies beyond the end of the pack');
      ctx.repo.openBlob({ ...e, pack }, stored);
    } catch (err) {
      const blob = idToHex(e.id);
      ctx.problems.push({ kind: 'blob', message: `${e.type} blob ${blob} in pack ${pack} is damaged: ${(err as Error).message}`, pack, blob, file });
      ctx.badLocations.add(locKey(pack, e));
    }
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
