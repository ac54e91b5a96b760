// Verifies one whole pack held in memory: its storage hash, its header, and every blob (decrypt,
// decompress, re-hash). Pure and synchronous, so `check --read-data` can run it on worker threads.

import { idToHex } from '../core/id.js';
import type { BlobEntry } from '../repository/blob.js';
import { openSealedBlob } from '../repository/blob-open.js';
import type { MasterKey } from '../repository/master-key.js';
import { packHashMatches, packHeaderFromBytes } from '../repository/pack-reader.js';

export interface VerifyPackJob {
  job: number;
  pack: string;
  bytes: Uint8Array;
  /** The index's entries for this pack: checked instead of the header's when the header is unreadable. */
  indexed: BlobEntry[];
}

export interface VerifyPackResult {
  job: number;
  hashOk: boolean;
  /** The pack's own header, or why it could not be read. */
  header?: BlobEntry[];
  headerError?: string;
  blobsChecked: number;
  damaged: { type: BlobEntry['type']; id: string; entry: BlobEntry; message: string }[];
}

/** `dropped` is told the bytes of every blob opened and thrown away (see core/worker-gc). */
export function verifyPack(key: MasterKey, job: VerifyPackJob, dropped?: (bytes: number) => void): VerifyPackResult {
  const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
  const r: VerifyPackResult = { job: job.job, hashOk: packHashMatches(bytes, job.pack), blobsChecked: 0, damaged: [] };
  let entries: BlobEntry[];
  try {
    entries = r.header = packHeaderFromBytes(bytes, key.encryption, job.pack);
  } catch (err) {
    r.headerError = (err as Error).message;
    // Without a header the index's entries are the only map of the pack: check each blob they name.
    entries = job.indexed.map((e) => ({ ...e, id: Buffer.from(e.id) }));
  }
  for (const e of entries) {
    r.blobsChecked++;
    try {
      if (e.offset + e.storedLength > bytes.length) throw new Error('blob lies beyond the end of the pack');
      openSealedBlob(key, { ...e, pack: job.pack }, bytes.subarray(e.offset, e.offset + e.storedLength));
      dropped?.(e.rawLength + e.storedLength);
    } catch (err) {
      r.damaged.push({ type: e.type, id: idToHex(e.id), entry: e, message: (err as Error).message });
    }
  }
  return r;
}
