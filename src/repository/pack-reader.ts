// Reading pack headers and whole packs from storage, for check, repair and cat.
// Every result is authenticated; on damage it throws an error naming the pack.

import type { Backend } from '../backend/backend.js';
import type { XaesKey } from '../crypto/xaes.js';
import { IntegrityError } from '../core/errors.js';
import { blake3 } from '../crypto/blake3.js';
import type { BlobEntry } from './blob.js';
import { headerLengthFromTrailer, parsePackHeader } from './pack.js';

function packFile(pack: string): string {
  return `data/${pack.slice(0, 2)}/${pack}`;
}

/** Reads only the tail of a pack (two ranged reads) and returns its authenticated header entries. */
export async function loadPackHeader(
  backend: Backend,
  key: XaesKey,
  pack: string,
  size?: number,
): Promise<BlobEntry[]> {
  const h = { type: 'data' as const, name: pack };
  const length = size ?? (await backend.stat(h)).size;
  if (length < 4)
    throw new IntegrityError(`pack ${pack} is too short (${length} bytes)`, { pack, file: packFile(pack) });
  const trailer = await backend.load(h, { offset: length - 4, length: 4 });
  const hlen = headerLengthFromTrailer(trailer, length, pack);
  const sealed = await backend.load(h, { offset: length - 4 - hlen, length: hlen });
  return parsePackHeader(sealed, length, key, pack);
}

/** Parses the header of a pack already in memory; the caller checks the storage hash if it wants to. */
export function packHeaderFromBytes(bytes: Buffer, key: XaesKey, pack: string): BlobEntry[] {
  const hlen = headerLengthFromTrailer(bytes.subarray(bytes.length - 4), bytes.length, pack);
  return parsePackHeader(bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4), bytes.length, key, pack);
}

export function packHashMatches(bytes: Buffer, pack: string): boolean {
  return blake3(bytes).toString('hex') === pack;
}

/** The length a pack must have, from its entries: blobs, the sealed header (48 bytes per entry + 40), and 4. */
export function expectedPackLength(entries: Pick<BlobEntry, 'storedLength'>[]): number {
  return packLength(
    entries.reduce((n, e) => n + e.storedLength, 0),
    entries.length,
  );
}

/** expectedPackLength of `count` entries whose blobs take `storedBytes` in all. */
export function packLength(storedBytes: number, count: number): number {
  return storedBytes + count * 48 + 40 + 4;
}
