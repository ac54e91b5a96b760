// Pack files (spec §7): stored blobs in random order, then the sealed header and its length.
// Assembling and parsing only; storing a pack is the packer's job.

import { randomInt } from 'node:crypto';
import { FormatError, IntegrityError } from '../core/errors.js';
import type { XaesKey } from '../crypto/xaes.js';
import { AAD_PACK_HEADER } from './aad.js';
import { ENTRY_SIZE, readEntry, writeEntry, type BlobEntry } from './blob.js';

export interface SealedBlob {
  type: BlobEntry['type'];
  id: Buffer;
  compression: BlobEntry['compression'];
  rawLength: number;
  sealed: Buffer;
}

export interface AssembledPack {
  /** The pack's bytes as parts stored back to back: the blobs in random order, the sealed header, its length. */
  parts: Buffer[];
  length: number;
  entries: BlobEntry[];
}

export const MAX_PACK_LENGTH = 0xffffffff;

/**
 * Lays out blobs in random order (so a pack does not reveal file or chunk order) and appends the sealed
 * header. The blobs are not copied: the parts reference them.
 */
export function assemblePack(blobs: SealedBlob[], key: XaesKey): AssembledPack {
  if (blobs.length === 0) throw new RangeError('a pack needs at least one blob');
  const order = blobs.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const entries: BlobEntry[] = [];
  const parts: Buffer[] = [];
  const header = Buffer.alloc(blobs.length * ENTRY_SIZE);
  let offset = 0;
  for (const i of order) {
    const b = blobs[i];
    const e: BlobEntry = {
      type: b.type,
      id: b.id,
      compression: b.compression,
      offset,
      storedLength: b.sealed.length,
      rawLength: b.rawLength,
    };
    writeEntry(header, entries.length * ENTRY_SIZE, e);
    entries.push(e);
    parts.push(b.sealed);
    offset += b.sealed.length;
  }
  const tail = packTail(header, key);
  parts.push(...tail);
  const length = offset + tail[0].length + 4;
  if (length > MAX_PACK_LENGTH) throw new RangeError('pack would exceed 4 GiB');
  return { parts, length, entries };
}

/** The header entries of `entries`, in their order, as bytes (before sealing). */
export function encodePackHeader(entries: readonly BlobEntry[]): Buffer {
  const header = Buffer.alloc(entries.length * ENTRY_SIZE);
  entries.forEach((e, i) => writeEntry(header, i * ENTRY_SIZE, e));
  return header;
}

/** What follows the blobs of a pack: the sealed header, then its length as 4 little-endian bytes. */
export function packTail(header: Buffer, key: XaesKey): [sealedHeader: Buffer, trailer: Buffer] {
  const sealedHeader = key.seal(header, AAD_PACK_HEADER);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(sealedHeader.length, 0);
  return [sealedHeader, trailer];
}

/** The header length stored in a pack's last four bytes, checked against the pack length. */
export function headerLengthFromTrailer(trailer: Buffer, packLength: number, pack: string): number {
  if (packLength < 4 + 40 + ENTRY_SIZE || trailer.length !== 4) {
    throw new IntegrityError(`pack ${pack} is too short (${packLength} bytes) to hold a header`, { pack });
  }
  const n = trailer.readUInt32LE(0);
  if (n < 40 + ENTRY_SIZE || n > packLength - 4) {
    throw new IntegrityError(`pack ${pack} has an impossible header length ${n}`, { pack });
  }
  return n;
}

/** Opens and validates a sealed pack header; every entry must lie inside the blob area without overlap. */
export function parsePackHeader(sealedHeader: Buffer, packLength: number, key: XaesKey, pack: string): BlobEntry[] {
  let plain: Buffer;
  try {
    plain = key.open(sealedHeader, AAD_PACK_HEADER);
  } catch (err) {
    throw new IntegrityError(
      `header of pack ${pack} fails authentication`,
      { pack, file: `data/${pack.slice(0, 2)}/${pack}` },
      { cause: err },
    );
  }
  const ctx = { pack };
  if (plain.length === 0 || plain.length % ENTRY_SIZE !== 0) {
    throw new FormatError(`header of pack ${pack} has a length that is not a whole number of entries`, ctx);
  }
  const blobArea = packLength - 4 - sealedHeader.length;
  const entries: BlobEntry[] = [];
  for (let at = 0; at < plain.length; at += ENTRY_SIZE) entries.push(readEntry(plain, at, ctx));
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const e of sorted) {
    if (e.offset < end || e.offset + e.storedLength > blobArea || e.storedLength < 40) {
      throw new FormatError(`header of pack ${pack} lists a blob outside the pack or overlapping another`, ctx);
    }
    end = e.offset + e.storedLength;
  }
  return entries;
}
