// Turns a blob's sealed bytes back into its plaintext: decrypt, decompress, re-hash against the id.
// Pure (no I/O), so worker threads that restore files can prove every blob exactly as the repository does.

import { IntegrityError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { blobAad } from './aad.js';
import type { IndexedBlob } from './blob.js';
import { decompressBlob } from './compression.js';
import type { MasterKey } from './master-key.js';

/** Storage path of a pack, as error context (mirrors the backend layout, spec §2). */
export function packPath(pack: string): string {
  return `data/${pack.slice(0, 2)}/${pack}`;
}

/** Never returns bytes whose keyed hash differs from `loc.id`; every failure names the blob and pack. */
export function openSealedBlob(key: MasterKey, loc: IndexedBlob, stored: Uint8Array): Buffer {
  const ctx = { pack: loc.pack, blob: idToHex(loc.id), file: packPath(loc.pack) };
  let plain: Buffer;
  try {
    plain = decompressBlob(key.encryption.open(stored, blobAad(loc.type, loc.id)), loc.compression, loc.rawLength);
  } catch (err) {
    throw new IntegrityError(`blob ${ctx.blob} in pack ${loc.pack} is damaged`, ctx, { cause: err });
  }
  if (!key.blobId(plain).equals(loc.id)) {
    throw new IntegrityError(`blob ${ctx.blob} in pack ${loc.pack} does not match its id`, ctx);
  }
  return plain;
}
