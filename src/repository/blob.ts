// Blob types, index entries and the 48-byte entry encoding shared by pack headers and index files.
// Pure data handling: no I/O, no crypto.

import { FormatError } from '../core/errors.js';

export type BlobType = 'data' | 'tree';

export const enum Compression {
  None = 0,
  Zstd = 1,
}

/** Where one blob lives and how it is stored. `offset`/`storedLength` address the sealed bytes inside the pack. */
export interface BlobEntry {
  type: BlobType;
  id: Buffer; // 32 bytes
  compression: Compression;
  offset: number;
  storedLength: number;
  rawLength: number;
}

export interface IndexedBlob extends BlobEntry {
  pack: string; // hex storage id of the pack
}

export const ENTRY_SIZE = 48;
const MAX_U32 = 0xffffffff;

export function blobTypeCode(t: BlobType): number {
  return t === 'data' ? 0 : 1;
}

export function blobTypeFromCode(code: number, ctx: Record<string, string>): BlobType {
  if (code === 0) return 'data';
  if (code === 1) return 'tree';
  throw new FormatError(`unknown blob type ${code}`, ctx);
}

export function writeEntry(buf: Buffer, at: number, e: BlobEntry): void {
  if (e.offset > MAX_U32 || e.storedLength > MAX_U32 || e.rawLength > MAX_U32) {
    throw new RangeError('blob entry field exceeds 32 bits');
  }
  buf[at] = blobTypeCode(e.type);
  buf[at + 1] = e.compression;
  buf.writeUInt16LE(0, at + 2);
  buf.writeUInt32LE(e.offset, at + 4);
  buf.writeUInt32LE(e.storedLength, at + 8);
  buf.writeUInt32LE(e.rawLength, at + 12);
  e.id.copy(buf, at + 16, 0, 32);
}

/** The stored length of the entry at `at` (writeEntry's layout), without decoding the rest. */
export function entryStoredLength(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 8);
}

/** The raw length of the entry at `at` (writeEntry's layout), without decoding the rest. */
export function entryRawLength(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 12);
}

/** Throws FormatError unless the 48 bytes at `at` are an entry readEntry accepts (same checks, same order). */
export function checkEntry(buf: Buffer, at: number, ctx: Record<string, string>): void {
  const compression = buf[at + 1];
  if (compression !== Compression.None && compression !== Compression.Zstd) {
    throw new FormatError(`unknown compression ${compression}`, ctx);
  }
  if (buf.readUInt16LE(at + 2) !== 0) throw new FormatError('reserved bytes of a blob entry are not zero', ctx);
  blobTypeFromCode(buf[at], ctx);
}

export function readEntry(buf: Buffer, at: number, ctx: Record<string, string>): BlobEntry {
  checkEntry(buf, at, ctx);
  return {
    type: blobTypeFromCode(buf[at], ctx),
    compression: buf[at + 1] as Compression,
    offset: buf.readUInt32LE(at + 4),
    storedLength: buf.readUInt32LE(at + 8),
    rawLength: buf.readUInt32LE(at + 12),
    id: Buffer.from(buf.subarray(at + 16, at + 48)),
  };
}
